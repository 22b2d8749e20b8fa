#pragma once

// Per-ingester protections of the distributor's push path: a bulkhead (a bound on calls in
// flight) and a circuit breaker. A slow or dead ingester then costs a push at most one deadline
// per call in flight, and once the breaker opens, nothing: calls fail at once until a trial call
// after the cool-down finds the ingester answering again.
//
//   closed ──failure_threshold consecutive failures──> open ──cooldown passed──> half-open
//     ^                                                  ^                          │ one trial
//     └──────────────────── trial succeeded ─────────────┼── trial failed ──────────┘ call
//
// Thread-safe.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::rpc {

class CircuitBreaker {
 public:
  enum class State : uint8_t { kClosed, kOpen, kHalfOpen };
  struct Options {
    int failure_threshold = 5;  // 0: never opens
    int64_t cooldown_ns = 10 * kNanosPerSecond;
    // Called with the new state on every change, under the breaker's lock: keep it to a metric.
    std::function<void(State)> on_change;
  };

  // What Allow() granted; handed back to Record(), so the outcome of a call that began before
  // the breaker changed state does not count for the new state.
  struct Permit {
    bool allowed = false;
    uint64_t generation = 0;
  };

  // REQUIRES: `clock` outlives the breaker.
  CircuitBreaker(Options options, const Clock* clock) : options_(options), clock_(clock) {}

  // Whether a call may go ahead. An allowed call must be followed by one Record().
  Permit Allow() EXCLUDES(mu_);
  // The outcome of an allowed call: success is an answer from the ingester (an error it chose,
  // like a rate limit, included); failure is no answer (unavailable, timed out, internal).
  void Record(const Permit& permit, bool success) EXCLUDES(mu_);

  State state() const EXCLUDES(mu_);
  // Closes a breaker that opened before `ns` (clock time): something newer than its failures
  // says the peer is back, such as a ring heartbeat. Returns whether it closed.
  bool CloseIfOpenedBefore(int64_t ns) EXCLUDES(mu_);

 private:
  void Open(int64_t now) REQUIRES(mu_);
  void SetState(State state) REQUIRES(mu_);

  const Options options_;
  const Clock* clock_;
  mutable Mutex mu_;
  State state_ GUARDED_BY(mu_) = State::kClosed;
  int failures_ GUARDED_BY(mu_) = 0;  // consecutive, while closed
  int64_t opened_at_ns_ GUARDED_BY(mu_) = 0;
  bool trial_in_flight_ GUARDED_BY(mu_) = false;
  uint64_t generation_ GUARDED_BY(mu_) = 0;  // bumped on every state change
};

const char* StateName(CircuitBreaker::State state);

// At most `max_in_flight` calls at a time; the next one is refused at once instead of queueing
// behind a slow peer.
class Bulkhead {
 public:
  // Releases its place when destroyed.
  class Slot {
   public:
    explicit Slot(Bulkhead* b) : b_(b) {}
    Slot(Slot&& o) noexcept : b_(o.b_) { o.b_ = nullptr; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (b_ != nullptr) b_->in_flight_.fetch_sub(1);
    }

   private:
    Bulkhead* b_;
  };

  // `max_in_flight` <= 0: no bound.
  explicit Bulkhead(int max_in_flight) : max_(max_in_flight) {}

  // A place, or nullopt when `max_in_flight` calls are running. REQUIRES: the bulkhead
  // outlives the slot.
  std::optional<Slot> TryAcquire();
  int in_flight() const { return in_flight_.load(); }
  int max_in_flight() const { return max_; }

 private:
  const int max_;
  std::atomic<int> in_flight_{0};
};

}  // namespace sluice::rpc
