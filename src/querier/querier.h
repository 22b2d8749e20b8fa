#pragma once

// The read path's core: answers log queries and label/series questions by asking every
// LogSource (the ingester's memory, the chunk store) for every tenant, merging the answers.
//
//   Exec(query)  -> parse -> validate limits -> SelectLogs -> readStreams (limit, group) -> result
//   SelectLogs   -> per tenant, per source: LogSource::SelectLogs -> pipeline -> [__tenant_id__]
//                -> one heap merge (drops duplicates across sources) in the query's direction
//
// SelectLogs is the narrow interface a LogQL engine reads logs through (as Loki's
// Querier.SelectLogs). Metric queries go to the engine (logql/engine/), which reads the raw
// entries of each selector through the same path and runs the pipelines itself:
//
//   Exec(metric query) -> parse -> limits -> Engine::Exec -> SelectLogsWith(no pipeline) per
//                         range aggregation -> matrix (range) / vector or scalar (instant)
//
// Thread safety: all methods may be called concurrently; each call owns its iterators.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "config/overrides.h"
#include "iter/iterator.h"
#include "logql/engine/value.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/ast.h"
#include "model/entry.h"
#include "model/labels.h"
#include "querier/source.h"

namespace sluice::querier {

// The label a multi-tenant query ("a|b") adds to every stream, and whose matchers in a
// selector choose among the tenants.
inline constexpr std::string_view kTenantLabel = "__tenant_id__";

// Loki's text for a query that ran out of time (dskit/server maps context.DeadlineExceeded to it).
inline constexpr std::string_view kQueryTimeoutMessage =
    "request timed out, decrease the duration of the request or add more label matchers (prefer "
    "exact match over regex match) to reduce the amount of data processed";

enum class ResultType : uint8_t { kStreams, kMatrix, kVector, kScalar };

// A query as the HTTP API parsed it.
struct QueryRequest {
  std::string query;
  int64_t start_ns = 0;     // inclusive
  int64_t end_ns = 0;       // exclusive for log queries
  int64_t step_ns = 0;      // metric range queries
  int64_t interval_ns = 0;  // log queries: at most one entry per interval (0 = every entry)
  uint32_t limit = 100;
  model::Direction direction = model::Direction::kBackward;
  bool instant = false;  // /query rather than /query_range: metric queries are evaluated at
                         // end_ns - 1 (the `time` parameter; end_ns is exclusive for log reads)
  // Set by the query frontend on its sub-queries: the whole query's deadline (Unix ns), shared by
  // all of them and lowered to cancel them. It must outlive the Exec call. nullptr: the deadline
  // is query_timeout after Exec starts.
  const std::atomic<int64_t>* shared_deadline_ns = nullptr;
};

// What Loki reports in data.stats; fields not tracked yet stay 0.
struct QueryStats {
  int64_t exec_time_ns = 0;
  int64_t queue_time_ns = 0;
  uint64_t total_bytes_processed = 0;  // line bytes read by pipelines
  uint64_t total_lines_processed = 0;
  uint64_t total_structured_metadata_bytes_processed = 0;
  uint64_t total_entries_returned = 0;
  uint64_t total_post_filter_lines = 0;
  uint64_t duplicates = 0;  // dropped by the merge
  // Compressed blocks the read considered, ruled out by their bloom (nothing decompressed),
  // decompressed, and decompressed but holding no line with every required literal. Sluice's
  // own: Loki's statistics have no per-block figures.
  uint64_t blocks_considered = 0;
  uint64_t blocks_skipped_by_bloom = 0;
  uint64_t blocks_decompressed = 0;
  uint64_t blocks_skipped_by_scan = 0;
  uint64_t subqueries = 1;
  uint64_t splits = 0;
  uint64_t shards = 0;
};

struct QueryResult {
  ResultType type = ResultType::kStreams;
  // kStreams: grouped by labels, sorted by the labels' string form; entries in the query's
  // direction.
  std::vector<model::Stream> streams;
  // kMatrix: series sorted by labels. kVector: one point per series. kScalar: `scalar`.
  std::vector<logql::engine::Series> series;
  logql::engine::Point scalar;
  QueryStats stats;
};

struct SelectLogsParams {
  std::vector<std::string> tenants;  // at least one; sorted, as http::TenantsForRead returns
  const logql::syntax::LogSelectorExpr* selector = nullptr;  // must outlive the call
  int64_t from_ns = 0;                                       // inclusive
  int64_t through_ns = 0;                                    // exclusive
  model::Direction direction = model::Direction::kBackward;
  // Stream after stream (iter::StreamOrderedIterator) rather than in global time order: for
  // consumers that evaluate each stream on its own, such as the metric engine.
  bool stream_ordered = false;
  // False: the consumer reads only timestamps (see SelectParams::lines_needed); the iterator
  // may then return entries whose lines are not loaded. REQUIRES: the selector has no stages.
  bool lines_needed = true;
};

// The literals every line a selector's pipeline keeps must contain: the plain `|= "text"`
// filters (one value, not ip()) that apply to the line as read, that is, before any stage that
// rewrites it (line_format, decolorize, unpack). Sources use them to skip blocks and lines;
// the pipeline still applies every filter, so the answer does not depend on them.
std::vector<std::string> RequiredLiterals(const logql::syntax::LogSelectorExpr& selector);

class Querier {
 public:
  // REQUIRES: every source, `overrides` and `clock` outlive the querier.
  Querier(std::vector<LogSource*> sources, const config::Overrides* overrides,
          const Clock* clock = SystemClock::Default());

  // Runs a query end to end. InvalidArgument (400) for parse errors, limit violations
  // (including max_query_series), unsupported queries and metric query errors Loki answers
  // with 400 (pipeline errors, vector matching errors); DeadlineExceeded past query_timeout.
  Result<QueryResult> Exec(const std::vector<std::string>& tenants, const QueryRequest& request);

  // The entries of the selector's streams across all sources and tenants with the selector's
  // pipeline applied, merged in `direction` with duplicates dropped. The returned iterator owns
  // its pipeline; `stats` (nullable) must outlive it and is filled as it is read.
  Result<iter::EntryIteratorPtr> SelectLogs(const SelectLogsParams& params, QueryStats* stats);

  // Label names with data in [from, through), sorted and de-duplicated across sources/tenants.
  Result<std::vector<std::string>> Labels(const std::vector<std::string>& tenants, int64_t from_ns,
                                          int64_t through_ns);
  // Values of `name`; `query` (optional) is a stream selector `{a="b"}` restricting the streams.
  Result<std::vector<std::string>> LabelValues(const std::vector<std::string>& tenants,
                                               std::string_view name, int64_t from_ns,
                                               int64_t through_ns, std::string_view query);
  // The union of the streams matching any of the `match` selectors (all streams when empty),
  // sorted by labels.
  Result<std::vector<model::LabelSet>> Series(const std::vector<std::string>& tenants,
                                              const std::vector<std::string>& match,
                                              int64_t from_ns, int64_t through_ns);

  const config::Overrides* overrides() const { return overrides_; }

 private:
  // The effective limits of a (multi-tenant) query: the smallest positive value among tenants.
  struct QueryLimits {
    uint64_t max_entries = 0;
    int64_t max_query_length = 0;
    int64_t max_query_lookback = 0;
    int64_t query_timeout = 0;
    uint64_t max_query_series = 0;
  };
  QueryLimits LimitsFor(const std::vector<std::string>& tenants) const;
  // Clamps [*from, *through) to max_query_lookback and checks max_query_length. Sets *empty
  // when nothing of the range remains.
  Status ApplyTimeLimits(const QueryLimits& limits, int64_t* from_ns, int64_t* through_ns,
                         bool* empty) const;

  // A metric query, through the LogQL engine.
  Result<QueryResult> ExecMetric(const std::vector<std::string>& tenants,
                                 const QueryRequest& request, const logql::syntax::Expr& expr,
                                 int64_t started_ns);
  // SelectLogs with a compiled pipeline, ending with DeadlineExceeded past `deadline_ns`.
  Result<iter::EntryIteratorPtr> SelectLogsWith(const SelectLogsParams& params,
                                                std::unique_ptr<logql::log::Pipeline> pipeline,
                                                QueryStats* stats, int64_t deadline_ns,
                                                const std::atomic<int64_t>* shared_deadline_ns =
                                                    nullptr);

  std::vector<LogSource*> sources_;
  const config::Overrides* overrides_;
  const Clock* clock_;
};

}  // namespace sluice::querier
