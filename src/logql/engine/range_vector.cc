#include "logql/engine/range_vector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "logql/log/parser_hints.h"
#include "logql/log/sample_extractor.h"

namespace sluice::logql::engine {

namespace {

using syntax::RangeOp;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Seconds(int64_t ns) {
  // time.Duration.Seconds().
  int64_t sec = ns / 1'000'000'000, nsec = ns % 1'000'000'000;
  return static_cast<double>(sec) + static_cast<double>(nsec) / 1e9;
}

double Sum(std::span<const RangePoint> points) {
  double sum = 0;
  for (const auto& p : points) sum += p.value;
  return sum;
}

double Avg(std::span<const RangePoint> points) {
  double mean = 0, count = 0;
  for (const auto& p : points) {
    count++;
    if (std::isinf(mean)) {
      // Inf - Inf would turn the mean into NaN: an infinite mean stays, unless a NaN or an
      // infinity of the other sign arrives.
      if (std::isinf(p.value) && (mean > 0) == (p.value > 0)) continue;
      if (!std::isinf(p.value) && !std::isnan(p.value)) continue;
    }
    mean += p.value / count - mean / count;
  }
  return mean;
}

// Welford's online variance (population), as Prometheus and Loki.
double Stdvar(std::span<const RangePoint> points) {
  double aux = 0, count = 0, mean = 0;
  for (const auto& p : points) {
    count++;
    double delta = p.value - mean;
    mean += delta / count;
    aux += delta * (p.value - mean);
  }
  return aux / count;
}

double Quantile(double q, std::span<const RangePoint> points) {
  if (points.empty()) return kNaN;
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::vector<double> v;
  v.reserve(points.size());
  for (const auto& p : points) v.push_back(p.value);
  double n = static_cast<double>(v.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  // Prometheus sorts (NaN first) and reads two ranks: selecting them is linear rather than
  // n log n, and each point is in range/step windows.
  auto less = [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  };
  const auto lo = v.begin() + static_cast<ptrdiff_t>(lower);
  std::nth_element(v.begin(), lo, v.end(), less);
  const double lower_value = *lo;
  const double upper_value = upper > lower ? *std::min_element(lo + 1, v.end(), less) : lower_value;
  return lower_value * (1 - weight) + upper_value * weight;
}

// Loki's rate_counter: Prometheus' extrapolatedRate(isCounter, isRate), fed with nanosecond
// timestamps where Prometheus has milliseconds. The window is taken to start one range (in ms)
// before the first sample and to end at the last one, so in practice the result is the counter's
// increase (resets included) over the window, divided by the range in seconds, scaled by
// (1 + range_s / sampled_us) -- a quirk kept for compatibility.
double RateCounter(int64_t range_ns, std::span<const RangePoint> s) {
  if (s.size() < 2) return 0;
  const int64_t range_ms = range_ns / 1'000'000;
  double result = s.back().value - s.front().value;
  double last_value = 0;
  for (const auto& p : s) {
    if (p.value < last_value) result += last_value;
    last_value = p.value;
  }
  // (first - (first - range_ms)) / 1000 and (last - last) / 1000 in Loki.
  double to_start = static_cast<double>(range_ms) / 1000;
  double to_end = 0;
  double sampled = static_cast<double>(s.back().ts_ns - s.front().ts_ns) / 1000;
  double avg_between = sampled / static_cast<double>(s.size() - 1);
  if (result > 0 && s.front().value >= 0) {
    double to_zero = sampled * (s.front().value / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  double threshold = avg_between * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : avg_between / 2;
  interval += to_end < threshold ? to_end : avg_between / 2;
  result = result * (interval / sampled);
  return result / Seconds(range_ns);
}

}  // namespace

double AggregateOverTime(RangeOp op, std::optional<double> param, int64_t range_ns, bool unwrapped,
                         std::span<const RangePoint> points) {
  switch (op) {
    case RangeOp::kCountOverTime:
      return static_cast<double>(points.size());
    case RangeOp::kRate:
      return (unwrapped ? Sum(points) : static_cast<double>(points.size())) / Seconds(range_ns);
    case RangeOp::kRateCounter:
      return RateCounter(range_ns, points);
    case RangeOp::kBytesOverTime:
    case RangeOp::kSumOverTime:
      return Sum(points);
    case RangeOp::kBytesRate:
      return Sum(points) / Seconds(range_ns);
    case RangeOp::kAvgOverTime:
      return Avg(points);
    case RangeOp::kMinOverTime: {
      double m = points.front().value;
      for (const auto& p : points) {
        if (p.value < m || std::isnan(m)) m = p.value;
      }
      return m;
    }
    case RangeOp::kMaxOverTime: {
      double m = points.front().value;
      for (const auto& p : points) {
        if (p.value > m || std::isnan(m)) m = p.value;
      }
      return m;
    }
    case RangeOp::kStdvarOverTime:
      return Stdvar(points);
    case RangeOp::kStddevOverTime:
      return std::sqrt(Stdvar(points));
    case RangeOp::kQuantileOverTime:
      return Quantile(param.value_or(0), points);
    case RangeOp::kFirstOverTime:
      return points.empty() ? kNaN : points.front().value;
    case RangeOp::kLastOverTime:
      return points.empty() ? kNaN : points.back().value;
    case RangeOp::kAbsentOverTime:
      return 1;
  }
  return kNaN;
}

Status PipelineError(const model::LabelSet& series) {
  const std::string* err = series.Get(log::kErrorLabel);
  std::string type = err != nullptr ? *err : "";
  return Status::InvalidArgument(fmt::format(
      "pipeline error: '{0}' for series: '{1}'.\n"
      "Use a label filter to intentionally skip this error. (e.g | __error__!=\"{0}\").\n"
      "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
      "The label filter can also be specified after unwrap. (e.g | unwrap latency | "
      "__error__=\"\" )\n",
      type, series.ToString()));
}

// --- RangeVectorEvaluator ---------------------------------------------------------------------

RangeVectorEvaluator::RangeVectorEvaluator(const syntax::RangeAggregationExpr& expr,
                                           log::SampleIteratorPtr samples, const StepParams& params)
    : op_(expr.op),
      param_(expr.param),
      unwrapped_(expr.range.unwrap.has_value()),
      samples_(std::move(samples)),
      range_ns_(expr.range.range_nanos),
      offset_ns_(expr.range.offset_nanos),
      // An instant query (step 0) still takes one step.
      step_ns_(params.step_ns == 0 ? 1 : params.step_ns),
      end_ns_(params.end_ns - expr.range.offset_nanos),
      current_ns_(params.start_ns - expr.range.offset_nanos - step_ns_) {
  if (op_ == RangeOp::kAbsentOverTime) {
    absent_labels_ = std::make_shared<const model::LabelSet>(AbsentLabels(*expr.range.selector));
  }
}

Status RangeVectorEvaluator::Error() const {
  if (!status_.ok()) return status_;
  return samples_->Error();
}

bool RangeVectorEvaluator::Load() {
  loaded_ = true;
  // Samples at or before the first window's open start, or after the last step, are in no
  // window.
  const int64_t oldest = current_ns_ + step_ns_ - range_ns_;
  uint64_t arrival = 0;
  while (samples_->Next()) {
    const log::ExtractedSample& s = samples_->At();
    const uint64_t seq = arrival++;
    if (s.ts_ns <= oldest || s.ts_ns > end_ns_) continue;
    if (s.series >= series_.size()) series_.resize(s.series + 1);
    Series& w = series_[s.series];
    w.points.push_back(RangePoint{s.ts_ns, s.value});
    w.arrival.push_back(seq);
  }
  if (!samples_->Error().ok()) return false;
  // A series fed by several streams has one time-ordered run per stream: order by (timestamp,
  // arrival). Arrival is increasing within each series, so a stable sort by timestamp does it.
  std::vector<size_t> order;
  for (Series& w : series_) {
    bool sorted = true;
    for (size_t i = 1; i < w.points.size() && sorted; ++i) {
      sorted = w.points[i - 1].ts_ns <= w.points[i].ts_ns;
    }
    if (sorted) continue;
    order.resize(w.points.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&w](size_t a, size_t b) { return w.points[a].ts_ns < w.points[b].ts_ns; });
    std::vector<RangePoint> points(w.points.size());
    std::vector<uint64_t> arrivals(w.points.size());
    for (size_t i = 0; i < order.size(); ++i) {
      points[i] = w.points[order[i]];
      arrivals[i] = w.arrival[order[i]];
    }
    w.points = std::move(points);
    w.arrival = std::move(arrivals);
  }
  return true;
}

bool RangeVectorEvaluator::Next(int64_t* ts_ms, Vector* out) {
  out->clear();
  if (!status_.ok()) return false;
  if (!loaded_ && !Load()) return false;
  current_ns_ += step_ns_;
  if (current_ns_ > end_ns_) return false;
  const int64_t window_start = current_ns_ - range_ns_;

  // Drop what slid out of the window (points at or before its open start).
  size_t kept = 0;
  for (uint32_t id : active_) {
    Series& w = series_[id];
    while (w.lo < w.hi && w.points[w.lo].ts_ns <= window_start) ++w.lo;
    if (w.lo == w.hi) {
      w.active = false;
      continue;
    }
    active_[kept++] = id;
  }
  active_.resize(kept);

  // Take the points up to the window's (closed) end; older ones belong to no window.
  activated_.clear();
  for (uint32_t id = 0; id < series_.size(); ++id) {
    Series& w = series_[id];
    const size_t n = w.points.size();
    if (w.hi == n || w.points[w.hi].ts_ns > current_ns_) continue;
    if (!w.active) {
      w.lo = w.hi;
      while (w.lo < n && w.points[w.lo].ts_ns <= window_start) ++w.lo;
      w.hi = w.lo;
    }
    while (w.hi < n && w.points[w.hi].ts_ns <= current_ns_) ++w.hi;
    if (!w.active && w.lo < w.hi) {
      w.active = true;
      activated_.push_back(id);
    }
  }
  // Series activated at this step join in the order their first point arrived in time order.
  std::sort(activated_.begin(), activated_.end(), [this](uint32_t a, uint32_t b) {
    const Series& x = series_[a];
    const Series& y = series_[b];
    if (x.points[x.lo].ts_ns != y.points[y.lo].ts_ns) {
      return x.points[x.lo].ts_ns < y.points[y.lo].ts_ns;
    }
    return x.arrival[x.lo] < y.arrival[y.lo];
  });
  active_.insert(active_.end(), activated_.begin(), activated_.end());

  *ts_ms = current_ns_ / 1'000'000 + offset_ns_ / 1'000'000;
  if (op_ == RangeOp::kAbsentOverTime) {
    for (uint32_t id : active_) {
      if (samples_->series().has_error(id)) {
        status_ = PipelineError(*samples_->series().labels(id));
        return false;
      }
    }
    if (active_.empty()) out->push_back(Sample{absent_labels_, 1});
    return true;
  }
  out->reserve(active_.size());
  for (uint32_t id : active_) {
    if (samples_->series().has_error(id)) {
      status_ = PipelineError(*samples_->series().labels(id));
      out->clear();
      return false;
    }
    const Series& w = series_[id];
    std::span<const RangePoint> points(w.points.data() + w.lo, w.hi - w.lo);
    out->push_back(Sample{samples_->series().labels(id),
                          AggregateOverTime(op_, param_, range_ns_, unwrapped_, points)});
  }
  return true;
}

model::LabelSet AbsentLabels(const syntax::LogSelectorExpr& selector) {
  std::vector<model::Label> set;
  std::vector<std::string> drop;
  for (const auto& m : selector.matchers) {
    if (m.name() == "__name__") continue;
    bool has = std::any_of(set.begin(), set.end(),
                           [&](const model::Label& l) { return l.name == m.name(); });
    if (m.type() == model::LabelMatcher::Type::kEqual && !has) {
      set.push_back(model::Label{m.name(), m.value()});
    } else {
      drop.push_back(m.name());
    }
  }
  std::vector<model::Label> out;
  for (auto& l : set) {
    if (std::find(drop.begin(), drop.end(), l.name) == drop.end()) out.push_back(std::move(l));
  }
  return model::LabelSet(std::move(out));
}

}  // namespace sluice::logql::engine
