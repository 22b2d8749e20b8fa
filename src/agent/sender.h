#pragma once

// Delivering batches: max_inflight workers, each with its own connection, each taking the next
// batch from a small hand-off queue (max_inflight deep: when it is full, the batcher waits, the
// line queue fills and the readers stop: backpressure). A worker retries its batch per
// backoff.h, asks the circuit breaker before every attempt, and reports the batch done
// (delivered, or dropped with a reason) exactly once, unless shutdown aborts it first: an
// aborted batch is simply not acknowledged and is re-sent after the restart.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_metrics.h"
#include "agent/backoff.h"
#include "agent/batcher.h"
#include "agent/breaker.h"
#include "agent/client.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::agent {

class Sender {
 public:
  struct Options {
    int max_inflight = 4;
    BackoffOptions backoff{};
    int max_retries = 0;  // 0 = until delivered
    uint64_t seed = 0;    // jitter seed; workers use seed + index
  };
  // `drop_reason` is null when delivered. Called on a worker thread.
  using DoneFn = std::function<void(Batch& batch, const char* drop_reason)>;

  Sender(Options opts, std::function<PushClientPtr()> make_client, CircuitBreaker* breaker,
         AgentMetrics* metrics, DoneFn done);
  ~Sender();

  void Start();
  // Blocks while max_inflight batches are already waiting. False once shutdown began, or when
  // the submit deadline (SetSubmitDeadline) passes while waiting.
  bool Submit(Batch batch) EXCLUDES(mu_);
  // Bounds how long Submit may wait from now on (shutdown: a dead server must not hold the
  // batcher, and so the process, forever).
  void SetSubmitDeadline(std::chrono::steady_clock::time_point deadline) EXCLUDES(mu_);
  // Takes no more batches, lets workers finish what is queued and in flight for up to
  // `timeout_ns`, then aborts the rest. Returns the number of batches left undelivered.
  size_t Shutdown(int64_t timeout_ns) EXCLUDES(mu_);
  size_t waiting() const EXCLUDES(mu_);

 private:
  void Worker(int index) EXCLUDES(mu_);
  void Deliver(Batch& batch, PushClient& client, std::mt19937_64& rng) EXCLUDES(mu_);
  // Sleeps up to `ns`; false when aborted meanwhile.
  bool WaitFor(int64_t ns) EXCLUDES(mu_);

  const Options opts_;
  std::function<PushClientPtr()> make_client_;
  CircuitBreaker* breaker_;
  AgentMetrics* metrics_;
  DoneFn done_;

  mutable Mutex mu_;
  CondVar work_cv_;   // a batch arrived, or closing
  CondVar space_cv_;  // a batch was taken
  CondVar abort_cv_;  // aborting_ set
  std::deque<Batch> queue_ GUARDED_BY(mu_);
  bool closing_ GUARDED_BY(mu_) = false;
  bool aborting_ GUARDED_BY(mu_) = false;
  int busy_ GUARDED_BY(mu_) = 0;  // workers holding a batch
  std::chrono::steady_clock::time_point submit_deadline_ GUARDED_BY(mu_) =
      std::chrono::steady_clock::time_point::max();
  std::vector<std::thread> workers_;
};

}  // namespace sluice::agent
