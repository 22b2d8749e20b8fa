#include "metrics/metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <variant>

namespace sluice::metrics {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) {
    out.push_back(start);
    start *= factor;
  }
  return out;
}

std::vector<double> DefaultBuckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

template <typename T>
void Family<T>::RemoveMatching(size_t index, const std::string& value) {
  MutexLock lock(&mu_);
  for (auto it = children_.begin(); it != children_.end();) {
    it = (index < it->first.size() && it->first[index] == value) ? children_.erase(it)
                                                                 : std::next(it);
  }
}
template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

namespace {
struct Callback {
  std::function<double()> fn;
  const char* type;  // "gauge" or "counter"
};
}  // namespace

struct Registry::Entry {
  std::string name;
  std::string help;
  std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>, Callback>
      family;
};

namespace {

// A family without labels has exactly one series: it is exposed (at 0) from registration, not
// from its first change, so that rate() and increase() see the first failures of a counter
// that had none (Prometheus' client libraries do the same).
template <typename T>
void ExposeAtZero(Family<T>* family) {
  if (family->label_names().empty()) family->WithLabels({});
}

}  // namespace

Family<Counter>* Registry::NewCounter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  auto fam = std::make_unique<Family<Counter>>(std::move(labels),
                                               [] { return std::make_unique<Counter>(); });
  auto* raw = fam.get();
  ExposeAtZero(raw);
  MutexLock lock(&mu_);
  entries_.push_back(
      std::make_unique<Entry>(Entry{std::move(name), std::move(help), std::move(fam)}));
  return raw;
}

Family<Gauge>* Registry::NewGauge(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  auto fam =
      std::make_unique<Family<Gauge>>(std::move(labels), [] { return std::make_unique<Gauge>(); });
  auto* raw = fam.get();
  ExposeAtZero(raw);
  MutexLock lock(&mu_);
  entries_.push_back(
      std::make_unique<Entry>(Entry{std::move(name), std::move(help), std::move(fam)}));
  return raw;
}

Family<Histogram>* Registry::NewHistogram(std::string name, std::string help,
                                          std::vector<std::string> labels,
                                          std::vector<double> buckets) {
  auto fam = std::make_unique<Family<Histogram>>(
      std::move(labels), [buckets] { return std::make_unique<Histogram>(buckets); });
  auto* raw = fam.get();
  ExposeAtZero(raw);
  MutexLock lock(&mu_);
  entries_.push_back(
      std::make_unique<Entry>(Entry{std::move(name), std::move(help), std::move(fam)}));
  return raw;
}

void Registry::NewCallbackGauge(std::string name, std::string help, std::function<double()> fn) {
  MutexLock lock(&mu_);
  entries_.push_back(std::make_unique<Entry>(
      Entry{std::move(name), std::move(help), Callback{std::move(fn), "gauge"}}));
}

void Registry::NewCallbackCounter(std::string name, std::string help, std::function<double()> fn) {
  MutexLock lock(&mu_);
  entries_.push_back(std::make_unique<Entry>(
      Entry{std::move(name), std::move(help), Callback{std::move(fn), "counter"}}));
}

namespace {

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string LabelString(const std::vector<std::string>& names,
                        const std::vector<std::string>& values, const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  return out + "}";
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

std::string Registry::Expose() const {
  std::string out;
  MutexLock lock(&mu_);
  for (const auto& e : entries_) {
    auto header = [&](const char* type) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", e->name, e->help, e->name, type);
    };
    if (auto* c = std::get_if<std::unique_ptr<Family<Counter>>>(&e->family)) {
      header("counter");
      const auto& names = (*c)->label_names();
      (*c)->ForEach([&](const auto& values, const Counter& ctr) {
        out += e->name + LabelString(names, values) + " " + FormatValue(ctr.value()) + "\n";
      });
    } else if (auto* g = std::get_if<std::unique_ptr<Family<Gauge>>>(&e->family)) {
      header("gauge");
      const auto& names = (*g)->label_names();
      (*g)->ForEach([&](const auto& values, const Gauge& gauge) {
        out += e->name + LabelString(names, values) + " " + FormatValue(gauge.value()) + "\n";
      });
    } else if (auto* h = std::get_if<std::unique_ptr<Family<Histogram>>>(&e->family)) {
      header("histogram");
      const auto& names = (*h)->label_names();
      (*h)->ForEach([&](const auto& values, const Histogram& hist) {
        auto counts = hist.CumulativeCounts();
        const auto& bounds = hist.upper_bounds();
        for (size_t i = 0; i < counts.size(); ++i) {
          std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
          out += e->name + "_bucket" + LabelString(names, values, "le=\"" + le + "\"") + " " +
                 std::to_string(counts[i]) + "\n";
        }
        out += e->name + "_sum" + LabelString(names, values) + " " + FormatValue(hist.sum()) + "\n";
        out += e->name + "_count" + LabelString(names, values) + " " +
               std::to_string(hist.count()) + "\n";
      });
    } else if (auto* cb = std::get_if<Callback>(&e->family)) {
      header(cb->type);
      out += e->name + " " + FormatValue(cb->fn()) + "\n";
    }
  }
  return out;
}

Registry& DefaultRegistry() {
  static Registry registry;
  return registry;
}

}  // namespace sluice::metrics
