#pragma once

// Waiting in tests for something another thread or process does: bounded, never a bare sleep.

#include <chrono>
#include <functional>
#include <thread>

namespace sluice::testing {

// Polls `done` every 10 ms until it is true (returns true) or `limit` passed (returns false).
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace sluice::testing
