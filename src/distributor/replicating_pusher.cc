#include "distributor/replicating_pusher.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/check.h"
#include "common/duration.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "tracing/tracing.h"
#include "write/push_wire.h"

namespace sluice::distributor {

namespace {

// The ingester answered and refused some entries: what it accepted is stored.
bool IsClientError(const Status& st) {
  const int http = HttpStatusFor(st.code());
  return http >= 400 && http < 500;
}

// Uniform in [0, max_ns]: full jitter, so retries of many pushes spread out.
int64_t Jitter(int64_t max_ns) {
  if (max_ns <= 0) return 0;
  thread_local std::minstd_rand rng(std::random_device{}());
  return std::uniform_int_distribution<int64_t>(0, max_ns)(rng);
}

}  // namespace

// The send threads: a fixed pool with a FIFO queue. Stopping drains the queue (its tasks see
// stopping() and end without sending) and wakes retry backoffs.
class ReplicatingPusher::SendPool {
 public:
  explicit SendPool(int threads) {
    const int n = std::max(1, threads);
    threads_.reserve(n);
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~SendPool() { Stop(); }

  void Submit(std::function<void()> task) EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      queue_.push_back(std::move(task));
    }
    work_.Signal();
  }

  bool stopping() const { return stop_.load(); }

  // Sleeps ns, or less when the pool stops; false when it is stopping.
  bool SleepFor(int64_t ns) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return !stopped_.WaitFor(&mu_, std::chrono::nanoseconds(ns),
                             [this]() REQUIRES(mu_) { return stop_.load(); });
  }

  void Stop() EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      stop_.store(true);
    }
    work_.SignalAll();
    stopped_.SignalAll();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void Loop() EXCLUDES(mu_) {
    for (;;) {
      std::function<void()> task;
      {
        MutexLock lock(&mu_);
        work_.Wait(&mu_, [this]() REQUIRES(mu_) { return stop_.load() || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  Mutex mu_;
  CondVar work_;
  CondVar stopped_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

struct ReplicatingPusher::Send {
  ring::InstanceDesc instance;
  std::vector<uint32_t> streams;  // indexes into Call::streams
};

struct ReplicatingPusher::Call {
  // Immutable once the sends are submitted.
  std::string tenant;
  int64_t deadline_ns = 0;
  tracing::SpanContext trace;  // the push's: each send is a child span
  // The push encoded once, in the write path's wire format, and shared by the per-ingester
  // requests: the call's own copy of the lines (the caller's request dies when Push returns,
  // while sends may still run), and the bytes every replica is sent.
  std::unique_ptr<char[]> wire;
  std::vector<std::string_view> pieces;  // per stream: its PushRequest field, in `wire`
  std::vector<std::shared_ptr<const write::StreamLabels>> labels;  // per stream
  std::vector<Send> sends;

  struct Tracker {
    int replicas = 0;
    int quorum = 0;
    int max_errors = 0;
    int succeeded = 0;
    int failed = 0;
    Status last_error;
  };

  Mutex mu;
  CondVar decided;
  std::vector<Tracker> trackers GUARDED_BY(mu);
  size_t below_quorum GUARDED_BY(mu) = 0;  // streams without their quorum yet
  Status failure GUARDED_BY(mu);           // the first stream that cannot reach its quorum
  std::vector<Status> client_errors GUARDED_BY(mu);  // distinct 4xx answers, in arrival order

  static std::string Describe(const Tracker& t, std::string_view labels) {
    return fmt::format("{} of {} replicas acknowledged stream {} (quorum {})", t.succeeded,
                       t.replicas, labels, t.quorum);
  }

  // One ingester's final answer for the streams of `send`.
  void Record(const Send& send, const Status& st) EXCLUDES(mu) {
    const bool acknowledged = st.ok() || IsClientError(st);
    MutexLock lock(&mu);
    if (IsClientError(st) &&
        std::none_of(client_errors.begin(), client_errors.end(),
                     [&](const Status& e) { return e.message() == st.message(); })) {
      client_errors.push_back(st);
    }
    for (uint32_t i : send.streams) {
      Tracker& t = trackers[i];
      if (acknowledged) {
        if (++t.succeeded == t.quorum) --below_quorum;
      } else {
        t.last_error = st;
        if (++t.failed == t.max_errors + 1 && failure.ok()) {
          failure = Status::Unavailable(fmt::format("push to ingesters failed: {}; last error: {}",
                                                    Describe(t, labels[i]->text), st.message()));
        }
      }
    }
    if (below_quorum == 0 || !failure.ok()) decided.SignalAll();
  }
};

ReplicatingPusher::ReplicatingPusher(const ring::Ring* ring, IngesterClientFactory clients,
                                     ReplicationOptions options, const Clock* clock)
    : ring_(ring), clients_(std::move(clients)), options_(options), clock_(clock) {
  if (options_.registry != nullptr) {
    appends_ = options_.registry->NewCounter("loki_distributor_ingester_appends_total",
                                             "The total number of batch appends sent to ingesters.",
                                             {"ingester"});
    append_failures_ = options_.registry->NewCounter(
        "loki_distributor_ingester_append_failures_total",
        "The total number of failed batch appends sent to ingesters.", {"ingester"});
  }
  pool_ = std::make_unique<SendPool>(options_.send_threads);
}

ReplicatingPusher::~ReplicatingPusher() { pool_->Stop(); }

Status ReplicatingPusher::Push(std::string_view tenant,
                               std::vector<write::ValidatedStream>& streams) {
  auto call = std::make_shared<Call>();
  call->tenant = std::string(tenant);
  call->deadline_ns = clock_->NowNanos() + options_.push_timeout_ns;
  call->trace = tracing::ActiveContext();

  // Replication sets first: nothing is encoded or sent when one stream has no quorum of healthy
  // ingesters.
  std::vector<ring::ReplicationSet> sets;
  std::vector<size_t> given;  // indexes into `streams` of the streams with entries
  sets.reserve(streams.size());
  given.reserve(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    const write::ValidatedStream& s = streams[i];
    if (s.entries.empty()) continue;
    auto set = ring_->Get(ring::TokenFor(tenant, s.labels_text()), ring::Op::kWrite);
    if (!set.ok()) return set.status();
    sets.push_back(std::move(set).value());
    given.push_back(i);
  }
  if (given.empty()) return Status::OK();

  // The encoding, once for every replica. Empty streams are written too (a few bytes of labels)
  // and never sent: one pass over `streams` keeps the writer's offsets simple.
  const write::PushRequestWriter writer(streams);
  call->wire = std::make_unique_for_overwrite<char[]>(writer.size());
  writer.Write(call->wire.get());
  call->pieces.reserve(given.size());
  call->labels.reserve(given.size());
  size_t at = 0;
  size_t next = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    const size_t n = writer.stream_field_size(i);
    if (next < given.size() && given[next] == i) {
      call->pieces.emplace_back(call->wire.get() + at, n);
      call->labels.push_back(streams[i].labels);
      ++next;
    }
    at += n;
  }

  // One request per ingester, holding every stream the ingester is a replica of.
  std::unordered_map<std::string, size_t> by_id;
  {
    MutexLock lock(&call->mu);
    call->trackers.resize(sets.size());
    call->below_quorum = sets.size();
    for (size_t i = 0; i < sets.size(); ++i) {
      Call::Tracker& t = call->trackers[i];
      t.replicas = static_cast<int>(sets[i].instances.size());
      t.quorum = sets[i].quorum;
      t.max_errors = sets[i].max_errors;
    }
  }
  for (size_t i = 0; i < sets.size(); ++i) {
    for (auto& inst : sets[i].instances) {
      auto [it, added] = by_id.try_emplace(inst.id, call->sends.size());
      if (added) call->sends.push_back(Send{std::move(inst), {}});
      call->sends[it->second].streams.push_back(static_cast<uint32_t>(i));
    }
  }
  for (size_t k = 0; k < call->sends.size(); ++k) {
    pool_->Submit([this, call, k] { RunSend(call, call->sends[k]); });
  }

  MutexLock lock(&call->mu);
  while (call->below_quorum > 0 && call->failure.ok()) {
    const int64_t remaining = call->deadline_ns - clock_->NowNanos();
    if (remaining <= 0) break;
    call->decided.WaitFor(&call->mu, std::chrono::nanoseconds(remaining));
  }
  if (!call->failure.ok()) return call->failure;
  if (call->below_quorum > 0) {
    for (size_t i = 0; i < call->trackers.size(); ++i) {
      const Call::Tracker& t = call->trackers[i];
      if (t.succeeded >= t.quorum) continue;
      std::string msg = fmt::format("push to ingesters timed out after {}: {}",
                                    FormatDuration(options_.push_timeout_ns),
                                    Call::Describe(t, call->labels[i]->text));
      if (!t.last_error.ok()) msg += "; last error: " + t.last_error.message();
      return Status::Unavailable(std::move(msg));
    }
  }
  if (call->client_errors.empty()) return Status::OK();
  // What the replicas refused, once per distinct message: a stream's replicas usually refuse the
  // same entries with the same words.
  std::string msg;
  for (const auto& e : call->client_errors) {
    if (!msg.empty()) msg += "; ";
    msg += e.message();
  }
  return Status::FromCode(call->client_errors.front().code(), std::move(msg));
}

void ReplicatingPusher::RunSend(const std::shared_ptr<Call>& call, Send& send) {
  const std::string& addr = send.instance.addr.empty() ? send.instance.id : send.instance.addr;
  metrics::Counter* appends = appends_ ? appends_->WithLabels({addr}) : nullptr;
  metrics::Counter* failures = append_failures_ ? append_failures_->WithLabels({addr}) : nullptr;
  // The send's request: its streams' pieces of the call's encoding, neighbours joined (an
  // ingester that holds a replica of every stream sends the whole encoding as one piece).
  std::vector<std::string_view> pieces;
  pieces.reserve(send.streams.size());
  for (uint32_t i : send.streams) {
    const std::string_view piece = call->pieces[i];
    if (!pieces.empty() && pieces.back().data() + pieces.back().size() == piece.data()) {
      pieces.back() = std::string_view(pieces.back().data(), pieces.back().size() + piece.size());
    } else {
      pieces.push_back(piece);
    }
  }
  tracing::Span span =
      tracing::Span::Child("push.replicate", call->trace, tracing::SpanKind::kClient);
  span.SetAttribute("ingester", addr);
  span.SetAttribute("streams", send.streams.size());
  tracing::ScopedActive active(span);  // the client sends it as the call's traceparent
  std::shared_ptr<write::Pusher> client;
  Status st;
  int attempt = 0;
  for (;; ++attempt) {
    if (pool_->stopping()) {
      if (attempt == 0) st = Status::Unavailable("distributor is shutting down");
      break;
    }
    if (clock_->NowNanos() >= call->deadline_ns) {
      // Queued or backing off past the budget: the last answer stands, or it is a timeout.
      if (attempt == 0) {
        st = Status::DeadlineExceeded(fmt::format("push to ingester {} not sent within {}", addr,
                                                  FormatDuration(options_.push_timeout_ns)));
      }
      break;
    }
    if (!client) client = clients_(send.instance);
    if (appends) appends->Inc();
    st = client ? client->PushEncoded(call->tenant, pieces)
                : Status::Unavailable("no client for ingester " + addr);
    if (st.ok()) break;
    if (failures) failures->Inc();
    if (!IsUnanswered(st) || attempt >= options_.max_retries) break;
    int64_t backoff = options_.retry_backoff_ns;
    for (int i = 0; i < attempt && backoff < options_.push_timeout_ns; ++i) backoff *= 2;
    const int64_t remaining = call->deadline_ns - clock_->NowNanos();
    if (remaining <= 0) break;
    if (!pool_->SleepFor(std::min(Jitter(backoff), remaining))) break;
  }
  span.SetAttribute("attempts", attempt + 1);
  if (!st.ok()) span.SetError(st.message());
  call->Record(send, st);
}

}  // namespace sluice::distributor
