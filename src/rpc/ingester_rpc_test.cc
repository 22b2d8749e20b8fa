// The ingester's gRPC service and client end to end: a real gRPC server on 127.0.0.1 (port 0)
// over a real ingester (temporary WAL), called through RemoteIngester.

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <random>
#include <thread>

#include "common/mutex.h"
#include "ingester/ingester.h"
#include "ingester/test_util.h"
#include "iter/merge.h"
#include "logql/syntax/parser.h"
#include "querier/querier.h"
#include "querier/store_source.h"
#include "rpc/convert.h"
#include "rpc/ingester_client.h"
#include "rpc/ingester_server.h"
#include "rpc/test_util.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_writer.h"
#include "storage/test_util.h"
#include "write/push_wire.h"

namespace sluice::rpc {
namespace {

using ::sluice::ingester::testing::KeepLine;
using ::sluice::ingester::testing::kSecond;
using ::sluice::ingester::testing::kT0;
using ::sluice::ingester::testing::MakeStream;

using test::Address;
using test::ExpectSameAnswers;
using test::Render;
using test::RenderRead;

class IngesterRpcTest : public ::testing::Test {
 protected:
  IngesterRpcTest() : clock_(kT0 + 60 * kSecond), overrides_(config::Limits{}, "", kSecond) {
    store_ = storage::NewMemoryStore();
    index_writer_ = std::make_unique<storage::index::IndexWriter>(store_.get(), "test", &clock_);
    index_reader_ = std::make_unique<storage::index::IndexReader>(store_.get(), 0, &clock_);
    config_ = ingester::testing::QueryTestConfig(dir_.path());
    ingester_ = std::make_unique<ingester::Ingester>(config_, &overrides_, store_.get(),
                                                     index_writer_.get(), &clock_);
    EXPECT_TRUE(ingester_->Start().ok());
    store_source_ = std::make_unique<querier::StoreSource>(store_.get(), index_reader_.get());
    client_config_.remote_timeout = 5 * kSecond;
  }
  ~IngesterRpcTest() override {
    remote_.reset();
    server_.reset();
    EXPECT_TRUE(ingester_->Shutdown(false).ok());
  }

  // Serves the ingester with messages of about `batch_bytes`; connects remote_ to it.
  void Serve(size_t batch_bytes = IngesterService::kDefaultSelectBatchBytes) {
    service_ = std::make_unique<IngesterService>(ingester_.get(), ingester_.get(), batch_bytes);
    auto server = GrpcServer::Start({}, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    remote_ = std::make_unique<RemoteIngester>(Address(server_->port()), client_config_, &clock_);
  }

  // Random entries over 40 timestamps per stream (repeats and equal timestamps included), some
  // with structured metadata, pushed through the client.
  void PushRandom(std::mt19937* rng, int n) {
    static const char* kWords[] = {"error",   "ERROR", "Error", "status=200", "status=500",
                                   "timeout", "ok",    "GET",   "/api/users", "cache miss"};
    static std::deque<std::vector<model::Label>> metadata;
    std::vector<write::ValidatedStream> batch;
    for (const char* labels : {R"({app="api"})", R"({app="web", env="prod"})", R"({app="db"})"}) {
      std::vector<std::pair<int64_t, std::string>> lines;
      for (int i = 0; i < n; ++i) {
        int64_t ts = kT0 + static_cast<int64_t>((*rng)() % 40) * kSecond / 4;
        std::string line;
        for (int w = 0; w < 4; ++w)
          line += std::string(kWords[(*rng)() % 10]) + ((*rng)() % 3 == 0 ? "" : " ");
        line += "trace=" + std::to_string((*rng)() % 50);
        if ((*rng)() % 4 == 0 && !earlier_.empty()) {
          std::tie(ts, line) = earlier_[(*rng)() % earlier_.size()];
        }
        earlier_.emplace_back(ts, line);
        lines.emplace_back(ts, std::move(line));
      }
      write::ValidatedStream vs = MakeStream(labels, std::move(lines));
      for (auto& e : vs.entries) {
        if (e.line.find("GET") != std::string_view::npos) {
          e.metadata = metadata.emplace_back(
              std::vector<model::Label>{{"trace_id", std::to_string(e.timestamp_ns % 7)}});
        }
      }
      batch.push_back(std::move(vs));
    }
    Status st = remote_->Push("t", batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Memory, flushed chunks that memory still holds, and chunks that overlap in time.
  void Fill() {
    std::mt19937 rng(11);
    PushRandom(&rng, 60);
    ASSERT_TRUE(ingester_->FlushAll().ok());
    PushRandom(&rng, 60);
    ASSERT_TRUE(ingester_->FlushAll().ok());
    PushRandom(&rng, 60);
  }

  read::SelectRequest Select(const std::string& query, model::Direction dir,
                             read::Order order = read::Order::kTime) {
    auto plan = logql::syntax::Parse(query);
    EXPECT_TRUE(plan.ok()) << query;
    std::shared_ptr<const logql::syntax::Expr> shared = std::move(plan).value();
    read::SelectRequest req =
        read::MakeSelectRequest({"t"}, shared, *shared, kT0 - kSecond, kT0 + 20 * kSecond);
    req.direction = dir;
    req.order = order;
    return req;
  }

  storage::TempDir dir_;
  storage::ManualClock clock_;
  config::Overrides overrides_;
  config::Config::Ingester config_;
  config::Config::IngesterClient client_config_;
  storage::ObjectStorePtr store_;
  std::unique_ptr<storage::index::IndexWriter> index_writer_;
  std::unique_ptr<storage::index::IndexReader> index_reader_;
  std::unique_ptr<ingester::Ingester> ingester_;
  std::unique_ptr<querier::StoreSource> store_source_;
  std::unique_ptr<IngesterService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<RemoteIngester> remote_;
  std::vector<std::pair<int64_t, std::string>> earlier_;
};

TEST_F(IngesterRpcTest, PushThroughTheClientArrivesAndReadsBack) {
  Serve();
  model::Label md{"trace_id", "abc"};
  std::vector<write::ValidatedStream> batch = {
      MakeStream(R"({app="a"})", {{kT0, "one"}, {kT0 + 1, "two"}}),
      MakeStream(R"({app="b", pod="p-1"})", {{kT0 + 2, "three"}}),
  };
  batch[0].entries[1].metadata = std::span<const model::Label>(&md, 1);
  ASSERT_TRUE(remote_->Push("t", batch).ok());
  std::vector<write::ValidatedStream> other = {MakeStream(R"({app="a"})", {{kT0, "tenant u"}})};
  ASSERT_TRUE(remote_->Push("u", other).ok());

  // In the ingester, under the pushing tenant only.
  read::SelectRequest req = Select(R"({app=~".+"})", model::Direction::kForward);
  auto local = ingester_->SelectLogs(req);
  ASSERT_TRUE(local.ok());
  const std::string want = "{app=\"a\"} " + std::to_string(kT0) + " one\n" + "{app=\"a\"} " +
                           std::to_string(kT0 + 1) + " two trace_id=abc\n" +
                           "{app=\"b\", pod=\"p-1\"} " + std::to_string(kT0 + 2) + " three\n";
  EXPECT_EQ(RenderRead(local->get()), want);
  // And back through the client.
  auto remote = remote_->SelectLogs(req);
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  EXPECT_EQ(RenderRead(remote->get()), want);
  req.tenants = {"u"};
  remote = remote_->SelectLogs(req);
  ASSERT_TRUE(remote.ok());
  EXPECT_EQ(RenderRead(remote->get()), "{app=\"a\"} " + std::to_string(kT0) + " tenant u\n");
  EXPECT_EQ(service_->counters().select_calls.load(), 2u);
}

TEST_F(IngesterRpcTest, ALokiClientsPushStoresWhatTheClientsPushStores) {
  // The generated stub sends a logproto::PushRequest built by protobuf (as Loki's distributor
  // would); RemoteIngester sends bytes it encoded itself. Both land alike.
  Serve();
  std::deque<std::vector<model::Label>> metadata;
  std::vector<write::ValidatedStream> batch = {
      MakeStream(R"({app="a"})", {{kT0, "one"}, {kT0 + 1, ""}, {kT0 + 5, "later"}}),
      MakeStream(R"({app="b", pod="p-1"})", {{kT0 + 2, std::string(20'000, 'z')}}),
  };
  batch[0].entries[0].metadata = metadata.emplace_back(std::vector<model::Label>{{"k", "v"}});
  logproto::PushRequest proto;
  write::ToProto(batch, &proto);
  auto stub = pb::Ingester::NewStub(
      grpc::CreateChannel(Address(server_->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata(kTenantMetadata, "loki");
  pb::PushResponse resp;
  grpc::Status gs = stub->Push(&ctx, proto, &resp);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  ASSERT_TRUE(remote_->Push("sluice", batch).ok());
  // Pre-encoded, one piece per stream, as the replicating distributor sends them.
  std::vector<std::string> encoded;
  for (const auto& s : batch) {
    encoded.push_back(write::EncodePushRequest(std::span<const write::ValidatedStream>(&s, 1)));
  }
  const std::vector<std::string_view> pieces(encoded.begin(), encoded.end());
  ASSERT_TRUE(remote_->PushEncoded("encoded", pieces).ok());

  read::SelectRequest req = Select(R"({app=~".+"})", model::Direction::kForward);
  req.tenants = {"loki"};
  auto from_loki = ingester_->SelectLogs(req);
  req.tenants = {"sluice"};
  auto from_sluice = ingester_->SelectLogs(req);
  req.tenants = {"encoded"};
  auto from_encoded = ingester_->SelectLogs(req);
  ASSERT_TRUE(from_loki.ok() && from_sluice.ok() && from_encoded.ok());
  const std::string got = RenderRead(from_loki->get());
  EXPECT_EQ(got, RenderRead(from_sluice->get()));
  EXPECT_EQ(got, RenderRead(from_encoded->get()));
  EXPECT_NE(got.find(" one k=v\n"), std::string::npos) << got;
  EXPECT_NE(got.find(" later\n"), std::string::npos) << got;
}

TEST_F(IngesterRpcTest, RemoteReadsAnswerExactlyAsLocalReads) {
  Serve(2048);  // small messages: every answer spans several
  Fill();
  read::FanOut local({ingester_.get(), store_source_.get()});
  read::FanOut remote({remote_.get(), store_source_.get()});
  querier::Querier local_querier(&local, &overrides_, &clock_);
  querier::Querier remote_querier(&remote, &overrides_, &clock_);
  const std::vector<const char*> queries = {
      R"({app=~".+"})",
      R"({app="api"} |= "error")",
      R"({app=~".+"} |= "rror st" != "timeout")",
      R"({env="prod"} | logfmt | status="500")",
      R"({app=~".+"} | trace_id="3")",
      R"({app=~".+"} | line_format "{{.app}} {{__line__}}")",
      R"(sum by (app) (count_over_time({app=~".+"}[2s])))",
      R"(rate({app="web"} |= "GET" [5s]))",
      R"(sum by (trace_id) (bytes_over_time({app=~".+"}[3s])))",
      R"(count_over_time({app=~".+"} |= "no such text" [2s]))",
  };
  EXPECT_GT(ExpectSameAnswers(local_querier, remote_querier, queries, kT0), 30u)
      << "the comparison is not vacuous";

  // Raw reads in both orders, duplicates between memory and the store dropped the same way.
  for (auto order : {read::Order::kTime, read::Order::kStream}) {
    for (auto dir : {model::Direction::kForward, model::Direction::kBackward}) {
      read::SelectRequest req = Select(R"({app=~".+"})", dir, order);
      req.raw = true;
      read::ReadStats local_stats, remote_stats;
      req.stats = &local_stats;
      auto a = local.SelectLogs(req);
      req.stats = &remote_stats;
      auto b = remote.SelectLogs(req);
      ASSERT_TRUE(a.ok() && b.ok());
      std::string want = RenderRead(a->get());
      EXPECT_EQ(RenderRead(b->get()), want);
      EXPECT_GT(std::count(want.begin(), want.end(), '\n'), 300);
      a->reset();
      b->reset();
      // The ingester merges a stream's blocks before sending it, so the duplicates within its
      // memory are dropped there; those between memory and the store, here.
      EXPECT_LE(remote_stats.duplicates, local_stats.duplicates);
      EXPECT_GT(remote_stats.duplicates, 0u);
      EXPECT_EQ(remote_stats.blocks.blocks, local_stats.blocks.blocks)
          << "the ingester's block statistics travel back";
    }
  }

  read::SelectRequest req = Select(R"({app=~"api|web"})", model::Direction::kForward);
  auto series_local = local.Series(req);
  auto series_remote = remote.Series(req);
  ASSERT_TRUE(series_local.ok() && series_remote.ok());
  EXPECT_EQ(*series_remote, *series_local);
  EXPECT_EQ(series_remote->size(), 2u);
  auto names = remote.LabelNames(req);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, *local.LabelNames(req));
  EXPECT_EQ(*names, (std::vector<std::string>{"app", "env"}));
  auto values = remote.LabelValues(req, "app");
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"api", "web"}));
  auto chunks_remote = remote_->CountChunks(req, "t");
  auto chunks_local = ingester_->CountChunks(req, "t");
  ASSERT_TRUE(chunks_remote.ok() && chunks_local.ok());
  EXPECT_EQ(*chunks_remote, *chunks_local);
  EXPECT_GT(*chunks_remote, 0u);
}

TEST_F(IngesterRpcTest, LargeResultsArriveInBoundedMessages) {
  constexpr size_t kBatch = 4096;
  Serve(kBatch);
  std::vector<write::ValidatedStream> batch;
  for (int s = 0; s < 5; ++s) {
    std::vector<std::pair<int64_t, std::string>> lines;
    for (int i = 0; i < 400; ++i) lines.emplace_back(kT0 + i, std::string(100, 'a' + s));
    batch.push_back(MakeStream("{s=\"" + std::to_string(s) + "\"}", std::move(lines)));
  }
  ASSERT_TRUE(remote_->Push("t", batch).ok());

  // The wire, read with the generated stub.
  auto channel = grpc::CreateChannel(Address(server_->port()), grpc::InsecureChannelCredentials());
  auto stub = pb::Ingester::NewStub(channel);
  read::SelectRequest req = Select(R"({s=~".+"})", model::Direction::kForward);
  pb::ReadRequest request;
  ToProto(req, &request);
  grpc::ClientContext ctx;
  ctx.AddMetadata(kTenantMetadata, "t");
  auto reader = stub->SelectStreams(&ctx, request);
  pb::SelectStreamsResponse msg;
  size_t messages = 0, entries = 0, largest = 0, streams = 0, ended = 0;
  bool heads_done = false;
  int64_t last_ts = 0;
  while (reader->Read(&msg)) {
    ++messages;
    largest = std::max(largest, msg.ByteSizeLong());
    entries += msg.entries_size();
    streams += msg.streams_size();
    ended += msg.ended_size();
    if (heads_done) {
      for (const auto& e : msg.entries()) {
        EXPECT_GE(e.timestamp_ns(), last_ts) << "after the heads, entries come in time order";
        last_ts = e.timestamp_ns();
      }
    }
    heads_done = heads_done || msg.heads_done();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(entries, 2000u);
  EXPECT_EQ(streams, 5u);
  EXPECT_EQ(ended, 5u);
  EXPECT_TRUE(heads_done);
  EXPECT_GT(messages, 2000u * 100 / kBatch);
  EXPECT_LE(largest, kBatch + 200) << "a message holds about the batch size, one entry more";

  // The client reads them all, entry for entry.
  auto it = remote_->SelectLogs(req);
  ASSERT_TRUE(it.ok());
  auto collected = iter::Collect(it->get());
  ASSERT_TRUE(collected.ok());
  EXPECT_EQ(collected->size(), 2000u);
}

TEST_F(IngesterRpcTest, TheClientHoldsLittleMoreThanOneEntryPerStream) {
  constexpr size_t kBatch = 4096;
  Serve(kBatch);
  constexpr int kStreams = 20, kPerStream = 500;
  std::vector<write::ValidatedStream> batch;
  for (int s = 0; s < kStreams; ++s) {
    std::vector<std::pair<int64_t, std::string>> lines;
    // Interleaved in time, and uneven: stream s writes every (s % 3 + 1) ns.
    for (int i = 0; i < kPerStream; ++i) {
      lines.emplace_back(kT0 + static_cast<int64_t>(i) * (s % 3 + 1), std::string(80, 'a'));
    }
    batch.push_back(MakeStream("{s=\"" + std::to_string(s) + "\"}", std::move(lines)));
  }
  ASSERT_TRUE(ingester_->Push("t", batch).ok());
  read::FanOut remote({remote_.get()});
  for (auto order : {read::Order::kTime, read::Order::kStream}) {
    for (auto dir : {model::Direction::kForward, model::Direction::kBackward}) {
      read::SelectRequest req = Select(R"({s=~".+"})", dir, order);
      req.raw = true;
      auto it = remote.SelectLogs(req);
      ASSERT_TRUE(it.ok());
      auto all = iter::Collect(it->get());
      ASSERT_TRUE(all.ok());
      EXPECT_EQ(all->size(), static_cast<size_t>(kStreams * kPerStream));
    }
  }
  // Heads, plus one message's worth (about kBatch / 100 entries) ahead of the reader.
  EXPECT_LE(remote_->peak_buffered_entries(), kStreams + 2 * kBatch / 100);
  EXPECT_GE(remote_->peak_buffered_entries(), static_cast<uint64_t>(kStreams));
}

TEST_F(IngesterRpcTest, CancellingAReadStopsTheServer) {
  Serve(4096);
  constexpr int kEntries = 20000;
  std::vector<std::pair<int64_t, std::string>> lines;
  for (int i = 0; i < kEntries; ++i) lines.emplace_back(kT0 + i, std::string(100, 'x'));
  std::vector<write::ValidatedStream> batch = {MakeStream(R"({app="big"})", std::move(lines))};
  ASSERT_TRUE(ingester_->Push("t", batch).ok());

  read::SelectRequest req = Select(R"({app="big"})", model::Direction::kForward);
  {
    auto its = remote_->SelectStreams(req, "t");
    ASSERT_TRUE(its.ok());
    ASSERT_EQ(its->size(), 1u);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*its)[0]->Next());
  }  // the iterators go: the call is cancelled
  const auto& c = service_->counters();
  for (int i = 0; i < 500 && c.select_cancelled.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(c.select_cancelled.load(), 1u);
  const uint64_t sent = c.entries_sent.load();
  EXPECT_LT(sent, static_cast<uint64_t>(kEntries) / 2) << "the server stopped reading early";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(c.entries_sent.load(), sent);
}

// Blocks every call until released (or 10 s), to stand for a hung ingester.
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

class SlowIngester final : public write::Pusher, public read::StreamSource {
 public:
  explicit SlowIngester(Gate* gate) : gate_(gate) {}
  Status Push(std::string_view, std::vector<write::ValidatedStream>&) override {
    gate_->Wait();
    return Status::OK();
  }
  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest&,
                                                            std::string_view) override {
    gate_->Wait();
    return std::vector<iter::EntryIteratorPtr>{};
  }
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest&,
                                                    std::string_view) override {
    gate_->Wait();
    return std::vector<model::LabelSet>{};
  }

 private:
  Gate* gate_;
};

// Answers every push with the status it is given.
class FailingPusher final : public write::Pusher {
 public:
  Status Push(std::string_view, std::vector<write::ValidatedStream>&) override { return status; }
  Status status;
};

TEST_F(IngesterRpcTest, DeadlinesEndSlowCallsQuickly) {
  Gate gate;
  SlowIngester slow(&gate);
  IngesterService service(&slow, &slow);
  auto server = GrpcServer::Start({}, {&service});
  ASSERT_TRUE(server.ok());
  client_config_.remote_timeout = 200'000'000;
  RemoteIngester client(Address((*server)->port()), client_config_, &clock_);
  std::vector<write::ValidatedStream> batch = {MakeStream(R"({app="a"})", {{kT0, "x"}})};

  auto started = std::chrono::steady_clock::now();
  Status st = client.Push("t", batch);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_GE(took, std::chrono::milliseconds(190));

  // A query's own deadline bounds a streaming read (which remote_timeout does not).
  testing::FakeClock query_clock(kT0);
  read::SelectRequest req = Select(R"({app="a"})", model::Direction::kForward);
  req.deadline = read::Deadline{&query_clock, kT0 + 300'000'000, nullptr};
  started = std::chrono::steady_clock::now();
  auto its = client.SelectStreams(req, "t");
  took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(its.ok());
  EXPECT_EQ(its.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(its.status().message(), read::kQueryTimeoutMessage);
  EXPECT_LT(took, std::chrono::seconds(2));
  // A deadline already past costs no call.
  query_clock.Advance(kSecond);
  EXPECT_EQ(client.StreamLabels(req, "t").status().code(), StatusCode::kDeadlineExceeded);
  gate.Open();
  (*server)->Shutdown(kSecond);
}

TEST_F(IngesterRpcTest, ErrorsMapBothWays) {
  FailingPusher failing;
  IngesterService service(&failing, ingester_.get());
  auto server = GrpcServer::Start({}, {&service});
  ASSERT_TRUE(server.ok());
  client_config_.circuit_breaker.failure_threshold = 0;
  RemoteIngester client(Address((*server)->port()), client_config_, &clock_);
  std::vector<write::ValidatedStream> batch = {MakeStream(R"({app="a"})", {{kT0, "x"}})};
  const std::string limit_text =
      "Maximum active stream limit exceeded, reduce the number of active streams (reduce labels "
      "or reduce label values), or contact your Loki administrator to see if the limit can be "
      "increased, user: 't'";
  for (const Status& want :
       {Status::RateLimited(limit_text), Status::InvalidArgument("entry out of order"),
        Status::Unavailable("Ingester is stopping or already stopped."),
        Status::IOError("failed to write to the WAL: disk full")}) {
    failing.status = want;
    Status got = client.Push("t", batch);
    EXPECT_EQ(got.code(), want.code()) << want.ToString();
    EXPECT_EQ(got.message(), want.message());
  }

  // The ingester's own refusal, relayed: not ready while the WAL replays.
  storage::TempDir other_dir;
  config::Config::Ingester cfg = config_;
  cfg.wal.dir = other_dir.path() + "/wal";
  ingester::Ingester not_started(cfg, &overrides_, store_.get(), index_writer_.get(), &clock_);
  IngesterService not_ready_service(&not_started, &not_started);
  auto not_ready_server = GrpcServer::Start({}, {&not_ready_service});
  ASSERT_TRUE(not_ready_server.ok());
  RemoteIngester not_ready(Address((*not_ready_server)->port()), client_config_, &clock_);
  Status st = not_ready.Push("t", batch);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "Ingester not ready: WAL replay in progress");

  // What a raw gRPC client sees: canonical codes.
  auto stub = pb::Ingester::NewStub(
      grpc::CreateChannel(Address((*server)->port()), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;  // no x-scope-orgid
    pb::StreamLabelsResponse resp;
    grpc::Status gs = stub->StreamLabels(&ctx, pb::ReadRequest(), &resp);
    EXPECT_EQ(gs.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(gs.error_message(), "no org id");
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata(kTenantMetadata, "t");
    pb::ReadRequest bad;
    pb::Matcher* m = bad.add_matchers();
    m->set_type(pb::Matcher::REGEX_MATCH);
    m->set_name("app");
    m->set_value("(unclosed");
    pb::StreamLabelsResponse resp;
    grpc::Status gs = stub->StreamLabels(&ctx, bad, &resp);
    EXPECT_EQ(gs.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << gs.error_message();
  }
  {
    failing.status = Status::RateLimited("slow down");
    grpc::ClientContext ctx;
    ctx.AddMetadata(kTenantMetadata, "t");
    logproto::PushRequest push;
    pb::PushResponse resp;
    EXPECT_EQ(stub->Push(&ctx, push, &resp).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }

  // No server at all: unavailable, naming the ingester.
  int dead_port = (*not_ready_server)->port();
  (*not_ready_server)->Shutdown(0);
  RemoteIngester dead(Address(dead_port), client_config_, &clock_);
  st = dead.Push("t", batch);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message().rfind("ingester " + Address(dead_port) + ": ", 0), 0u) << st.message();
}

TEST_F(IngesterRpcTest, BreakerOpensOnADeadIngesterAndBulkheadRefusesOverflow) {
  // A port with nothing listening.
  int dead_port;
  {
    FailingPusher unused;
    IngesterService service(&unused, ingester_.get());
    auto server = GrpcServer::Start({}, {&service});
    ASSERT_TRUE(server.ok());
    dead_port = (*server)->port();
  }
  client_config_.circuit_breaker.failure_threshold = 3;
  client_config_.circuit_breaker.cooldown = 10 * kSecond;
  RemoteIngester dead(Address(dead_port), client_config_, &clock_);
  std::vector<write::ValidatedStream> batch = {MakeStream(R"({app="a"})", {{kT0, "x"}})};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(dead.Push("t", batch).code(), StatusCode::kUnavailable);
  EXPECT_EQ(dead.breaker().state(), CircuitBreaker::State::kOpen);
  Status st = dead.Push("t", batch);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("circuit breaker open"), std::string::npos) << st.message();
  clock_.Advance(10 * kSecond);
  EXPECT_EQ(dead.Push("t", batch).code(), StatusCode::kUnavailable);  // the trial, failed
  EXPECT_EQ(dead.breaker().state(), CircuitBreaker::State::kOpen);

  // One push in flight at most: the second is refused while the first hangs.
  Gate gate;
  SlowIngester slow(&gate);
  IngesterService service(&slow, &slow);
  auto server = GrpcServer::Start({}, {&service});
  ASSERT_TRUE(server.ok());
  client_config_.max_inflight_push_requests = 1;
  RemoteIngester client(Address((*server)->port()), client_config_, &clock_);
  std::thread first([&] { EXPECT_TRUE(client.Push("t", batch).ok()); });
  for (int i = 0; i < 500 && client.bulkhead().in_flight() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto started = std::chrono::steady_clock::now();
  st = client.Push("t", batch);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(100));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("max_inflight_push_requests"), std::string::npos) << st.message();
  gate.Open();
  first.join();
  EXPECT_EQ(client.bulkhead().in_flight(), 0);
  EXPECT_TRUE(client.Push("t", batch).ok());
}

TEST(GrpcServerTest, ListensWhereTheConfigSays) {
  EXPECT_EQ(GrpcServer::ListenAddress("", 9095), "0.0.0.0:9095");
  EXPECT_EQ(GrpcServer::ListenAddress("127.0.0.1", 0), "127.0.0.1:0");
  EXPECT_EQ(GrpcServer::ListenAddress("::1", 9095), "[::1]:9095");
  FailingPusher pusher;
  IngesterService service(&pusher, nullptr);
  auto server = GrpcServer::Start({GrpcServer::ListenAddress("127.0.0.1", 0)}, {&service});
  ASSERT_TRUE(server.ok());
  EXPECT_GT((*server)->port(), 0);
  // The same port again: taken.
  auto again =
      GrpcServer::Start({GrpcServer::ListenAddress("127.0.0.1", (*server)->port())}, {&service});
  EXPECT_EQ(again.status().code(), StatusCode::kUnavailable);
}

TEST(IngesterClientPoolTest, OneClientPerAddress) {
  testing::FakeClock clock(0);
  IngesterClientPool pool(config::Config::IngesterClient{}, &clock);
  auto a = pool.Get("127.0.0.1:1");
  EXPECT_EQ(pool.Get("127.0.0.1:1"), a);
  EXPECT_NE(pool.Get("127.0.0.1:2"), a);
  EXPECT_EQ(pool.size(), 2u);
  pool.Remove("127.0.0.1:1");
  EXPECT_EQ(a->address(), "127.0.0.1:1") << "a removed client lives on while in use";
  EXPECT_NE(pool.Get("127.0.0.1:1"), a);
}

}  // namespace
}  // namespace sluice::rpc
