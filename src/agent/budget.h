#pragma once

// The agent's memory ceiling as a byte semaphore. Every byte of log data the agent holds (a line
// in the queue, in a batch being built, in an encoded body waiting or in flight) is charged here
// first; a reader that cannot get its bytes blocks, which is the backpressure that stops reading
// a file instead of growing memory. Bytes are returned when a batch is acknowledged or dropped.
//
// Thread-safe.

#include <algorithm>
#include <cstdint>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::agent {

class MemoryBudget {
 public:
  // Readers may fill the budget up to limit - reserve; the reserve is kept for the batcher, whose
  // encoded body can be a little larger than the lines it was charged for (JSON escapes), so it
  // never waits on readers that wait on it.
  MemoryBudget(uint64_t limit, uint64_t reserve)
      : limit_(limit), reserve_(std::min(reserve, limit)) {}

  // Blocks until `n` bytes fit under limit - reserve, or Close() is called (then returns false).
  // REQUIRES: n <= limit() - reserve.
  bool Acquire(uint64_t n) {
    MutexLock lock(&mu_);
    cv_.Wait(&mu_, [this, n]() REQUIRES(mu_) { return closed_ || used_ + n + reserve_ <= limit_; });
    if (closed_) return false;
    Take(n);
    return true;
  }
  // Takes `n` bytes if they fit under the whole limit (reserve included).
  bool TryAcquire(uint64_t n) {
    MutexLock lock(&mu_);
    if (used_ + n > limit_) return false;
    Take(n);
    return true;
  }
  void Release(uint64_t n) {
    {
      MutexLock lock(&mu_);
      used_ -= std::min(n, used_);
    }
    cv_.SignalAll();
  }
  // Wakes blocked Acquire calls for shutdown.
  void Close() {
    {
      MutexLock lock(&mu_);
      closed_ = true;
    }
    cv_.SignalAll();
  }

  // Takes `n` bytes even past the limit. Only for the shutdown path, where waiting could hang.
  void ForceAcquire(uint64_t n) {
    MutexLock lock(&mu_);
    Take(n);
  }
  bool closed() const {
    MutexLock lock(&mu_);
    return closed_;
  }
  uint64_t used() const {
    MutexLock lock(&mu_);
    return used_;
  }
  // The most ever held at once: tests assert it never passes limit().
  uint64_t high_water() const {
    MutexLock lock(&mu_);
    return high_water_;
  }
  uint64_t limit() const { return limit_; }
  double fraction_used() const {
    MutexLock lock(&mu_);
    return static_cast<double>(used_) / static_cast<double>(limit_);
  }

 private:
  void Take(uint64_t n) REQUIRES(mu_) {
    used_ += n;
    high_water_ = std::max(high_water_, used_);
  }

  const uint64_t limit_;
  const uint64_t reserve_;
  mutable Mutex mu_;
  CondVar cv_;
  uint64_t used_ GUARDED_BY(mu_) = 0;
  uint64_t high_water_ GUARDED_BY(mu_) = 0;
  bool closed_ GUARDED_BY(mu_) = false;
};

}  // namespace sluice::agent
