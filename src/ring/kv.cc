#include "ring/kv.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace sluice::ring {

Result<KvValue> MemoryKv::Get(const std::string& key) {
  MutexLock lock(&mu_);
  auto it = values_.find(key);
  if (it == values_.end()) return KvValue{};
  return it->second;
}

Result<int64_t> MemoryKv::CompareAndSwap(const std::string& key, int64_t expected_revision,
                                         const std::string& value) {
  MutexLock lock(&mu_);
  KvValue& slot = values_[key];
  if (slot.revision != expected_revision) {
    return Status::Unavailable(fmt::format("{} on {}: expected revision {}, found {}",
                                           kRevisionConflict, key, expected_revision,
                                           slot.revision));
  }
  slot.value = value;
  slot.revision = ++revision_;
  changed_.SignalAll();
  return slot.revision;
}

Status MemoryKv::Watch(const std::string& key, int64_t after_revision,
                       const std::function<bool(const KvValue&)>& on_change,
                       const std::atomic<bool>* stop, int64_t timeout_ns) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
  MutexLock lock(&mu_);
  while (!stop->load() && std::chrono::steady_clock::now() < deadline) {
    auto it = values_.find(key);
    if (it != values_.end() && it->second.revision > after_revision) {
      KvValue v = it->second;
      after_revision = v.revision;
      lock.Unlock();
      if (!on_change(v)) return Status::OK();
      lock.Lock();
      continue;
    }
    // Short waits so that *stop (set without signalling us) is seen promptly.
    changed_.WaitFor(&mu_, std::chrono::milliseconds(50));
  }
  return Status::OK();
}

bool IsRevisionConflict(const Status& status) {
  return !status.ok() && status.message().find(kRevisionConflict) != std::string::npos;
}

Result<Desc> UpdateDesc(KvStore* kv, const std::string& key,
                        const std::function<Status(Desc&)>& update, int max_attempts) {
  Status last;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    SLUICE_ASSIGN_OR_RETURN(KvValue current, kv->Get(key));
    SLUICE_ASSIGN_OR_RETURN(Desc desc, Desc::Decode(current.value));
    SLUICE_RETURN_IF_ERROR(update(desc));
    auto written = kv->CompareAndSwap(key, current.revision, desc.Encode());
    if (written.ok()) return desc;
    last = written.status();
    if (!IsRevisionConflict(last)) return last;
    // Someone else won the race: back off, jittered and doubling (200 us up to 12.8 ms), so that
    // the losers of a crowded round spread out instead of colliding again.
    thread_local std::minstd_rand jitter(std::random_device{}());
    const uint32_t cap_us = 200u << std::min(attempt, 6);
    std::this_thread::sleep_for(std::chrono::microseconds(jitter() % cap_us));
  }
  return Status::Unavailable(fmt::format("ring update of {} gave up after {} attempts: {}", key,
                                         max_attempts, last.message()));
}

}  // namespace sluice::ring
