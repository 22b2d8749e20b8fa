#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

// Time is injected so that limits, chunk cutting and flush timing can be tested with a
// FakeClock (src/testing/fake_clock.h) instead of sleeps.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in Unix nanoseconds (log timestamps are compared against it).
  virtual int64_t NowNanos() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock* Default();
};

inline constexpr int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr int64_t kNanosPerMilli = 1'000'000;

}  // namespace sluice
