#include "storage/caching_store.h"
#include "storage/test_util.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "storage/object_store_conformance.h"
#include "testing/memcached_process.h"

namespace sluice::storage {
namespace {

// Counts the calls that reach the real store under it.
class CountingStore final : public ForwardingStore {
 public:
  explicit CountingStore(ObjectStore* inner) : ForwardingStore(inner) {}
  Result<std::string> Get(std::string_view key) override {
    ++gets;
    if (get_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(get_delay_ms));
    return ForwardingStore::Get(key);
  }
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    ++ranges;
    return ForwardingStore::GetRange(key, offset, length);
  }
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    ++lists;
    return ForwardingStore::List(prefix);
  }

  std::atomic<int> gets{0}, ranges{0}, lists{0};
  int get_delay_ms = 0;
};

cache::CachePtr Lru() {
  cache::LruOptions o;
  o.enabled = true;
  o.max_size_bytes = 1 << 20;
  o.ttl_ns = 0;
  return cache::NewLruCache(o, "caching-store-test");
}

// A caching store owning what it wraps, for the conformance suite: everything cached, so every
// ObjectStore rule is checked through the cache.
class OwningCachingStore final : public ForwardingStore {
 public:
  OwningCachingStore()
      : inner_(NewMemoryStore()),
        cache_(Lru()),
        store_(NewCachingStore(inner_.get(), cache_.get(), {""})) {
    set_inner(store_.get());
  }

 private:
  ObjectStorePtr inner_;
  cache::CachePtr cache_;
  ObjectStorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(CachingLru, ObjectStoreConformanceTest,
                         ::testing::Values(ObjectStoreFactory{
                             "CachingLru",
                             [] { return ObjectStorePtr(new OwningCachingStore()); }}),
                         ObjectStoreFactoryName);

class CachingStoreTest : public ::testing::Test {
 protected:
  ObjectStorePtr memory_ = NewMemoryStore();
  CountingStore counting_{memory_.get()};
  cache::CachePtr cache_ = Lru();
  ObjectStorePtr store_ = NewCachingStore(&counting_, cache_.get(), ImmutablePrefixes());
};

TEST_F(CachingStoreTest, SecondGetOfAChunkComesFromTheCache) {
  ASSERT_TRUE(memory_->Put("chunks/t/abc", "chunk bytes").ok());  // written by someone else
  for (int i = 0; i < 3; ++i) {
    auto got = store_->Get("chunks/t/abc");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, "chunk bytes");
  }
  EXPECT_EQ(counting_.gets.load(), 1);
}

// A query's splits read the same chunks at the same time: one fetch serves them all.
TEST_F(CachingStoreTest, ConcurrentMissesOfOneKeyShareOneFetch) {
  ASSERT_TRUE(memory_->Put("chunks/t/abc", "chunk bytes").ok());
  counting_.get_delay_ms = 200;  // every reader arrives while the first fetch is in flight
  std::vector<std::thread> readers;
  std::atomic<int> right{0};
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      auto got = store_->Get("chunks/t/abc");
      if (got.ok() && *got == "chunk bytes") ++right;
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(right.load(), 4);
  EXPECT_EQ(counting_.gets.load(), 1);
  // A failed fetch is shared too, and not remembered.
  counting_.get_delay_ms = 0;
  EXPECT_EQ(store_->Get("chunks/t/missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("chunks/t/missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(counting_.gets.load(), 3);
}

TEST_F(CachingStoreTest, PutFillsTheCache) {
  ASSERT_TRUE(store_->Put("index/t/19000/a.idx", "index bytes").ok());
  auto got = store_->Get("index/t/19000/a.idx");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "index bytes");
  EXPECT_EQ(counting_.gets.load(), 0);
  auto part = store_->GetRange("index/t/19000/a.idx", 6, 100);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(*part, "bytes");
  EXPECT_EQ(store_->GetRange("index/t/19000/a.idx", 100, 5).value(), "");
  EXPECT_EQ(counting_.ranges.load(), 0);
}

TEST_F(CachingStoreTest, DeleteInvalidates) {
  ASSERT_TRUE(store_->Put("chunks/t/abc", "x").ok());
  ASSERT_TRUE(store_->Get("chunks/t/abc").ok());
  ASSERT_TRUE(store_->Delete("chunks/t/abc").ok());
  auto got = store_->Get("chunks/t/abc");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(store_->GetRange("chunks/t/abc", 0, 1).ok());
}

TEST_F(CachingStoreTest, MissingObjectsAreNotCached) {
  EXPECT_EQ(store_->Get("chunks/t/later").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(memory_->Put("chunks/t/later", "now").ok());
  EXPECT_EQ(store_->Get("chunks/t/later").value(), "now");
}

TEST_F(CachingStoreTest, OtherPrefixesAndListingsAlwaysReachTheStore) {
  ASSERT_TRUE(store_->Put("other/mutable", "v1").ok());
  EXPECT_EQ(store_->Get("other/mutable").value(), "v1");
  ASSERT_TRUE(memory_->Put("other/mutable", "v2").ok());
  EXPECT_EQ(store_->Get("other/mutable").value(), "v2");
  EXPECT_EQ(counting_.gets.load(), 2);

  ASSERT_TRUE(store_->Put("chunks/t/a", "a").ok());
  ASSERT_EQ(store_->List("chunks/").value().size(), 1u);
  ASSERT_TRUE(memory_->Put("chunks/t/b", "b").ok());
  ASSERT_EQ(store_->List("chunks/").value().size(), 2u);
  EXPECT_EQ(counting_.lists.load(), 2);
}

TEST(CachingStoreMemcachedTest, MemcachedDownServesFromTheStore) {
  SLUICE_START_MEMCACHED_OR_RETURN(mc);
  cache::CacheOptions o;
  o.memcached.addresses = {mc->address()};
  o.memcached.timeout_ns = 200 * kNanosPerMilli;
  auto c = cache::NewCache(o, "caching-store-memcached");
  ASSERT_TRUE(c.ok());
  ObjectStorePtr memory = NewMemoryStore();
  CountingStore counting(memory.get());
  ObjectStorePtr store = NewCachingStore(&counting, c->get(), ImmutablePrefixes());

  ASSERT_TRUE(store->Put("chunks/t/abc", "chunk").ok());
  EXPECT_EQ(store->Get("chunks/t/abc").value(), "chunk");
  EXPECT_EQ(counting.gets.load(), 0);  // from memcached

  mc->Kill();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(store->Get("chunks/t/abc").value(), "chunk");
  EXPECT_EQ(counting.gets.load(), 5);
}

}  // namespace
}  // namespace sluice::storage
