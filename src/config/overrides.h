#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "config/limits.h"

namespace sluice::config {

// Per-tenant limits: the `limits_config` defaults, overridden per tenant by the runtime
// config file, which is re-read every period so limits change without a restart.
// A file that fails to parse keeps the previous overrides (and logs why).
// Thread-safe: readers take an immutable snapshot.
class Overrides {
 public:
  Overrides(Limits defaults, std::string file, int64_t period_ns);
  ~Overrides();

  // The limits in force for `tenant` now; the snapshot stays valid while held.
  std::shared_ptr<const Limits> ForTenant(std::string_view tenant) const EXCLUDES(mu_);
  const Limits& defaults() const { return *defaults_; }

  // Reads the file now (also done by the reload thread).
  Status Reload() EXCLUDES(mu_);
  // Starts the background reload thread (no-op without a file).
  void Start();
  void Stop() EXCLUDES(mu_);

 private:
  using TenantMap = std::map<std::string, std::shared_ptr<const Limits>, std::less<>>;

  std::shared_ptr<const Limits> defaults_;
  std::string file_;
  int64_t period_ns_;

  mutable Mutex mu_;
  std::shared_ptr<const TenantMap> tenants_ GUARDED_BY(mu_);
  std::string last_content_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  CondVar cv_;
  std::thread thread_;
};

}  // namespace sluice::config
