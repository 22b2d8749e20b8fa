#pragma once

// A Clock that tests drive: time moves only when the test sets or advances it, or, with an
// auto-advance step, by that step on every read (a query that "takes" time with each check).
// Thread-safe: code under test may read it from its own threads while the test advances it.

#include <atomic>
#include <cstdint>

#include "common/clock.h"

namespace sluice::testing {

class FakeClock final : public Clock {
 public:
  // With `step_ns` > 0 every NowNanos() first advances the clock by that much, so the first read
  // returns start_ns + step_ns.
  explicit FakeClock(int64_t start_ns, int64_t step_ns = 0)
      : now_ns_(start_ns), step_ns_(step_ns) {}

  int64_t NowNanos() const override {
    return step_ns_ == 0 ? now_ns_.load() : now_ns_.fetch_add(step_ns_) + step_ns_;
  }
  void Set(int64_t ns) { now_ns_.store(ns); }
  void Advance(int64_t ns) { now_ns_.fetch_add(ns); }

 private:
  mutable std::atomic<int64_t> now_ns_;
  const int64_t step_ns_;
};

}  // namespace sluice::testing
