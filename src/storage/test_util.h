#pragma once

// Test-only helpers for storage tests (header-only, so nothing lands in sluice_core).

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "common/check.h"
#include "storage/object_store.h"
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

// An ObjectStore that passes every call to `inner`: a test derives from it and overrides only the
// calls it counts, delays or breaks. `inner` may be set later (set_inner) by a derived class that
// owns it.
class ForwardingStore : public ObjectStore {
 public:
  explicit ForwardingStore(ObjectStore* inner = nullptr) : inner_(inner) {}
  Status Put(std::string_view key, std::string_view data) override {
    return inner_->Put(key, data);
  }
  Result<std::string> Get(std::string_view key) override { return inner_->Get(key); }
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    return inner_->GetRange(key, offset, length);
  }
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    return inner_->List(prefix);
  }
  Status Delete(std::string_view key) override { return inner_->Delete(key); }

 protected:
  void set_inner(ObjectStore* inner) { inner_ = inner; }
  ObjectStore* inner() const { return inner_; }

 private:
  ObjectStore* inner_;
};

// Time that moves only when a test says so; the name storage, querier and ingester tests use.
using ManualClock = sluice::testing::FakeClock;

}  // namespace sluice::storage
