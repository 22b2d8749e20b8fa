#include "cache/cache.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "cache/cache_metrics.h"

namespace sluice::cache {

InstrumentMetrics& InstrumentMetrics::Get() {
  static InstrumentMetrics* m = [] {
    auto& r = metrics::DefaultRegistry();
    auto* out = new InstrumentMetrics;
    out->fetched_keys = r.NewCounter("loki_cache_fetched_keys",
                                     "Total count of keys requested from cache.", {"name"});
    out->hits = r.NewCounter("loki_cache_hits", "Total count of keys found in cache.", {"name"});
    // Loki's buckets: 16us to 1s.
    out->request_duration = r.NewHistogram(
        "loki_cache_request_duration_seconds", "Total time spent in seconds doing cache requests.",
        {"method", "status_code", "name"}, metrics::ExponentialBuckets(0.000016, 4, 8));
    // 1KB to 4MB, as Loki's.
    out->value_size = r.NewHistogram("loki_cache_value_size_bytes", "Size of values in the cache.",
                                     {"method", "name"}, metrics::ExponentialBuckets(1024, 4, 7));
    return out;
  }();
  return *m;
}

EmbeddedMetrics& EmbeddedMetrics::Get() {
  static EmbeddedMetrics* m = [] {
    auto& r = metrics::DefaultRegistry();
    auto* out = new EmbeddedMetrics;
    out->added_new = r.NewCounter("loki_embeddedcache_added_new_total",
                                  "The total number of new entries added to the cache", {"cache"});
    out->evicted = r.NewCounter("loki_embeddedcache_evicted_total",
                                "The total number of evicted entries", {"cache", "reason"});
    out->entries = r.NewGauge("loki_embeddedcache_entries",
                              "Current number of entries in the cache", {"cache"});
    out->memory_bytes =
        r.NewGauge("loki_embeddedcache_memory_bytes", "The current cache size in bytes", {"cache"});
    return out;
  }();
  return *m;
}

MemcachedMetrics& MemcachedMetrics::Get() {
  static MemcachedMetrics* m = [] {
    auto& r = metrics::DefaultRegistry();
    auto* out = new MemcachedMetrics;
    out->request_duration = r.NewHistogram("loki_memcache_request_duration_seconds",
                                           "Total time spent in seconds doing memcache requests.",
                                           {"method", "status_code", "name"},
                                           metrics::ExponentialBuckets(0.000016, 4, 8));
    out->set_skip = r.NewCounter("loki_memcache_client_set_skip_total",
                                 "Total number of skipped set operations because of the value is "
                                 "larger than the max-item-size.",
                                 {"name"});
    return out;
  }();
  return *m;
}

bool Cache::Get(const std::string& key, std::string* value) {
  auto found = Fetch({key});
  auto it = found.find(key);
  if (it == found.end()) return false;
  *value = std::move(it->second);
  return true;
}

void Cache::Put(std::string key, std::string value) {
  Store({KeyValue{std::move(key), std::move(value)}});
}

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Loki's instrumentedCache. The implementations do not report errors upwards (see cache.h), so
// the status_code is always "200" here; a failed request is counted by the implementation's own
// metric (loki_memcache_request_duration_seconds{status_code="500"}).
class InstrumentedCache final : public Cache {
 public:
  explicit InstrumentedCache(CachePtr inner) : inner_(std::move(inner)) {
    auto& m = InstrumentMetrics::Get();
    const std::string& n = inner_->name();
    fetched_keys_ = m.fetched_keys->WithLabels({n});
    hits_ = m.hits->WithLabels({n});
    fetch_duration_ = m.request_duration->WithLabels({n + ".fetch", "200", n});
    store_duration_ = m.request_duration->WithLabels({n + ".store", "200", n});
    fetched_size_ = m.value_size->WithLabels({"fetch", n});
    stored_size_ = m.value_size->WithLabels({"store", n});
  }

  std::unordered_map<std::string, std::string> Fetch(
      const std::vector<std::string>& keys) override {
    const auto start = std::chrono::steady_clock::now();
    auto found = inner_->Fetch(keys);
    fetch_duration_->Observe(SecondsSince(start));
    fetched_keys_->Inc(static_cast<double>(keys.size()));
    hits_->Inc(static_cast<double>(found.size()));
    for (const auto& [k, v] : found) fetched_size_->Observe(static_cast<double>(v.size()));
    return found;
  }

  void Store(const std::vector<KeyValue>& entries) override {
    for (const auto& [k, v] : entries) stored_size_->Observe(static_cast<double>(v.size()));
    const auto start = std::chrono::steady_clock::now();
    inner_->Store(entries);
    store_duration_->Observe(SecondsSince(start));
  }

  void Remove(const std::vector<std::string>& keys) override { inner_->Remove(keys); }

  const std::string& name() const override { return inner_->name(); }

 private:
  CachePtr inner_;
  metrics::Counter* fetched_keys_;
  metrics::Counter* hits_;
  metrics::Histogram* fetch_duration_;
  metrics::Histogram* store_duration_;
  metrics::Histogram* fetched_size_;
  metrics::Histogram* stored_size_;
};

}  // namespace

CachePtr Instrument(CachePtr inner) {
  return std::make_unique<InstrumentedCache>(std::move(inner));
}

Result<CachePtr> NewCache(const CacheOptions& options, std::string name, const Clock* clock) {
  if (!options.memcached.addresses.empty()) {
    SLUICE_ASSIGN_OR_RETURN(CachePtr mc, NewMemcachedCache(options.memcached, std::move(name)));
    return Instrument(std::move(mc));
  }
  const LruOptions& lru = options.embedded_cache;
  if (!lru.enabled) return CachePtr();
  if (lru.max_size_bytes <= 0) {
    return Status::InvalidArgument("embedded_cache.max_size_mb must be positive");
  }
  if (lru.ttl_ns < 0) return Status::InvalidArgument("embedded_cache.ttl must not be negative");
  return Instrument(NewLruCache(lru, std::move(name), clock));
}

}  // namespace sluice::cache
