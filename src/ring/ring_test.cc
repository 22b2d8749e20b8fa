#include "ring/ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "testing/fake_clock.h"

namespace sluice::ring {
namespace {

constexpr int64_t kNow = 1'700'000'000LL * 1'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;

InstanceDesc Instance(std::string id, std::string zone, std::vector<uint32_t> tokens,
                      InstanceState state = InstanceState::kActive) {
  InstanceDesc d;
  d.addr = id + ":9095";
  d.id = std::move(id);
  d.zone = std::move(zone);
  d.state = state;
  d.timestamp = kNow / kSecond;
  d.tokens = std::move(tokens);
  return d;
}

std::vector<uint32_t> RandomTokens(std::mt19937& rng, int n) {
  std::vector<uint32_t> t(n);
  for (auto& x : t) x = static_cast<uint32_t>(rng());
  std::sort(t.begin(), t.end());
  return t;
}

// A ring of `n` instances with 128 random tokens each, zones z0..z(zones-1) in turn.
Desc RandomRing(int n, int zones, uint32_t seed) {
  std::mt19937 rng(seed);
  Desc desc;
  for (int i = 0; i < n; ++i) {
    std::string id = "ingester-" + std::to_string(i);
    desc.instances[id] = Instance(id, "z" + std::to_string(i % zones), RandomTokens(rng, 128));
  }
  return desc;
}

std::set<std::string> Ids(const ReplicationSet& set) {
  std::set<std::string> out;
  for (const auto& i : set.instances) out.insert(i.id);
  return out;
}

class RingTest : public ::testing::Test {
 protected:
  RingTest() : clock_(kNow) {}
  std::unique_ptr<Ring> MakeRing(Desc desc, int rf = 3, bool zones = false) {
    RingOptions o;
    o.heartbeat_timeout_ns = 60 * kSecond;
    o.replication_factor = rf;
    o.zone_awareness_enabled = zones;
    auto r = std::make_unique<Ring>(&kv_, o, &clock_);
    r->Set(std::move(desc), 1);
    return r;
  }
  MemoryKv kv_;
  testing::FakeClock clock_;
};

TEST(TokenForTest, IsFnv1Of32BitsOverTenantThenLabels) {
  EXPECT_EQ(TokenFor("", ""), 2166136261u);   // the FNV offset basis
  EXPECT_EQ(TokenFor("a", ""), 0x050c5d7eu);  // FNV-1 (not 1a, which gives 0xe40c292c)
  EXPECT_EQ(TokenFor("tenant", "{app=\"x\"}"), TokenFor("ten", "ant{app=\"x\"}"));
  EXPECT_NE(TokenFor("t1", "{app=\"x\"}"), TokenFor("t2", "{app=\"x\"}"));
}

TEST(QuorumTest, FloorHalfPlusOne) {
  EXPECT_EQ(QuorumFor(1), 1);
  EXPECT_EQ(QuorumFor(2), 2);
  EXPECT_EQ(QuorumFor(3), 2);
  EXPECT_EQ(QuorumFor(5), 3);
}

TEST(DescTest, EncodeDecodeRoundTrip) {
  Desc d;
  d.instances["a"] = Instance("a", "z1", {5, 1, 9}, InstanceState::kLeaving);
  d.instances["a"].registered_timestamp = 123;
  d.instances["b"] = Instance("b", "", {7}, InstanceState::kJoining);
  auto back = Desc::Decode(d.Encode());
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->instances.size(), 2u);
  const auto& a = back->instances.at("a");
  EXPECT_EQ(a.addr, "a:9095");
  EXPECT_EQ(a.zone, "z1");
  EXPECT_EQ(a.state, InstanceState::kLeaving);
  EXPECT_EQ(a.registered_timestamp, 123);
  EXPECT_EQ(a.timestamp, kNow / kSecond);
  EXPECT_EQ(a.tokens, (std::vector<uint32_t>{1, 5, 9}));
  EXPECT_EQ(back->instances.at("b").state, InstanceState::kJoining);
  EXPECT_TRUE(a.partitions.empty());
  d.instances["b"].partitions = {3, 0};
  EXPECT_EQ(Desc::Decode(d.Encode())->instances.at("b").partitions, (std::vector<int32_t>{0, 3}));
  EXPECT_TRUE(Desc::Decode("").ok());
  EXPECT_FALSE(Desc::Decode("\xff\xff\xff").ok());
}

TEST_F(RingTest, WalksClockwiseToDistinctInstances) {
  Desc d;
  // a owns 10 and 40, b 20, c 30, d 50: a key of 15 walks 20(b) 30(c) 40(a).
  d.instances["a"] = Instance("a", "", {10, 40});
  d.instances["b"] = Instance("b", "", {20});
  d.instances["c"] = Instance("c", "", {30});
  d.instances["d"] = Instance("d", "", {50});
  auto ring = MakeRing(d);
  auto set = ring->Get(15, Op::kWrite);
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set->instances.size(), 3u);
  EXPECT_EQ(set->instances[0].id, "b");
  EXPECT_EQ(set->instances[1].id, "c");
  EXPECT_EQ(set->instances[2].id, "a");
  EXPECT_EQ(set->quorum, 2);
  EXPECT_EQ(set->max_errors, 1);
  // A key equal to a token starts after it; past the last token it wraps.
  EXPECT_EQ(ring->Get(20, Op::kWrite)->instances[0].id, "c");
  EXPECT_EQ(ring->Get(60, Op::kWrite)->instances[0].id, "a");
  // 40 (a) then 50 (d), then 10 is a again: skipped as a duplicate, 20 is b.
  EXPECT_EQ(Ids(*ring->Get(35, Op::kWrite)), (std::set<std::string>{"a", "d", "b"}));
}

TEST_F(RingTest, EverySetHasRfDistinctInstances) {
  auto ring = MakeRing(RandomRing(5, 1, 1));
  std::mt19937 rng(7);
  for (int i = 0; i < 1000; ++i) {
    auto set = ring->Get(static_cast<uint32_t>(rng()), Op::kWrite);
    ASSERT_TRUE(set.ok());
    EXPECT_EQ(set->instances.size(), 3u);
    EXPECT_EQ(Ids(*set).size(), 3u);
  }
}

TEST_F(RingTest, StaleHeartbeatIsSkippedAndTheSetExtends) {
  Desc d;
  d.instances["a"] = Instance("a", "", {10});
  d.instances["b"] = Instance("b", "", {20});
  d.instances["c"] = Instance("c", "", {30});
  d.instances["d"] = Instance("d", "", {40});
  d.instances["b"].timestamp = kNow / kSecond - 61;  // older than the 1m timeout
  auto ring = MakeRing(d);
  auto set = ring->Get(15, Op::kWrite);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(Ids(*set), (std::set<std::string>{"c", "d", "a"}));
  // Still fresh at exactly the timeout.
  d.instances["b"].timestamp = kNow / kSecond - 60;
  ring->Set(d, 2);
  EXPECT_EQ(ring->Get(15, Op::kWrite)->instances[0].id, "b");
}

// Each partition's owners as ids, best first.
std::vector<std::vector<std::string>> OwnerIds(const PartitionOwners& owners) {
  std::vector<std::vector<std::string>> out;
  for (const auto& ps : owners.by_partition) {
    auto& ids = out.emplace_back();
    for (size_t i : ps) ids.push_back(owners.instances[i].id);
  }
  return out;
}

// Kafka reads: each partition's healthy owners, ACTIVE before LEAVING, never a stale or
// catching-up one, rotating among ACTIVE ones; a partition whose owners all left stays known.
TEST_F(RingTest, PartitionOwnersBestFirst) {
  using Ids = std::vector<std::vector<std::string>>;
  Desc d;
  d.instances["a"] = Instance("a", "", {10});
  d.instances["a"].partitions = {0, 1};
  d.instances["b"] = Instance("b", "", {20}, InstanceState::kLeaving);
  d.instances["b"].partitions = {2};
  d.instances["c"] = Instance("c", "", {30});
  d.instances["c"].partitions = {2};
  d.instances["d"] = Instance("d", "", {40}, InstanceState::kJoining);
  d.instances["d"].partitions = {1};
  auto ring = MakeRing(d);
  auto owners = ring->GetPartitionOwners();
  ASSERT_TRUE(owners.ok()) << owners.status().message();
  EXPECT_EQ(OwnerIds(*owners), (Ids{{"a"}, {"a"}, {"c", "b"}}));
  EXPECT_EQ(owners->instances.size(), 3u);  // each owner once
  // c goes stale: the LEAVING owner of partition 2 still holds its data.
  d.instances["c"].timestamp = 0;
  ring->Set(d, 2);
  owners = ring->GetPartitionOwners();
  ASSERT_TRUE(owners.ok());
  EXPECT_EQ(OwnerIds(*owners), (Ids{{"a"}, {"a"}, {"b"}}));
  // Two ACTIVE owners of one partition take turns at being first.
  d.instances["c"].timestamp = kNow / kSecond;
  d.instances["b"].state = InstanceState::kActive;
  ring->Set(d, 3);
  std::set<std::string> first;
  for (int i = 0; i < 4; ++i) {
    owners = ring->GetPartitionOwners();
    ASSERT_TRUE(owners.ok());
    EXPECT_EQ(owners->by_partition[2].size(), 2u);
    first.insert(owners->instances[owners->by_partition[2][0]].id);
  }
  EXPECT_EQ(first, (std::set<std::string>{"b", "c"}));
  // No healthy owner of partition 2: Unavailable, naming it.
  d.instances["b"].timestamp = 0;
  d.instances["c"].state = InstanceState::kPending;
  ring->Set(d, 4);
  auto none = ring->GetPartitionOwners();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(none.status().message().find("Kafka partition 2"), std::string::npos)
      << none.status().message();
  // Every owner of partition 2 left the ring: the partition is still known, and still unread.
  d.instances.erase("b");
  d.instances.erase("c");
  d.NotePartitions({0, 1, 2});
  ring->Set(Desc::Decode(d.Encode()).value(), 5);
  auto gone = ring->GetPartitionOwners();
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.status().message().find("Kafka partition 2"), std::string::npos)
      << gone.status().message();
}

TEST_F(RingTest, FewerThanQuorumHealthyIsUnavailable) {
  Desc d;
  d.instances["a"] = Instance("a", "", {10});
  d.instances["b"] = Instance("b", "", {20});
  d.instances["c"] = Instance("c", "", {30});
  d.instances["b"].timestamp = 0;
  d.instances["c"].timestamp = 0;
  auto ring = MakeRing(d);
  auto set = ring->Get(15, Op::kWrite);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(set.status().message().find("at least 2 live replicas required, could only find 1"),
            std::string::npos)
      << set.status().message();
  // Two healthy of three: a set of 2, no error to spare.
  d.instances["c"].timestamp = kNow / kSecond;
  ring->Set(d, 2);
  set = ring->Get(15, Op::kWrite);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->instances.size(), 2u);
  EXPECT_EQ(set->max_errors, 0);
  EXPECT_TRUE(set->Succeeded(2));
  EXPECT_FALSE(set->Succeeded(1));
  EXPECT_TRUE(set->Failed(1));
  EXPECT_FALSE(MakeRing(Desc{})->Get(1, Op::kWrite).ok());
}

TEST_F(RingTest, LeavingServesReadsNotWrites) {
  Desc d;
  d.instances["a"] = Instance("a", "", {10});
  d.instances["b"] = Instance("b", "", {20}, InstanceState::kLeaving);
  d.instances["c"] = Instance("c", "", {30});
  d.instances["d"] = Instance("d", "", {40});
  d.instances["e"] = Instance("e", "", {50}, InstanceState::kJoining);
  auto ring = MakeRing(d);
  EXPECT_EQ(Ids(*ring->Get(15, Op::kWrite)), (std::set<std::string>{"c", "d", "a"}));
  EXPECT_EQ(Ids(*ring->Get(15, Op::kRead)), (std::set<std::string>{"b", "c", "d"}));
  // JOINING serves neither.
  EXPECT_EQ(Ids(*ring->Get(45, Op::kRead)), (std::set<std::string>{"a", "b", "c"}));
  auto all = ring->GetAllHealthy(Op::kRead);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Ids(*all), (std::set<std::string>{"a", "b", "c", "d"}));
  // 5 instances, RF 3: 5 - 1 = 4 must answer; 3 healthy writers are too few.
  EXPECT_EQ(all->quorum, 4);
  EXPECT_EQ(all->max_errors, 0);
  EXPECT_EQ(ring->GetAllHealthy(Op::kWrite).status().code(), StatusCode::kUnavailable);
}

TEST_F(RingTest, ZoneAwarenessPutsReplicasInDistinctZones) {
  auto desc = RandomRing(6, 3, 3);  // 3 zones x 2 instances
  auto ring = MakeRing(desc, 3, true);
  std::mt19937 rng(11);
  for (int i = 0; i < 1000; ++i) {
    auto set = ring->Get(static_cast<uint32_t>(rng()), Op::kWrite);
    ASSERT_TRUE(set.ok());
    std::set<std::string> zones;
    for (const auto& inst : set->instances) zones.insert(inst.zone);
    EXPECT_EQ(zones.size(), 3u);
  }
  // Both instances of zone z0 dead: every key still gets a quorum, in the two other zones.
  for (auto& [id, inst] : desc.instances) {
    if (inst.zone == "z0") inst.timestamp = 0;
  }
  ring->Set(desc, 2);
  for (int i = 0; i < 1000; ++i) {
    auto set = ring->Get(static_cast<uint32_t>(rng()), Op::kWrite);
    ASSERT_TRUE(set.ok()) << set.status().message();
    ASSERT_EQ(set->instances.size(), 2u);
    EXPECT_NE(set->instances[0].zone, set->instances[1].zone);
    EXPECT_EQ(set->max_errors, 0);
  }
}

TEST_F(RingTest, ZoneAwarenessStandsInAZoneMateForADeadInstance) {
  Desc d;
  d.instances["a1"] = Instance("a1", "a", {10});
  d.instances["b1"] = Instance("b1", "b", {20});
  d.instances["b2"] = Instance("b2", "b", {25});
  d.instances["c1"] = Instance("c1", "c", {30});
  d.instances["b1"].timestamp = 0;
  auto ring = MakeRing(d, 3, true);
  EXPECT_EQ(Ids(*ring->Get(15, Op::kWrite)), (std::set<std::string>{"b2", "c1", "a1"}));
}

TEST_F(RingTest, TokensAreBalancedAt128PerInstance) {
  auto ring = MakeRing(RandomRing(10, 1, 5));
  auto owned = ring->Ownership();
  double total = 0;
  for (const auto& [id, share] : owned) {
    total += share;
    // 128 random tokens: each owns 10% give or take; 3 standard deviations is about 2.7 points.
    EXPECT_GT(share, 0.06) << id;
    EXPECT_LT(share, 0.14) << id;
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
  // Keys land in proportion too.
  std::map<std::string, int> primaries;
  std::mt19937 rng(9);
  for (int i = 0; i < 100000; ++i) {
    primaries[ring->Get(static_cast<uint32_t>(rng()), Op::kWrite, 1)->instances[0].id]++;
  }
  for (const auto& [id, n] : primaries) {
    EXPECT_NEAR(n / 100000.0, owned[id], 0.01) << id;
  }
}

TEST_F(RingTest, AJoiningInstanceMovesAboutOneNthOfKeys) {
  Desc desc = RandomRing(4, 1, 8);
  auto ring = MakeRing(desc);
  std::vector<uint32_t> keys;
  std::mt19937 rng(12);
  for (int i = 0; i < 20000; ++i) keys.push_back(static_cast<uint32_t>(rng()));
  std::vector<std::string> before;
  for (uint32_t k : keys) before.push_back(ring->Get(k, Op::kWrite, 1)->instances[0].id);

  std::mt19937 rng2(99);
  desc.instances["ingester-4"] = Instance("ingester-4", "z0", RandomTokens(rng2, 128));
  ring->Set(desc, 2);
  int moved = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string now = ring->Get(keys[i], Op::kWrite, 1)->instances[0].id;
    if (now != before[i]) {
      ++moved;
      EXPECT_EQ(now, "ingester-4");  // keys only move to the newcomer
    }
  }
  double share = static_cast<double>(moved) / keys.size();
  EXPECT_GT(share, 0.13);  // 1/5 = 0.2
  EXPECT_LT(share, 0.27);
}

TEST_F(RingTest, HealthyActiveCountAndForget) {
  Desc d;
  d.instances["a"] = Instance("a", "", {10});
  d.instances["b"] = Instance("b", "", {20}, InstanceState::kLeaving);
  d.instances["c"] = Instance("c", "", {30});
  d.instances["c"].timestamp = 0;
  ASSERT_TRUE(kv_.CompareAndSwap(std::string(kDefaultRingKey), 0, d.Encode()).ok());
  auto ring = MakeRing(Desc{});
  ASSERT_TRUE(ring->Refresh().ok());
  EXPECT_EQ(ring->HealthyActiveCount(), 1);
  ASSERT_TRUE(ring->Forget("c").ok());
  EXPECT_EQ(ring->Snapshot().instances.count("c"), 0u);
  auto stored = Desc::Decode(kv_.Get(std::string(kDefaultRingKey))->value);
  EXPECT_EQ(stored->instances.size(), 2u);
  EXPECT_EQ(ring->Forget("nope").code(), StatusCode::kNotFound);
}

TEST_F(RingTest, ZoneAwareReadsToleratesLosingAWholeZone) {
  // 3 zones of 2: losing both instances of one zone leaves every key 2 replicas.
  Desc d = RandomRing(6, 3, 7);
  d.instances["ingester-0"].timestamp = 0;  // z0
  d.instances["ingester-3"].timestamp = 0;  // z0
  auto ring = MakeRing(d, 3, /*zones=*/true);
  auto set = ring->GetAllHealthy(Op::kRead);
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->instances.size(), 4u);
  EXPECT_EQ(set->max_errors, 0);
  // A second zone with a dead instance is one too many at RF 3.
  d.instances["ingester-1"].timestamp = 0;  // z1
  ring->Set(d, 2);
  EXPECT_EQ(ring->GetAllHealthy(Op::kRead).status().code(), StatusCode::kUnavailable);
  // Without zone awareness, 2 dead of 6 is too many: (6 - 3/2) = 5 must answer.
  d.instances["ingester-1"].timestamp = kNow / kSecond;
  EXPECT_FALSE(MakeRing(d, 3, /*zones=*/false)->GetAllHealthy(Op::kRead).ok());
}

// A KV store that can be taken down: every call fails while `down`.
class SwitchableKv final : public KvStore {
 public:
  std::atomic<bool> down{false};
  std::atomic<int> failures{0};
  std::atomic<int> reads{0};
  Result<KvValue> Get(const std::string& key) override {
    if (down) return Fail();
    ++reads;
    return inner.Get(key);
  }
  Result<int64_t> CompareAndSwap(const std::string& key, int64_t rev,
                                 const std::string& value) override {
    if (down) return Fail();
    return inner.CompareAndSwap(key, rev, value);
  }
  Status Watch(const std::string& key, int64_t after,
               const std::function<bool(const KvValue&)>& on_change, const std::atomic<bool>* stop,
               int64_t timeout_ns) override {
    for (int64_t waited = 0; waited < timeout_ns && !*stop; waited += 20'000'000) {
      if (down) return Fail();
      Status st = inner.Watch(key, after, on_change, stop, 20'000'000);
      if (!st.ok()) return st;
    }
    return Status::OK();
  }
  MemoryKv inner;

 private:
  Status Fail() {
    ++failures;
    return Status::Unavailable("connection refused");
  }
};

TEST(RingKvOutageTest, CachedRingStaysHealthyWhileTheStoreIsDown) {
  testing::FakeClock clock(kNow);
  SwitchableKv kv;
  Desc d = RandomRing(3, 1, 11);
  ASSERT_TRUE(kv.inner.CompareAndSwap(std::string(kDefaultRingKey), 0, d.Encode()).ok());
  RingOptions o;
  o.heartbeat_timeout_ns = 60 * kSecond;
  Ring ring(&kv, o, &clock);
  ASSERT_TRUE(ring.Start().ok());
  auto wait_for = [](const std::function<bool()>& cond) {
    for (int i = 0; i < 500 && !cond(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
  };

  kv.down = true;
  // The watch broke and a re-read failed after it: the ring knows the store is gone.
  ASSERT_TRUE(wait_for([&] { return kv.failures.load() >= 2; }));
  clock.Advance(120 * kSecond);  // no heartbeat for twice the timeout, as etcd is down
  EXPECT_TRUE(ring.Get(12345, Op::kWrite).ok());
  EXPECT_EQ(ring.HealthyActiveCount(), 3);

  const int reads = kv.reads.load();
  kv.down = false;
  ASSERT_TRUE(wait_for([&] { return kv.reads.load() > reads; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Back: instances get heartbeat_timeout to heartbeat again before they count as dead.
  EXPECT_TRUE(ring.Get(12345, Op::kWrite).ok());
  clock.Advance(61 * kSecond);
  EXPECT_FALSE(ring.Get(12345, Op::kWrite).ok());
  EXPECT_EQ(ring.HealthyActiveCount(), 0);
  ring.Stop();
}

}  // namespace
}  // namespace sluice::ring
