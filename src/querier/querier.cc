#include "querier/querier.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "common/check.h"
#include "common/duration.h"
#include "gocompat/duration.h"
#include "logql/engine/engine.h"
#include "logql/syntax/parser.h"

namespace sluice::querier {

namespace {

// Loki's syntax.maxInputSize: longer queries are refused before parsing.
constexpr size_t kMaxQuerySize = 5120;
constexpr std::string_view kQueryTooLongMessage = "parse error : input size too long ({} > {})";
constexpr std::string_view kMaxEntriesMessage =
    "max entries limit per query exceeded, limit > max_entries_limit ({} > {})";
constexpr std::string_view kQueryLengthMessage =
    "the query time range exceeds the limit (query length: {}, limit: {})";

Status CheckQuerySize(std::string_view query) {
  if (query.size() >= kMaxQuerySize) {
    return Status::InvalidArgument(fmt::format(kQueryTooLongMessage, query.size(), kMaxQuerySize));
  }
  return Status::OK();
}

uint64_t SmallestPositive(uint64_t current, uint64_t v) {
  if (v == 0) return current;
  return current == 0 ? v : std::min(current, v);
}

// A request reading the matchers of `query` (a stream selector, or all streams when empty).
Result<read::SelectRequest> MatchersRequest(const std::vector<std::string>& tenants,
                                            std::string_view query, int64_t from_ns,
                                            int64_t through_ns) {
  read::SelectRequest req;
  if (!query.empty()) {
    SLUICE_RETURN_IF_ERROR(CheckQuerySize(query));
    SLUICE_ASSIGN_OR_RETURN(req.matchers, logql::syntax::ParseMatchers(query));
  }
  req.multi_tenant = tenants.size() > 1;
  req.tenants = read::FilterTenants(tenants, &req.matchers);
  req.from_ns = from_ns;
  req.through_ns = through_ns;
  req.direction = model::Direction::kForward;
  return req;
}

}  // namespace

Result<std::shared_ptr<const logql::syntax::Expr>> ParseQuery(std::string_view query) {
  SLUICE_RETURN_IF_ERROR(CheckQuerySize(query));
  SLUICE_ASSIGN_OR_RETURN(logql::syntax::ExprPtr parsed, logql::syntax::Parse(query));
  return std::shared_ptr<const logql::syntax::Expr>(std::move(parsed));
}

Querier::Querier(read::Querier* reader, const config::Overrides* overrides, const Clock* clock)
    : reader_(reader), overrides_(overrides), clock_(clock) {}

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
    return Status::InvalidArgument(fmt::format(kQueryLengthMessage,
                                               gocompat::FormatDuration(*through_ns - *from_ns),
                                               FormatDuration(limits.max_query_length)));
  }
  return Status::OK();
}

Result<QueryResult> Querier::Exec(const std::vector<std::string>& tenants,
                                  const QueryRequest& request) {
  const int64_t started = clock_->NowNanos();
  if (tenants.empty()) return Status::Unauthenticated("no org id");
  std::shared_ptr<const logql::syntax::Expr> plan = request.plan;
  if (plan == nullptr) {
    SLUICE_ASSIGN_OR_RETURN(plan, ParseQuery(request.query));
  }
  const logql::syntax::Expr& expr = *plan;
  QueryLimits limits = LimitsFor(tenants);
  logql::engine::EngineParams params;
  params.max_series = limits.max_query_series;
  int64_t from = request.start_ns, through = request.end_ns;
  if (expr.IsSample()) {
    params.start_ns = params.end_ns = request.end_ns - 1;  // instant: evaluated at `time`
    if (!request.instant) {
      params.start_ns = request.start_ns;
      params.end_ns = request.end_ns;
    }
    params.step_ns = request.step_ns;
    params.instant = request.instant;
    from = params.start_ns;
    through = params.end_ns;
  } else {
    // Compiled before anything else so an unsupported stage is reported even for an empty
    // range (the readers compile it again for themselves).
    SLUICE_RETURN_IF_ERROR(
        logql::log::Pipeline::Compile(expr.Cast<logql::syntax::LogSelectorExpr>()).status());
    if (limits.max_entries != 0 && request.limit > limits.max_entries) {
      return Status::InvalidArgument(
          fmt::format(kMaxEntriesMessage, request.limit, limits.max_entries));
    }
    params.start_ns = request.start_ns;
    params.end_ns = request.end_ns;
    params.limit = request.limit;
    params.interval_ns = request.interval_ns;
    params.direction = request.direction;
    params.categorize_labels = request.categorize_labels;
  }
  bool empty = false;
  SLUICE_RETURN_IF_ERROR(ApplyTimeLimits(limits, &from, &through, &empty));
  if (limits.max_query_lookback > 0)
    params.oldest_ns = clock_->NowNanos() - limits.max_query_lookback;

  read::SelectRequest base;
  base.tenants = tenants;
  base.plan = plan;
  base.deadline.at_ns = limits.query_timeout > 0 ? started + limits.query_timeout
                                                 : std::numeric_limits<int64_t>::max();
  base.deadline.shared_ns = request.shared_deadline_ns;
  if (limits.query_timeout > 0 || request.shared_deadline_ns != nullptr)
    base.deadline.clock = clock_;

  QueryResult result;
  if (!expr.IsSample() && (empty || through <= from)) {
    result.stats.exec_time_ns = clock_->NowNanos() - started;
    return result;
  }
  logql::engine::Engine engine(reader_, std::move(base), params);
  SLUICE_ASSIGN_OR_RETURN(logql::engine::QueryValue value, engine.Exec(expr));
  const read::ReadStats& read = engine.stats();
  result.stats.total_lines_processed = read.pipeline.lines_processed;
  result.stats.total_bytes_processed = read.pipeline.bytes_processed;
  result.stats.total_structured_metadata_bytes_processed = read.pipeline.metadata_bytes_processed;
  result.stats.total_post_filter_lines = read.pipeline.lines_passed;
  result.stats.duplicates = read.duplicates;
  result.stats.store = read.store;
  result.stats.ingester = read.ingester;
  result.stats.blocks_considered = read.blocks.blocks;
  result.stats.blocks_skipped_by_bloom = read.blocks.skipped_by_bloom;
  result.stats.blocks_decompressed = read.blocks.decompressed;
  result.stats.blocks_skipped_by_scan = read.blocks.skipped_by_scan;
  result.series = std::move(value.series);
  result.scalar = value.scalar;
  switch (value.type) {
    case logql::engine::ValueType::kStreams:
      result.type = ResultType::kStreams;
      result.streams = std::move(value.streams);
      for (const auto& s : result.streams) result.stats.total_entries_returned += s.entries.size();
      break;
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
  result.stats.exec_time_ns = clock_->NowNanos() - started;
  return result;
}

Result<iter::EntryIteratorPtr> Querier::SelectLogs(const std::vector<std::string>& tenants,
                                                   const logql::syntax::LogSelectorExpr& selector,
                                                   int64_t from_ns, int64_t through_ns,
                                                   model::Direction direction) {
  read::SelectRequest req =
      read::MakeSelectRequest(tenants, nullptr, selector, from_ns, through_ns);
  req.direction = direction;
  return reader_->SelectLogs(req);
}

Result<uint64_t> Querier::ChunkCount(const std::vector<std::string>& tenants,
                                     const logql::syntax::LogSelectorExpr& selector,
                                     int64_t from_ns, int64_t through_ns) {
  read::SelectRequest req =
      read::MakeSelectRequest(tenants, nullptr, selector, from_ns, through_ns);
  return reader_->ChunkCount(req);
}

Result<std::vector<std::string>> Querier::Labels(const std::vector<std::string>& tenants,
                                                 int64_t from_ns, int64_t through_ns) {
  SLUICE_ASSIGN_OR_RETURN(read::SelectRequest req,
                          MatchersRequest(tenants, "", from_ns, through_ns));
  return reader_->LabelNames(req);
}

Result<std::vector<std::string>> Querier::LabelValues(const std::vector<std::string>& tenants,
                                                      std::string_view name, int64_t from_ns,
                                                      int64_t through_ns, std::string_view query) {
  SLUICE_ASSIGN_OR_RETURN(read::SelectRequest req,
                          MatchersRequest(tenants, query, from_ns, through_ns));
  if (tenants.size() > 1 && name == kTenantLabel) return req.tenants;
  return reader_->LabelValues(req, name);
}

Result<std::vector<model::LabelSet>> Querier::Series(const std::vector<std::string>& tenants,
                                                     const std::vector<std::string>& match,
                                                     int64_t from_ns, int64_t through_ns) {
  std::vector<std::string> groups = match;
  if (groups.empty()) groups.emplace_back();
  std::set<model::LabelSet> out;
  for (const auto& group : groups) {
    SLUICE_ASSIGN_OR_RETURN(read::SelectRequest req,
                            MatchersRequest(tenants, group, from_ns, through_ns));
    SLUICE_ASSIGN_OR_RETURN(std::vector<model::LabelSet> got, reader_->Series(req));
    out.insert(std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
  }
  return std::vector<model::LabelSet>(out.begin(), out.end());
}

}  // namespace sluice::querier
