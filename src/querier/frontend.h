#pragma once

// The query frontend, in-process: Loki's split-by-interval middleware and request queue in front
// of a Querier, so query work runs on its own bounded pool (not the HTTP io threads) and one
// tenant's heavy query cannot starve another's.
//
//   Exec(range query) -> metric range queries: start and end aligned to the step (AlignToStep)
//                     -> plan: sub-queries aligned to split_queries_by_interval
//                     -> per-tenant FIFO queues, served round-robin by `workers` threads
//                        (at most max_query_parallelism sub-queries of one query queued or
//                        running at a time, submitted in the order they are merged)
//                     -> merge: logs in the query's direction, stopping at `limit`;
//                        metric matrices concatenated per series
//
// Splitting is only done where the merged answer is the unsplit one:
//   - log queries: [start, end) cut at multiples of the interval; each piece is asked for `limit`
//     entries and the pieces are merged newest-first (backward) or oldest-first (forward) until
//     `limit` entries are in hand. Queries with `interval` (one entry per interval) are not split:
//     that filter carries state across the whole range.
//   - metric range queries: the step timestamps are grouped by interval and each group is its own
//     sub-query with the same step and range; steps evaluate independently, so the series'
//     points concatenate. max_query_series is checked again on the union.
// Everything else (instant queries, unparsable queries, ranges over max_query_length, which the
// querier refuses with its own message) runs unsplit as one queued job. Labels and series calls
// go straight to the querier.
//
// Cancellation: a query past its query_timeout, or whose caller cancelled it, has its queued
// sub-queries dropped; running ones see the shared deadline lowered (QueryRequest's
// shared_deadline_ns) and stop at their next deadline check.
//
// Thread safety: all methods may be called concurrently.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "config/overrides.h"
#include "querier/querier.h"

namespace sluice::querier {

// Loki's text when a tenant's queue is full (answered with 429).
inline constexpr std::string_view kTooManyOutstandingRequests = "too many outstanding requests";

struct FrontendOptions {
  int workers = 1;  // querier.max_concurrent
  // Loki's frontend.max_outstanding_per_tenant: sub-queries queued per tenant (multi-tenant
  // queries queue under "a|b") before new ones are refused with 429.
  size_t max_outstanding_per_tenant = 2048;
};

// One sub-query as planned: the request the querier runs.
struct SubQuery {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
};

// The sub-ranges of [start_ns, end_ns) cut at multiples of `interval_ns` (from the Unix epoch),
// in time order. Empty when the range is. REQUIRES: interval_ns > 0.
std::vector<SubQuery> SplitLogRange(int64_t start_ns, int64_t end_ns, int64_t interval_ns);
// The steps start, start+step, ... <= end grouped by the interval they fall in: each group as the
// [first step, last step] of a sub-query with the same step. REQUIRES: interval_ns, step_ns > 0.
std::vector<SubQuery> SplitMetricSteps(int64_t start_ns, int64_t end_ns, int64_t step_ns,
                                       int64_t interval_ns);

// Loki's step alignment of a metric range query (pkg/querier/queryrange, the metric splitter's
// alignStartEnd, in 2.9 and 3.x): start rounded down and end rounded up to a multiple of the
// step, counted from the Unix epoch. Loki applies it whenever split_queries_by_interval is set,
// whether or not the range is then cut into more than one piece, so Exec does the same.
// REQUIRES: step_ns > 0.
void AlignToStep(int64_t step_ns, int64_t* start_ns, int64_t* end_ns);

class QueryFrontend {
 public:
  // Starts the workers. REQUIRES: *querier, *overrides and *clock outlive the frontend.
  QueryFrontend(Querier* querier, const config::Overrides* overrides, FrontendOptions options,
                const Clock* clock = SystemClock::Default());
  // Joins the workers after their current sub-query. REQUIRES: no Exec in progress (the HTTP
  // server is stopped first).
  ~QueryFrontend();

  QueryFrontend(const QueryFrontend&) = delete;
  QueryFrontend& operator=(const QueryFrontend&) = delete;

  // Querier::Exec's contract, plus RateLimited (429, kTooManyOutstandingRequests) when the
  // tenant's queue is full. `cancelled` (nullable, must outlive the call): once it reads true the
  // query is abandoned, as on a timeout; it is polled, so it takes effect within ~20ms.
  Result<QueryResult> Exec(const std::vector<std::string>& tenants, const QueryRequest& request,
                           const std::atomic<bool>* cancelled = nullptr) EXCLUDES(mu_);

  // Pass-through to the querier.
  Result<std::vector<std::string>> Labels(const std::vector<std::string>& tenants, int64_t from_ns,
                                          int64_t through_ns) {
    return querier_->Labels(tenants, from_ns, through_ns);
  }
  Result<std::vector<std::string>> LabelValues(const std::vector<std::string>& tenants,
                                               std::string_view name, int64_t from_ns,
                                               int64_t through_ns, std::string_view query) {
    return querier_->LabelValues(tenants, name, from_ns, through_ns, query);
  }
  Result<std::vector<model::LabelSet>> Series(const std::vector<std::string>& tenants,
                                              const std::vector<std::string>& match,
                                              int64_t from_ns, int64_t through_ns) {
    return querier_->Series(tenants, match, from_ns, through_ns);
  }

  // Sub-queries waiting in `queue` (a tenant, or "a|b" for a multi-tenant query): for tests.
  size_t queued(std::string_view queue) const EXCLUDES(mu_);

 private:
  struct Query;
  struct Job {
    std::shared_ptr<Query> query;  // shared with the caller, which may give up first
    size_t index = 0;              // which sub-query
  };
  enum class Kind : uint8_t { kUnsplit, kLogs, kMetric };
  struct Plan {
    Kind kind = Kind::kUnsplit;
    std::vector<SubQuery> subqueries;
  };

  Plan MakePlan(const std::vector<std::string>& tenants, const QueryRequest& request) const;
  // The smallest positive split_queries_by_interval among the tenants; 0 when none splits.
  int64_t SplitInterval(const std::vector<std::string>& tenants) const;
  // Queues sub-query `index` of `query`; RateLimited when its queue is full.
  Status Enqueue(const std::shared_ptr<Query>& query, size_t index) EXCLUDES(mu_);
  // Drops the query's queued sub-queries and lowers its deadline so running ones stop.
  void Abandon(Query* query) REQUIRES(mu_);
  void WorkerLoop() EXCLUDES(mu_);

  Querier* querier_;
  const config::Overrides* overrides_;
  FrontendOptions options_;
  const Clock* clock_;

  mutable Mutex mu_;
  CondVar work_cv_;                                                // a job was queued, or stopping
  std::map<std::string, std::deque<Job>> queues_ GUARDED_BY(mu_);  // no empty queue is kept
  std::deque<std::string> round_robin_ GUARDED_BY(mu_);            // the keys of queues_
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace sluice::querier
