#include "rpc/circuit_breaker.h"

namespace sluice::rpc {

CircuitBreaker::Permit CircuitBreaker::Allow() {
  if (options_.failure_threshold <= 0) return {true, 0};
  MutexLock lock(&mu_);
  switch (state_) {
    case State::kClosed:
      return {true, generation_};
    case State::kOpen:
      if (clock_->NowNanos() - opened_at_ns_ < options_.cooldown_ns) return {false, generation_};
      SetState(State::kHalfOpen);
      trial_in_flight_ = true;
      return {true, generation_};
    case State::kHalfOpen:
      if (trial_in_flight_) return {false, generation_};
      trial_in_flight_ = true;
      return {true, generation_};
  }
  return {false, generation_};
}

void CircuitBreaker::Record(const Permit& permit, bool success) {
  if (options_.failure_threshold <= 0 || !permit.allowed) return;
  MutexLock lock(&mu_);
  if (permit.generation != generation_) return;  // began before the last state change
  switch (state_) {
    case State::kClosed:
      if (success) {
        failures_ = 0;
      } else if (++failures_ >= options_.failure_threshold) {
        Open(clock_->NowNanos());
      }
      return;
    case State::kOpen:
      return;
    case State::kHalfOpen:
      trial_in_flight_ = false;
      if (success) {
        SetState(State::kClosed);
        failures_ = 0;
      } else {
        Open(clock_->NowNanos());
      }
      return;
  }
}

void CircuitBreaker::Open(int64_t now) {
  SetState(State::kOpen);
  opened_at_ns_ = now;
  failures_ = 0;
  trial_in_flight_ = false;
}

bool CircuitBreaker::CloseIfOpenedBefore(int64_t ns) {
  MutexLock lock(&mu_);
  if (state_ == State::kClosed || opened_at_ns_ >= ns) return false;
  SetState(State::kClosed);
  failures_ = 0;
  trial_in_flight_ = false;
  return true;
}

void CircuitBreaker::SetState(State state) {
  state_ = state;
  ++generation_;
  if (options_.on_change) options_.on_change(state);
}

CircuitBreaker::State CircuitBreaker::state() const {
  MutexLock lock(&mu_);
  return state_;
}

const char* StateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half-open";
  }
  return "unknown";
}

std::optional<Bulkhead::Slot> Bulkhead::TryAcquire() {
  if (max_ <= 0) {
    in_flight_.fetch_add(1);
    return Slot(this);
  }
  if (in_flight_.fetch_add(1) >= max_) {
    in_flight_.fetch_sub(1);
    return std::nullopt;
  }
  return Slot(this);
}

}  // namespace sluice::rpc
