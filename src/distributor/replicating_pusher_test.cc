// The replicated write path end to end in one process: a real ring (MemoryKv + Ring) over real
// ingesters (temporary WALs), each reached through a small failure-injecting Pusher (delay, fail
// with a status, block until released) standing in for the network.

#include "distributor/replicating_pusher.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "ingester/ingester.h"
#include "ingester/test_util.h"
#include "metrics/metrics.h"
#include "ring/kv.h"
#include "ring/ring.h"
#include "storage/index/index_writer.h"
#include "storage/test_util.h"
#include "write/push_wire.h"

namespace sluice::distributor {
namespace {

using ::sluice::ingester::testing::kSecond;
using ::sluice::ingester::testing::kT0;
using ::sluice::ingester::testing::MakeStream;
using Steady = std::chrono::steady_clock;

int64_t MillisSince(Steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start).count();
}

// Polls `done` every 5 ms for at most `limit_ms`; returns its last answer.
template <typename Fn>
bool WaitFor(Fn done, int limit_ms = 5000) {
  const auto start = Steady::now();
  while (!done()) {
    if (MillisSince(start) > limit_ms) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The network between the distributor and one ingester, with faults on demand. Thread-safe.
class FaultyPusher final : public write::Pusher {
 public:
  explicit FaultyPusher(write::Pusher* inner) : inner_(inner) {}

  // The next `times` pushes (every one, when negative) answer `status` without reaching the
  // ingester.
  void FailWith(Status status, int times = -1) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    fail_ = std::move(status);
    fail_times_ = times;
  }
  // Every push waits this long before anything else.
  void Delay(int64_t ms) { delay_ms_ = ms; }
  // Pushes wait until Release(), or at most max_ms (a hung ingester that comes back).
  void Block(int64_t max_ms = 10'000) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    blocked_ = true;
    block_max_ms_ = max_ms;
  }
  void Release() EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      blocked_ = false;
    }
    released_.SignalAll();
  }

  int calls() const { return calls_.load(); }
  int finished() const { return finished_.load(); }

  Status Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) override {
    calls_.fetch_add(1);
    struct Done {
      std::atomic<int>* n;
      ~Done() { n->fetch_add(1); }
    } done{&finished_};
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
    Status fail;
    {
      MutexLock lock(&mu_);
      if (blocked_) {
        released_.WaitFor(&mu_, std::chrono::milliseconds(block_max_ms_),
                          [this]() REQUIRES(mu_) { return !blocked_; });
      }
      if (fail_times_ != 0) {
        fail = fail_;
        if (fail_times_ > 0) --fail_times_;
      }
    }
    if (!fail.ok()) return fail;
    return inner_->Push(tenant, streams);
  }

  // Records what was sent, then decodes it into Push (write::Pusher's default).
  Status PushEncoded(std::string_view tenant, std::span<const std::string_view> encoded) override {
    {
      MutexLock lock(&mu_);
      sent_.emplace_back();
      for (std::string_view piece : encoded) {
        sent_.back().bytes.append(piece);
        sent_.back().pieces.push_back(piece.data());
      }
    }
    return write::Pusher::PushEncoded(tenant, encoded);
  }

  // What each PushEncoded call was handed: the request's bytes, and where its pieces were.
  struct Sent {
    std::string bytes;
    std::vector<const char*> pieces;
  };
  std::vector<Sent> sent() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return sent_;
  }

 private:
  write::Pusher* const inner_;
  std::atomic<int64_t> delay_ms_{0};
  std::atomic<int> calls_{0};
  std::atomic<int> finished_{0};
  mutable Mutex mu_;
  CondVar released_;
  std::vector<Sent> sent_ GUARDED_BY(mu_);
  Status fail_ GUARDED_BY(mu_);
  int fail_times_ GUARDED_BY(mu_) = 0;
  bool blocked_ GUARDED_BY(mu_) = false;
  int64_t block_max_ms_ GUARDED_BY(mu_) = 0;
};

// One ingester of the cluster: its own WAL directory and object store.
struct Node {
  explicit Node(config::Overrides* overrides, storage::ManualClock* clock) {
    store = storage::NewMemoryStore();
    index_writer = std::make_unique<storage::index::IndexWriter>(store.get(), "test", clock);
    ingester =
        std::make_unique<ingester::Ingester>(ingester::testing::QueryTestConfig(dir.path()),
                                             overrides, store.get(), index_writer.get(), clock);
    EXPECT_TRUE(ingester->Start().ok());
    net = std::make_shared<FaultyPusher>(ingester.get());
  }
  ~Node() { EXPECT_TRUE(ingester->Shutdown(false).ok()); }

  // Every stream the ingester holds for `tenant`, with its lines in time order.
  std::map<std::string, std::vector<std::string>> Streams(const std::string& tenant = "t") {
    read::SelectRequest req;
    req.tenants = {tenant};
    req.matchers = {
        *model::LabelMatcher::Make(model::LabelMatcher::Type::kRegexMatch, "app", ".+")};
    req.from_ns = 0;
    req.through_ns = INT64_MAX;
    req.direction = model::Direction::kForward;
    req.raw = true;
    std::map<std::string, std::vector<std::string>> out;
    auto its = ingester->SelectStreams(req, tenant);
    EXPECT_TRUE(its.ok()) << its.status().ToString();
    if (!its.ok()) return out;
    for (auto& it : *its) {
      while (it->Next()) out[it->Labels().ToString()].push_back(it->At().line);
    }
    return out;
  }

  storage::TempDir dir;
  storage::ObjectStorePtr store;
  std::unique_ptr<storage::index::IndexWriter> index_writer;
  std::unique_ptr<ingester::Ingester> ingester;
  std::shared_ptr<FaultyPusher> net;
};

ring::InstanceDesc Instance(int i, std::vector<uint32_t> tokens) {
  ring::InstanceDesc d;
  d.id = "ingester-" + std::to_string(i);
  d.addr = "10.0.0." + std::to_string(i) + ":9095";
  d.state = ring::InstanceState::kActive;
  d.timestamp = kT0 / kSecond;
  d.tokens = std::move(tokens);
  return d;
}

class ReplicatingPusherTest : public ::testing::Test {
 protected:
  ReplicatingPusherTest() : clock_(kT0), overrides_(config::Limits{}, "", kSecond) {}
  ~ReplicatingPusherTest() override {
    for (auto& n : nodes_) n->net->Release();
    pusher_.reset();  // its background sends use the nodes
  }

  // `n` ingesters with 64 random tokens each in a ring of replication factor `rf`, and the
  // pusher over them.
  void Start(int n, int rf, ReplicationOptions options = {}) {
    std::mt19937 rng(7);
    ring::Desc desc;
    for (int i = 0; i < n; ++i) {
      nodes_.push_back(std::make_unique<Node>(&overrides_, &clock_));
      std::vector<uint32_t> tokens(64);
      for (auto& t : tokens) t = static_cast<uint32_t>(rng());
      std::sort(tokens.begin(), tokens.end());
      auto inst = Instance(i, std::move(tokens));
      desc.instances[inst.id] = std::move(inst);
    }
    ring::RingOptions ro;
    ro.replication_factor = rf;
    ro.heartbeat_timeout_ns = 0;  // the heartbeats are not what these tests are about
    ring_ = std::make_unique<ring::Ring>(&kv_, ro, SystemClock::Default());
    ring_->Set(std::move(desc), 1);
    pusher_ = std::make_unique<ReplicatingPusher>(
        ring_.get(),
        [this](const ring::InstanceDesc& d) -> std::shared_ptr<write::Pusher> {
          return nodes_[std::stoi(d.id.substr(d.id.find('-') + 1))]->net;
        },
        options, SystemClock::Default());
  }

  Status Push(std::vector<write::ValidatedStream> streams, const std::string& tenant = "t") {
    return pusher_->Push(tenant, streams);
  }

  // The ring's replicas of a stream, by node index.
  std::set<int> Replicas(const std::string& labels, const std::string& tenant = "t") {
    auto set = ring_->Get(ring::TokenFor(tenant, labels), ring::Op::kWrite);
    EXPECT_TRUE(set.ok());
    std::set<int> out;
    for (const auto& i : set->instances) out.insert(std::stoi(i.id.substr(i.id.find('-') + 1)));
    return out;
  }

  // A counter of this test's pusher, registered on the process's registry (only metrics.cc can
  // make a Registry): the last family of that name is the newest pusher's.
  static double Counter(const std::string& name, int node) {
    const std::string text = metrics::DefaultRegistry().Expose();
    const std::string key = name + "{ingester=\"10.0.0." + std::to_string(node) + ":9095\"} ";
    auto at = text.rfind(key);
    if (at == std::string::npos) return 0;
    return std::stod(text.substr(at + key.size()));
  }

  storage::ManualClock clock_;
  config::Overrides overrides_;
  ring::MemoryKv kv_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<ring::Ring> ring_;
  std::unique_ptr<ReplicatingPusher> pusher_;
};

const std::map<std::string, std::vector<std::string>> kAbc = {
    {R"({app="a"})", {"a1", "a2"}}, {R"({app="b"})", {"b1"}}, {R"({app="c"})", {"c1", "c2", "c3"}}};

std::vector<write::ValidatedStream> AbcStreams() {
  return {MakeStream(R"({app="a"})", {{kT0, "a1"}, {kT0 + 1, "a2"}}),
          MakeStream(R"({app="b"})", {{kT0, "b1"}}),
          MakeStream(R"({app="c"})", {{kT0, "c1"}, {kT0 + 1, "c2"}, {kT0 + 2, "c3"}})};
}

TEST_F(ReplicatingPusherTest, EveryReplicaGetsEveryStreamWhenAllAreUp) {
  Start(3, 3, {.registry = &metrics::DefaultRegistry()});
  auto streams = AbcStreams();
  ASSERT_TRUE(pusher_->Push("t", streams).ok());
  // Entries are left as given.
  EXPECT_EQ(streams[2].entries.size(), 3u);
  // Push may return before the third replica answered; it answers soon after.
  for (auto& n : nodes_) {
    EXPECT_TRUE(WaitFor([&] { return n->net->finished() == 1; }));
    EXPECT_EQ(n->Streams(), kAbc);
    EXPECT_EQ(n->net->calls(), 1);  // one request per ingester, all three streams in it
  }
  EXPECT_EQ(Counter("loki_distributor_ingester_appends_total", 0), 1);
  EXPECT_EQ(Counter("loki_distributor_ingester_append_failures_total", 0), 0);
}

TEST_F(ReplicatingPusherTest, StreamsAreEncodedOnceAndTheSameBytesSentToEveryReplica) {
  Start(3, 3);
  auto streams = AbcStreams();
  streams.insert(streams.begin() + 1, MakeStream(R"({app="empty"})", {}));  // not sent
  ASSERT_TRUE(pusher_->Push("t", streams).ok());
  streams.erase(streams.begin() + 1);
  const std::string want = write::EncodePushRequest(streams);
  const char* buffer = nullptr;
  for (auto& n : nodes_) {
    ASSERT_TRUE(WaitFor([&] { return n->net->finished() == 1; }));
    auto sent = n->net->sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].bytes, want);
    // Every replica's request is in the one encoding of the call: the same first piece; the
    // empty stream between the first two splits the request in two.
    ASSERT_EQ(sent[0].pieces.size(), 2u);
    if (buffer == nullptr) buffer = sent[0].pieces[0];
    EXPECT_EQ(sent[0].pieces[0], buffer);
    EXPECT_EQ(n->Streams(), kAbc);
  }
}

TEST_F(ReplicatingPusherTest, ReplicasOfDifferentStreamsGetTheirStreamsOnly) {
  Start(5, 1);
  std::vector<write::ValidatedStream> streams;
  for (int i = 0; i < 20; ++i) {
    streams.push_back(
        MakeStream("{app=\"s" + std::to_string(i) + "\"}", {{kT0, "line-" + std::to_string(i)}}));
  }
  ASSERT_TRUE(pusher_->Push("t", streams).ok());
  std::map<std::string, std::vector<std::string>> all;
  for (int k = 0; k < static_cast<int>(nodes_.size()); ++k) {
    for (const auto& [labels, lines] : nodes_[k]->Streams()) {
      EXPECT_EQ(Replicas(labels), std::set<int>{k}) << labels;
      all[labels] = lines;
    }
  }
  ASSERT_EQ(all.size(), 20u);
  EXPECT_EQ(all[R"({app="s7"})"], std::vector<std::string>{"line-7"});
}

TEST_F(ReplicatingPusherTest, OneFailingReplicaStillMakesQuorum) {
  Start(3, 3,
        {.max_retries = 1,
         .retry_backoff_ns = kNanosPerMilli,
         .registry = &metrics::DefaultRegistry()});
  nodes_[1]->net->FailWith(Status::Unavailable("ingester 1 is down"));
  ASSERT_TRUE(Push(AbcStreams()).ok());
  EXPECT_TRUE(WaitFor([&] { return nodes_[1]->net->finished() == 2; }));  // tried and retried
  EXPECT_EQ(nodes_[0]->Streams(), kAbc);
  EXPECT_EQ(nodes_[2]->Streams(), kAbc);
  EXPECT_TRUE(nodes_[1]->Streams().empty());
  EXPECT_EQ(Counter("loki_distributor_ingester_appends_total", 1), 2);
  EXPECT_EQ(Counter("loki_distributor_ingester_append_failures_total", 1), 2);
}

TEST_F(ReplicatingPusherTest, TwoFailingReplicasFailThePushNamingTheAcknowledgements) {
  Start(3, 3, {.max_retries = 0});
  // They answer after the healthy one, so its acknowledgement is in when the stream fails.
  for (int i : {0, 2}) {
    nodes_[i]->net->Delay(200);
    nodes_[i]->net->FailWith(Status::Unavailable("ingester " + std::to_string(i) + " is down"));
  }
  Status st = Push({MakeStream(R"({app="x"})", {{kT0, "x1"}})});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(HttpStatusFor(st.code()), 503);
  EXPECT_NE(st.message().find(R"(push to ingesters failed: 1 of 3 replicas acknowledged stream )"
                              R"({app="x"} (quorum 2); last error: ingester )"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(nodes_[1]->Streams().size(), 1u);  // the one that answered has it
}

TEST_F(ReplicatingPusherTest, HungReplicaAddsNoLatencyAndGetsItsOwnCopyOfTheData) {
  Start(3, 3);
  nodes_[2]->net->Block(2000);
  // The request's bytes, clobbered as soon as Push returns (as a request freed by the HTTP
  // server would be): the hung replica must still store the original lines.
  std::string buffer = "line-one line-two";
  std::vector<model::Label> metadata = {{"trace_id", "abc"}};
  write::ValidatedStream vs = MakeStream(R"({app="hung"})", {});
  vs.entries.push_back({kT0, std::string_view(buffer).substr(0, 8), metadata});
  vs.entries.push_back({kT0 + 1, std::string_view(buffer).substr(9), {}});
  std::vector<write::ValidatedStream> streams = {vs};
  const auto start = Steady::now();
  ASSERT_TRUE(pusher_->Push("t", streams).ok());
  EXPECT_LT(MillisSince(start), 1000);
  std::fill(buffer.begin(), buffer.end(), 'X');
  metadata[0].value = "XXX";
  streams.clear();
  EXPECT_EQ(nodes_[2]->net->finished(), 0);
  nodes_[2]->net->Release();
  ASSERT_TRUE(WaitFor([&] { return nodes_[2]->net->finished() == 1; }));
  using Lines = std::map<std::string, std::vector<std::string>>;
  EXPECT_EQ(nodes_[2]->Streams(), (Lines{{R"({app="hung"})", {"line-one", "line-two"}}}));
  // The metadata travelled as well.
  read::SelectRequest req;
  req.tenants = {"t"};
  req.matchers = {*model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "app", "hung")};
  req.from_ns = 0;
  req.through_ns = INT64_MAX;
  req.direction = model::Direction::kForward;
  req.raw = true;
  auto its = nodes_[2]->ingester->SelectStreams(req, "t");
  ASSERT_TRUE(its.ok());
  ASSERT_EQ(its->size(), 1u);
  ASSERT_TRUE((*its)[0]->Next());
  ASSERT_EQ((*its)[0]->At().metadata.size(), 1u);
  EXPECT_EQ((*its)[0]->At().metadata[0].value, "abc");
}

TEST_F(ReplicatingPusherTest, NoQuorumWithinTheTimeoutIsAnError) {
  Start(3, 3, {.push_timeout_ns = 300 * kNanosPerMilli});
  nodes_[0]->net->Block(5000);
  nodes_[1]->net->Block(5000);
  const auto start = Steady::now();
  Status st = Push({MakeStream(R"({app="x"})", {{kT0, "x1"}})});
  const int64_t took = MillisSince(start);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("timed out after 300ms: 1 of 3 replicas acknowledged"),
            std::string::npos)
      << st.message();
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 2000);
}

TEST_F(ReplicatingPusherTest, ClientErrorsPassThroughAndTheAcceptedEntriesAreStored) {
  Start(3, 3);
  ASSERT_TRUE(Push({MakeStream(R"({app="a"})", {{kT0, "first"}})}).ok());
  for (auto& n : nodes_) ASSERT_TRUE(WaitFor([&] { return n->net->finished() == 1; }));
  // Older than the ingesters' window (max_chunk_age / 2 = 1h) behind "first": refused by all.
  Status st =
      Push({MakeStream(R"({app="a"})", {{kT0 - 3 * 3600 * kSecond, "old"}, {kT0 + 1, "second"}}),
            MakeStream(R"({app="b"})", {{kT0, "b1"}})});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("entry too far behind"), std::string::npos) << st.message();
  // The replicas' identical refusals are reported once, as the single binary reports it.
  EXPECT_EQ(st.message().find("errors like"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("total ignored"), st.message().rfind("total ignored"));
  for (auto& n : nodes_) {
    ASSERT_TRUE(WaitFor([&] { return n->net->finished() == 2; }));
    using Lines = std::map<std::string, std::vector<std::string>>;
    EXPECT_EQ(n->Streams(),
              (Lines{{R"({app="a"})", {"first", "second"}}, {R"({app="b"})", {"b1"}}}));
    EXPECT_EQ(n->net->calls(), 2);  // a 4xx is an answer: not retried
  }
}

TEST_F(ReplicatingPusherTest, RateLimitedCountsTowardsQuorumAndIsReturned) {
  Start(3, 3);
  for (auto& n : nodes_) n->net->FailWith(Status::RateLimited("per-stream rate limit exceeded"));
  Status st = Push({MakeStream(R"({app="a"})", {{kT0, "x"}})});
  EXPECT_EQ(st.code(), StatusCode::kRateLimited);
  EXPECT_EQ(st.message(), "per-stream rate limit exceeded");
  EXPECT_EQ(HttpStatusFor(st.code()), 429);
}

TEST_F(ReplicatingPusherTest, TransientUnavailableIsRetried) {
  Start(1, 1,
        {.max_retries = 2,
         .retry_backoff_ns = 10 * kNanosPerMilli,
         .registry = &metrics::DefaultRegistry()});
  nodes_[0]->net->FailWith(Status::Unavailable("connection refused"), 2);
  ASSERT_TRUE(Push(AbcStreams()).ok());
  EXPECT_EQ(nodes_[0]->net->calls(), 3);
  EXPECT_EQ(nodes_[0]->Streams(), kAbc);
  EXPECT_EQ(Counter("loki_distributor_ingester_appends_total", 0), 3);
  EXPECT_EQ(Counter("loki_distributor_ingester_append_failures_total", 0), 2);
}

TEST_F(ReplicatingPusherTest, RetriesStopAfterMaxRetries) {
  Start(1, 1, {.max_retries = 2, .retry_backoff_ns = 10 * kNanosPerMilli});
  nodes_[0]->net->FailWith(Status::Unavailable("connection refused"));
  Status st = Push({MakeStream(R"({app="a"})", {{kT0, "x"}})});
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("0 of 1 replicas acknowledged stream {app=\"a\"} (quorum 1); "
                              "last error: connection refused"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(nodes_[0]->net->calls(), 3);
}

TEST_F(ReplicatingPusherTest, RetriesStayWithinTheBudget) {
  Start(1, 1,
        {.push_timeout_ns = 200 * kNanosPerMilli,
         .max_retries = 1000,
         .retry_backoff_ns = 20 * kNanosPerMilli});
  nodes_[0]->net->FailWith(Status::Unavailable("connection refused"));
  const auto start = Steady::now();
  Status st = Push({MakeStream(R"({app="a"})", {{kT0, "x"}})});
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_LT(MillisSince(start), 2000);
  EXPECT_LT(nodes_[0]->net->calls(), 100);
}

TEST_F(ReplicatingPusherTest, RingWithoutQuorumRefusesUpFront) {
  Start(3, 3);
  ring::Desc desc = ring_->Snapshot();
  desc.instances["ingester-0"].state = ring::InstanceState::kLeaving;
  desc.instances["ingester-1"].state = ring::InstanceState::kLeaving;
  ring_->Set(std::move(desc), 2);
  Status st = Push(AbcStreams());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("at least 2 live replicas required"), std::string::npos);
  for (auto& n : nodes_) EXPECT_EQ(n->net->calls(), 0);
}

TEST_F(ReplicatingPusherTest, StreamsSpreadOverTheRingByToken) {
  Start(4, 1);
  std::vector<write::ValidatedStream> streams;
  for (int i = 0; i < 40; ++i) {
    streams.push_back(MakeStream(R"({app="s)" + std::to_string(i) + R"("})",
                                 {{kT0, "line" + std::to_string(i)}}));
  }
  ASSERT_TRUE(Push(streams).ok());
  std::set<int> used;
  for (int i = 0; i < 40; ++i) {
    const std::string labels = R"({app="s)" + std::to_string(i) + R"("})";
    std::set<int> replicas = Replicas(labels);
    ASSERT_EQ(replicas.size(), 1u);
    for (int n = 0; n < 4; ++n) {
      EXPECT_EQ(nodes_[n]->Streams().count(labels), replicas.count(n)) << labels << " node " << n;
    }
    used.insert(*replicas.begin());
  }
  EXPECT_GE(used.size(), 3u);  // 40 streams over 4 ingesters' random tokens
  for (int n = 0; n < 4; ++n) EXPECT_LE(nodes_[n]->net->calls(), 1);
}

TEST_F(ReplicatingPusherTest, ConcurrentPushes) {
  Start(5, 3);
  nodes_[3]->net->Delay(2);
  constexpr int kThreads = 8, kPushes = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int p = 0; p < kPushes; ++p) {
        std::vector<write::ValidatedStream> streams;
        for (int s = 0; s < 3; ++s) {
          streams.push_back(MakeStream(fmt::format(R"({{app="t{}", s="{}"}})", t, s),
                                       {{kT0 + p, fmt::format("t{} s{} p{}", t, s, p)}}));
        }
        if (!pusher_->Push("t", streams).ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  // Let the last replicas finish, then every stream is on exactly its three replicas.
  int expected_calls = 0;
  for (auto& n : nodes_) expected_calls += n->net->calls();
  ASSERT_TRUE(WaitFor([&] {
    int finished = 0;
    for (auto& n : nodes_) finished += n->net->finished();
    return finished == expected_calls;
  }));
  std::vector<std::map<std::string, std::vector<std::string>>> held;
  for (auto& n : nodes_) held.push_back(n->Streams());
  for (int t = 0; t < kThreads; ++t) {
    for (int s = 0; s < 3; ++s) {
      const std::string labels = fmt::format(R"({{app="t{}", s="{}"}})", t, s);
      std::set<int> replicas = Replicas(labels);
      ASSERT_EQ(replicas.size(), 3u);
      for (int n = 0; n < 5; ++n) {
        auto it = held[n].find(labels);
        if (!replicas.count(n)) {
          EXPECT_EQ(it, held[n].end()) << labels << " node " << n;
          continue;
        }
        ASSERT_NE(it, held[n].end()) << labels << " node " << n;
        EXPECT_EQ(it->second.size(), static_cast<size_t>(kPushes));
      }
    }
  }
}

}  // namespace
}  // namespace sluice::distributor
