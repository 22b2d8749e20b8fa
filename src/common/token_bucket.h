#pragma once

#include <algorithm>
#include <cstdint>

namespace sluice {

// A token bucket measured in bytes: `rate` tokens a second, holding at most `burst`.
// Not thread-safe; callers hold the lock of whatever owns it. Time is passed in so tests
// drive it without sleeping.
class TokenBucket {
 public:
  TokenBucket(double rate_per_sec, double burst, int64_t now_ns)
      : rate_(rate_per_sec), burst_(burst), tokens_(burst), last_ns_(now_ns) {}

  // Takes n tokens if they are all there; otherwise takes none and returns false.
  bool TryTake(double n, int64_t now_ns) {
    Refill(now_ns);
    if (n > tokens_) return false;
    tokens_ -= n;
    return true;
  }

  // Changing limits at runtime (overrides reload) keeps the tokens already earned.
  void SetLimits(double rate_per_sec, double burst) {
    rate_ = rate_per_sec;
    burst_ = burst;
    tokens_ = std::min(tokens_, burst_);
  }
  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  void Refill(int64_t now_ns) {
    if (now_ns > last_ns_) {
      tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ns - last_ns_) / 1e9);
      last_ns_ = now_ns;
    }
  }

  double rate_;
  double burst_;
  double tokens_;
  int64_t last_ns_;
};

}  // namespace sluice
