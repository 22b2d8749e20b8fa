// RingIngesters end to end: three real ingesters (temporary WALs), each behind a real gRPC server
// on 127.0.0.1, in a ring held in memory; the querier reads them through read::FanOut.

#include "rpc/ring_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "common/mutex.h"
#include "config/overrides.h"
#include "ingester/ingester.h"
#include "ingester/test_util.h"
#include "logql/syntax/parser.h"
#include "querier/querier.h"
#include "ring/kv.h"
#include "ring/ring.h"
#include "rpc/ingester_client.h"
#include "rpc/ingester_server.h"
#include "rpc/test_util.h"
#include "storage/index/index_writer.h"
#include "storage/test_util.h"

namespace sluice::rpc {
namespace {

using ::sluice::ingester::testing::kSecond;
using ::sluice::ingester::testing::kT0;
using ::sluice::ingester::testing::MakeStream;

using test::Address;
using test::Render;
using test::RenderRead;

// Random entries of three streams over 10 s (equal timestamps and repeated lines included), some
// with structured metadata. The same seed gives the same batch: what a distributor sends to
// every replica.
std::vector<write::ValidatedStream> RandomBatch(uint32_t seed, int per_stream) {
  static const char* kWords[] = {"error",      "ok",         "GET",    "POST",
                                 "status=200", "status=500", "timeout"};
  static const model::Label kMetadata[] = {{"trace_id", "0"}, {"trace_id", "1"}};
  std::mt19937 rng(seed);
  std::vector<write::ValidatedStream> batch;
  for (const char* labels : {R"({app="api"})", R"({app="web", env="prod"})", R"({app="db"})"}) {
    std::vector<std::pair<int64_t, std::string>> lines;
    for (int i = 0; i < per_stream; ++i) {
      int64_t ts = kT0 + static_cast<int64_t>(rng() % 40) * kSecond / 4;
      std::string line = std::string(kWords[rng() % 7]) + " " + kWords[rng() % 7] +
                         " n=" + std::to_string(rng() % 30);
      lines.emplace_back(ts, std::move(line));
    }
    write::ValidatedStream vs = MakeStream(labels, std::move(lines));
    for (size_t i = 0; i < vs.entries.size(); ++i) {
      if (i % 5 == 0) vs.entries[i].metadata = std::span<const model::Label>(&kMetadata[i % 2], 1);
    }
    batch.push_back(std::move(vs));
  }
  return batch;
}

// Blocks every read until released (or 10 s): a hung ingester.
class Gate {
 public:
  void Wait() {
    MutexLock lock(&mu_);
    cv_.WaitFor(&mu_, std::chrono::seconds(10), [&]() REQUIRES(mu_) { return open_; });
  }
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.SignalAll();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ GUARDED_BY(mu_) = false;
};

// A real ingester's reads, each started after `delay` or after a gate opens: a slow or hung
// ingester.
class SlowSource final : public read::StreamSource {
 public:
  SlowSource(read::StreamSource* inner, std::chrono::milliseconds delay, Gate* gate)
      : inner_(inner), delay_(delay), gate_(gate) {}
  read::SourceKind Kind() const override { return read::SourceKind::kIngester; }
  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& req,
                                                            std::string_view tenant) override {
    Wait();
    return inner_->SelectStreams(req, tenant);
  }
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& req,
                                                    std::string_view tenant) override {
    Wait();
    return inner_->StreamLabels(req, tenant);
  }

 private:
  void Wait() {
    if (gate_ != nullptr) gate_->Wait();
    std::this_thread::sleep_for(delay_);
  }
  read::StreamSource* inner_;
  std::chrono::milliseconds delay_;
  Gate* gate_;
};

// One ingester with its WAL in a temporary directory, served over gRPC.
struct Node {
  Node(config::Overrides* overrides, Clock* clock) {
    store = storage::NewMemoryStore();
    index_writer = std::make_unique<storage::index::IndexWriter>(store.get(), "test", clock);
    ing = std::make_unique<ingester::Ingester>(ingester::testing::QueryTestConfig(dir.path()),
                                               overrides, store.get(), index_writer.get(), clock);
    start_status = ing->Start();
  }
  ~Node() {
    if (server != nullptr) server->Shutdown(0);
    if (start_status.ok()) (void)ing->Shutdown(false);
  }
  // Serves `source` (the ingester itself unless given).
  void Serve(read::StreamSource* source = nullptr) {
    service = std::make_unique<IngesterService>(ing.get(), source != nullptr ? source : ing.get());
    auto started = GrpcServer::Start({}, {service.get()});
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server = std::move(started).value();
    address = Address(server->port());
  }
  void Stop() { server->Shutdown(0); }

  storage::TempDir dir;
  storage::ObjectStorePtr store;
  std::unique_ptr<storage::index::IndexWriter> index_writer;
  std::unique_ptr<ingester::Ingester> ing;
  Status start_status;
  std::unique_ptr<IngesterService> service;
  std::unique_ptr<GrpcServer> server;
  std::string address;
};

class RingIngestersTest : public ::testing::Test {
 protected:
  RingIngestersTest()
      : clock_(kT0 + 60 * kSecond),
        overrides_(config::Limits{}, "", kSecond),
        ring_(&kv_, {.replication_factor = 3}, &clock_) {
    client_config_.remote_timeout = 5 * kSecond;
    pool_ = std::make_unique<IngesterClientPool>(client_config_, &clock_);
    for (int i = 0; i < 3; ++i) {
      nodes_.push_back(std::make_unique<Node>(&overrides_, &clock_));
      EXPECT_TRUE(nodes_.back()->start_status.ok());
    }
  }

  // Serves every node and puts them in the ring, ACTIVE with a fresh heartbeat.
  void ServeAll() {
    for (auto& n : nodes_) {
      if (n->server == nullptr) n->Serve();
    }
    SetRing();
  }
  // `partitions[i]`: the Kafka partitions node i consumes (none when not given).
  void SetRing(const std::vector<std::vector<int32_t>>& partitions = {}) {
    ring::Desc desc;
    uint32_t token = 1;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      ring::InstanceDesc inst;
      if (i < partitions.size()) inst.partitions = partitions[i];
      inst.id = "ingester-" + std::to_string(i);
      inst.addr = nodes_[i]->address;
      inst.state = ring::InstanceState::kActive;
      inst.timestamp = clock_.NowNanos() / kSecond;
      inst.registered_timestamp = inst.timestamp;
      inst.tokens = {token, token + 1000};
      token += 100;
      desc.instances[inst.id] = inst;
    }
    ring_.Set(std::move(desc), ++revision_);
  }

  void PushToAll(uint32_t seed, int per_stream) {
    for (auto& n : nodes_) {
      std::vector<write::ValidatedStream> batch = RandomBatch(seed, per_stream);
      ASSERT_TRUE(n->ing->Push("t", batch).ok());
    }
  }

  read::SelectRequest Select(const std::string& query, int64_t from_ns, int64_t through_ns) {
    auto plan = logql::syntax::Parse(query);
    EXPECT_TRUE(plan.ok()) << query;
    std::shared_ptr<const logql::syntax::Expr> shared = std::move(plan).value();
    return read::MakeSelectRequest({"t"}, shared, *shared, from_ns, through_ns);
  }
  read::SelectRequest Select(const std::string& query) {
    return Select(query, kT0 - kSecond, kT0 + 20 * kSecond);
  }

  // The SelectStreams calls the servers received, once `want` arrived (or 5 s passed): a read
  // returns at a quorum, the last call may still be on its way.
  uint64_t WaitForSelectCalls(uint64_t want) const {
    uint64_t n = SelectCalls();
    for (int i = 0; i < 500 && n < want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      n = SelectCalls();
    }
    return n;
  }
  uint64_t SelectCalls() const {
    uint64_t n = 0;
    for (const auto& node : nodes_) {
      if (node->service != nullptr) n += node->service->counters().select_calls.load();
    }
    return n;
  }

  // The queries every comparison runs: logs and metrics, both directions, two limits.
  void ExpectSameAnswers(read::Querier* got_reader, read::Querier* want_reader) {
    querier::Querier got_querier(got_reader, &overrides_, &clock_);
    querier::Querier want_querier(want_reader, &overrides_, &clock_);
    const std::vector<const char*> queries = {
        R"({app=~".+"})",
        R"({app="api"} |= "error")",
        R"({env="prod"} | logfmt | status="500")",
        R"({app=~".+"} | trace_id="1")",
        R"(sum by (app) (count_over_time({app=~".+"}[2s])))",
        R"(rate({app="web"} |= "GET" [5s]))",
        R"(sum by (trace_id) (bytes_over_time({app=~".+"}[3s])))",
    };
    EXPECT_GT(test::ExpectSameAnswers(want_querier, got_querier, queries, kT0), 20u)
        << "the comparison is not vacuous";
  }

  storage::ManualClock clock_;
  config::Overrides overrides_;
  ring::MemoryKv kv_;
  ring::Ring ring_;
  int64_t revision_ = 0;
  config::Config::IngesterClient client_config_;
  std::unique_ptr<IngesterClientPool> pool_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(RingIngestersTest, ReplicasAnswerEachEntryOnceAndAsOneIngesterAlone) {
  ServeAll();
  PushToAll(7, 150);
  RingIngesters ring_ingesters(&ring_, pool_.get(), {}, &clock_);
  read::FanOut over_ring({&ring_ingesters});
  read::FanOut one_alone({nodes_[0]->ing.get()});
  ExpectSameAnswers(&over_ring, &one_alone);

  // Raw reads: every entry once; the merge dropped the two other replicas' copies. A read returns
  // at a quorum, so the third ingester's call may arrive after the next read began: count calls
  // cumulatively.
  // The reads above returned at a quorum too: let their last calls arrive first.
  uint64_t expected_calls = SelectCalls();
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const uint64_t now = SelectCalls();
    if (now == expected_calls) break;
    expected_calls = now;
  }
  for (auto order : {read::Order::kTime, read::Order::kStream}) {
    for (auto dir : {model::Direction::kForward, model::Direction::kBackward}) {
      read::SelectRequest req = Select(R"({app=~".+"})");
      req.raw = true;
      req.order = order;
      req.direction = dir;
      read::ReadStats ring_stats, one_stats;
      req.stats = &one_stats;
      auto want_it = one_alone.SelectLogs(req);
      req.stats = &ring_stats;
      auto got_it = over_ring.SelectLogs(req);
      ASSERT_TRUE(want_it.ok() && got_it.ok());

      const std::string want = RenderRead(want_it->get());
      const std::string got = RenderRead(got_it->get());
      EXPECT_EQ(got, want);
      const auto lines = static_cast<uint64_t>(std::count(want.begin(), want.end(), '\n'));
      EXPECT_GT(lines, 300u);
      want_it->reset();
      got_it->reset();
      expected_calls += 3;
      EXPECT_EQ(WaitForSelectCalls(expected_calls), expected_calls) << "one call per ingester";
      // The read took the answers in when a quorum (two) had answered: each entry came two or
      // three times (an ingester drops the duplicates within its own memory before sending),
      // and the merge dropped the replicas' copies.
      const uint64_t answers = ring_stats.duplicates / lines + 1;
      EXPECT_EQ(ring_stats.duplicates % lines, 0u);
      EXPECT_GE(answers, 2u);
      EXPECT_LE(answers, 3u);
      // The answering calls' block statistics, gathered.
      EXPECT_EQ(ring_stats.ingester.blocks.blocks, answers * one_stats.ingester.blocks.blocks);
      EXPECT_GT(one_stats.ingester.blocks.blocks, 0u);
    }
  }

  // Series, labels and chunk counts answer as one replica does.
  read::SelectRequest req = Select(R"({app=~"api|web"})");
  EXPECT_EQ(*over_ring.Series(req), *one_alone.Series(req));
  EXPECT_EQ(over_ring.Series(req)->size(), 2u);
  EXPECT_EQ(*over_ring.LabelNames(req), (std::vector<std::string>{"app", "env"}));
  EXPECT_EQ(*over_ring.LabelValues(req, "app"), (std::vector<std::string>{"api", "web"}));
  auto chunks = ring_ingesters.CountChunks(req, "t");
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(*chunks, *nodes_[0]->ing->CountChunks(req, "t"));
  EXPECT_GT(*chunks, 0u);
}

TEST_F(RingIngestersTest, ConcurrentReadsShareTheSource) {
  ServeAll();
  PushToAll(13, 60);
  RingIngesters ring_ingesters(&ring_, pool_.get(), {}, &clock_);
  read::FanOut over_ring({&ring_ingesters});
  read::FanOut one_alone({nodes_[0]->ing.get()});
  read::SelectRequest req = Select(R"({app=~".+"})");
  req.raw = true;
  const std::string want = RenderRead(one_alone.SelectLogs(req)->get());
  const std::vector<model::LabelSet> want_series = *one_alone.Series(req);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        read::ReadStats stats;
        read::SelectRequest mine = req;
        mine.stats = &stats;
        auto it = over_ring.SelectLogs(mine);
        if (!it.ok() || RenderRead(it->get()) != want) ++mismatches;
        auto series = over_ring.Series(req);
        if (!series.ok() || *series != want_series) ++mismatches;
      }
    });
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(RingIngestersTest, OneReplicaDownChangesNothingTwoDownFail) {
  ServeAll();
  PushToAll(9, 100);
  RingIngesters ring_ingesters(&ring_, pool_.get(), {}, &clock_);
  read::FanOut over_ring({&ring_ingesters});
  read::FanOut one_alone({nodes_[0]->ing.get()});
  read::SelectRequest req = Select(R"({app=~".+"})");
  const uint64_t want_chunks = *nodes_[0]->ing->CountChunks(req, "t");

  // Still in the ring (its heartbeat is fresh), not answering: skipped.
  nodes_[1]->Stop();
  ExpectSameAnswers(&over_ring, &one_alone);
  EXPECT_EQ(*over_ring.Series(req), *one_alone.Series(req));
  EXPECT_EQ(*over_ring.LabelValues(req, "app"), *one_alone.LabelValues(req, "app"));
  auto chunks = ring_ingesters.CountChunks(req, "t");
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  EXPECT_EQ(*chunks, want_chunks) << "two answers of three replicas: the sum halved";

  // Two of three: more than RF/2 missing.
  nodes_[2]->Stop();
  auto its = ring_ingesters.SelectStreams(req, "t");
  ASSERT_FALSE(its.ok());
  EXPECT_EQ(its.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(its.status().message().find("2 of 3 ingesters failed"), std::string::npos)
      << its.status().message();
  EXPECT_NE(its.status().message().find(nodes_[1]->address), std::string::npos)
      << "names the first failure: " << its.status().message();
  EXPECT_EQ(over_ring.SelectLogs(req).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(over_ring.Series(req).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(over_ring.LabelNames(req).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(over_ring.LabelValues(req, "app").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(over_ring.ChunkCount(req).status().code(), StatusCode::kUnavailable);
}

TEST_F(RingIngestersTest, OldRangesAskNoIngester) {
  ServeAll();
  PushToAll(3, 20);
  // now = kT0 + 60 s; ingesters hold data of the last 30 s only, as far as the querier knows.
  RingIngesters ring_ingesters(&ring_, pool_.get(), {.query_ingesters_within_ns = 30 * kSecond},
                               &clock_);
  read::FanOut over_ring({&ring_ingesters});
  // Ends exactly at now - 30 s: not after it, so not asked (Loki compares the query's end).
  read::SelectRequest old = Select(R"({app=~".+"})", kT0, kT0 + 30 * kSecond);
  EXPECT_FALSE(ring_ingesters.ShouldQuery(old));
  auto it = over_ring.SelectLogs(old);
  ASSERT_TRUE(it.ok());
  EXPECT_EQ(RenderRead(it->get()), "");
  EXPECT_EQ(SelectCalls(), 0u);

  // Unary reads make no call either: with every server stopped, a call would fail the read.
  // First, one nanosecond later the range is asked.
  read::SelectRequest recent = Select(R"({app=~".+"})", kT0, kT0 + 30 * kSecond + 1);
  EXPECT_TRUE(ring_ingesters.ShouldQuery(recent));
  it = over_ring.SelectLogs(recent);
  ASSERT_TRUE(it.ok());
  EXPECT_NE(RenderRead(it->get()), "");
  EXPECT_EQ(WaitForSelectCalls(3), 3u);
  for (auto& n : nodes_) n->Stop();
  EXPECT_FALSE(over_ring.Series(recent).ok());
  auto series = over_ring.Series(old);
  ASSERT_TRUE(series.ok()) << series.status().ToString();
  EXPECT_TRUE(series->empty());
  EXPECT_TRUE(over_ring.LabelNames(old)->empty());
  EXPECT_TRUE(over_ring.LabelValues(old, "app")->empty());
  EXPECT_EQ(*over_ring.ChunkCount(old), 0u);

  // 0: always ask.
  RingIngesters always(&ring_, pool_.get(), {.query_ingesters_within_ns = 0}, &clock_);
  EXPECT_TRUE(always.ShouldQuery(Select(R"({app="a"})", kT0 - 3600 * kSecond, kT0)));
}

TEST_F(RingIngestersTest, SeriesAndLabelsAreUnionsOfDifferentIngesters) {
  ServeAll();
  // Each stream on two of the three ingesters (a quorum write), none holding all of them: any
  // two hold every stream, no one does. {app="a"}'s replicas were cut differently.
  std::vector<std::vector<write::ValidatedStream>> batches(3);
  batches[0].push_back(MakeStream(R"({app="a"})", {{kT0, "a0"}, {kT0 + 2, "a1"}}));
  batches[1].push_back(MakeStream(R"({app="a"})", {{kT0, "a0"}}));
  batches[1].push_back(MakeStream(R"({app="a"})", {{kT0 + 2, "a1"}}));
  batches[1].push_back(MakeStream(R"({app="b", env="x"})", {{kT0 + 1, "b0"}}));
  batches[2].push_back(MakeStream(R"({app="b", env="x"})", {{kT0 + 1, "b0"}}));
  batches[0].push_back(MakeStream(R"({app="c", pod="p"})", {{kT0 + 4, "c0"}}));
  batches[2].push_back(MakeStream(R"({app="c", pod="p"})", {{kT0 + 4, "c0"}}));
  for (size_t i = 0; i < 3; ++i) ASSERT_TRUE(nodes_[i]->ing->Push("t", batches[i]).ok());
  RingIngesters ring_ingesters(&ring_, pool_.get(), {}, &clock_);
  read::FanOut over_ring({&ring_ingesters});
  read::SelectRequest req = Select(R"({app=~".+"})");

  auto sets = ring_ingesters.StreamLabels(req, "t");
  ASSERT_TRUE(sets.ok());
  std::vector<std::string> texts;
  for (const auto& ls : *sets) texts.push_back(ls.ToString());
  EXPECT_EQ(texts, (std::vector<std::string>{R"({app="a"})", R"({app="b", env="x"})",
                                             R"({app="c", pod="p"})"}));
  EXPECT_EQ(*ring_ingesters.TenantLabelNames(req, "t"),
            (std::vector<std::string>{"app", "env", "pod"}));
  EXPECT_EQ(*ring_ingesters.TenantLabelValues(req, "t", "app"),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*over_ring.Series(req), *sets);

  req.direction = model::Direction::kForward;
  auto it = over_ring.SelectLogs(req);
  ASSERT_TRUE(it.ok());
  auto line = [](const char* labels, int64_t ts, const char* text) {
    return std::string(labels) + " " + std::to_string(ts) + " " + text + "\n";
  };
  EXPECT_EQ(RenderRead(it->get()),
            line(R"({app="a"})", kT0, "a0") + line(R"({app="b", env="x"})", kT0 + 1, "b0") +
                line(R"({app="a"})", kT0 + 2, "a1") + line(R"({app="c", pod="p"})", kT0 + 4, "c0"));
}

TEST_F(RingIngestersTest, CallsRunInParallel) {
  // Two of the three answer after 500 ms each: one after the other would take a second.
  SlowSource slow1(nodes_[1]->ing.get(), std::chrono::milliseconds(500), nullptr);
  SlowSource slow2(nodes_[2]->ing.get(), std::chrono::milliseconds(500), nullptr);
  nodes_[1]->Serve(&slow1);
  nodes_[2]->Serve(&slow2);
  ServeAll();
  PushToAll(5, 30);
  RingIngesters ring_ingesters(&ring_, pool_.get(), {}, &clock_);
  read::FanOut over_ring({&ring_ingesters});
  read::FanOut one_alone({nodes_[0]->ing.get()});
  read::SelectRequest req = Select(R"({app=~".+"})");
  req.raw = true;

  auto started = std::chrono::steady_clock::now();
  auto it = over_ring.SelectLogs(req);
  ASSERT_TRUE(it.ok()) << it.status().ToString();
  const std::string got = RenderRead(it->get());
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, std::chrono::milliseconds(500));
  EXPECT_LT(took, std::chrono::milliseconds(950));
  EXPECT_EQ(got, RenderRead(one_alone.SelectLogs(req)->get()));

  started = std::chrono::steady_clock::now();
  auto series = over_ring.Series(req);
  took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(series->size(), 3u);
  EXPECT_LT(took, std::chrono::milliseconds(950));
  // The servers' handlers read slow1 and slow2: done with them before they go.
  nodes_[1]->Stop();
  nodes_[2]->Stop();
}

TEST_F(RingIngestersTest, AHungIngesterCostsNothingAndTwoCostTheDeadline) {
  Gate gate;
  SlowSource hung(nodes_[2]->ing.get(), std::chrono::milliseconds(0), &gate);
  nodes_[2]->Serve(&hung);
  client_config_.remote_timeout = 2 * kSecond;
  pool_ = std::make_unique<IngesterClientPool>(client_config_, &clock_);
  ServeAll();
  PushToAll(11, 30);
  RingIngesters ring_ingesters(&ring_, pool_.get(), {}, &clock_);
  read::FanOut over_ring({&ring_ingesters});
  read::FanOut one_alone({nodes_[0]->ing.get()});
  read::SelectRequest req = Select(R"({app=~".+"})");
  req.raw = true;
  // The query's own deadline bounds the streaming read; remote_timeout the unary ones.
  req.deadline = read::Deadline{&clock_, clock_.NowNanos() + 2 * kSecond, nullptr};

  // The two others are a quorum: the read does not wait for the hung one.
  auto started = std::chrono::steady_clock::now();
  auto it = over_ring.SelectLogs(req);
  ASSERT_TRUE(it.ok()) << it.status().ToString();
  const std::string got = RenderRead(it->get());
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::seconds(1));
  EXPECT_EQ(got, RenderRead(one_alone.SelectLogs(req)->get()))
      << "the two that answered hold every entry";
  started = std::chrono::steady_clock::now();
  auto series = over_ring.Series(req);
  took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(series.ok()) << series.status().ToString();
  EXPECT_EQ(series->size(), 3u);
  EXPECT_LT(took, std::chrono::seconds(1));

  // One down and one hung: no quorum until the hung call gives up at the query's deadline.
  nodes_[1]->Stop();
  req.deadline = read::Deadline{&clock_, clock_.NowNanos() + 600'000'000, nullptr};
  started = std::chrono::steady_clock::now();
  auto its = ring_ingesters.SelectStreams(req, "t");
  took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(its.ok());
  EXPECT_EQ(its.status().code(), StatusCode::kUnavailable) << its.status().ToString();
  EXPECT_NE(its.status().message().find("2 of 3 ingesters failed"), std::string::npos)
      << its.status().message();
  EXPECT_GE(took, std::chrono::milliseconds(590));
  EXPECT_LT(took, std::chrono::seconds(2));

  // The server's handlers wait on the gate and read `hung`: done with both before they go.
  gate.Open();
  nodes_[2]->Stop();
}

// Kafka reads: one owner per partition. Partition 1 has two owners, one of them hung: a read that
// asks the hung one first asks the other after partition_hedge_ns and answers then, completely;
// an owner that fails is replaced at once; a partition whose owners all failed fails the read.
TEST_F(RingIngestersTest, PartitionReadsHedgeAHungOwnerAndFailOverADeadOne) {
  Gate gate;
  SlowSource hung(nodes_[2]->ing.get(), std::chrono::milliseconds(0), &gate);
  nodes_[2]->Serve(&hung);
  for (auto& n : nodes_) {
    if (n->server == nullptr) n->Serve();
  }
  SetRing({{0}, {1}, {1}});
  std::vector<write::ValidatedStream> p0 = {MakeStream(R"({app="zero"})", {{kT0, "z0"}})};
  ASSERT_TRUE(nodes_[0]->ing->Push("t", p0).ok());
  for (size_t i : {1, 2}) {
    std::vector<write::ValidatedStream> p1 = {
        MakeStream(R"({app="one"})", {{kT0 + 1, "o0"}, {kT0 + 2, "o1"}})};
    ASSERT_TRUE(nodes_[i]->ing->Push("t", p1).ok());
  }
  RingIngesters ring_ingesters(&ring_, pool_.get(),
                               {.by_partition = true, .partition_hedge_ns = 200'000'000}, &clock_);
  read::FanOut over_ring({&ring_ingesters});
  read::SelectRequest req = Select(R"({app=~".+"})");
  req.raw = true;
  req.deadline = read::Deadline{&clock_, clock_.NowNanos() + 5 * kSecond, nullptr};
  const std::string want = R"({app="zero"} z0)";
  // The owners of partition 1 take turns at being asked first: the hung one is first in two of
  // four reads, each of which answers after the hedge, not at the 5 s deadline.
  for (int i = 0; i < 4; ++i) {
    auto started = std::chrono::steady_clock::now();
    auto it = over_ring.SelectLogs(req);
    ASSERT_TRUE(it.ok()) << it.status().ToString();
    const std::string got = RenderRead(it->get());
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
    EXPECT_NE(got.find("z0"), std::string::npos) << got;
    EXPECT_NE(got.find("o0"), std::string::npos) << got;
    EXPECT_NE(got.find("o1"), std::string::npos) << got;
  }
  EXPECT_GE(nodes_[2]->service->counters().select_calls.load(), 2u) << "the hung one was asked";
  auto labels = ring_ingesters.StreamLabels(req, "t");
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  EXPECT_EQ(labels->size(), 2u);

  // Partition 1's good owner dies: every read waits for the hung one (nothing else holds the
  // partition) until the deadline, then fails naming it.
  nodes_[1]->Stop();
  req.deadline = read::Deadline{&clock_, clock_.NowNanos() + 600'000'000, nullptr};
  auto its = ring_ingesters.SelectStreams(req, "t");
  ASSERT_FALSE(its.ok());
  // Partition 0's owner dies: the read fails at once (its only owner failed), without waiting.
  gate.Open();
  nodes_[0]->Stop();
  auto started = std::chrono::steady_clock::now();
  its = ring_ingesters.SelectStreams(req, "t");
  ASSERT_FALSE(its.ok());
  EXPECT_EQ(its.status().code(), StatusCode::kUnavailable) << its.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  nodes_[2]->Stop();
}

}  // namespace
}  // namespace sluice::rpc
