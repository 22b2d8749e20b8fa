#include "querier/querier.h"

#include "common/duration.h"
#include "gocompat/duration.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>

#include "common/check.h"
#include "iter/merge.h"
#include "logql/engine/engine.h"
#include "logql/syntax/parser.h"
#include "metrics/metrics.h"

namespace sluice::querier {

namespace {

constexpr std::string_view kQueryTimeout = kQueryTimeoutMessage;

// Loki's syntax.maxInputSize: longer queries are refused before parsing.
constexpr size_t kMaxQuerySize = 5120;

Status CheckQuerySize(std::string_view query) {
  if (query.size() >= kMaxQuerySize) {
    return Status::InvalidArgument(
        fmt::format("parse error : input size too long ({} > {})", query.size(), kMaxQuerySize));
  }
  return Status::OK();
}

// How many entries an iterator reads between two looks at the clock.
constexpr uint32_t kDeadlineCheckEvery = 1024;

// Ends a source's iteration with DeadlineExceeded once the query is past its deadline, so a
// long scan that matches nothing still stops.
class DeadlineIterator final : public iter::ForwardingIterator {
 public:
  // `shared` (nullable): a deadline another thread may lower to cancel the query.
  DeadlineIterator(iter::EntryIteratorPtr it, const Clock* clock, int64_t deadline_ns,
                   const std::atomic<int64_t>* shared)
      : ForwardingIterator(std::move(it)),
        clock_(clock),
        deadline_ns_(deadline_ns),
        shared_(shared) {}

  bool Next() override {
    if (!status_.ok()) return false;
    if (++reads_ % kDeadlineCheckEvery == 0 && PastDeadline()) return false;
    if (inner_->Next()) return true;
    // Sources skip whole blocks and lines without returning them (required literals): a scan
    // that matches nothing still looks at the clock once per source.
    PastDeadline();
    return false;
  }
  Status Error() const override { return status_.ok() ? inner_->Error() : status_; }

 private:
  bool PastDeadline() {
    if (clock_->NowNanos() <= Deadline()) return false;
    status_ = Status::DeadlineExceeded(std::string(kQueryTimeout));
    return true;
  }
  int64_t Deadline() const {
    return shared_ == nullptr ? deadline_ns_
                              : std::min(deadline_ns_, shared_->load(std::memory_order_relaxed));
  }

  const Clock* clock_;
  int64_t deadline_ns_;
  const std::atomic<int64_t>* shared_;
  uint32_t reads_ = 0;
  Status status_;
};

// Process-wide block counters: Loki has no per-block figures, hence sluice_ names.
struct BlockMetrics {
  metrics::Registry& r = metrics::DefaultRegistry();
  metrics::Counter* considered =
      r.NewCounter("sluice_query_blocks_total",
                   "Compressed blocks in the time range of a query's streams.")
          ->WithLabels({});
  metrics::Counter* skipped_by_bloom =
      r.NewCounter("sluice_query_blocks_skipped_by_bloom_total",
                   "Blocks a query ruled out by their bloom filter, without decompressing them.")
          ->WithLabels({});
  metrics::Counter* decompressed =
      r.NewCounter("sluice_query_blocks_decompressed_total", "Blocks a query decompressed.")
          ->WithLabels({});
  metrics::Counter* skipped_by_scan =
      r.NewCounter("sluice_query_blocks_skipped_by_scan_total",
                   "Blocks a query decompressed and searched without finding a line holding "
                   "every literal.")
          ->WithLabels({});
};
BlockMetrics& Metrics() {
  static BlockMetrics m;
  return m;
}

// The iterator SelectLogs returns: owns the query's pipeline and publishes its statistics.
// `Merge` is iter::MergeIterator (entries in global time order) or iter::StreamOrderedIterator
// (stream after stream, for the metric engine).
template <typename Merge>
class SelectIterator final : public iter::EntryIterator {
 public:
  SelectIterator(std::unique_ptr<logql::log::Pipeline> pipeline,
                 std::unique_ptr<logql::log::PipelineStats> pstats,
                 std::unique_ptr<chunk::BlockStats> block_stats, std::unique_ptr<Merge> merge,
                 QueryStats* stats)
      : pipeline_(std::move(pipeline)),
        pstats_(std::move(pstats)),
        block_stats_(std::move(block_stats)),
        merge_(std::move(merge)),
        stats_(stats) {}
  ~SelectIterator() override { Publish(); }

  bool Next() override {
    if (merge_->Next()) return true;
    Publish();
    return false;
  }
  const model::Entry& At() const override { return merge_->At(); }
  const model::LabelSet& Labels() const override { return merge_->Labels(); }
  Status Error() const override { return merge_->Error(); }
  bool LineLoaded() const override { return merge_->LineLoaded(); }
  Status LoadLine() override { return merge_->LoadLine(); }

 private:
  void Publish() {
    // The process counters get what was read since the last publication.
    const chunk::BlockStats& b = *block_stats_;
    BlockMetrics& m = Metrics();
    m.considered->Inc(static_cast<double>(b.blocks - published_.blocks));
    m.skipped_by_bloom->Inc(static_cast<double>(b.skipped_by_bloom - published_.skipped_by_bloom));
    m.decompressed->Inc(static_cast<double>(b.decompressed - published_.decompressed));
    m.skipped_by_scan->Inc(static_cast<double>(b.skipped_by_scan - published_.skipped_by_scan));
    published_ = b;
    if (stats_ == nullptr) return;
    stats_->blocks_considered = b.blocks;
    stats_->blocks_skipped_by_bloom = b.skipped_by_bloom;
    stats_->blocks_decompressed = b.decompressed;
    stats_->blocks_skipped_by_scan = b.skipped_by_scan;
    stats_->total_lines_processed = pstats_->lines_processed;
    stats_->total_bytes_processed = pstats_->bytes_processed;
    stats_->total_structured_metadata_bytes_processed = pstats_->metadata_bytes_processed;
    stats_->total_post_filter_lines = pstats_->lines_passed;
    stats_->duplicates = merge_->duplicates();
  }

  // Declared before merge_: the pipeline iterators inside the merge point at these.
  std::unique_ptr<logql::log::Pipeline> pipeline_;
  std::unique_ptr<logql::log::PipelineStats> pstats_;
  std::unique_ptr<chunk::BlockStats> block_stats_;  // the sources' readers count into it
  chunk::BlockStats published_;
  std::unique_ptr<Merge> merge_;
  QueryStats* stats_;
};

// Splits the __tenant_id__ matchers out of a multi-tenant selector and keeps the tenants they
// accept, as Loki's MultiTenantQuerier does.
std::vector<std::string> FilterTenants(const std::vector<std::string>& tenants,
                                       std::vector<model::LabelMatcher>* matchers) {
  std::vector<model::LabelMatcher> tenant_matchers, rest;
  for (auto& m : *matchers)
    (m.name() == kTenantLabel ? tenant_matchers : rest).push_back(std::move(m));
  *matchers = std::move(rest);
  std::vector<std::string> out;
  for (const auto& t : tenants) {
    bool ok = std::all_of(tenant_matchers.begin(), tenant_matchers.end(),
                          [&](const model::LabelMatcher& m) { return m.Matches(t); });
    if (ok) out.push_back(t);
  }
  return out;
}

model::LabelSet WithTenant(const model::LabelSet& labels, const std::string& tenant) {
  std::vector<model::Label> out;
  for (const auto& l : labels.labels()) {
    if (l.name != kTenantLabel) out.push_back(l);
  }
  out.push_back(model::Label{std::string(kTenantLabel), tenant});
  return model::LabelSet(std::move(out));
}

uint64_t SmallestPositive(uint64_t current, uint64_t v) {
  if (v == 0) return current;
  return current == 0 ? v : std::min(current, v);
}

}  // namespace

std::vector<std::string> RequiredLiterals(const logql::syntax::LogSelectorExpr& selector) {
  using logql::syntax::StageKind;
  std::vector<std::string> out;
  for (const auto& stage : selector.stages) {
    switch (stage->kind()) {
      case StageKind::kLineFilter: {
        const auto& f = stage->Cast<logql::syntax::LineFilterStage>();
        // `or` alternatives, regexes, patterns and ip() do not name one substring; negative
        // filters require an absence. An empty literal matches every line.
        if (f.op != logql::syntax::LineFilterOp::kContains || f.values.size() != 1 ||
            f.values[0].ip || f.values[0].value.empty()) {
          break;
        }
        if (std::find(out.begin(), out.end(), f.values[0].value) == out.end())
          out.push_back(f.values[0].value);
        break;
      }
      case StageKind::kLineFormat:
      case StageKind::kDecolorize:
        return out;  // later filters see a rewritten line
      case StageKind::kParser:
        // unpack replaces the line with its `_entry` field; the other parsers only add labels.
        if (stage->Cast<logql::syntax::ParserStage>().parser == logql::syntax::ParserKind::kUnpack)
          return out;
        break;
      case StageKind::kLabelFilter:
      case StageKind::kLabelFormat:
      case StageKind::kDropLabels:
      case StageKind::kKeepLabels:
        break;  // they drop lines or change labels, never the line
    }
  }
  return out;
}

Querier::Querier(std::vector<LogSource*> sources, const config::Overrides* overrides,
                 const Clock* clock)
    : sources_(std::move(sources)), overrides_(overrides), clock_(clock) {}

Querier::QueryLimits Querier::LimitsFor(const std::vector<std::string>& tenants) const {
  QueryLimits out;
  for (const auto& t : tenants) {
    auto l = overrides_->ForTenant(t);
    out.max_entries = SmallestPositive(out.max_entries, l->max_entries_limit_per_query);
    out.max_query_length = static_cast<int64_t>(
        SmallestPositive(out.max_query_length, std::max<int64_t>(0, l->max_query_length)));
    out.max_query_lookback = static_cast<int64_t>(
        SmallestPositive(out.max_query_lookback, std::max<int64_t>(0, l->max_query_lookback)));
    out.query_timeout = static_cast<int64_t>(
        SmallestPositive(out.query_timeout, std::max<int64_t>(0, l->query_timeout)));
    out.max_query_series = SmallestPositive(out.max_query_series, l->max_query_series);
  }
  return out;
}

Status Querier::ApplyTimeLimits(const QueryLimits& limits, int64_t* from_ns, int64_t* through_ns,
                                bool* empty) const {
  *empty = false;
  if (limits.max_query_lookback > 0) {
    int64_t oldest = clock_->NowNanos() - limits.max_query_lookback;
    if (*from_ns < oldest) *from_ns = oldest;
    if (*through_ns <= *from_ns) {
      *empty = true;
      return Status::OK();
    }
  }
  if (limits.max_query_length > 0 && *through_ns - *from_ns > limits.max_query_length) {
    return Status::InvalidArgument(fmt::format(
        "the query time range exceeds the limit (query length: {}, limit: {})",
        gocompat::FormatDuration(*through_ns - *from_ns), FormatDuration(limits.max_query_length)));
  }
  return Status::OK();
}

Result<QueryResult> Querier::Exec(const std::vector<std::string>& tenants,
                                  const QueryRequest& request) {
  const int64_t started = clock_->NowNanos();
  if (tenants.empty()) return Status::Unauthenticated("no org id");
  SLUICE_RETURN_IF_ERROR(CheckQuerySize(request.query));
  SLUICE_ASSIGN_OR_RETURN(logql::syntax::ExprPtr expr, logql::syntax::Parse(request.query));
  if (expr->IsSample()) return ExecMetric(tenants, request, *expr, started);
  const auto& selector = expr->Cast<logql::syntax::LogSelectorExpr>();

  // Compiled before anything else so an unsupported stage is reported even for an empty range.
  SLUICE_ASSIGN_OR_RETURN(logql::log::Pipeline pipeline, logql::log::Pipeline::Compile(selector));

  QueryLimits limits = LimitsFor(tenants);
  if (limits.max_entries != 0 && request.limit > limits.max_entries) {
    return Status::InvalidArgument(
        fmt::format("max entries limit per query exceeded, limit > max_entries_limit ({} > {})",
                    request.limit, limits.max_entries));
  }
  int64_t from = request.start_ns, through = request.end_ns;
  bool empty = false;
  SLUICE_RETURN_IF_ERROR(ApplyTimeLimits(limits, &from, &through, &empty));

  QueryResult result;
  if (!empty && through > from) {
    SelectLogsParams params{tenants, &selector, from, through, request.direction};
    int64_t deadline = limits.query_timeout > 0 ? started + limits.query_timeout
                                                : std::numeric_limits<int64_t>::max();
    SLUICE_ASSIGN_OR_RETURN(
        iter::EntryIteratorPtr it,
        SelectLogsWith(params, std::make_unique<logql::log::Pipeline>(std::move(pipeline)),
                       &result.stats, deadline, request.shared_deadline_ns));

    // Loki's readStreams: at most `limit` entries, at most one per `interval`, grouped by stream.
    const bool forward = request.direction == model::Direction::kForward;
    std::unordered_map<uint64_t, std::vector<size_t>> by_fingerprint;
    uint32_t taken = 0;
    bool first = true;
    int64_t last = 0;
    while (taken < request.limit && it->Next()) {
      const model::Entry& e = it->At();
      if (request.interval_ns > 0 && !first) {
        bool out = forward ? e.timestamp_ns >= last + request.interval_ns
                           : e.timestamp_ns <= last - request.interval_ns;
        if (!out) continue;
      }
      const model::LabelSet& labels = it->Labels();
      auto& slots = by_fingerprint[labels.Fingerprint()];
      model::Stream* stream = nullptr;
      for (size_t i : slots) {
        if (result.streams[i].labels == labels) stream = &result.streams[i];
      }
      if (stream == nullptr) {
        slots.push_back(result.streams.size());
        result.streams.push_back(model::Stream{labels, {}});
        stream = &result.streams.back();
      }
      stream->entries.push_back(e);
      ++taken;
      first = false;
      last = e.timestamp_ns;
    }
    SLUICE_RETURN_IF_ERROR(it->Error());
    it.reset();  // publishes the statistics
    result.stats.total_entries_returned = taken;
  }
  std::vector<std::pair<std::string, size_t>> order;
  order.reserve(result.streams.size());
  for (size_t i = 0; i < result.streams.size(); ++i)
    order.emplace_back(result.streams[i].labels.ToString(), i);
  std::sort(order.begin(), order.end());
  std::vector<model::Stream> sorted;
  sorted.reserve(order.size());
  for (auto& [key, i] : order) sorted.push_back(std::move(result.streams[i]));
  result.streams = std::move(sorted);
  result.stats.exec_time_ns = clock_->NowNanos() - started;
  return result;
}

Result<iter::EntryIteratorPtr> Querier::SelectLogs(const SelectLogsParams& params,
                                                   QueryStats* stats) {
  SLUICE_CHECK(params.selector != nullptr);
  SLUICE_ASSIGN_OR_RETURN(logql::log::Pipeline compiled,
                          logql::log::Pipeline::Compile(*params.selector));
  return SelectLogsWith(params, std::make_unique<logql::log::Pipeline>(std::move(compiled)), stats,
                        std::numeric_limits<int64_t>::max());
}

Result<iter::EntryIteratorPtr> Querier::SelectLogsWith(
    const SelectLogsParams& params, std::unique_ptr<logql::log::Pipeline> pipeline,
    QueryStats* stats, int64_t deadline_ns, const std::atomic<int64_t>* shared_deadline_ns) {
  SLUICE_CHECK(params.selector != nullptr);
  auto pstats = std::make_unique<logql::log::PipelineStats>();
  // Stream-ordered reads rely on every iterator keeping one stream's labels: no stage may
  // change them.
  SLUICE_CHECK(!params.stream_ordered || pipeline->IsNoop());
  // Only a consumer that runs the stages itself may be handed lines it did not ask for.
  SLUICE_CHECK(params.lines_needed || pipeline->IsNoop());
  auto block_stats = std::make_unique<chunk::BlockStats>();

  std::vector<model::LabelMatcher> matchers = params.selector->matchers;
  const bool multi_tenant = params.tenants.size() > 1;
  std::vector<std::string> tenants =
      multi_tenant ? FilterTenants(params.tenants, &matchers) : params.tenants;

  // Whoever runs the selector's stages (the pipeline here, or the metric engine) drops the
  // lines without the required literals: sources may skip them early.
  SelectParams sp{.tenant = {},  // set per tenant below
                  .matchers = std::move(matchers),
                  .from_ns = params.from_ns,
                  .through_ns = params.through_ns,
                  .direction = params.direction,
                  .lines_needed = params.lines_needed,
                  .required_literals = RequiredLiterals(*params.selector),
                  .block_stats = block_stats.get()};
  std::vector<iter::EntryIteratorPtr> its;
  for (const auto& tenant : tenants) {
    sp.tenant = tenant;
    for (LogSource* source : sources_) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<iter::EntryIteratorPtr> got, source->SelectLogs(sp));
      for (auto& it : got) {
        if (deadline_ns != std::numeric_limits<int64_t>::max() || shared_deadline_ns != nullptr) {
          it = std::make_unique<DeadlineIterator>(std::move(it), clock_, deadline_ns,
                                                  shared_deadline_ns);
        }
        it = logql::log::NewPipelineIterator(std::move(it), pipeline.get(), pstats.get());
        if (multi_tenant) {
          // A source's iterator reads one stream: stream-ordered reads build the labels once.
          it = params.stream_ordered
                   ? iter::NewStreamLabelAddingIterator(std::move(it), std::string(kTenantLabel),
                                                        tenant)
                   : iter::NewLabelAddingIterator(std::move(it), std::string(kTenantLabel),
                                                  tenant);
        }
        its.push_back(std::move(it));
      }
    }
  }
  if (params.stream_ordered) {
    auto merge = std::make_unique<iter::StreamOrderedIterator>(std::move(its), params.direction);
    return iter::EntryIteratorPtr(std::make_unique<SelectIterator<iter::StreamOrderedIterator>>(
        std::move(pipeline), std::move(pstats), std::move(block_stats), std::move(merge), stats));
  }
  auto merge = std::make_unique<iter::MergeIterator>(std::move(its), params.direction);
  return iter::EntryIteratorPtr(std::make_unique<SelectIterator<iter::MergeIterator>>(
      std::move(pipeline), std::move(pstats), std::move(block_stats), std::move(merge), stats));
}

// --- Metric queries ---------------------------------------------------------------------------

namespace {

// The engine reads through a callback into the querier (SelectLogsWith is private).
class CallbackReader final : public logql::engine::LogReader {
 public:
  using Select = std::function<Result<iter::EntryIteratorPtr>(
      const logql::syntax::LogSelectorExpr&, int64_t, int64_t, const logql::engine::ReadHints&)>;
  explicit CallbackReader(Select select) : select_(std::move(select)) {}
  Result<iter::EntryIteratorPtr> SelectLogs(const logql::syntax::LogSelectorExpr& selector,
                                            int64_t from_ns, int64_t through_ns,
                                            const logql::engine::ReadHints& hints) override {
    return select_(selector, from_ns, through_ns, hints);
  }

 private:
  Select select_;
};

}  // namespace

Result<QueryResult> Querier::ExecMetric(const std::vector<std::string>& tenants,
                                        const QueryRequest& request,
                                        const logql::syntax::Expr& expr, int64_t started_ns) {
  QueryLimits limits = LimitsFor(tenants);
  int64_t start = request.start_ns, end = request.end_ns;
  if (request.instant) start = end = request.end_ns - 1;
  int64_t clamped_from = start, clamped_through = end;
  bool empty = false;
  SLUICE_RETURN_IF_ERROR(ApplyTimeLimits(limits, &clamped_from, &clamped_through, &empty));
  const int64_t oldest = limits.max_query_lookback > 0
                             ? clock_->NowNanos() - limits.max_query_lookback
                             : std::numeric_limits<int64_t>::min();
  const int64_t deadline = limits.query_timeout > 0 ? started_ns + limits.query_timeout
                                                    : std::numeric_limits<int64_t>::max();

  // Every selector read gets its own statistics (a SelectIterator publishes by assignment);
  // they are summed once the engine, and with it every iterator, is gone.
  std::vector<std::unique_ptr<QueryStats>> reads;
  CallbackReader reader([&](const logql::syntax::LogSelectorExpr& selector, int64_t from,
                            int64_t through, const logql::engine::ReadHints& hints)
                             -> Result<iter::EntryIteratorPtr> {
    from = std::max(from, oldest);
    if (through <= from) return iter::NewMergeIterator({}, model::Direction::kForward);
    reads.push_back(std::make_unique<QueryStats>());
    // Stream after stream: a range aggregation evaluates each series on its own, so the global
    // time-ordered merge over every stream is not needed (see RangeVectorEvaluator).
    SelectLogsParams params{tenants, &selector, from, through, model::Direction::kForward,
                            /*stream_ordered=*/true, hints.lines_needed};
    // The engine runs the selector's pipeline itself: it needs the labels a stage extracts.
    return SelectLogsWith(params, std::make_unique<logql::log::Pipeline>(), reads.back().get(),
                          deadline, request.shared_deadline_ns);
  });
  logql::engine::EngineParams params{start, end, request.step_ns, request.instant,
                                     limits.max_query_series};
  QueryResult result;
  uint64_t passed = 0;
  {
    logql::engine::Engine engine(&reader, params);
    SLUICE_ASSIGN_OR_RETURN(logql::engine::QueryValue value, engine.Exec(expr));
    passed = engine.stats().lines_passed;
    result.series = std::move(value.series);
    result.scalar = value.scalar;
    switch (value.type) {
      case logql::engine::ValueType::kMatrix:
        result.type = ResultType::kMatrix;
        for (const auto& s : result.series) result.stats.total_entries_returned += s.points.size();
        break;
      case logql::engine::ValueType::kVector:
        result.type = ResultType::kVector;
        result.stats.total_entries_returned = result.series.size();
        break;
      case logql::engine::ValueType::kScalar:
        result.type = ResultType::kScalar;
        break;
    }
  }
  for (const auto& r : reads) {
    result.stats.total_lines_processed += r->total_lines_processed;
    result.stats.total_bytes_processed += r->total_bytes_processed;
    result.stats.total_structured_metadata_bytes_processed +=
        r->total_structured_metadata_bytes_processed;
    result.stats.duplicates += r->duplicates;
    result.stats.blocks_considered += r->blocks_considered;
    result.stats.blocks_skipped_by_bloom += r->blocks_skipped_by_bloom;
    result.stats.blocks_decompressed += r->blocks_decompressed;
    result.stats.blocks_skipped_by_scan += r->blocks_skipped_by_scan;
  }
  result.stats.total_post_filter_lines = passed;
  result.stats.exec_time_ns = clock_->NowNanos() - started_ns;
  return result;
}

Result<std::vector<std::string>> Querier::Labels(const std::vector<std::string>& tenants,
                                                 int64_t from_ns, int64_t through_ns) {
  std::set<std::string> names;
  for (const auto& tenant : tenants) {
    SelectParams sp{.tenant = tenant, .from_ns = from_ns, .through_ns = through_ns,
                    .direction = model::Direction::kForward};
    for (LogSource* source : sources_) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> got, source->LabelNames(sp));
      names.insert(std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
    }
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<std::vector<std::string>> Querier::LabelValues(const std::vector<std::string>& tenants,
                                                      std::string_view name, int64_t from_ns,
                                                      int64_t through_ns, std::string_view query) {
  std::vector<model::LabelMatcher> matchers;
  if (!query.empty()) {
    SLUICE_RETURN_IF_ERROR(CheckQuerySize(query));
    SLUICE_ASSIGN_OR_RETURN(matchers, logql::syntax::ParseMatchers(query));
  }
  std::vector<std::string> selected = tenants;
  if (tenants.size() > 1) {
    selected = FilterTenants(tenants, &matchers);
    if (name == kTenantLabel) return selected;
  }
  std::set<std::string> values;
  for (const auto& tenant : selected) {
    SelectParams sp{.tenant = tenant, .matchers = matchers, .from_ns = from_ns,
                    .through_ns = through_ns, .direction = model::Direction::kForward};
    for (LogSource* source : sources_) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> got, source->LabelValues(sp, name));
      values.insert(std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
    }
  }
  return std::vector<std::string>(values.begin(), values.end());
}

Result<std::vector<model::LabelSet>> Querier::Series(const std::vector<std::string>& tenants,
                                                     const std::vector<std::string>& match,
                                                     int64_t from_ns, int64_t through_ns) {
  std::vector<std::vector<model::LabelMatcher>> groups;
  for (const auto& m : match) {
    SLUICE_RETURN_IF_ERROR(CheckQuerySize(m));
    SLUICE_ASSIGN_OR_RETURN(std::vector<model::LabelMatcher> g, logql::syntax::ParseMatchers(m));
    groups.push_back(std::move(g));
  }
  if (groups.empty()) groups.emplace_back();
  const bool multi_tenant = tenants.size() > 1;
  std::set<model::LabelSet> out;
  for (auto& group : groups) {
    std::vector<model::LabelMatcher> matchers = group;
    std::vector<std::string> selected = multi_tenant ? FilterTenants(tenants, &matchers) : tenants;
    for (const auto& tenant : selected) {
      SelectParams sp{.tenant = tenant, .matchers = matchers, .from_ns = from_ns,
                    .through_ns = through_ns, .direction = model::Direction::kForward};
      for (LogSource* source : sources_) {
        SLUICE_ASSIGN_OR_RETURN(std::vector<model::LabelSet> got, source->Series(sp));
        for (auto& ls : got) out.insert(multi_tenant ? WithTenant(ls, tenant) : std::move(ls));
      }
    }
  }
  return std::vector<model::LabelSet>(out.begin(), out.end());
}

}  // namespace sluice::querier
