#include "agent/breaker.h"

#include <chrono>

namespace sluice::agent {

const char* BreakerStateName(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(Options opts, const Clock* clock,
                               std::function<void(BreakerState)> on_transition)
    : opts_(opts), clock_(clock), on_transition_(std::move(on_transition)) {}

bool CircuitBreaker::Allow() {
  MutexLock lock(&mu_);
  switch (state_) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kOpen:
      if (clock_->NowNanos() < open_until_) return false;
      SetState(BreakerState::kHalfOpen);
      probe_out_ = true;
      return true;
    case BreakerState::kHalfOpen:
      if (probe_out_) return false;
      probe_out_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::OnSuccess() {
  MutexLock lock(&mu_);
  consecutive_failures_ = 0;
  if (state_ != BreakerState::kClosed) {
    probe_out_ = false;
    SetState(BreakerState::kClosed);
  }
}

void CircuitBreaker::OnFailure() {
  MutexLock lock(&mu_);
  ++consecutive_failures_;
  if (state_ == BreakerState::kHalfOpen ||
      (state_ == BreakerState::kClosed && consecutive_failures_ >= opts_.failure_threshold)) {
    probe_out_ = false;
    open_until_ = clock_->NowNanos() + opts_.open_duration;
    SetState(BreakerState::kOpen);
  }
  // Failures of requests that started before the breaker opened change nothing while open.
}

BreakerState CircuitBreaker::state() const {
  MutexLock lock(&mu_);
  return state_;
}

int64_t CircuitBreaker::RetryAt() const {
  MutexLock lock(&mu_);
  return state_ == BreakerState::kOpen ? open_until_ : clock_->NowNanos();
}

void CircuitBreaker::SetState(BreakerState s) {
  if (s == state_) return;
  state_ = s;
  if (on_transition_) on_transition_(s);
}

int64_t MonotonicClock::NowNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice::agent
