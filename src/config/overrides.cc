#include "config/overrides.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "config/config.h"

namespace sluice::config {

Overrides::Overrides(Limits defaults, std::string file, int64_t period_ns)
    : defaults_(std::make_shared<const Limits>(std::move(defaults))),
      file_(std::move(file)),
      period_ns_(period_ns),
      tenants_(std::make_shared<const TenantMap>()) {}

Overrides::~Overrides() { Stop(); }

std::shared_ptr<const Limits> Overrides::ForTenant(std::string_view tenant) const {
  std::shared_ptr<const TenantMap> snapshot;
  {
    MutexLock lock(&mu_);
    snapshot = tenants_;
  }
  auto it = snapshot->find(tenant);
  return it == snapshot->end() ? defaults_ : it->second;
}

Status Overrides::Reload() {
  if (file_.empty()) return Status::OK();
  std::ifstream in(file_);
  if (!in) return Status::IOError("cannot read runtime config file " + file_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string content = ss.str();
  {
    MutexLock lock(&mu_);
    if (content == last_content_) return Status::OK();
  }
  auto parsed = ParseOverridesYaml(content, *defaults_);
  if (!parsed.ok()) return parsed.status();
  auto map = std::make_shared<TenantMap>();
  for (auto& o : *parsed)
    map->emplace(o.tenant, std::make_shared<const Limits>(std::move(o.limits)));
  MutexLock lock(&mu_);
  tenants_ = std::move(map);
  last_content_ = std::move(content);
  spdlog::info("msg=\"loaded runtime config\" file={} tenants={}", file_, tenants_->size());
  return Status::OK();
}

void Overrides::Start() {
  if (file_.empty() || thread_.joinable()) return;
  thread_ = std::thread([this] {
    MutexLock lock(&mu_);
    while (!stopping_) {
      cv_.WaitFor(&mu_, std::chrono::nanoseconds(period_ns_));
      if (stopping_) break;
      lock.Unlock();
      Status st = Reload();
      if (!st.ok())
        spdlog::warn("msg=\"runtime config reload failed; keeping previous overrides\" err=\"{}\"",
                     st.message());
      lock.Lock();
    }
  });
}

void Overrides::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::config
