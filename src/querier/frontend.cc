#include "querier/frontend.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <utility>

#include "common/check.h"
#include "iter/merge.h"
#include "logql/engine/engine.h"
#include "logql/syntax/parser.h"
#include "metrics/metrics.h"
#include "querier/results_cache.h"

namespace sluice::querier {

namespace {

constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();
// A waiting caller looks at its deadline and its cancel flag this often (real time: the clock
// may be a test's).
constexpr auto kPollEvery = std::chrono::milliseconds(20);
// More sub-queries than this is a range no split helps: it runs unsplit.
constexpr int64_t kMaxSubqueries = 20'000;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// The first multiple of `interval` after t, or INT64_MAX when it overflows.
int64_t NextBoundary(int64_t t, int64_t interval) {
  int64_t base = FloorDiv(t, interval) * interval, next = 0;
  if (__builtin_add_overflow(base, interval, &next)) return std::numeric_limits<int64_t>::max();
  return next;
}

uint64_t SmallestPositive(uint64_t current, uint64_t v) {
  if (v == 0) return current;
  return current == 0 ? v : std::min(current, v);
}
int64_t SmallestPositive(int64_t current, int64_t v) {
  return static_cast<int64_t>(SmallestPositive(static_cast<uint64_t>(std::max<int64_t>(current, 0)),
                                               static_cast<uint64_t>(std::max<int64_t>(v, 0))));
}

std::string QueueKey(const std::vector<std::string>& tenants) {
  std::string key;
  for (const auto& t : tenants) {
    if (!key.empty()) key.push_back('|');
    key += t;
  }
  return key;
}

void AddStats(QueryStats* sum, const QueryStats& s) {
  sum->queue_time_ns += s.queue_time_ns;
  sum->total_bytes_processed += s.total_bytes_processed;
  sum->total_lines_processed += s.total_lines_processed;
  sum->total_structured_metadata_bytes_processed += s.total_structured_metadata_bytes_processed;
  sum->total_entries_returned += s.total_entries_returned;
  sum->total_post_filter_lines += s.total_post_filter_lines;
  sum->duplicates += s.duplicates;
  sum->store.Add(s.store);
  sum->ingester.Add(s.ingester);
  sum->blocks_considered += s.blocks_considered;
  sum->blocks_skipped_by_bloom += s.blocks_skipped_by_bloom;
  sum->blocks_decompressed += s.blocks_decompressed;
  sum->blocks_skipped_by_scan += s.blocks_skipped_by_scan;
  sum->results_cache_requested += s.results_cache_requested;
  sum->results_cache_found += s.results_cache_found;
  sum->results_cache_stored += s.results_cache_stored;
}

// The first `limit` entries of the parts (each already cut at `limit`, disjoint in time) in the
// query's direction, grouped by stream as Querier::Exec groups them. The merge orders entries
// by (timestamp, labels, line) as the querier's own merge does, so ties across streams are cut
// at the same place.
std::vector<model::Stream> MergeStreams(std::vector<QueryResult>* parts,
                                        const QueryRequest& request, uint32_t* taken) {
  const bool backward = request.direction == model::Direction::kBackward;
  std::vector<iter::EntryIteratorPtr> its;
  for (auto& part : *parts) {
    for (auto& s : part.streams) {
      std::vector<model::Entry> entries = std::move(s.entries);
      if (backward) std::reverse(entries.begin(), entries.end());
      its.push_back(
          iter::NewVectorIterator(std::move(s.labels), std::move(entries), request.direction));
    }
  }
  iter::MergeIterator merge(std::move(its), request.direction);
  std::map<std::string, model::Stream> by_labels;  // sorted as the querier sorts its streams
  *taken = 0;
  while (*taken < request.limit && merge.Next()) {
    model::Stream& stream = by_labels[merge.Labels().ToString()];
    if (stream.entries.empty()) stream.labels = merge.Labels();
    stream.entries.push_back(merge.At());
    ++*taken;
  }
  std::vector<model::Stream> out;
  out.reserve(by_labels.size());
  for (auto& [key, stream] : by_labels) out.push_back(std::move(stream));
  return out;
}

// The parts' matrices joined per series; points stay in time order because the parts are.
Result<std::vector<logql::engine::Series>> MergeMatrices(std::vector<QueryResult>* parts) {
  std::map<model::LabelSet, std::vector<logql::engine::Point>> by_labels;
  for (auto& part : *parts) {
    if (part.type != ResultType::kMatrix) {
      return Status::Internal("query frontend: a split metric query did not return a matrix");
    }
    for (auto& s : part.series) {
      auto& points = by_labels[s.labels];
      points.insert(points.end(), s.points.begin(), s.points.end());
    }
  }
  std::vector<logql::engine::Series> out;
  out.reserve(by_labels.size());
  for (auto& [labels, points] : by_labels) {
    out.push_back(logql::engine::Series{labels, std::move(points)});
  }
  return out;
}

}  // namespace

std::vector<SubQuery> SplitLogRange(int64_t start_ns, int64_t end_ns, int64_t interval_ns) {
  SLUICE_CHECK(interval_ns > 0);
  std::vector<SubQuery> out;
  for (int64_t t = start_ns; t < end_ns;) {
    int64_t next = std::min(NextBoundary(t, interval_ns), end_ns);
    out.push_back(SubQuery{t, next});
    t = next;
  }
  return out;
}

std::vector<SubQuery> SplitMetricSteps(int64_t start_ns, int64_t end_ns, int64_t step_ns,
                                       int64_t interval_ns) {
  SLUICE_CHECK(interval_ns > 0 && step_ns > 0);
  std::vector<SubQuery> out;
  for (int64_t t = start_ns; t <= end_ns;) {
    int64_t bucket_last = NextBoundary(t, interval_ns);
    if (bucket_last != std::numeric_limits<int64_t>::max()) --bucket_last;
    int64_t last = t + (std::min(bucket_last, end_ns) - t) / step_ns * step_ns;
    out.push_back(SubQuery{t, last});
    if (__builtin_add_overflow(last, step_ns, &t)) break;
  }
  return out;
}

void AlignToStep(int64_t step_ns, int64_t* start_ns, int64_t* end_ns) {
  SLUICE_CHECK(step_ns > 0);
  // Go's % truncates toward zero, as C++'s does: negative times round as Loki rounds them.
  *start_ns -= *start_ns % step_ns;
  if (int64_t mod = *end_ns % step_ns; mod != 0) {
    int64_t up = 0;
    *end_ns = __builtin_add_overflow(*end_ns, step_ns - mod, &up) ? *end_ns - mod : up;
  }
}

// One query in flight: what its sub-queries need, and where the workers put their answers.
struct QueryFrontend::Query {
  std::vector<std::string> tenants;
  std::string queue;
  std::vector<QueryRequest> requests;  // one per sub-query, in merge order; empty for `http`
  std::optional<HttpJob> http;         // a pass-through: one job, index 0
  // The deadline every sub-query checks; lowered to cancel them. Handed to workers through
  // PulledJob::deadline, which shares the Query's ownership.
  std::atomic<int64_t> deadline{kNoDeadline};

  // Guarded by QueryFrontend::mu_ (not annotated: the analysis cannot name a lock of another
  // object).
  std::vector<std::optional<Result<QueryResult>>> results;
  std::optional<Result<HttpReply>> reply;  // `http`'s answer
  std::vector<int64_t> enqueued_ns;
  tracing::SpanContext trace;  // the caller's request span
  bool abandoned = false;      // no one waits: a requeued job is dropped
  CondVar done_cv;             // a result arrived

  bool Done(size_t index) const {
    return http.has_value() ? reply.has_value() : results[index].has_value();
  }
};

QueryFrontend::QueryFrontend(Querier* querier, const config::Overrides* overrides,
                             FrontendOptions options, const Clock* clock)
    : querier_(querier), overrides_(overrides), options_(options), clock_(clock) {
  const int n = querier_ == nullptr ? 0 : std::max(1, options_.workers);
  workers_.reserve(n);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

QueryFrontend::~QueryFrontend() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    queues_.clear();
    round_robin_.clear();
    running_.clear();
  }
  work_cv_.SignalAll();
  for (auto& w : workers_) w.join();
}

void QueryFrontend::QueueLengthChanged(const std::string& queue) {
  // Loki's frontend gauge, per queue ("a|b" for a multi-tenant query's).
  static auto* family = metrics::DefaultRegistry().NewGauge(
      "loki_query_frontend_queue_length", "Number of queries in the queue.", {"user"});
  auto it = queues_.find(queue);
  family->WithLabels({queue})->Set(it == queues_.end() ? 0
                                                       : static_cast<double>(it->second.size()));
}

size_t QueryFrontend::queued(std::string_view queue) const {
  MutexLock lock(&mu_);
  auto it = queues_.find(std::string(queue));
  return it == queues_.end() ? 0 : it->second.size();
}

size_t QueryFrontend::running() const {
  MutexLock lock(&mu_);
  return running_.size();
}

int64_t QueryFrontend::Timeout(const std::vector<std::string>& tenants) const {
  int64_t timeout = 0;
  for (const auto& t : tenants) {
    timeout = SmallestPositive(timeout, overrides_->ForTenant(t)->query_timeout);
  }
  return timeout;
}

int64_t QueryFrontend::SplitInterval(const std::vector<std::string>& tenants) const {
  int64_t interval = 0;
  for (const auto& t : tenants) {
    interval = SmallestPositive(interval, overrides_->ForTenant(t)->split_queries_by_interval);
  }
  return interval;
}

QueryFrontend::Plan QueryFrontend::MakePlan(const std::vector<std::string>& tenants,
                                            const QueryRequest& request) const {
  Plan plan;
  if (request.instant || request.plan == nullptr) return plan;  // the querier reports errors
  const logql::syntax::Expr& expr = *request.plan;

  const int64_t interval = SplitInterval(tenants);
  int64_t max_length = 0, lookback = 0;
  for (const auto& t : tenants) {
    auto l = overrides_->ForTenant(t);
    max_length = SmallestPositive(max_length, l->max_query_length);
    lookback = SmallestPositive(lookback, l->max_query_lookback);
  }
  if (interval <= 0 || request.end_ns < request.start_ns) return plan;
  // A range over max_query_length goes to the querier whole, which refuses it with Loki's text;
  // split, every piece would pass.
  int64_t from = request.start_ns;
  if (lookback > 0) from = std::max(from, clock_->NowNanos() - lookback);
  if (max_length > 0 && request.end_ns - from > max_length) return plan;
  // Splitting more finely than this helps nobody.
  const int64_t span = request.end_ns - request.start_ns;
  if (span < 0 || span / interval > kMaxSubqueries) return plan;

  if (expr.IsSample()) {
    if (request.step_ns <= 0) return plan;
    plan.kind = Kind::kMetric;
    plan.subqueries = SplitMetricSteps(request.start_ns, request.end_ns, request.step_ns, interval);
  } else {
    // `interval` keeps one entry per interval across the whole range: not splittable.
    if (request.interval_ns > 0 || request.end_ns <= request.start_ns) return plan;
    plan.kind = Kind::kLogs;
    plan.subqueries = SplitLogRange(request.start_ns, request.end_ns, interval);
    if (request.direction == model::Direction::kBackward) {
      std::reverse(plan.subqueries.begin(), plan.subqueries.end());  // newest first
    }
  }
  if (plan.subqueries.empty()) plan.kind = Kind::kUnsplit;
  return plan;
}

Status QueryFrontend::Enqueue(const std::shared_ptr<Query>& query, size_t index) {
  MutexLock lock(&mu_);
  if (stopping_) return Status::Unavailable("query frontend is stopping");
  auto it = queues_.find(query->queue);
  const size_t len = it == queues_.end() ? 0 : it->second.size();
  if (len >= options_.max_outstanding_per_tenant) {
    return Status::RateLimited(std::string(kTooManyOutstandingRequests));
  }
  if (it == queues_.end()) {
    it = queues_.emplace(query->queue, std::deque<Job>{}).first;
    round_robin_.push_back(query->queue);
  }
  query->enqueued_ns[index] = clock_->NowNanos();
  it->second.push_back(Job{query, index});
  QueueLengthChanged(query->queue);
  work_cv_.Signal();
  return Status::OK();
}

void QueryFrontend::Abandon(Query* query) {
  query->abandoned = true;
  query->deadline.store(std::numeric_limits<int64_t>::min());
  auto it = queues_.find(query->queue);
  if (it == queues_.end()) return;
  auto& jobs = it->second;
  jobs.erase(std::remove_if(jobs.begin(), jobs.end(),
                            [query](const Job& j) { return j.query.get() == query; }),
             jobs.end());
  if (jobs.empty()) {
    queues_.erase(it);
    round_robin_.erase(std::remove(round_robin_.begin(), round_robin_.end(), query->queue),
                       round_robin_.end());
  }
  QueueLengthChanged(query->queue);
}

Status QueryFrontend::Await(Query* query, size_t index, const std::atomic<bool>* cancelled) {
  while (!query->Done(index)) {
    if (clock_->NowNanos() > query->deadline.load()) {
      Abandon(query);
      return Status::DeadlineExceeded(std::string(kQueryTimeoutMessage));
    }
    if (cancelled != nullptr && cancelled->load()) {
      Abandon(query);
      return Status::Unavailable("context canceled");
    }
    query->done_cv.WaitFor(&mu_, kPollEvery);
  }
  return Status::OK();
}

void QueryFrontend::SetResult(const Job& job, Result<QueryResult> result) {
  Query* q = job.query.get();
  if (q->http.has_value() || q->results[job.index].has_value()) return;
  if (result.ok()) result->stats.queue_time_ns += job.queue_time_ns;
  q->results[job.index] = std::move(result);
  q->done_cv.SignalAll();
}

void QueryFrontend::SetReply(const Job& job, Result<HttpReply> reply) {
  Query* q = job.query.get();
  if (!q->http.has_value() || q->reply.has_value()) return;
  q->reply = std::move(reply);
  q->done_cv.SignalAll();
}

void QueryFrontend::Fail(const Job& job, const Status& status) {
  if (job.query->http.has_value()) {
    SetReply(job, status);
  } else {
    SetResult(job, status);
  }
}

Result<PulledJob> QueryFrontend::Next(int64_t wait_ns) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait_ns);
  MutexLock lock(&mu_);
  while (true) {
    if (stopping_) return Status::Unavailable("query frontend is stopping");
    if (round_robin_.empty()) {
      if (std::chrono::steady_clock::now() >= until) {
        return Status::DeadlineExceeded("no job queued");
      }
      work_cv_.WaitUntil(&mu_, until);
      continue;
    }
    // Round-robin over tenants: take the next tenant's oldest sub-query, then send the tenant to
    // the back of the line.
    std::string key = std::move(round_robin_.front());
    round_robin_.pop_front();
    auto it = queues_.find(key);
    SLUICE_CHECK(it != queues_.end() && !it->second.empty());
    Job job = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) {
      queues_.erase(it);
    } else {
      round_robin_.push_back(key);
    }
    QueueLengthChanged(key);
    Query* q = job.query.get();
    const int64_t now = clock_->NowNanos();
    if (now > q->deadline.load()) {
      Fail(job, Status::DeadlineExceeded(std::string(kQueryTimeoutMessage)));
      continue;
    }
    ++job.attempts;
    job.queue_time_ns = now - q->enqueued_ns[job.index];
    if (q->trace.sampled) {
      tracing::Span waited = tracing::Span::Child("query.queue", q->trace);
      waited.SetStartAgo(job.queue_time_ns);
      waited.SetAttribute("split", job.index);
      waited.SetAttribute("queue", q->queue);
    }

    PulledJob out;
    out.handle = next_handle_++;
    out.tenants = q->tenants;
    if (q->http.has_value()) {
      out.http = *q->http;
    } else {
      out.query = q->requests[job.index];
    }
    out.deadline = std::shared_ptr<const std::atomic<int64_t>>(job.query, &q->deadline);
    out.queue_time_ns = job.queue_time_ns;
    out.attempt = job.attempts;
    out.trace = q->trace;
    running_.emplace(out.handle, std::move(job));
    return out;
  }
}

void QueryFrontend::Complete(JobHandle handle, Result<QueryResult> result) {
  MutexLock lock(&mu_);
  auto it = running_.find(handle);
  if (it == running_.end()) return;
  SetResult(it->second, std::move(result));
  running_.erase(it);
}

void QueryFrontend::Complete(JobHandle handle, Result<HttpReply> reply) {
  MutexLock lock(&mu_);
  auto it = running_.find(handle);
  if (it == running_.end()) return;
  SetReply(it->second, std::move(reply));
  running_.erase(it);
}

void QueryFrontend::Requeue(JobHandle handle, std::string_view reason) {
  MutexLock lock(&mu_);
  auto node = running_.extract(handle);
  if (node.empty()) return;
  Job job = std::move(node.mapped());
  Query* q = job.query.get();
  if (q->abandoned || stopping_) return;  // no one waits for it
  if (job.attempts >= kMaxJobAttempts) {
    Fail(job, Status::Unavailable("query frontend: a sub-query failed on " +
                                  std::to_string(job.attempts) +
                                  " queriers, the last one: " + std::string(reason)));
    return;
  }
  // The job had its turn already: it goes first in its queue, and its queue joins the round at
  // the front when it had emptied.
  auto it = queues_.find(q->queue);
  if (it == queues_.end()) {
    it = queues_.emplace(q->queue, std::deque<Job>{}).first;
    round_robin_.push_front(q->queue);
  }
  it->second.push_front(std::move(job));
  QueueLengthChanged(q->queue);
  work_cv_.Signal();
}

void QueryFrontend::WorkerLoop() {
  // How long a local worker waits for a job between looks at stopping_ (Next returns at once
  // when the frontend stops, so this only bounds the wait).
  constexpr int64_t kLocalWait = 1'000'000'000;
  while (true) {
    Result<PulledJob> job = Next(kLocalWait);
    if (!job.ok()) {
      if (job.status().code() == StatusCode::kUnavailable) return;  // stopping
      continue;
    }
    if (job->http.has_value()) {
      Complete(job->handle, Result<HttpReply>(Status::Internal(
                                "query frontend: a local worker cannot answer a pass-through")));
      continue;
    }
    tracing::Span run = tracing::Span::Child("query.exec", job->trace);
    tracing::ScopedActive active(run);
    Result<QueryResult> result = querier_->Exec(job->tenants, *job->query);
    if (!result.ok()) run.SetError(result.status().message());
    run.End();
    Complete(job->handle, std::move(result));
  }
}

Result<HttpReply> QueryFrontend::Forward(const std::vector<std::string>& tenants, HttpJob job,
                                         const std::atomic<bool>* cancelled) {
  if (tenants.empty()) return Status::Unauthenticated("no org id");
  const int64_t timeout = Timeout(tenants);
  auto query = std::make_shared<Query>();
  query->tenants = tenants;
  query->queue = QueueKey(tenants);
  query->http = std::move(job);
  query->trace = tracing::ActiveContext();
  query->deadline.store(timeout > 0 ? clock_->NowNanos() + timeout : kNoDeadline);
  query->enqueued_ns.resize(1);
  SLUICE_RETURN_IF_ERROR(Enqueue(query, 0));
  MutexLock lock(&mu_);
  SLUICE_RETURN_IF_ERROR(Await(query.get(), 0, cancelled));
  return std::move(*query->reply);
}

Result<QueryResult> QueryFrontend::Exec(const std::vector<std::string>& tenants,
                                        const QueryRequest& request,
                                        const std::atomic<bool>* cancelled) {
  const int64_t started = clock_->NowNanos();
  if (tenants.empty()) return Status::Unauthenticated("no org id");  // the querier's 401

  const int64_t timeout = Timeout(tenants);
  uint64_t parallelism = 0, max_series = 0;
  for (const auto& t : tenants) {
    auto l = overrides_->ForTenant(t);
    parallelism = SmallestPositive(parallelism, l->max_query_parallelism);
    max_series = SmallestPositive(max_series, l->max_query_series);
  }

  // Parsed once here; every split carries the plan.
  tracing::Span split_span = tracing::StartSpan("query.split");
  QueryRequest parsed = request;
  if (parsed.plan == nullptr) {
    auto expr = ParseQuery(request.query);
    if (expr.ok()) parsed.plan = std::move(expr).value();
  }
  if (!parsed.instant && parsed.plan != nullptr && parsed.plan->IsSample() && parsed.step_ns > 0 &&
      SplitInterval(tenants) > 0) {
    AlignToStep(parsed.step_ns, &parsed.start_ns, &parsed.end_ns);
  }
  Plan plan = MakePlan(tenants, parsed);
  split_span.SetAttribute("splits", plan.kind == Kind::kUnsplit ? 1 : plan.subqueries.size());
  split_span.End();
  auto query = std::make_shared<Query>();
  query->trace = tracing::ActiveContext();
  query->tenants = tenants;
  query->queue = QueueKey(tenants);
  query->deadline.store(timeout > 0 ? started + timeout : kNoDeadline);
  if (plan.kind == Kind::kUnsplit) {
    query->requests.push_back(parsed);
  } else {
    for (const SubQuery& sq : plan.subqueries) {
      QueryRequest r = parsed;
      r.start_ns = sq.start_ns;
      r.end_ns = sq.end_ns;
      query->requests.push_back(std::move(r));
    }
  }
  for (auto& r : query->requests) r.shared_deadline_ns = &query->deadline;
  const size_t n = query->requests.size();
  query->results.resize(n);
  query->enqueued_ns.resize(n);

  // Metric splits old enough to be final are looked up in the results cache first; those found
  // are answered before anything is queued.
  std::vector<std::string> cache_keys(n);  // empty: not cacheable
  uint64_t cache_requested = 0, cache_found = 0;
  if (plan.kind == Kind::kMetric && options_.cache_results && options_.results_cache != nullptr) {
    const int64_t final_before = clock_->NowNanos() - options_.max_cache_freshness_ns;
    const std::string generation =
        options_.cache_generation ? options_.cache_generation(tenants) : std::string();
    std::vector<std::string> lookup;
    for (size_t i = 0; i < n; ++i) {
      const QueryRequest& r = query->requests[i];
      if (r.end_ns >= final_before) continue;
      cache_keys[i] = ResultsCacheKey(tenants, *parsed.plan, r.start_ns, r.end_ns, r.step_ns);
      if (!generation.empty()) cache_keys[i] += "\x00gen=" + generation;
      lookup.push_back(cache_keys[i]);
    }
    cache_requested = lookup.size();
    if (!lookup.empty()) {
      auto found = options_.results_cache->Fetch(lookup);
      MutexLock lock(&mu_);
      for (size_t i = 0; i < n; ++i) {
        if (cache_keys[i].empty()) continue;
        auto it = found.find(cache_keys[i]);
        if (it == found.end()) continue;
        auto series = DecodeMatrix(it->second);
        if (!series.ok()) continue;  // an older format or a damaged entry: a miss
        QueryResult cached;
        cached.type = ResultType::kMatrix;
        cached.series = std::move(series).value();
        query->results[i] = std::move(cached);
        cache_keys[i].clear();  // nothing to store back
        ++cache_found;
      }
    }
  }
  std::vector<cache::KeyValue> to_store;

  // Sub-queries are submitted in merge order, at most `window` ahead of the one awaited, so a
  // log query that reaches its limit early leaves the rest unasked. Splits answered from the
  // cache are not queued.
  const size_t window = std::max<uint64_t>(parallelism, 1);
  std::vector<QueryResult> parts;
  uint64_t entries = 0;
  size_t submitted = 0;
  for (size_t next = 0; next < n; ++next) {
    for (; submitted < n && submitted - next < window; ++submitted) {
      {
        MutexLock lock(&mu_);
        if (query->results[submitted].has_value()) continue;
      }
      Status st = Enqueue(query, submitted);
      if (!st.ok()) {
        MutexLock lock(&mu_);
        Abandon(query.get());
        return st;
      }
    }
    MutexLock lock(&mu_);
    SLUICE_RETURN_IF_ERROR(Await(query.get(), next, cancelled));
    Result<QueryResult> got = std::move(*query->results[next]);
    if (!got.ok()) {
      Abandon(query.get());
      return got.status();
    }
    if (plan.kind == Kind::kUnsplit) return got;
    if (!cache_keys[next].empty() && got->type == ResultType::kMatrix) {
      to_store.emplace_back(std::move(cache_keys[next]), EncodeMatrix(got->series));
    }
    entries += got->stats.total_entries_returned;
    parts.push_back(std::move(got).value());
    if (plan.kind == Kind::kLogs && entries >= request.limit) {
      Abandon(query.get());  // the prefetched rest is not needed
      break;
    }
  }

  if (!to_store.empty()) options_.results_cache->Store(to_store);

  tracing::Span merge_span = tracing::StartSpan("query.merge");
  merge_span.SetAttribute("parts", parts.size());
  QueryResult result;
  for (const auto& p : parts) AddStats(&result.stats, p.stats);
  result.stats.results_cache_requested += cache_requested;
  result.stats.results_cache_found += cache_found;
  result.stats.results_cache_stored += to_store.size();
  result.stats.subqueries = parts.size();
  result.stats.splits = n;
  if (plan.kind == Kind::kLogs) {
    result.type = ResultType::kStreams;
    uint32_t taken = 0;
    result.streams = MergeStreams(&parts, request, &taken);
    result.stats.total_entries_returned = taken;
  } else {
    result.type = ResultType::kMatrix;
    SLUICE_ASSIGN_OR_RETURN(result.series, MergeMatrices(&parts));
    // Each piece checked its own series; the union is checked here, as the unsplit engine does.
    if (max_series > 0 && result.series.size() > max_series) {
      return Status::InvalidArgument(logql::engine::SeriesLimitMessage(max_series));
    }
  }
  result.stats.exec_time_ns = clock_->NowNanos() - started;
  return result;
}

}  // namespace sluice::querier
