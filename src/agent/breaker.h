#pragma once

// A circuit breaker in front of the push endpoint, so a dead or failing server is probed, not
// hammered by every worker's retries.
//
//   closed ──(failure_threshold consecutive server failures)──> open
//   open ──(open_duration passed; the next caller becomes the probe)──> half-open
//   half-open ──probe succeeds──> closed        half-open ──probe fails──> open (timer restarts)
//
// While half-open only the probe may send; everyone else waits. Outcomes that do not speak to the
// server's health (429, other 4xx) release a probe as a success: the server answered.
//
// Thread-safe. Time comes from the injected Clock (monotonic in production, fake in tests).

#include <cstdint>
#include <functional>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::agent {

enum class BreakerState : uint8_t { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
const char* BreakerStateName(BreakerState s);

class CircuitBreaker {
 public:
  struct Options {
    int failure_threshold = 5;
    int64_t open_duration = 10'000'000'000;
  };
  // `on_transition` (optional) is called with the new state, under the breaker's lock: keep it to
  // a metric update.
  CircuitBreaker(Options opts, const Clock* clock,
                 std::function<void(BreakerState)> on_transition = {});

  // Whether the caller may send now. In half-open at most one caller holds the probe; it must
  // report the outcome with OnSuccess or OnFailure.
  bool Allow() EXCLUDES(mu_);
  void OnSuccess() EXCLUDES(mu_);
  void OnFailure() EXCLUDES(mu_);

  BreakerState state() const EXCLUDES(mu_);
  // When a caller refused by Allow should ask again (monotonic ns); now when closed.
  int64_t RetryAt() const EXCLUDES(mu_);

 private:
  void SetState(BreakerState s) REQUIRES(mu_);

  const Options opts_;
  const Clock* clock_;
  std::function<void(BreakerState)> on_transition_;
  mutable Mutex mu_;
  BreakerState state_ GUARDED_BY(mu_) = BreakerState::kClosed;
  int consecutive_failures_ GUARDED_BY(mu_) = 0;
  int64_t open_until_ GUARDED_BY(mu_) = 0;
  bool probe_out_ GUARDED_BY(mu_) = false;
};

// steady_clock as a Clock: the breaker and retry waits must not jump with the wall clock.
class MonotonicClock final : public Clock {
 public:
  int64_t NowNanos() const override;
};

}  // namespace sluice::agent
