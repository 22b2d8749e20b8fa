// The in-process cache: Loki's embedded cache (pkg/storage/chunk/cache/embeddedcache.go), an LRU
// bounded in bytes with an optional TTL, split into shards so that query threads fetching
// different keys rarely wait for one another.

#include <list>
#include <unordered_map>

#include "cache/cache.h"
#include "cache/cache_metrics.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::cache {

namespace {

// What an entry costs beyond its key and value: the list node, the map's node and bucket, the
// strings' headers. Approximate, as Loki's sizeOf is; it keeps many tiny entries from overrunning
// the bound.
constexpr int64_t kEntryOverhead = 128;

class LruCache final : public Cache {
 public:
  LruCache(const LruOptions& options, std::string name, const Clock* clock)
      : name_(std::move(name)),
        ttl_ns_(options.ttl_ns),
        clock_(clock),
        shards_(static_cast<size_t>(std::max(1, options.shards))) {
    shard_bytes_ =
        std::max<int64_t>(1, options.max_size_bytes / static_cast<int64_t>(shards_.size()));
    EmbeddedMetrics& m = EmbeddedMetrics::Get();
    added_new_ = m.added_new->WithLabels({name_});
    evicted_full_ = m.evicted->WithLabels({name_, "full"});
    evicted_expired_ = m.evicted->WithLabels({name_, "expired"});
    evicted_replaced_ = m.evicted->WithLabels({name_, "replaced"});
    evicted_too_big_ = m.evicted->WithLabels({name_, "object too big"});
    evicted_removed_ = m.evicted->WithLabels({name_, "removed"});
    entries_ = m.entries->WithLabels({name_});
    memory_bytes_ = m.memory_bytes->WithLabels({name_});
  }

  ~LruCache() override {
    // The gauges are process-wide; this cache's share of them goes with it.
    for (auto& shard : shards_) {
      MutexLock lock(&shard.mu);
      entries_->Add(-static_cast<double>(shard.items.size()));
      memory_bytes_->Add(-static_cast<double>(shard.bytes));
    }
  }

  std::unordered_map<std::string, std::string> Fetch(
      const std::vector<std::string>& keys) override {
    std::unordered_map<std::string, std::string> found;
    const int64_t now = clock_->NowNanos();
    for (const auto& key : keys) {
      if (found.contains(key)) continue;
      Shard& shard = ShardOf(key);
      MutexLock lock(&shard.mu);
      auto it = shard.items.find(key);
      if (it == shard.items.end()) continue;
      if (Expired(*it->second, now)) {
        Erase(&shard, it->second, evicted_expired_);
        continue;
      }
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);  // most recently used
      found.emplace(key, it->second->value);
    }
    return found;
  }

  void Store(const std::vector<KeyValue>& entries) override {
    const int64_t now = clock_->NowNanos();
    for (const auto& [key, value] : entries) {
      Shard& shard = ShardOf(key);
      const int64_t size = SizeOf(key, value);
      MutexLock lock(&shard.mu);
      auto it = shard.items.find(key);
      if (it != shard.items.end()) Erase(&shard, it->second, evicted_replaced_);
      if (size > shard_bytes_) {
        evicted_too_big_->Inc();
        continue;
      }
      while (shard.bytes + size > shard_bytes_ && !shard.lru.empty()) {
        Erase(&shard, std::prev(shard.lru.end()), evicted_full_);
      }
      shard.lru.push_front(Entry{key, value, now, size});
      shard.items.emplace(shard.lru.front().key, shard.lru.begin());
      shard.bytes += size;
      added_new_->Inc();
      entries_->Add(1);
      memory_bytes_->Add(static_cast<double>(size));
    }
  }

  void Remove(const std::vector<std::string>& keys) override {
    for (const auto& key : keys) {
      Shard& shard = ShardOf(key);
      MutexLock lock(&shard.mu);
      auto it = shard.items.find(key);
      if (it != shard.items.end()) Erase(&shard, it->second, evicted_removed_);
    }
  }

  const std::string& name() const override { return name_; }

 private:
  struct Entry {
    std::string key;
    std::string value;
    int64_t stored_ns = 0;
    int64_t size = 0;
  };
  using List = std::list<Entry>;
  struct Shard {
    Mutex mu;
    List lru GUARDED_BY(mu);  // most recently used first
    // Keys view Entry::key, which a list node keeps in place until it is erased.
    std::unordered_map<std::string_view, List::iterator> items GUARDED_BY(mu);
    int64_t bytes GUARDED_BY(mu) = 0;
  };

  static int64_t SizeOf(const std::string& key, const std::string& value) {
    return static_cast<int64_t>(key.size() + value.size()) + kEntryOverhead;
  }
  bool Expired(const Entry& e, int64_t now) const {
    return ttl_ns_ > 0 && now - e.stored_ns >= ttl_ns_;
  }
  Shard& ShardOf(std::string_view key) {
    return shards_[XXH3_64bits(key.data(), key.size()) % shards_.size()];
  }
  void Erase(Shard* shard, List::iterator it, metrics::Counter* reason) REQUIRES(shard->mu) {
    shard->items.erase(it->key);
    shard->bytes -= it->size;
    entries_->Add(-1);
    memory_bytes_->Add(-static_cast<double>(it->size));
    reason->Inc();
    shard->lru.erase(it);
  }

  const std::string name_;
  const int64_t ttl_ns_;
  const Clock* const clock_;
  std::vector<Shard> shards_;
  int64_t shard_bytes_ = 0;
  metrics::Counter* added_new_;
  metrics::Counter* evicted_full_;
  metrics::Counter* evicted_expired_;
  metrics::Counter* evicted_replaced_;
  metrics::Counter* evicted_too_big_;
  metrics::Counter* evicted_removed_;
  metrics::Gauge* entries_;
  metrics::Gauge* memory_bytes_;
};

}  // namespace

CachePtr NewLruCache(const LruOptions& options, std::string name, const Clock* clock) {
  return std::make_unique<LruCache>(options, std::move(name), clock);
}

}  // namespace sluice::cache
