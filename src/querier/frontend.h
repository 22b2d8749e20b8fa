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
// Metric splits that end before now - max_cache_freshness are answered from the results cache
// when it has them (FrontendOptions::cache_results).
// Everything else (instant queries, unparsable queries, ranges over max_query_length, which the
// querier refuses with its own message) runs unsplit as one queued job.
//
// Who runs the jobs. The queue is apart from the executors:
//   - local workers: `workers` threads in this process calling the local Querier::Exec (the
//     single binary; querier.max_concurrent);
//   - remote workers: querier processes pulling jobs over gRPC (rpc::FrontendService calls
//     Next / Complete / Requeue, one job at a time per stream; Loki's frontend v1 with
//     frontend_worker). A frontend-only process has no Querier and no local workers.
// Both take jobs through Next, so round-robin over tenants and max_query_parallelism apply to
// every worker alike. A job whose remote worker died (the stream broke) is put back at the
// front of its tenant's queue (Requeue) and retried by another worker, kMaxJobAttempts times in
// all; after that the query fails with 503 naming the reason.
//
// Pass-through jobs (Forward): reads the frontend does not split (labels, series, index stats,
// detected_*, ...) are queued as an HTTP request (HttpJob) and answered by a remote querier's own
// router, so the answer is byte for byte what that querier would give. Local workers cannot run
// them (there is no router in this layer); the single binary calls the querier directly instead.
//
// Cancellation: a query past its query_timeout, or whose caller cancelled it, has its queued
// sub-queries dropped; running ones see the shared deadline lowered (QueryRequest's
// shared_deadline_ns, PulledJob::deadline) and stop at their next deadline check; a remote
// worker is told by its stream (rpc::FrontendService).
//
// Thread safety: all methods may be called concurrently.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cache/cache.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "config/overrides.h"
#include "querier/querier.h"
#include "tracing/tracing.h"

namespace sluice::querier {

// Loki's text when a tenant's queue is full (answered with 429).
inline constexpr std::string_view kTooManyOutstandingRequests = "too many outstanding requests";

struct FrontendOptions {
  // Local worker threads (querier.max_concurrent); at least one when the frontend has a local
  // Querier, none without one.
  int workers = 1;
  // Loki's frontend.max_outstanding_per_tenant: sub-queries queued per tenant (multi-tenant
  // queries queue under "a|b") before new ones are refused with 429.
  size_t max_outstanding_per_tenant = 2048;

  // The results cache (results_cache.h): each split of a metric range query is looked up before
  // it is queued and stored after it ran, when it ends (its last step) before
  // now - max_cache_freshness_ns, i.e. when no data can still arrive for it. A dashboard
  // refreshing "the last hour" then runs only its newest splits. Log queries, instant queries
  // and unsplit queries are never cached. A cache failure is a miss.
  bool cache_results = false;  // query_range.cache_results
  // query_range.results_cache.cache, built with cache::NewCache(options,
  // "frontend.results-cache"). Not owned; must outlive the frontend. Null: no caching.
  cache::Cache* results_cache = nullptr;
  // limits_config.max_cache_freshness_per_query (Loki: 10m; a per-tenant limit there, one value
  // for every tenant here).
  int64_t max_cache_freshness_ns = 10 * 60 * kNanosPerSecond;
  // Part of every results cache key: what changes when cached answers become wrong although
  // their time range is final (Loki's cache generation numbers: the tenants' delete requests).
  // Null: nothing does.
  std::function<std::string(const std::vector<std::string>& tenants)> cache_generation = nullptr;
};

// A job is tried this often (a first run and two retries after its worker died) before the
// query fails.
inline constexpr int kMaxJobAttempts = 3;

// A read passed whole to a querier and answered by its HTTP router: Loki's httpgrpc pass-through.
// Plain data, so this layer needs no HTTP types (http/query_api.h converts).
struct HttpJob {
  std::string method;
  std::string path;  // without the query string
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
};
struct HttpReply {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

// Identifies a job handed out by Next until it is completed or requeued.
using JobHandle = uint64_t;

// A job as a worker gets it.
struct PulledJob {
  JobHandle handle = 0;
  std::vector<std::string> tenants;
  // Exactly one is set.
  std::optional<QueryRequest> query;  // its shared_deadline_ns points at *deadline
  std::optional<HttpJob> http;
  // The whole query's deadline (Unix ns on the frontend's clock; INT64_MAX: none), lowered when
  // the query is abandoned. Shared with the frontend, kept alive by this pointer.
  std::shared_ptr<const std::atomic<int64_t>> deadline;
  int64_t queue_time_ns = 0;
  int attempt = 1;             // 1 for the first run
  tracing::SpanContext trace;  // the query's request: the run is a child span of it
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
  // Starts the local workers. `querier` may be null: a frontend-only process, whose jobs only
  // remote workers run (Next). REQUIRES: *querier, *overrides and *clock outlive the frontend.
  QueryFrontend(Querier* querier, const config::Overrides* overrides, FrontendOptions options,
                const Clock* clock = SystemClock::Default());
  // Joins the local workers after their current sub-query; Next returns Unavailable from then
  // on. REQUIRES: no Exec or Forward in progress (the HTTP server is stopped first), and no
  // remote worker calls Complete or Requeue after it (the gRPC server is stopped first).
  ~QueryFrontend();

  QueryFrontend(const QueryFrontend&) = delete;
  QueryFrontend& operator=(const QueryFrontend&) = delete;

  // Querier::Exec's contract, plus RateLimited (429, kTooManyOutstandingRequests) when the
  // tenant's queue is full. `cancelled` (nullable, must outlive the call): once it reads true the
  // query is abandoned, as on a timeout; it is polled, so it takes effect within ~20ms.
  Result<QueryResult> Exec(const std::vector<std::string>& tenants, const QueryRequest& request,
                           const std::atomic<bool>* cancelled = nullptr) EXCLUDES(mu_);

  // Queues `job` as one pass-through job under the tenants' queue and waits for a remote
  // worker's answer, as Exec waits (query_timeout, `cancelled`, 429 when the queue is full).
  // REQUIRES: tenants not empty (the caller answers 401 itself).
  Result<HttpReply> Forward(const std::vector<std::string>& tenants, HttpJob job,
                            const std::atomic<bool>* cancelled = nullptr) EXCLUDES(mu_);

  // The pull API of workers. The next job in round-robin tenant order, waiting up to `wait_ns`
  // (real time) for one: DeadlineExceeded when none came, Unavailable once the frontend is
  // stopping. A job whose query is past its deadline is never handed out (its query fails
  // with the timeout). The caller must then call exactly one of Complete or Requeue.
  Result<PulledJob> Next(int64_t wait_ns) EXCLUDES(mu_);
  // The job's answer: a sub-query's result or error, or a pass-through's reply (a pass-through
  // job's error Status is answered as an HTTP error by the caller of Forward). An unknown handle
  // (already requeued) is ignored.
  void Complete(JobHandle handle, Result<QueryResult> result) EXCLUDES(mu_);
  void Complete(JobHandle handle, Result<HttpReply> reply) EXCLUDES(mu_);
  // The worker running the job went away: the job goes back to the front of its tenant's queue
  // for another worker, or, after kMaxJobAttempts runs, its query fails with 503 naming
  // `reason`. An unknown handle is ignored.
  void Requeue(JobHandle handle, std::string_view reason) EXCLUDES(mu_);

  // Pass-through to the local querier. REQUIRES: the frontend has one.
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
  // Jobs handed out by Next and not yet completed or requeued: for tests.
  size_t running() const EXCLUDES(mu_);

 private:
  struct Query;
  struct Job {
    std::shared_ptr<Query> query;  // shared with the caller, which may give up first
    size_t index = 0;              // which sub-query
    int attempts = 0;              // runs started
    int64_t queue_time_ns = 0;     // of the current run
  };
  enum class Kind : uint8_t { kUnsplit, kLogs, kMetric };
  struct Plan {
    Kind kind = Kind::kUnsplit;
    std::vector<SubQuery> subqueries;
  };

  Plan MakePlan(const std::vector<std::string>& tenants, const QueryRequest& request) const;
  // The smallest positive split_queries_by_interval among the tenants; 0 when none splits.
  int64_t SplitInterval(const std::vector<std::string>& tenants) const;
  // The smallest positive query_timeout among the tenants; 0 when none has one.
  int64_t Timeout(const std::vector<std::string>& tenants) const;
  // Queues sub-query `index` of `query`; RateLimited when its queue is full.
  Status Enqueue(const std::shared_ptr<Query>& query, size_t index) EXCLUDES(mu_);
  // Waits until job `index` of `query` has its answer: OK, or the timeout / cancellation error
  // (the query then abandoned).
  Status Await(Query* query, size_t index, const std::atomic<bool>* cancelled) REQUIRES(mu_);
  // Drops the query's queued sub-queries and lowers its deadline so running ones stop.
  void Abandon(Query* query) REQUIRES(mu_);
  // Sets a job's answer (no-op when it has one) and wakes its waiter.
  void SetResult(const Job& job, Result<QueryResult> result) REQUIRES(mu_);
  void SetReply(const Job& job, Result<HttpReply> reply) REQUIRES(mu_);
  // Fails a job with `status`, whichever kind it is.
  void Fail(const Job& job, const Status& status) REQUIRES(mu_);
  void WorkerLoop() EXCLUDES(mu_);
  // Sets loki_query_frontend_queue_length for `queue` after its length changed.
  void QueueLengthChanged(const std::string& queue) REQUIRES(mu_);

  Querier* querier_;  // null in a frontend-only process
  const config::Overrides* overrides_;
  FrontendOptions options_;
  const Clock* clock_;

  mutable Mutex mu_;
  CondVar work_cv_;                                                // a job was queued, or stopping
  std::map<std::string, std::deque<Job>> queues_ GUARDED_BY(mu_);  // no empty queue is kept
  std::deque<std::string> round_robin_ GUARDED_BY(mu_);            // the keys of queues_
  std::map<JobHandle, Job> running_ GUARDED_BY(mu_);               // handed out by Next
  JobHandle next_handle_ GUARDED_BY(mu_) = 1;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace sluice::querier
