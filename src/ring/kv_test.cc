// One conformance suite for every KvStore backend: the in-memory store and a real etcd
// (testing/etcd_process.h starts /usr/bin/etcd). Each backend can be taken down and brought back
// (an outage), to check that a Ring keeps serving its cached descriptor meanwhile.

#include "ring/kv.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/clock.h"
#include "ring/encoding.h"
#include "ring/etcd_kv.h"
#include "ring/lifecycler.h"
#include "ring/ring.h"
#include "testing/etcd_process.h"

namespace sluice::ring {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

// The in-memory store with an off switch, standing in for an unreachable server.
class SwitchableKv final : public KvStore {
 public:
  Result<KvValue> Get(const std::string& key) override {
    if (down_) return Status::Unavailable("kv is down");
    return inner_.Get(key);
  }
  Result<int64_t> CompareAndSwap(const std::string& key, int64_t expected_revision,
                                 const std::string& value) override {
    if (down_) return Status::Unavailable("kv is down");
    return inner_.CompareAndSwap(key, expected_revision, value);
  }
  Status Watch(const std::string& key, int64_t after_revision,
               const std::function<bool(const KvValue&)>& on_change, const std::atomic<bool>* stop,
               int64_t timeout_ns) override {
    if (down_) return Status::Unavailable("kv is down");
    // Watch in short windows so that going down is noticed.
    Status st = inner_.Watch(key, after_revision, on_change, stop,
                             std::min<int64_t>(timeout_ns, 100'000'000));
    if (down_) return Status::Unavailable("kv is down");
    return st;
  }
  std::atomic<bool> down_{false};

 private:
  MemoryKv inner_;
};

struct Backend {
  virtual ~Backend() = default;
  virtual KvStore* kv() = 0;
  virtual void Down() = 0;
  virtual void Up() = 0;
};

struct MemoryBackend final : Backend {
  KvStore* kv() override { return &kv_; }
  void Down() override { kv_.down_ = true; }
  void Up() override { kv_.down_ = false; }
  SwitchableKv kv_;
};

struct EtcdBackend final : Backend {
  explicit EtcdBackend(std::unique_ptr<testing::EtcdProcess> p)
      : process(std::move(p)), kv_(testing::TestEtcdOptions({process->endpoint()})) {}
  KvStore* kv() override { return &kv_; }
  void Down() override { process->Kill(); }
  void Up() override { ASSERT_TRUE(process->Restart()); }
  std::unique_ptr<testing::EtcdProcess> process;
  EtcdKv kv_;
};

class KvConformance : public ::testing::TestWithParam<std::string> {
 protected:
  // Null (with the test skipped or failed) when etcd is wanted and missing.
  std::unique_ptr<Backend> Make() {
    if (GetParam() == "memory") return std::make_unique<MemoryBackend>();
    std::string skip;
    auto p = testing::EtcdProcess::StartOrSkip(&skip);
    if (!p) {
      skip_ = skip;
      return nullptr;
    }
    return std::make_unique<EtcdBackend>(std::move(p));
  }
  std::string skip_;
};

#define MAKE_BACKEND_OR_RETURN(b)              \
  auto b = Make();                             \
  if (!b) {                                    \
    if (!skip_.empty()) GTEST_SKIP() << skip_; \
    return;                                    \
  }

TEST_P(KvConformance, GetOfAMissingKeyIsEmptyAtRevisionZero) {
  MAKE_BACKEND_OR_RETURN(b);
  auto v = b->kv()->Get("collectors/ring");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->revision, 0);
  EXPECT_TRUE(v->value.empty());
}

TEST_P(KvConformance, CompareAndSwapCreatesUpdatesAndDetectsConflicts) {
  MAKE_BACKEND_OR_RETURN(b);
  KvStore* kv = b->kv();
  std::string binary("\x00\x01\xff value", 10);
  auto r1 = kv->CompareAndSwap("k", 0, binary);
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  auto v = kv->Get("k");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value, binary);
  EXPECT_EQ(v->revision, *r1);
  // Creating again (expecting absence) conflicts; so does a stale revision.
  auto again = kv->CompareAndSwap("k", 0, "x");
  EXPECT_TRUE(IsRevisionConflict(again.status())) << again.status().message();
  auto r2 = kv->CompareAndSwap("k", *r1, "second");
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_GT(*r2, *r1);
  auto stale = kv->CompareAndSwap("k", *r1, "third");
  EXPECT_TRUE(IsRevisionConflict(stale.status()));
  EXPECT_EQ(kv->Get("k")->value, "second");
  // Other keys are independent.
  EXPECT_EQ(kv->Get("other")->revision, 0);
}

TEST_P(KvConformance, UpdateDescMergesConcurrentWriters) {
  MAKE_BACKEND_OR_RETURN(b);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int r = 0; r < 5; ++r) {
        auto done = UpdateDesc(b->kv(), "ring", [&](Desc& d) {
          auto& e = d.instances["i" + std::to_string(i)];
          e.id = "i" + std::to_string(i);
          e.timestamp = r;
          return Status::OK();
        });
        failures += !done.ok();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto d = Desc::Decode(b->kv()->Get("ring")->value);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->instances.size(), 4u);
  for (const auto& [id, inst] : d->instances) EXPECT_EQ(inst.timestamp, 4) << id;
}

// A watcher needs the latest descriptor, not every step: a backend may coalesce writes (the
// in-memory one does), but never reorder them or miss the last.
TEST_P(KvConformance, WatchDeliversLaterValuesInOrderEndingWithTheLatest) {
  MAKE_BACKEND_OR_RETURN(b);
  KvStore* kv = b->kv();
  auto r1 = kv->CompareAndSwap("w", 0, "one");
  ASSERT_TRUE(r1.ok());
  auto watch_until_three = [&](int64_t after, std::vector<KvValue>* seen) {
    std::atomic<bool> stop{false};
    return kv->Watch(
        "w", after,
        [&](const KvValue& v) {
          seen->push_back(v);
          return v.value != "three";
        },
        &stop, 10 * kSecond);
  };
  std::vector<KvValue> seen;
  std::thread watcher([&] { EXPECT_TRUE(watch_until_three(*r1, &seen).ok()); });
  auto r2 = kv->CompareAndSwap("w", *r1, "two");
  ASSERT_TRUE(r2.ok());
  auto r3 = kv->CompareAndSwap("w", *r2, "three");
  ASSERT_TRUE(r3.ok());
  watcher.join();
  auto check = [&](const std::vector<KvValue>& got) {
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back().value, "three");
    EXPECT_EQ(got.back().revision, *r3);
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(got[i].value == "two" || got[i].value == "three") << got[i].value;
      if (i > 0) {
        EXPECT_GT(got[i].revision, got[i - 1].revision);
      }
    }
  };
  check(seen);
  // A watch from an old revision catches up on what it missed.
  seen.clear();
  ASSERT_TRUE(watch_until_three(*r1, &seen).ok());
  check(seen);
  // A watch with nothing new ends at its timeout, or at once when stopped.
  std::atomic<bool> stop{false};
  int calls = 0;
  auto on = [&](const KvValue&) { return ++calls < 100; };
  EXPECT_TRUE(kv->Watch("w", *r3, on, &stop, 300'000'000).ok());
  EXPECT_EQ(calls, 0);
  stop = true;
  EXPECT_TRUE(kv->Watch("w", *r3, on, &stop, 30 * kSecond).ok());
}

// Polls `cond` every 50 ms for at most `seconds`.
template <typename Cond>
bool WaitFor(Cond cond, int seconds) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

TEST_P(KvConformance, TheCachedRingServesDuringAnOutageAndHeartbeatsResumeAfter) {
  MAKE_BACKEND_OR_RETURN(b);
  LifecyclerOptions lo;
  lo.id = "ing-1";
  lo.addr = "127.0.0.1:9095";
  lo.heartbeat_period_ns = 200'000'000;
  lo.join_after_ns = 0;
  lo.min_ready_duration_ns = 0;
  lo.tick_interval_ns = 50'000'000;
  Lifecycler lifecycler(b->kv(), lo, SystemClock::Default());
  lifecycler.MarkReplayDone();
  ASSERT_TRUE(lifecycler.Start().ok());
  RingOptions ro;
  ro.replication_factor = 1;
  Ring ring(b->kv(), ro, SystemClock::Default());
  ASSERT_TRUE(ring.Start().ok());
  // The watcher sees the instance go ACTIVE.
  ASSERT_TRUE(WaitFor([&] { return ring.Get(1234, Op::kWrite).ok(); }, 10));
  ASSERT_TRUE(WaitFor([&] { return lifecycler.heartbeats() >= 3; }, 10));

  b->Down();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // heartbeats now fail
  const int64_t during = lifecycler.heartbeats();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_LE(lifecycler.heartbeats(), during + 1);  // at most one in flight when it went down
  // Pushes would keep flowing: the cached ring still answers.
  auto set = ring.Get(1234, Op::kWrite);
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->instances[0].id, "ing-1");
  int64_t revision_before = 0;
  ring.Snapshot(&revision_before);

  b->Up();
  // Heartbeats resume and the ring's watcher picks up the newer descriptor.
  const int64_t after_restart = lifecycler.heartbeats();
  EXPECT_TRUE(WaitFor([&] { return lifecycler.heartbeats() >= after_restart + 3; }, 20));
  EXPECT_TRUE(WaitFor(
      [&] {
        int64_t rev = 0;
        ring.Snapshot(&rev);
        return rev > revision_before;
      },
      20));
  ring.Stop();
  lifecycler.Stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, KvConformance, ::testing::Values("memory", "etcd"),
                         [](const auto& info) { return info.param; });

TEST(EtcdKvTest, FailsOverToTheNextEndpoint) {
  SLUICE_START_ETCD_OR_RETURN(etcd);
  // The first endpoint refuses connections (nothing listens on port 1).
  EtcdKv kv(testing::TestEtcdOptions({"127.0.0.1:1", etcd->endpoint()}));
  auto r = kv.CompareAndSwap("k", 0, "v");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(kv.Get("k")->value, "v");
}

TEST(EtcdKvTest, AllEndpointsDownIsUnavailable) {
  EtcdKv kv(testing::TestEtcdOptions({"127.0.0.1:1"}, 200'000'000));
  auto v = kv.Get("k");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(v.status().message().find("127.0.0.1:1"), std::string::npos) << v.status().message();
}

TEST(EtcdKvTest, Base64RoundTrip) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    std::string back;
    ASSERT_TRUE(Base64Decode(Base64Encode(s), &back));
    EXPECT_EQ(back, s);
  }
  EXPECT_EQ(Base64Encode("collectors/ring"), "Y29sbGVjdG9ycy9yaW5n");
  std::string out;
  EXPECT_FALSE(Base64Decode("!!", &out));
}

}  // namespace
}  // namespace sluice::ring

namespace sluice::ring {
namespace {

// POSTs JSON to etcd's gateway as an operator's etcdctl would; returns the HTTP status.
long PostJson(const std::string& url, const std::string& body, const std::string& token = "") {
  std::string cmd = "curl -s -o /dev/null -w '%{http_code}' -X POST -d '" + body + "' ";
  if (!token.empty()) cmd += "-H 'Authorization: " + token + "' ";
  cmd += url;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[16] = {};
  size_t n = fread(buf, 1, sizeof buf - 1, p);
  ::pclose(p);
  return n > 0 ? std::strtol(buf, nullptr, 10) : -1;
}

TEST(EtcdKvTest, AuthenticatesWithUsernameAndPassword) {
  SLUICE_START_ETCD_OR_RETURN(etcd);
  const std::string base = "http://" + etcd->endpoint() + "/v3/auth/";
  ASSERT_EQ(PostJson(base + "user/add", R"({"name":"root","password":"s3cret"})"), 200);
  ASSERT_EQ(PostJson(base + "role/add", R"({"name":"root"})"), 200);
  ASSERT_EQ(PostJson(base + "user/grant", R"({"user":"root","role":"root"})"), 200);
  ASSERT_EQ(PostJson(base + "enable", "{}"), 200);

  auto options = testing::TestEtcdOptions({etcd->endpoint()});
  EtcdKv anonymous(options);
  EXPECT_FALSE(anonymous.CompareAndSwap("k", 0, "v").ok());

  options.username = "root";
  options.password = "wrong";
  EtcdKv wrong(options);
  auto denied = wrong.Get("k");
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.status().message().find("authentication as root failed"), std::string::npos)
      << denied.status().message();

  options.password = "s3cret";
  EtcdKv kv(options);
  auto r = kv.CompareAndSwap("k", 0, "v");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(kv.Get("k")->value, "v");
  // The watch carries the token too.
  std::atomic<bool> stop{false};
  std::string seen;
  std::thread watcher([&] {
    EXPECT_TRUE(kv.Watch(
                      "k", *r,
                      [&](const KvValue& v) {
                        seen = v.value;
                        return false;
                      },
                      &stop, 10 * kSecond)
                    .ok());
  });
  ASSERT_TRUE(kv.CompareAndSwap("k", *r, "w").ok());
  watcher.join();
  EXPECT_EQ(seen, "w");
}

}  // namespace
}  // namespace sluice::ring
