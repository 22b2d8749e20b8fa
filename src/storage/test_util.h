#pragma once

// Test-only helpers for storage tests (header-only, so nothing lands in sluice_core).

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "common/check.h"
#include "testing/fake_clock.h"

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

// Time that moves only when a test says so; the name storage, querier and ingester tests use.
using ManualClock = sluice::testing::FakeClock;

}  // namespace sluice::storage
