#pragma once

// Byte caches that keep queries off the object store and off the queriers: Loki's
// pkg/storage/chunk/cache, reduced to what sluice uses.
//
//   cache::Cache           Fetch(keys) -> the found (key, value)s; Store(key/value pairs)
//   ├─ NewLruCache         in process, bounded in bytes, optional TTL, sharded locks
//   └─ NewMemcachedCache   memcached servers through libmemcached (keys hashed, big values skipped)
//   NewCache(options, name): the configured one, wrapped in Loki's loki_cache_* instrumentation.
//
// Best effort: a cache is an optimisation, never a source of truth. A failure (a server down, a
// timeout, a value too big to store) is a miss or a skipped store, logged (rate-limited) and
// counted (loki_cache_request_duration_seconds{status_code="500"}), never an error of the caller.
// Hence no Status in this interface.
//
// Metrics (process-wide, labelled by the cache's name, as Loki labels them, so a dashboard built
// for Loki reads them):
//   loki_cache_fetched_keys{name}                               keys asked for
//   loki_cache_hits{name}                                       keys found
//   loki_cache_request_duration_seconds{method,status_code,name} method "<name>.fetch" / ".store"
//   loki_cache_value_size_bytes{method,name}                    method "fetch" / "store"
//   loki_embeddedcache_added_new_total{cache}, loki_embeddedcache_evicted_total{cache,reason},
//   loki_embeddedcache_entries{cache}, loki_embeddedcache_memory_bytes{cache}   (LRU)
//   loki_memcache_request_duration_seconds{method,status_code,name},
//   loki_memcache_client_set_skip_total{name}                                  (memcached)
//
// Thread safety: every implementation may be called by any number of threads at once.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::cache {

using KeyValue = std::pair<std::string, std::string>;

class Cache {
 public:
  virtual ~Cache() = default;

  // The values of those `keys` the cache holds, by key; a key missing from the answer is a miss
  // (never stored, evicted, expired, or the cache failed). Duplicate keys are answered once.
  virtual std::unordered_map<std::string, std::string> Fetch(
      const std::vector<std::string>& keys) = 0;
  // Stores each pair, replacing an older value. A value the cache cannot hold is skipped.
  virtual void Store(const std::vector<KeyValue>& entries) = 0;
  // Forgets `keys` (an object deleted from the store). Best effort as the rest: with memcached
  // down the entries stay there until it expires them, so a cached key must never be the only
  // thing that says an object exists (the store's listing does that; it is never cached).
  virtual void Remove(const std::vector<std::string>& keys) = 0;
  // What the metrics are labelled with ("chunks", "frontend.results-cache", ...).
  virtual const std::string& name() const = 0;

  // Single-key conveniences over the batch calls.
  bool Get(const std::string& key, std::string* value);
  void Put(std::string key, std::string value);
};
using CachePtr = std::unique_ptr<Cache>;

// Loki's embedded_cache block.
struct LruOptions {
  bool enabled = false;                     // embedded_cache.enabled
  int64_t max_size_bytes = 100LL << 20;     // embedded_cache.max_size_mb (MB -> bytes; Loki: 100)
  int64_t ttl_ns = 3600 * kNanosPerSecond;  // embedded_cache.ttl (Loki: 1h); 0: no expiry
  // Independent LRU lists, each with max_size_bytes / shards; a key's shard is its hash. More
  // shards, less lock contention between query threads (the bound is then per shard: a skewed
  // key distribution can evict a little early). Not a Loki key.
  int shards = 16;
};

// Loki's memcached + memcached_client blocks.
struct MemcachedOptions {
  // memcached_client.addresses: "host:port" entries (Loki also takes a comma-separated string;
  // the config layer splits it). DNS names are resolved by libmemcached. Empty: disabled.
  std::vector<std::string> addresses;
  int64_t timeout_ns = 100 * kNanosPerMilli;  // memcached_client.timeout (Loki: 100ms)
  // memcached_client.max_item_size: values (plus the key check, see memcached_cache.cc) over
  // this are not stored; memcached's own default item limit is 1MB. 0: no check of ours.
  int64_t max_item_size = 1 << 20;
  int64_t expiration_ns = 0;  // memcached.expiration; 0: items never expire (memcached's LRU)
  int batch_size = 256;       // memcached.batch_size: keys per multi-get
  // How long a server that failed is skipped before it is tried again. Not a Loki key (Loki's
  // client uses memcached_client.max_idle_conns etc. instead).
  int64_t retry_after_ns = 1 * kNanosPerSecond;
};

// What a config block that names "a cache" holds (chunk_store_config.chunk_cache_config,
// query_range.results_cache.cache, ...): at most one of the two enabled. With both, memcached
// wins, and the LRU is ignored (Loki layers them; sluice keeps one).
struct CacheOptions {
  LruOptions embedded_cache;
  MemcachedOptions memcached;
};

// The configured cache, instrumented under `name`; nullptr when neither is enabled (the caller
// then runs without a cache). InvalidArgument for impossible options (a negative size, a bad
// address).
Result<CachePtr> NewCache(const CacheOptions& options, std::string name,
                          const Clock* clock = SystemClock::Default());

// The implementations, uninstrumented (NewCache wraps them). REQUIRES: *clock outlives the cache.
CachePtr NewLruCache(const LruOptions& options, std::string name,
                     const Clock* clock = SystemClock::Default());
Result<CachePtr> NewMemcachedCache(const MemcachedOptions& options, std::string name);
// Adds the loki_cache_* metrics around `inner`.
CachePtr Instrument(CachePtr inner);

}  // namespace sluice::cache
