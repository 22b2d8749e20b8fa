#include "rpc/ring_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "metrics/metrics.h"
#include "tracing/tracing.h"

namespace sluice::rpc {

namespace {

metrics::Family<metrics::Counter>* FailuresMetric() {
  static metrics::Family<metrics::Counter>* family = metrics::DefaultRegistry().NewCounter(
      "sluice_querier_ingester_failures_total",
      "Ingester calls of the querier's reads over the ring that failed and were skipped or "
      "failed the read, by operation.",
      {"operation"});
  return family;
}

// The error of a read that lost more ingesters than the ring tolerates. A timed-out query and a
// request every ingester refused keep their own status (504 with Loki's text, 400); anything
// else says the ingesters are unavailable, with the first failure.
Status TooManyFailures(int failed, size_t asked, int max_errors, const std::string& addr,
                       const Status& first) {
  if (first.code() == StatusCode::kDeadlineExceeded ||
      first.code() == StatusCode::kInvalidArgument) {
    return first;
  }
  std::string what = first.message();
  if (!what.starts_with("ingester ")) what = "ingester " + addr + ": " + what;
  return Status::Unavailable(fmt::format("{} of {} ingesters failed ({} tolerated); first: {}",
                                         failed, asked, max_errors, what));
}

// One remote SelectStreams call's iterator. The call counts into a ReadStats of its own (the
// calls run in parallel; req.stats is a plain struct), moved into the read's statistics by the
// reading thread when an iterator ends or goes. Keeps the client alive while the call's
// connection stream is read, even if the pool drops it meanwhile.
class CallIterator final : public iter::ForwardingIterator {
 public:
  CallIterator(iter::EntryIteratorPtr inner, std::shared_ptr<RemoteIngester> client,
               std::shared_ptr<read::ReadStats> local, read::ReadStats* out)
      : ForwardingIterator(std::move(inner)),
        client_(std::move(client)),
        local_(std::move(local)),
        out_(out) {}
  ~CallIterator() override {
    Flush();
    inner_.reset();  // before client_: the call's stream uses the client's channel
  }

  bool Next() override {
    if (inner_->Next()) return true;
    Flush();
    return false;
  }

 private:
  void Flush() {
    if (out_ == nullptr || local_ == nullptr) return;
    out_->Add(*local_);
    *local_ = read::ReadStats{};
  }

  std::shared_ptr<RemoteIngester> client_;
  std::shared_ptr<read::ReadStats> local_;  // shared by the call's iterators; nullable
  read::ReadStats* out_;                    // nullable
};

// The answers of one read's calls, shared by the reader and the call threads: a thread that ends
// after the reader left drops its answer with the last reference.
template <typename T>
struct Gather {
  explicit Gather(size_t n) : results(n) {}
  Mutex mu;
  CondVar cv;
  std::vector<std::optional<Result<T>>> results GUARDED_BY(mu);  // by instance
  int succeeded GUARDED_BY(mu) = 0;
  int failed GUARDED_BY(mu) = 0;
};

// A copy of `req` a call thread may keep after the read returned: the shared deadline read now
// (RemoteIngester reads it once, as the call starts; the caller's atomic may be gone later), no
// statistics (the select call sets its own).
read::SelectRequest Detached(const read::SelectRequest& req) {
  read::SelectRequest copy = req;
  if (copy.deadline.shared_ns != nullptr) {
    copy.deadline.at_ns = std::min(copy.deadline.at_ns, copy.deadline.shared_ns->load());
    copy.deadline.shared_ns = nullptr;
  }
  copy.stats = nullptr;
  return copy;
}

// What one SelectStreams call returned.
struct SelectAnswer {
  std::shared_ptr<RemoteIngester> client;
  std::shared_ptr<read::ReadStats> stats;  // null when the read keeps none
  std::vector<iter::EntryIteratorPtr> its;
};

// Runs `call` on `client` on a thread of its own; its result lands in gather->results[i]. The
// thread counts itself in `running` (~RingIngesters waits for them) and keeps what it uses alive.
template <typename T, typename Running>
void Launch(const std::shared_ptr<Gather<T>>& gather,
            const std::function<Result<T>(const std::shared_ptr<RemoteIngester>&)>& call, size_t i,
            std::shared_ptr<RemoteIngester> client, const std::shared_ptr<Running>& running,
            std::string_view op) {
  {
    MutexLock lock(&running->mu);
    ++running->calls;
  }
  std::thread([gather, call, i, client = std::move(client), running, op = std::string(op),
               trace = tracing::ActiveContext()] {
    tracing::ScopedActive active(trace);  // the call's metadata carries the query's trace
    Result<T> r = call(client);
    if (!r.ok()) {
      spdlog::warn("msg=\"ingester read failed\" op={} addr={} err=\"{}\"", op, client->address(),
                   r.status().ToString());
      FailuresMetric()->WithLabels({op})->Inc();
    }
    {
      MutexLock lock(&gather->mu);
      ++(r.ok() ? gather->succeeded : gather->failed);
      gather->results[i].emplace(std::move(r));
      gather->cv.SignalAll();
    }
    MutexLock lock(&running->mu);
    if (--running->calls == 0) running->cv.SignalAll();
  }).detach();
}

}  // namespace

RingIngesters::RingIngesters(const ring::Ring* ring, IngesterClientPool* pool,
                             RingIngestersOptions options, const Clock* clock)
    : ring_(ring), pool_(pool), options_(options), clock_(clock) {}

RingIngesters::~RingIngesters() {
  // The calls a read stopped waiting for end at their deadlines; wait for them so that what they
  // point at (the clients' clocks, the queries' clocks) is still there. They hold no pointer to
  // this source, so one that outlives the wait does no harm here.
  Running& r = *running_;
  MutexLock lock(&r.mu);
  r.cv.WaitFor(&r.mu, std::chrono::seconds(30), [&]() REQUIRES(r.mu) { return r.calls == 0; });
}

bool RingIngesters::ShouldQuery(const read::SelectRequest& req) const {
  if (options_.query_ingesters_within_ns <= 0) return true;
  // Loki: the ingesters are asked when the query's end is after now - query_ingesters_within.
  return req.through_ns > clock_->NowNanos() - options_.query_ingesters_within_ns;
}

template <typename T>
Result<RingIngesters::Answers<T>> RingIngesters::ForEachIngester(
    std::string_view op,
    std::function<Result<T>(const std::shared_ptr<RemoteIngester>&)> call) const {
  if (options_.by_partition) return ForEachPartitionOwner<T>(op, std::move(call));
  SLUICE_ASSIGN_OR_RETURN(ring::ReplicationSet set, ring_->GetAllHealthy(ring::Op::kRead));
  const size_t n = set.instances.size();
  const int need = static_cast<int>(n) - set.max_errors;
  auto gather = std::make_shared<Gather<T>>(n);
  for (size_t i = 0; i < n; ++i) {
    Launch(gather, call, i, pool_->Get(set.instances[i].addr), running_, op);
  }

  Answers<T> out;
  out.asked = n;
  int failed = 0;
  size_t first_failed = n;
  Status first_error;
  {
    MutexLock lock(&gather->mu);
    // Every call ends (each has a deadline), so one of these comes true.
    gather->cv.Wait(&gather->mu, [&]() REQUIRES(gather->mu) {
      return gather->succeeded >= need || gather->failed > set.max_errors;
    });
    for (size_t i = 0; i < n; ++i) {
      std::optional<Result<T>>& r = gather->results[i];
      if (!r.has_value()) continue;  // not waited for
      if (r->ok()) {
        out.values.push_back(std::move(*r).value());
        continue;
      }
      ++failed;
      if (first_failed == n) {
        first_failed = i;
        first_error = r->status();
      }
    }
  }
  if (set.Failed(failed)) {
    return TooManyFailures(failed, n, set.max_errors, set.instances[first_failed].addr,
                           first_error);
  }
  return out;
}

template <typename T>
Result<RingIngesters::Answers<T>> RingIngesters::ForEachPartitionOwner(
    std::string_view op,
    std::function<Result<T>(const std::shared_ptr<RemoteIngester>&)> call) const {
  SLUICE_ASSIGN_OR_RETURN(ring::PartitionOwners owners, ring_->GetPartitionOwners());
  const size_t n = owners.instances.size();
  auto gather = std::make_shared<Gather<T>>(n);
  std::vector<size_t> launched;  // in launch order
  std::vector<bool> was_launched(n, false);
  auto launch = [&](const std::vector<size_t>& which) {
    for (size_t i : which) {
      if (was_launched[i]) continue;
      was_launched[i] = true;
      launched.push_back(i);
      Launch(gather, call, i, pool_->Get(owners.instances[i].addr), running_, op);
    }
  };
  // First one owner per partition, preferring one already asked for another partition.
  std::vector<size_t> first;
  for (const auto& ps : owners.by_partition) {
    auto asked = std::find_if(ps.begin(), ps.end(), [&](size_t i) {
      return std::find(first.begin(), first.end(), i) != first.end();
    });
    if (asked == ps.end()) first.push_back(ps.front());
  }
  launch(first);

  auto hedge_at =
      std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.partition_hedge_ns);
  for (;;) {
    std::vector<size_t> next;
    {
      MutexLock lock(&gather->mu);
      const bool hedge = std::chrono::steady_clock::now() >= hedge_at;
      bool all_answered = true;
      for (const auto& ps : owners.by_partition) {
        bool answered = false, pending = false;
        size_t untried = n, failed = n;
        for (size_t i : ps) {
          if (!was_launched[i]) {
            if (untried == n) untried = i;
          } else if (!gather->results[i].has_value()) {
            pending = true;
          } else if (gather->results[i]->ok()) {
            answered = true;
          } else if (failed == n) {
            failed = i;
          }
        }
        if (answered) continue;
        all_answered = false;
        if (!pending && untried == n) {
          // Every owner of this partition failed.
          return TooManyFailures(static_cast<int>(ps.size()), ps.size(), 0,
                                 owners.instances[failed].addr, gather->results[failed]->status());
        }
        if (untried != n && (!pending || hedge)) next.push_back(untried);
      }
      if (all_answered) break;
      if (next.empty()) {
        // Until an answer comes, or the hedge is due; past it, until an answer (every call ends
        // by its own deadline).
        if (hedge) {
          gather->cv.Wait(&gather->mu);
        } else {
          gather->cv.WaitUntil(&gather->mu, hedge_at);
        }
      }
    }
    if (!next.empty()) {
      launch(next);
      hedge_at =
          std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.partition_hedge_ns);
    }
  }

  // The answers, one per partition at least: an owner's answer is kept when it covers a partition
  // no kept answer covers yet (a hedged owner answering after the first adds nothing).
  Answers<T> out;
  std::vector<bool> covered(owners.by_partition.size(), false);
  MutexLock lock(&gather->mu);
  out.asked = launched.size();
  for (size_t i : launched) {
    std::optional<Result<T>>& r = gather->results[i];
    if (!r.has_value() || !r->ok()) continue;
    bool adds = false;
    for (size_t p = 0; p < owners.by_partition.size(); ++p) {
      const auto& ps = owners.by_partition[p];
      if (!covered[p] && std::find(ps.begin(), ps.end(), i) != ps.end()) covered[p] = adds = true;
    }
    if (adds) out.values.push_back(std::move(*r).value());
  }
  return out;
}

Result<std::vector<iter::EntryIteratorPtr>> RingIngesters::SelectStreams(
    const read::SelectRequest& req, std::string_view tenant) {
  std::vector<iter::EntryIteratorPtr> out;
  if (!ShouldQuery(req)) return out;
  SLUICE_ASSIGN_OR_RETURN(
      Answers<SelectAnswer> answers,
      ForEachIngester<SelectAnswer>(
          "select",
          [detached = Detached(req), tenant = std::string(tenant),
           want_stats = req.stats != nullptr](
              const std::shared_ptr<RemoteIngester>& client) -> Result<SelectAnswer> {
            SelectAnswer a;
            if (want_stats) a.stats = std::make_shared<read::ReadStats>();
            read::SelectRequest sreq = detached;
            sreq.stats = a.stats.get();
            SLUICE_ASSIGN_OR_RETURN(a.its, client->SelectStreams(sreq, tenant));
            a.client = client;
            return a;
          }));
  for (SelectAnswer& a : answers.values) {
    // What the calls counted while they ran in parallel, now on this thread.
    if (a.stats != nullptr) {
      req.stats->Add(*a.stats);
      *a.stats = read::ReadStats{};
    }
    for (auto& it : a.its) {
      out.push_back(std::make_unique<CallIterator>(std::move(it), a.client, a.stats, req.stats));
    }
  }
  return out;
}

Result<std::vector<model::LabelSet>> RingIngesters::StreamLabels(const read::SelectRequest& req,
                                                                 std::string_view tenant) {
  if (!ShouldQuery(req)) return std::vector<model::LabelSet>{};
  using Sets = std::vector<model::LabelSet>;
  SLUICE_ASSIGN_OR_RETURN(
      Answers<Sets> answers,
      ForEachIngester<Sets>("series", [r = Detached(req), t = std::string(tenant)](
                                          const std::shared_ptr<RemoteIngester>& c) {
        return c->StreamLabels(r, t);
      }));
  std::set<model::LabelSet> all;
  for (Sets& sets : answers.values) {
    for (auto& ls : sets) all.insert(std::move(ls));
  }
  return Sets(all.begin(), all.end());
}

namespace {

std::vector<std::string> SortedUnion(std::vector<std::vector<std::string>> lists) {
  std::set<std::string> all;
  for (auto& l : lists)
    all.insert(std::make_move_iterator(l.begin()), std::make_move_iterator(l.end()));
  return std::vector<std::string>(all.begin(), all.end());
}

}  // namespace

Result<std::vector<std::string>> RingIngesters::TenantLabelNames(const read::SelectRequest& req,
                                                                 std::string_view tenant) {
  if (!ShouldQuery(req)) return std::vector<std::string>{};
  using Names = std::vector<std::string>;
  SLUICE_ASSIGN_OR_RETURN(
      Answers<Names> answers,
      ForEachIngester<Names>("labels", [r = Detached(req), t = std::string(tenant)](
                                           const std::shared_ptr<RemoteIngester>& c) {
        return c->TenantLabelNames(r, t);
      }));
  return SortedUnion(std::move(answers.values));
}

Result<std::vector<std::string>> RingIngesters::TenantLabelValues(const read::SelectRequest& req,
                                                                  std::string_view tenant,
                                                                  std::string_view name) {
  if (!ShouldQuery(req)) return std::vector<std::string>{};
  using Values = std::vector<std::string>;
  SLUICE_ASSIGN_OR_RETURN(
      Answers<Values> answers,
      ForEachIngester<Values>(
          "label_values",
          [r = Detached(req), t = std::string(tenant), n = std::string(name)](
              const std::shared_ptr<RemoteIngester>& c) { return c->TenantLabelValues(r, t, n); }));
  return SortedUnion(std::move(answers.values));
}

Result<uint64_t> RingIngesters::CountChunks(const read::SelectRequest& req,
                                            std::string_view tenant) {
  if (!ShouldQuery(req)) return uint64_t{0};
  SLUICE_ASSIGN_OR_RETURN(
      Answers<uint64_t> answers,
      ForEachIngester<uint64_t>("chunks", [r = Detached(req), t = std::string(tenant)](
                                              const std::shared_ptr<RemoteIngester>& c) {
        return c->CountChunks(r, t);
      }));
  uint64_t sum = 0;
  for (uint64_t n : answers.values) sum += n;
  // Copies of a chunk among the answers: min(RF, asked) replicas out of `asked` ingesters, of
  // which `answered` answered. sum / (min(RF, asked) * answered / asked), rounded.
  const uint64_t asked = answers.asked;
  const uint64_t answered = answers.values.size();
  const uint64_t rf = options_.by_partition
                          ? 1
                          : std::min<uint64_t>(std::max(options_.replication_factor, 1), asked);
  const uint64_t denominator = rf * answered;
  if (denominator == 0) return uint64_t{0};
  return (sum * asked + denominator / 2) / denominator;
}

}  // namespace sluice::rpc
