#pragma once

// The read path's front: checks a query against the tenants' limits and hands it to the LogQL
// engine, which evaluates it against the query interface (read::Querier: in the single binary
// a read::FanOut over the ingester's memory and the chunk store).
//
//   Exec(query) -> parse (once per query: the frontend's splits carry the plan) -> limits
//               -> logql::engine::Engine::Exec -> streams (log query) / matrix, vector, scalar
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
#include "read/read.h"

namespace sluice::querier {

inline constexpr std::string_view kTenantLabel = read::kTenantLabel;
inline constexpr std::string_view kQueryTimeoutMessage = read::kQueryTimeoutMessage;

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
  // Loki 3's `categorize-labels` encoding flag (X-Loki-Response-Encoding-Flags): log query
  // streams keep their stream labels only; entries carry metadata and parsed labels apart.
  bool categorize_labels = false;
  // The parsed query, when the caller parsed it already (the frontend, once for all splits).
  std::shared_ptr<const logql::syntax::Expr> plan;
};

// What Loki reports in data.stats; fields sluice has no counterpart for stay 0.
struct QueryStats {
  int64_t exec_time_ns = 0;
  int64_t queue_time_ns = 0;
  uint64_t total_bytes_processed = 0;  // line bytes read by pipelines
  uint64_t total_lines_processed = 0;
  uint64_t total_structured_metadata_bytes_processed = 0;
  uint64_t total_entries_returned = 0;
  uint64_t total_post_filter_lines = 0;
  uint64_t duplicates = 0;  // dropped by the merge
  // Per component, as Loki reports them: what the chunk store's reads did (querier.store, and
  // the index's chunk refs) and what the ingesters' did (ingester).
  read::SourceStats store;
  read::SourceStats ingester;
  // Compressed blocks the read considered, ruled out by their bloom (nothing decompressed),
  // decompressed, and decompressed but holding no line with every required literal. Sluice's
  // own: Loki's statistics have no per-block figures.
  uint64_t blocks_considered = 0;
  uint64_t blocks_skipped_by_bloom = 0;
  uint64_t blocks_decompressed = 0;
  uint64_t blocks_skipped_by_scan = 0;
  // The frontend's results cache (Loki's stats cache.result): splits looked up, found, stored.
  uint64_t results_cache_requested = 0;
  uint64_t results_cache_found = 0;
  uint64_t results_cache_stored = 0;
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

// A query's text parsed, after Loki's size check (parse errors and the size limit are 400s).
Result<std::shared_ptr<const logql::syntax::Expr>> ParseQuery(std::string_view query);

class Querier {
 public:
  // REQUIRES: *reader, *overrides and *clock outlive the querier.
  Querier(read::Querier* reader, const config::Overrides* overrides,
          const Clock* clock = SystemClock::Default());

  // Runs a query end to end. InvalidArgument (400) for parse errors, limit violations
  // (including max_query_series), unsupported queries and metric query errors Loki answers
  // with 400 (pipeline errors, vector matching errors); DeadlineExceeded past query_timeout.
  Result<QueryResult> Exec(const std::vector<std::string>& tenants, const QueryRequest& request);

  // The entries of the selector's streams in [from, through) across all tenants, stages
  // applied, merged in `direction` with duplicates dropped (tail, volume). REQUIRES: `selector`
  // outlives the iterator.
  Result<iter::EntryIteratorPtr> SelectLogs(const std::vector<std::string>& tenants,
                                            const logql::syntax::LogSelectorExpr& selector,
                                            int64_t from_ns, int64_t through_ns,
                                            model::Direction direction);

  // The chunks (in memory and in the store, each once) holding data of the selector's streams
  // in [from, through) across all tenants: index stats' "chunks".
  Result<uint64_t> ChunkCount(const std::vector<std::string>& tenants,
                              const logql::syntax::LogSelectorExpr& selector, int64_t from_ns,
                              int64_t through_ns);

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

  read::Querier* reader_;
  const config::Overrides* overrides_;
  const Clock* clock_;
};

}  // namespace sluice::querier
