// The memcached cache: Loki's memcached + memcached_client (pkg/storage/chunk/cache/memcached*.go)
// over libmemcached.
//
// Keys: memcached allows at most 250 bytes without spaces or control characters, and ours are
// object keys or query descriptions of any length. Every key is therefore sent as the hex of its
// 128-bit xxh3 hash (32 bytes), as Loki sends HashKey(key). A value is stored as
//
//   varint32 key length | key | value
//
// and a fetched item whose embedded key is not the one asked for (a hash collision) is a miss:
// the cache can never answer one key with another's value.
//
// libmemcached handles (memcached_st) are not thread-safe: each call borrows one from a small
// pool, cloned from a configured master on demand. A server that fails is skipped for
// retry_after_ns (libmemcached's retry timeout), so a cache that is down costs one timeout per
// interval and then answers misses at once.

#include <libmemcached-1.0/memcached.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "cache/cache.h"
#include "cache/cache_metrics.h"
#include "common/coding.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::cache {

namespace {

std::string HashKey(std::string_view key) {
  XXH128_hash_t h = XXH3_128bits(key.data(), key.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return std::string(buf, 32);
}

class MemcachedCache final : public Cache {
 public:
  MemcachedCache(const MemcachedOptions& options, std::string name, memcached_st* master)
      : options_(options), name_(std::move(name)), master_(master) {
    auto& m = MemcachedMetrics::Get();
    get_ok_ = m.request_duration->WithLabels({"Memcache.GetMulti", "200", name_});
    get_failed_ = m.request_duration->WithLabels({"Memcache.GetMulti", "500", name_});
    put_ok_ = m.request_duration->WithLabels({"Memcache.Put", "200", name_});
    put_failed_ = m.request_duration->WithLabels({"Memcache.Put", "500", name_});
    set_skip_ = m.set_skip->WithLabels({name_});
  }

  ~MemcachedCache() override {
    MutexLock lock(&mu_);
    for (memcached_st* h : idle_) memcached_free(h);
    memcached_free(master_);
  }

  std::unordered_map<std::string, std::string> Fetch(
      const std::vector<std::string>& keys) override {
    std::unordered_map<std::string, std::string> found;
    if (keys.empty()) return found;
    memcached_st* h = Borrow();
    if (h == nullptr) return found;
    const size_t batch = static_cast<size_t>(std::max(1, options_.batch_size));
    for (size_t at = 0; at < keys.size(); at += batch) {
      const size_t end = std::min(keys.size(), at + batch);
      FetchBatch(h, keys, at, end, &found);
    }
    Return(h);
    return found;
  }

  void Store(const std::vector<KeyValue>& entries) override {
    if (entries.empty()) return;
    memcached_st* h = Borrow();
    if (h == nullptr) return;
    const time_t expiration = static_cast<time_t>(options_.expiration_ns / kNanosPerSecond);
    for (const auto& [key, value] : entries) {
      std::string item;
      coding::PutLengthPrefixed(&item, key);
      item += value;
      if (options_.max_item_size > 0 &&
          static_cast<int64_t>(item.size()) > options_.max_item_size) {
        set_skip_->Inc();
        continue;
      }
      const std::string hashed = HashKey(key);
      const auto start = std::chrono::steady_clock::now();
      memcached_return_t rc =
          memcached_set(h, hashed.data(), hashed.size(), item.data(), item.size(), expiration, 0);
      const double took =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (memcached_success(rc)) {
        put_ok_->Observe(took);
      } else {
        put_failed_->Observe(took);
        LogFailure("store", h, rc);
      }
    }
    Return(h);
  }

  void Remove(const std::vector<std::string>& keys) override {
    if (keys.empty()) return;
    memcached_st* h = Borrow();
    if (h == nullptr) return;
    for (const auto& key : keys) {
      const std::string hashed = HashKey(key);
      memcached_return_t rc = memcached_delete(h, hashed.data(), hashed.size(), 0);
      if (!memcached_success(rc) && rc != MEMCACHED_NOTFOUND) LogFailure("delete", h, rc);
    }
    Return(h);
  }

  const std::string& name() const override { return name_; }

 private:
  void FetchBatch(memcached_st* h, const std::vector<std::string>& keys, size_t at, size_t end,
                  std::unordered_map<std::string, std::string>* found) {
    std::vector<std::string> hashed;
    std::unordered_map<std::string, const std::string*> original;  // hashed -> asked key
    hashed.reserve(end - at);
    for (size_t i = at; i < end; ++i) {
      std::string hk = HashKey(keys[i]);
      if (original.emplace(hk, &keys[i]).second) hashed.push_back(std::move(hk));
    }
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& k : hashed) {
      ptrs.push_back(k.data());
      lens.push_back(k.size());
    }
    const auto start = std::chrono::steady_clock::now();
    memcached_return_t rc = memcached_mget(h, ptrs.data(), lens.data(), ptrs.size());
    bool failed = !memcached_success(rc);
    if (failed) LogFailure("fetch", h, rc);
    // Each key answers at most once; the bound guards against a confused connection.
    for (size_t n = 0; !failed && n <= hashed.size(); ++n) {
      memcached_result_st* r = memcached_fetch_result(h, nullptr, &rc);
      if (r == nullptr) {
        if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && !memcached_success(rc)) {
          failed = true;
          LogFailure("fetch", h, rc);
        }
        break;
      }
      std::string_view got_key(memcached_result_key_value(r), memcached_result_key_length(r));
      auto it = original.find(std::string(got_key));
      coding::Reader reader(
          std::string_view(memcached_result_value(r), memcached_result_length(r)));
      std::string_view embedded;
      if (it != original.end() && reader.GetLengthPrefixed(&embedded) && embedded == *it->second) {
        found->emplace(*it->second, std::string(reader.remaining()));
      }
      memcached_result_free(r);
    }
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    (failed ? get_failed_ : get_ok_)->Observe(took);
  }

  memcached_st* Borrow() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (!idle_.empty()) {
      memcached_st* h = idle_.back();
      idle_.pop_back();
      return h;
    }
    memcached_st* h = memcached_clone(nullptr, master_);
    if (h == nullptr) spdlog::warn("cache {}: cannot create a memcached client", name_);
    return h;
  }
  void Return(memcached_st* h) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    idle_.push_back(h);
  }

  // At most one line per cache every 10 s: a memcached outage would otherwise log per query.
  void LogFailure(const char* what, memcached_st* h, memcached_return_t rc) {
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t last = last_log_ns_.load(std::memory_order_relaxed);
    if (now - last < 10 * kNanosPerSecond && last != 0) return;
    if (!last_log_ns_.compare_exchange_strong(last, now)) return;
    spdlog::warn("cache {}: memcached {} failed (a miss, not an error): {}", name_, what,
                 memcached_last_error_message(h) != nullptr ? memcached_last_error_message(h)
                                                            : memcached_strerror(h, rc));
  }

  const MemcachedOptions options_;
  const std::string name_;
  Mutex mu_;
  memcached_st* const master_;  // configured once; only cloned (under mu_)
  std::vector<memcached_st*> idle_ GUARDED_BY(mu_);
  std::atomic<int64_t> last_log_ns_{0};
  metrics::Histogram* get_ok_;
  metrics::Histogram* get_failed_;
  metrics::Histogram* put_ok_;
  metrics::Histogram* put_failed_;
  metrics::Counter* set_skip_;
};

}  // namespace

Result<CachePtr> NewMemcachedCache(const MemcachedOptions& options, std::string name) {
  if (options.addresses.empty()) {
    return Status::InvalidArgument("memcached_client.addresses is empty");
  }
  if (options.timeout_ns <= 0) {
    return Status::InvalidArgument("memcached_client.timeout must be positive");
  }
  if (options.max_item_size < 0 || options.expiration_ns < 0) {
    return Status::InvalidArgument("memcached: max_item_size and expiration must not be negative");
  }
  memcached_st* master = memcached_create(nullptr);
  if (master == nullptr) return Status::Internal("memcached_create failed");
  for (const auto& addr : options.addresses) {
    size_t colon = addr.rfind(':');
    std::string host = colon == std::string::npos ? addr : addr.substr(0, colon);
    int port = 11211;
    if (colon != std::string::npos) {
      try {
        port = std::stoi(addr.substr(colon + 1));
      } catch (...) {
        port = -1;
      }
    }
    if (host.empty() || port <= 0 || port > 65535) {
      memcached_free(master);
      return Status::InvalidArgument("memcached_client.addresses: bad address '" + addr + "'");
    }
    if (!memcached_success(memcached_server_add(master, host.c_str(), port))) {
      memcached_free(master);
      return Status::InvalidArgument("memcached_client.addresses: cannot add '" + addr + "'");
    }
  }
  const uint64_t timeout_ms = std::max<int64_t>(1, options.timeout_ns / kNanosPerMilli);
  const uint64_t timeout_us = std::max<int64_t>(1, options.timeout_ns / 1000);
  const uint64_t retry_s = std::max<int64_t>(1, options.retry_after_ns / kNanosPerSecond);
  // Non-blocking sockets are what makes the timeouts apply.
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, timeout_ms);
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, timeout_ms);
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_SND_TIMEOUT, timeout_us);
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, timeout_us);
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, retry_s);
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1);
  // Keys spread over the servers by consistent hashing, as Loki's client does (jump hash there):
  // adding a server moves only its share of the keys.
  memcached_behavior_set(master, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                         MEMCACHED_DISTRIBUTION_CONSISTENT);
  return CachePtr(std::make_unique<MemcachedCache>(options, std::move(name), master));
}

}  // namespace sluice::cache
