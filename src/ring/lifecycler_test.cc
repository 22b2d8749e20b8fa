#include "ring/lifecycler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "ring/ring.h"
#include "testing/fake_clock.h"

namespace sluice::ring {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1'700'000'000LL * kSecond;

class LifecyclerTest : public ::testing::Test {
 protected:
  LifecyclerTest() : clock_(kStart) {}

  LifecyclerOptions Options(std::string id, uint64_t seed = 1) {
    LifecyclerOptions o;
    o.id = std::move(id);
    o.addr = o.id + ":9095";
    o.heartbeat_period_ns = 5 * kSecond;
    o.join_after_ns = 10 * kSecond;
    o.min_ready_duration_ns = 15 * kSecond;
    o.seed = seed;
    return o;
  }
  Desc Stored() { return Desc::Decode(kv_.Get(std::string(kDefaultRingKey))->value).value(); }

  MemoryKv kv_;
  testing::FakeClock clock_;
};

TEST_F(LifecyclerTest, PendingJoiningActiveReadyLeavingGone) {
  Lifecycler l(&kv_, Options("ing-1"), &clock_);
  ASSERT_TRUE(l.Register().ok());
  EXPECT_EQ(Stored().instances.at("ing-1").state, InstanceState::kPending);
  EXPECT_TRUE(Stored().instances.at("ing-1").tokens.empty());

  clock_.Advance(9 * kSecond);
  ASSERT_TRUE(l.Tick().ok());
  EXPECT_EQ(l.state(), InstanceState::kPending);  // join_after not yet over
  clock_.Advance(1 * kSecond);
  ASSERT_TRUE(l.Tick().ok());
  EXPECT_EQ(l.state(), InstanceState::kJoining);
  auto entry = Stored().instances.at("ing-1");
  EXPECT_EQ(entry.state, InstanceState::kJoining);
  EXPECT_EQ(entry.tokens.size(), 128u);
  EXPECT_EQ(std::set<uint32_t>(entry.tokens.begin(), entry.tokens.end()).size(), 128u);

  // JOINING until the owner says the WAL replay is done.
  clock_.Advance(30 * kSecond);
  ASSERT_TRUE(l.Tick().ok());
  EXPECT_EQ(l.state(), InstanceState::kJoining);
  l.MarkReplayDone();
  ASSERT_TRUE(l.Tick().ok());
  EXPECT_EQ(Stored().instances.at("ing-1").state, InstanceState::kActive);
  EXPECT_FALSE(l.Ready());
  clock_.Advance(15 * kSecond);
  EXPECT_TRUE(l.Ready());

  ASSERT_TRUE(l.Leave().ok());
  EXPECT_EQ(Stored().instances.at("ing-1").state, InstanceState::kLeaving);
  EXPECT_FALSE(l.Ready());
  ASSERT_TRUE(l.Unregister().ok());
  EXPECT_EQ(Stored().instances.count("ing-1"), 0u);
}

// A Kafka consumer's partitions are in its entry while it is in the ring, and stay known to the
// ring after it left (reads then know the partition has no owner).
TEST_F(LifecyclerTest, KafkaPartitionsOutliveTheirOwner) {
  Lifecycler l(&kv_, Options("ing-1"), &clock_);
  l.SetPartitions({3, 1});
  ASSERT_TRUE(l.Register().ok());
  EXPECT_EQ(Stored().instances.at("ing-1").partitions, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(Stored().kafka_partitions, (std::vector<int32_t>{1, 3}));
  ASSERT_TRUE(l.Unregister().ok());
  EXPECT_EQ(Stored().instances.count("ing-1"), 0u);
  EXPECT_EQ(Stored().kafka_partitions, (std::vector<int32_t>{1, 3}));
}

TEST_F(LifecyclerTest, HeartbeatsEveryPeriodAndTheRingSeesThem) {
  auto o = Options("ing-1");
  o.join_after_ns = 0;
  Lifecycler l(&kv_, o, &clock_);
  ASSERT_TRUE(l.Register().ok());
  l.MarkReplayDone();
  ASSERT_TRUE(l.Tick().ok());  // JOINING
  ASSERT_TRUE(l.Tick().ok());  // ACTIVE
  RingOptions ro;
  ro.replication_factor = 1;
  Ring ring(&kv_, ro, &clock_);
  int64_t beats = l.heartbeats();
  clock_.Advance(4 * kSecond);
  ASSERT_TRUE(l.Tick().ok());
  EXPECT_EQ(l.heartbeats(), beats);  // not due yet
  clock_.Advance(1 * kSecond);
  ASSERT_TRUE(l.Tick().ok());
  EXPECT_EQ(l.heartbeats(), beats + 1);
  EXPECT_EQ(Stored().instances.at("ing-1").timestamp, (kStart + 5 * kSecond) / kSecond);

  // Without heartbeats for longer than the timeout the ring stops routing to it...
  clock_.Advance(61 * kSecond);
  ASSERT_TRUE(ring.Refresh().ok());
  EXPECT_FALSE(ring.Get(42, Op::kWrite).ok());
  // ...and the next heartbeat brings it back.
  ASSERT_TRUE(l.Tick().ok());
  ASSERT_TRUE(ring.Refresh().ok());
  auto set = ring.Get(42, Op::kWrite);
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->instances[0].id, "ing-1");
}

TEST_F(LifecyclerTest, NewTokensAvoidThoseInTheRing) {
  auto o1 = Options("ing-1", 42);
  o1.join_after_ns = 0;
  o1.num_tokens = 512;
  Lifecycler a(&kv_, o1, &clock_);
  ASSERT_TRUE(a.Register().ok());
  ASSERT_TRUE(a.Tick().ok());
  // Same seed: the generator proposes exactly a's tokens first, and must skip every one.
  auto o2 = o1;
  o2.id = "ing-2";
  Lifecycler b(&kv_, o2, &clock_);
  ASSERT_TRUE(b.Register().ok());
  ASSERT_TRUE(b.Tick().ok());
  auto ta = a.tokens(), tb = b.tokens();
  ASSERT_EQ(tb.size(), 512u);
  std::vector<uint32_t> common;
  std::set_intersection(ta.begin(), ta.end(), tb.begin(), tb.end(), std::back_inserter(common));
  EXPECT_TRUE(common.empty());
  EXPECT_EQ(Stored().instances.size(), 2u);
}

TEST_F(LifecyclerTest, ARestartedInstanceRejoinsWithItsTokens) {
  auto o = Options("ing-1");
  o.join_after_ns = 0;
  std::vector<uint32_t> tokens;
  int64_t registered = 0;
  {
    Lifecycler l(&kv_, o, &clock_);
    ASSERT_TRUE(l.Register().ok());
    ASSERT_TRUE(l.Tick().ok());
    tokens = l.tokens();
    registered = Stored().instances.at("ing-1").registered_timestamp;
    // kill -9: no Leave, no Unregister; the entry stays with its tokens.
  }
  clock_.Advance(120 * kSecond);
  o.seed = 777;  // a different generator: equal tokens can only come from the ring
  Lifecycler again(&kv_, o, &clock_);
  ASSERT_TRUE(again.Register().ok());
  EXPECT_EQ(again.tokens(), tokens);
  EXPECT_EQ(Stored().instances.at("ing-1").state, InstanceState::kPending);
  ASSERT_TRUE(again.Tick().ok());
  EXPECT_EQ(Stored().instances.at("ing-1").tokens, tokens);
  EXPECT_EQ(Stored().instances.at("ing-1").registered_timestamp, registered);
}

TEST_F(LifecyclerTest, TokensFileKeepsTokensAcrossAFullLeave) {
  auto dir =
      std::filesystem::temp_directory_path() / ("sluice-tokens-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto o = Options("ing-1");
  o.join_after_ns = 0;
  o.tokens_file_path = (dir / "tokens").string();
  std::vector<uint32_t> tokens;
  {
    Lifecycler l(&kv_, o, &clock_);
    ASSERT_TRUE(l.Register().ok());
    ASSERT_TRUE(l.Tick().ok());
    tokens = l.tokens();
    ASSERT_TRUE(l.Leave().ok());
    ASSERT_TRUE(l.Unregister().ok());
  }
  std::ifstream in(o.tokens_file_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(text.starts_with("{\"tokens\":[")) << text;
  o.seed = 99;
  Lifecycler again(&kv_, o, &clock_);
  ASSERT_TRUE(again.Register().ok());
  ASSERT_TRUE(again.Tick().ok());
  EXPECT_EQ(again.tokens(), tokens);
  std::filesystem::remove_all(dir);
}

TEST_F(LifecyclerTest, FinalSleepAfterUnregister) {
  auto o = Options("ing-1");
  o.final_sleep_ns = 30 * kSecond;
  int64_t slept = 0;
  bool gone_when_sleeping = false;
  o.sleep = [&](int64_t ns) {
    slept = ns;
    gone_when_sleeping = Stored().instances.count("ing-1") == 0;
  };
  Lifecycler l(&kv_, o, &clock_);
  ASSERT_TRUE(l.Register().ok());
  ASSERT_TRUE(l.Unregister().ok());
  EXPECT_EQ(slept, 30 * kSecond);
  EXPECT_TRUE(gone_when_sleeping);
}

TEST_F(LifecyclerTest, ConcurrentHeartbeatsLoseNoEntry) {
  // Eight instances heartbeat at once through CAS: every entry survives every round.
  std::vector<std::unique_ptr<Lifecycler>> ls;
  for (int i = 0; i < 8; ++i) {
    auto o = Options("ing-" + std::to_string(i), i + 1);
    o.join_after_ns = 0;
    o.heartbeat_period_ns = 0;  // every Tick writes
    ls.push_back(std::make_unique<Lifecycler>(&kv_, o, &clock_));
    ASSERT_TRUE(ls.back()->Register().ok());
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (auto& l : ls) {
    threads.emplace_back([&l, &failures] {
      for (int r = 0; r < 50; ++r) failures += !l->Tick().ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Desc d = Stored();
  ASSERT_EQ(d.instances.size(), 8u);
  for (const auto& [id, inst] : d.instances) {
    EXPECT_EQ(inst.state, InstanceState::kJoining) << id;
    EXPECT_EQ(inst.tokens.size(), 128u) << id;
  }
}

}  // namespace
}  // namespace sluice::ring
