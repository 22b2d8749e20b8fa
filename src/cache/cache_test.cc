#include "cache/cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cache/cache_metrics.h"
#include "testing/fake_clock.h"
#include "testing/memcached_process.h"

namespace sluice::cache {
namespace {

LruOptions Lru(int64_t max_bytes, int64_t ttl_ns = 0, int shards = 1) {
  LruOptions o;
  o.enabled = true;
  o.max_size_bytes = max_bytes;
  o.ttl_ns = ttl_ns;
  o.shards = shards;
  return o;
}

TEST(LruCacheTest, FetchReturnsOnlyFoundKeys) {
  auto c = NewLruCache(Lru(1 << 20), "lru-basic");
  c->Store({{"a", "1"}, {"b", "22"}});
  auto found = c->Fetch({"a", "b", "c", "a"});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found["a"], "1");
  EXPECT_EQ(found["b"], "22");
  c->Put("a", "replaced");
  std::string v;
  ASSERT_TRUE(c->Get("a", &v));
  EXPECT_EQ(v, "replaced");
  EXPECT_FALSE(c->Get("zzz", &v));
}

TEST(LruCacheTest, EvictsLeastRecentlyUsedByBytes) {
  // Each entry costs its key, its value and a fixed overhead; room for three 1000-byte values.
  const std::string big(1000, 'x');
  auto c = NewLruCache(Lru(3 * (1000 + 1 + 128)), "lru-evict");
  c->Store({{"a", big}, {"b", big}, {"c", big}});
  EXPECT_EQ(c->Fetch({"a", "b", "c"}).size(), 3u);
  std::string v;
  ASSERT_TRUE(c->Get("a", &v));  // "a" is now the most recently used; "b" the least
  c->Put("d", big);
  auto found = c->Fetch({"a", "b", "c", "d"});
  EXPECT_TRUE(found.contains("a"));
  EXPECT_FALSE(found.contains("b"));
  EXPECT_TRUE(found.contains("c"));
  EXPECT_TRUE(found.contains("d"));
  // One value bigger than the whole cache is not stored, and evicts nothing.
  c->Put("huge", std::string(10'000, 'y'));
  EXPECT_FALSE(c->Get("huge", &v));
  EXPECT_EQ(c->Fetch({"a", "c", "d"}).size(), 3u);
  // A value twice the size evicts two.
  c->Put("e", std::string(2000, 'z'));
  found = c->Fetch({"a", "c", "d", "e"});
  EXPECT_TRUE(found.contains("e"));
  EXPECT_EQ(found.size(), 2u);
}

TEST(LruCacheTest, MemoryGaugesFollowContents) {
  auto& m = EmbeddedMetrics::Get();
  {
    auto c = NewLruCache(Lru(10'000), "lru-gauges");
    c->Store({{"a", std::string(100, 'a')}, {"b", std::string(200, 'b')}});
    EXPECT_EQ(m.entries->WithLabels({"lru-gauges"})->value(), 2);
    EXPECT_EQ(m.memory_bytes->WithLabels({"lru-gauges"})->value(), 100 + 1 + 200 + 1 + 2 * 128);
    c->Put("a", "x");
    EXPECT_EQ(m.evicted->WithLabels({"lru-gauges", "replaced"})->value(), 1);
    EXPECT_EQ(m.added_new->WithLabels({"lru-gauges"})->value(), 3);
  }
  EXPECT_EQ(m.entries->WithLabels({"lru-gauges"})->value(), 0);
  EXPECT_EQ(m.memory_bytes->WithLabels({"lru-gauges"})->value(), 0);
}

TEST(LruCacheTest, EntriesExpireAfterTtl) {
  testing::FakeClock clock(1'000 * kNanosPerSecond);
  auto c = NewLruCache(Lru(1 << 20, 60 * kNanosPerSecond), "lru-ttl", &clock);
  c->Put("a", "1");
  clock.Advance(30 * kNanosPerSecond);
  c->Put("b", "2");
  std::string v;
  EXPECT_TRUE(c->Get("a", &v));  // a read does not extend the life of an entry
  clock.Advance(30 * kNanosPerSecond);
  EXPECT_FALSE(c->Get("a", &v));
  EXPECT_TRUE(c->Get("b", &v));
  clock.Advance(30 * kNanosPerSecond);
  EXPECT_FALSE(c->Get("b", &v));
  EXPECT_EQ(EmbeddedMetrics::Get().evicted->WithLabels({"lru-ttl", "expired"})->value(), 2);
}

TEST(LruCacheTest, ConcurrentFetchAndStoreStayWithinBound) {
  const int64_t max_bytes = 64 * 1024;
  auto c = NewLruCache(Lru(max_bytes, 0, 8), "lru-concurrent");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string key = "k" + std::to_string((i * 7 + t) % 500);
        if (i % 3 == 0) {
          c->Put(key, std::string(100, key.back()) + key);
        } else {
          std::string v;
          if (c->Get(key, &v) && v != std::string(100, key.back()) + key) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(EmbeddedMetrics::Get().memory_bytes->WithLabels({"lru-concurrent"})->value(),
            max_bytes);
}

TEST(NewCacheTest, NoneEnabledIsNull) {
  auto c = NewCache(CacheOptions{}, "none");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, nullptr);
}

TEST(NewCacheTest, InstrumentedCountsHitsAndFetchedKeys) {
  CacheOptions o;
  o.embedded_cache = Lru(1 << 20);
  auto c = NewCache(o, "instrumented-lru");
  ASSERT_TRUE(c.ok());
  ASSERT_NE(*c, nullptr);
  (*c)->Put("a", "1");
  (*c)->Fetch({"a", "b", "c"});
  auto& m = InstrumentMetrics::Get();
  EXPECT_EQ(m.fetched_keys->WithLabels({"instrumented-lru"})->value(), 3);
  EXPECT_EQ(m.hits->WithLabels({"instrumented-lru"})->value(), 1);
  EXPECT_EQ(m.request_duration->WithLabels({"instrumented-lru.fetch", "200", "instrumented-lru"})
                ->count(),
            1u);
  const std::string text = metrics::DefaultRegistry().Expose();
  EXPECT_NE(text.find("loki_cache_hits{name=\"instrumented-lru\"} 1"), std::string::npos);
}

TEST(NewCacheTest, RejectsBadOptions) {
  CacheOptions o;
  o.embedded_cache = Lru(0);
  EXPECT_FALSE(NewCache(o, "bad").ok());
  CacheOptions m;
  m.memcached.addresses = {"127.0.0.1:notaport"};
  EXPECT_FALSE(NewCache(m, "bad").ok());
}

MemcachedOptions Memcached(std::string address) {
  MemcachedOptions o;
  o.addresses = {std::move(address)};
  o.timeout_ns = 200 * kNanosPerMilli;
  o.batch_size = 3;  // several multi-gets per Fetch below
  return o;
}

TEST(MemcachedCacheTest, StoresAndFetchesAgainstRealServer) {
  SLUICE_START_MEMCACHED_OR_RETURN(mc);
  auto c = NewMemcachedCache(Memcached(mc->address()), "mc-basic");
  ASSERT_TRUE(c.ok()) << c.status().message();
  // Keys longer than memcached's 250 bytes, with spaces and newlines: hashed on the wire.
  const std::string long_key = std::string(1000, 'k') + " with spaces\n";
  std::vector<KeyValue> entries;
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) {
    entries.emplace_back("key " + std::to_string(i), "value-" + std::to_string(i));
    keys.push_back("key " + std::to_string(i));
  }
  entries.emplace_back(long_key, std::string("binary\0value", 12));
  keys.push_back(long_key);
  keys.push_back("missing");
  (*c)->Store(entries);
  auto found = (*c)->Fetch(keys);
  ASSERT_EQ(found.size(), 11u);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(found["key " + std::to_string(i)], "value-" + std::to_string(i));
  EXPECT_EQ(found[long_key], std::string("binary\0value", 12));

  // Concurrent callers each borrow their own client.
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        std::string v;
        if (!(*c)->Get("key 3", &v) || v != "value-3") ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(MemcachedCacheTest, ValuesOverMaxItemSizeAreNotStored) {
  SLUICE_START_MEMCACHED_OR_RETURN(mc);
  MemcachedOptions o = Memcached(mc->address());
  o.max_item_size = 1 << 20;
  auto c = NewMemcachedCache(o, "mc-big");
  ASSERT_TRUE(c.ok());
  (*c)->Store({{"small", std::string(1000, 's')}, {"big", std::string(2 << 20, 'b')}});
  auto found = (*c)->Fetch({"small", "big"});
  EXPECT_TRUE(found.contains("small"));
  EXPECT_FALSE(found.contains("big"));
  EXPECT_EQ(MemcachedMetrics::Get().set_skip->WithLabels({"mc-big"})->value(), 1);
}

TEST(MemcachedCacheTest, ServerDownIsAMissNotAnError) {
  SLUICE_START_MEMCACHED_OR_RETURN(mc);
  MemcachedOptions o = Memcached(mc->address());
  o.retry_after_ns = 1 * kNanosPerSecond;
  auto c = NewMemcachedCache(o, "mc-down");
  ASSERT_TRUE(c.ok());
  (*c)->Put("a", "1");
  std::string v;
  ASSERT_TRUE((*c)->Get("a", &v));

  mc->Kill();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE((*c)->Get("a", &v));
    (*c)->Put("b", "2");  // dropped, silently
  }
  // A dead server is skipped, not waited for on every call.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_GT(MemcachedMetrics::Get()
                    .request_duration->WithLabels({"Memcache.GetMulti", "500", "mc-down"})
                    ->count() +
                MemcachedMetrics::Get()
                    .request_duration->WithLabels({"Memcache.Put", "500", "mc-down"})
                    ->count(),
            0u);

  // Back (empty): the client reconnects after the retry interval, within a bounded wait.
  ASSERT_TRUE(mc->Restart());
  bool stored = false;
  for (int i = 0; i < 60 && !stored; ++i) {
    (*c)->Put("c", "3");
    stored = (*c)->Get("c", &v) && v == "3";
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(stored);
}

TEST(MemcachedCacheTest, UnreachableFromTheStartIsAMiss) {
  // Nothing listens on this port (a free one, just released).
  SLUICE_START_MEMCACHED_OR_RETURN(mc);
  const std::string address = mc->address();
  mc->Kill();
  CacheOptions o;
  o.memcached = Memcached(address);
  auto c = NewCache(o, "mc-unreachable");
  ASSERT_TRUE(c.ok());
  std::string v;
  (*c)->Put("a", "1");
  EXPECT_FALSE((*c)->Get("a", &v));
}

}  // namespace
}  // namespace sluice::cache
