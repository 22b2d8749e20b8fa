#pragma once

// Test-only helpers for storage tests (header-only, so nothing lands in sluice_core).

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "common/check.h"
#include "common/clock.h"

namespace sluice::storage {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/sluice-storage-XXXXXX";
    SLUICE_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Time that moves only when a test says so.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ns) : now_ns_(now_ns) {}
  int64_t NowNanos() const override { return now_ns_.load(); }
  void Advance(int64_t ns) { now_ns_ += ns; }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace sluice::storage
