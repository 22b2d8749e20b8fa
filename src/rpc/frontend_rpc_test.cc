// The query frontend as a process of its own, end to end: a frontend-only QueryFrontend behind
// a real gRPC server (127.0.0.1, port 0) running FrontendService, and queriers' FrontendWorkers
// pulling jobs from it, each running them on a real Querier over a real ingester and store.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/query_api.h"
#include "ingester/test_util.h"
#include "querier/frontend.h"
#include "querier/querier.h"
#include "querier/test_util.h"
#include "read/read.h"
#include "rpc/frontend_convert.h"
#include "rpc/frontend_service.h"
#include "rpc/frontend_worker.h"
#include "rpc/ingester_server.h"
#include "testing/wait.h"

namespace sluice::rpc {
namespace {

using querier::QueryRequest;
using querier::QueryResult;
using ::sluice::ingester::testing::kSecond;
using ::sluice::ingester::testing::kT0;
using ::sluice::ingester::testing::MakeStream;

constexpr int64_t kMinute = 60 * kSecond;
// The data: one entry every 6 s over [kFrom, kEnd), 100 minutes on minute boundaries: 100
// one-minute splits.
constexpr int64_t kFrom = (kT0 / kMinute - 100) * kMinute;
constexpr int64_t kEnd = kFrom + 100 * kMinute;

using testing::WaitUntil;

std::string Render(const QueryResult& r) {
  std::string out;
  for (const auto& s : r.streams) {
    out += s.labels.ToString() + "\n";
    for (const auto& e : s.entries) {
      out += std::to_string(e.timestamp_ns) + " " + e.line;
      for (const auto& m : e.metadata) out += " " + m.name + "=" + m.value;
      for (const auto& m : e.parsed) out += " parsed:" + m.name + "=" + m.value;
      out += "\n";
    }
  }
  for (const auto& s : r.series) {
    out += s.labels.ToString() + "\n";
    for (const auto& p : s.points) {
      out += std::to_string(p.ts_ms) + " " + std::to_string(p.value) + "\n";
    }
  }
  return out;
}

// The ingester as a source whose SelectStreams calls for one tenant can be held until the test
// lets them go: a slow tenant or a hung querier without sleeps. Records every call's tenant.
class GatedSource final : public read::StreamSource {
 public:
  explicit GatedSource(read::StreamSource* inner) : inner_(inner) {}

  read::SourceKind Kind() const override { return inner_->Kind(); }
  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& req,
                                                            std::string_view tenant) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      order_.emplace_back(tenant);
      if (tenant == gated_) {
        ++held_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return gated_.empty() || permits_ > 0; });
        --held_;
        if (!gated_.empty()) --permits_;
        ++passed_;
        cv_.notify_all();
      }
    }
    return inner_->SelectStreams(req, tenant);
  }
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& req,
                                                    std::string_view tenant) override {
    return inner_->StreamLabels(req, tenant);
  }
  Result<std::vector<std::string>> TenantLabelNames(const read::SelectRequest& req,
                                                    std::string_view tenant) override {
    return inner_->TenantLabelNames(req, tenant);
  }
  Result<std::vector<std::string>> TenantLabelValues(const read::SelectRequest& req,
                                                     std::string_view tenant,
                                                     std::string_view name) override {
    return inner_->TenantLabelValues(req, tenant, name);
  }
  Result<uint64_t> CountChunks(const read::SelectRequest& req, std::string_view tenant) override {
    return inner_->CountChunks(req, tenant);
  }

  // Holds `tenant`'s calls from now on.
  void Close(std::string tenant) {
    std::lock_guard<std::mutex> lock(mu_);
    gated_ = std::move(tenant);
  }
  // Lets every call go, held or future.
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    gated_.clear();
    cv_.notify_all();
  }
  // Lets one held call go.
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    ++permits_;
    cv_.notify_all();
  }
  // Waits up to 10 s until `n` calls are held and no permit is pending.
  bool WaitHeld(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return held_ >= n && permits_ == 0; });
  }
  int passed() {
    std::lock_guard<std::mutex> lock(mu_);
    return passed_;
  }

 private:
  read::StreamSource* inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string gated_;  // empty: open
  int held_ = 0;
  int permits_ = 0;
  int passed_ = 0;
  std::vector<std::string> order_;
};

config::Limits TestLimits() {
  config::Limits l;
  l.split_queries_by_interval = kMinute;
  l.max_query_length = 0;
  l.max_query_parallelism = 8;
  l.query_timeout = 60 * kSecond;
  return l;
}

class FrontendRpcTest : public ::testing::Test {
 protected:
  explicit FrontendRpcTest(config::Limits limits = TestLimits())
      : overrides_(limits, "", 0), gated_(stack_.ing.get()) {
    EXPECT_TRUE(stack_.start_status.ok());
    fan_out_ = std::make_unique<read::FanOut>(
        std::vector<read::StreamSource*>{&gated_, stack_.store_source.get()});
    plain_fan_out_ = std::make_unique<read::FanOut>(
        std::vector<read::StreamSource*>{stack_.ing.get(), stack_.store_source.get()});
    // Queriers over the same data, as querier processes over one ingester and store: two that
    // read through the gate, one that does not.
    querier1_ = std::make_unique<querier::Querier>(fan_out_.get(), &overrides_, &stack_.clock);
    querier2_ = std::make_unique<querier::Querier>(fan_out_.get(), &overrides_, &stack_.clock);
    plain_ = std::make_unique<querier::Querier>(plain_fan_out_.get(), &overrides_, &stack_.clock);
    Push();
  }

  ~FrontendRpcTest() override {
    // Queriers first, then the frontend's service and server, then the frontend.
    gated_.Open();
    workers_.clear();
    if (service_) service_->Stop();
    server_.reset();
    service_.reset();
    frontend_.reset();
  }

  void Push() {
    static const std::vector<model::Label> kTrace = {{"trace_id", "t1"}};
    for (const std::string tenant : {"a", "b", "fake"}) {
      std::vector<std::pair<int64_t, std::string>> api, db;
      for (int64_t t = kFrom; t < kEnd; t += 6 * kSecond) {
        api.emplace_back(t, "GET /api status=200 n=" + std::to_string((t - kFrom) / kSecond));
        if ((t - kFrom) % (30 * kSecond) == 0) db.emplace_back(t + 1, "db error slow query");
      }
      std::vector<write::ValidatedStream> batch;
      batch.push_back(MakeStream(R"({app="api", env="prod"})", std::move(api)));
      batch.push_back(MakeStream(R"({app="db", env="dev"})", std::move(db)));
      for (size_t i = 0; i < batch[0].entries.size(); i += 7) batch[0].entries[i].metadata = kTrace;
      ASSERT_TRUE(stack_.ing->Push(tenant, batch).ok());
    }
  }

  // The frontend-only process: a QueryFrontend without querier or local workers, served.
  void StartFrontend(const Clock* clock = nullptr) {
    if (clock == nullptr) clock = &stack_.clock;
    frontend_ = std::make_unique<querier::QueryFrontend>(nullptr, &overrides_,
                                                         querier::FrontendOptions{0, 2048}, clock);
    FrontendService::Options opts;
    opts.poll_ns = 20'000'000;
    opts.cancel_grace_ns = 1'000'000'000;
    service_ = std::make_unique<FrontendService>(frontend_.get(), clock, opts);
    auto server = GrpcServer::Start(GrpcServer::Options{}, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
  }

  FrontendWorker* StartWorker(querier::Querier* q, int parallelism, std::string id,
                              const http::Router* router = nullptr) {
    FrontendWorkerOptions opts;
    opts.frontend_address = "127.0.0.1:" + std::to_string(server_->port());
    opts.parallelism = parallelism;
    opts.match_max_concurrent = false;
    opts.querier_id = std::move(id);
    opts.backoff_min_ns = 10'000'000;
    opts.backoff_max_ns = 100'000'000;
    opts.seed = 1;
    workers_.push_back(std::make_unique<FrontendWorker>(opts, q, router, &stack_.clock));
    EXPECT_TRUE(workers_.back()->Start().ok());
    return workers_.back().get();
  }

  bool WaitConnected(int64_t n) {
    return WaitUntil([&] { return service_->counters().connected.load() == n; },
                     std::chrono::seconds(10));
  }

  static QueryRequest LogRequest(std::string query, int64_t start, int64_t end, uint32_t limit,
                                 model::Direction dir) {
    QueryRequest r;
    r.query = std::move(query);
    r.start_ns = start;
    r.end_ns = end;
    r.limit = limit;
    r.direction = dir;
    return r;
  }
  static QueryRequest MetricRequest(std::string query, int64_t start, int64_t end, int64_t step) {
    QueryRequest r;
    r.query = std::move(query);
    r.start_ns = start;
    r.end_ns = end;
    r.step_ns = step;
    return r;
  }

  querier::testing::ReadStack stack_;
  config::Overrides overrides_;
  GatedSource gated_;
  std::unique_ptr<read::FanOut> fan_out_;  // over gated_
  std::unique_ptr<read::FanOut> plain_fan_out_;
  std::unique_ptr<querier::Querier> querier1_;
  std::unique_ptr<querier::Querier> querier2_;
  std::unique_ptr<querier::Querier> plain_;
  std::unique_ptr<querier::QueryFrontend> frontend_;
  std::unique_ptr<FrontendService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::vector<std::unique_ptr<FrontendWorker>> workers_;
};

TEST_F(FrontendRpcTest, SplitQueriesOverWorkersEqualTheInProcessFrontend) {
  StartFrontend();
  StartWorker(querier1_.get(), 3, "q1");
  StartWorker(querier2_.get(), 3, "q2");
  ASSERT_TRUE(WaitConnected(6));
  querier::QueryFrontend local(querier1_.get(), &overrides_, querier::FrontendOptions{2, 2048},
                               &stack_.clock);

  std::vector<QueryRequest> requests;
  for (auto dir : {model::Direction::kForward, model::Direction::kBackward}) {
    for (uint32_t limit : {5u, 300u, 5000u}) {
      requests.push_back(LogRequest(R"({env=~".+"})", kFrom, kEnd, limit, dir));
      requests.push_back(LogRequest(R"({app="api"} |= "n=1")", kFrom + 7 * kSecond,
                                    kEnd - 3 * kMinute, limit, dir));
    }
  }
  QueryRequest categorized = LogRequest(R"({app="api"} | logfmt)", kFrom, kFrom + 5 * kMinute, 50,
                                        model::Direction::kForward);
  categorized.categorize_labels = true;
  requests.push_back(categorized);
  requests.push_back(MetricRequest(R"(sum by (app) (count_over_time({env=~".+"}[2m])))", kFrom,
                                   kEnd, 30 * kSecond));
  requests.push_back(MetricRequest(R"(rate({app="db"} |= "error" [1m]))", kFrom + 13 * kSecond,
                                   kEnd, 7 * kSecond));
  QueryRequest instant = MetricRequest(R"(sum(count_over_time({app="api"}[10m])))", kFrom, kEnd, 0);
  instant.instant = true;
  requests.push_back(instant);

  for (const auto& req : requests) {
    SCOPED_TRACE(req.query + " limit " + std::to_string(req.limit));
    auto want = local.Exec({"a"}, req);
    auto got = frontend_->Exec({"a"}, req);
    ASSERT_TRUE(want.ok()) << want.status().message();
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_EQ(got->type, want->type);
    EXPECT_EQ(Render(*got), Render(*want));
    EXPECT_EQ(got->stats.splits, want->stats.splits);
    EXPECT_EQ(got->stats.subqueries, want->stats.subqueries);
    EXPECT_EQ(got->stats.total_entries_returned, want->stats.total_entries_returned);
    EXPECT_EQ(got->stats.total_lines_processed, want->stats.total_lines_processed);
    EXPECT_EQ(got->stats.ingester.head_lines, want->stats.ingester.head_lines);
  }
  // Both queriers did some of the work.
  EXPECT_GT(workers_[0]->counters().jobs_done.load(), 0u);
  EXPECT_GT(workers_[1]->counters().jobs_done.load(), 0u);

  // A querier's error comes back as it was raised: same code, same text.
  QueryRequest bad = LogRequest("{app=", kFrom, kEnd, 10, model::Direction::kBackward);
  auto want = querier1_->Exec({"a"}, bad);
  auto got = frontend_->Exec({"a"}, bad);
  ASSERT_FALSE(want.ok());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), want.status().code());
  EXPECT_EQ(got.status().message(), want.status().message());
}

TEST_F(FrontendRpcTest, ResultsRoundTripThroughTheProto) {
  QueryResult r;
  r.type = querier::ResultType::kScalar;
  r.scalar = {1234, 2.5};
  r.stats.splits = 7;
  r.stats.store.blocks.compressed_bytes_read = 99;
  r.stats.ingester.pipeline.lines_passed = 3;
  model::Stream s;
  s.labels = model::LabelSet(std::vector<model::Label>{{"app", "x"}});
  s.entries.push_back(model::Entry{5, "line", {{"m", "1"}}, {{"p", "2"}}});
  r.streams.push_back(s);
  fpb::QueryResult pb;
  ToProto(r, &pb);
  QueryResult back = FromProto(pb);
  EXPECT_EQ(back.type, r.type);
  EXPECT_EQ(back.scalar, r.scalar);
  EXPECT_EQ(Render(back), Render(r));
  EXPECT_EQ(back.stats.splits, 7u);
  EXPECT_EQ(back.stats.store.blocks.compressed_bytes_read, 99u);
  EXPECT_EQ(back.stats.ingester.pipeline.lines_passed, 3u);

  for (const Status& st : {Status::InvalidArgument("bad query"), Status::RateLimited("slow down"),
                           Status::DeadlineExceeded("timeout"), Status::Unauthenticated("no")}) {
    fpb::Error e;
    ToProto(st, &e);
    Status got = FromProto(e, "q1");
    EXPECT_EQ(got.code(), st.code());
    EXPECT_EQ(got.message(), st.message());
  }
}

// A querier killed mid-job (its call broken while it runs a sub-query): the frontend gives the
// job to the other querier and the query succeeds, with the same answer.
TEST_F(FrontendRpcTest, JobOfAKilledWorkerIsRetriedOnAnother) {
  StartFrontend();
  FrontendWorker* w1 = StartWorker(querier1_.get(), 1, "q1");
  ASSERT_TRUE(WaitConnected(1));
  querier::QueryFrontend local(plain_.get(), &overrides_, querier::FrontendOptions{1, 2048},
                               &stack_.clock);
  const QueryRequest req =
      LogRequest(R"({app="api"})", kFrom, kFrom + 5 * kMinute, 1000, model::Direction::kForward);
  auto want = local.Exec({"a"}, req);
  ASSERT_TRUE(want.ok());

  gated_.Close("a");
  Result<QueryResult> got = Status::Internal("not run");
  std::thread query([&] { got = frontend_->Exec({"a"}, req); });
  ASSERT_TRUE(gated_.WaitHeld(1));  // q1 runs the first split, held in its source
  FrontendWorker* w2 = StartWorker(plain_.get(), 1, "q2");
  ASSERT_TRUE(WaitConnected(2));
  // q2 answers the four other splits; the query still waits for the first.
  ASSERT_TRUE(
      WaitUntil([&] { return w2->counters().jobs_done.load() == 4; }, std::chrono::seconds(10)))
      << w2->counters().jobs_done.load();

  // Kill q1: its call breaks at once (no grace). Its held read is let go once the query is
  // done, and then finds its deadline lowered.
  std::thread kill([w1] { w1->Stop(0); });
  query.join();
  EXPECT_EQ(service_->counters().jobs_requeued.load(), 1u);
  gated_.Open();
  kill.join();

  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(Render(*got), Render(*want));
  EXPECT_EQ(got->stats.splits, 5u);
  EXPECT_EQ(w1->counters().jobs_done.load(), 0u);
  // A worker counts a job done after its Write returns, which can be after the frontend read it.
  EXPECT_TRUE(
      WaitUntil([&] { return w2->counters().jobs_done.load() == 5; }, std::chrono::seconds(10)))
      << w2->counters().jobs_done.load();
}

// A query abandoned while a querier runs one of its splits (here: past its query_timeout) has
// the querier told, which stops the split at its next deadline check and frees the slot.
TEST_F(FrontendRpcTest, AbandonedQueryIsCancelledOnTheWorker) {
  StartFrontend();
  FrontendWorker* w1 = StartWorker(querier1_.get(), 1, "q1");
  ASSERT_TRUE(WaitConnected(1));
  gated_.Close("a");
  Result<QueryResult> got = Status::Internal("not run");
  std::thread query([&] {
    got = frontend_->Exec(
        {"a"}, LogRequest(R"({app="api"})", kFrom, kEnd, 5000, model::Direction::kForward));
  });
  ASSERT_TRUE(gated_.WaitHeld(1));
  stack_.clock.Advance(61 * kSecond);  // past query_timeout
  query.join();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(WaitUntil([&] { return w1->counters().cancels_received.load() == 1; },
                        std::chrono::seconds(10)));
  // Counted after its Write returns, which can be after the querier read it.
  EXPECT_TRUE(WaitUntil([&] { return service_->counters().cancels_sent.load() == 1; },
                        std::chrono::seconds(10)));
  gated_.Open();
  // The split stops, its answer (the timeout) is sent, and the slot takes the next query.
  ASSERT_TRUE(WaitUntil([&] { return frontend_->running() == 0; }, std::chrono::seconds(10)));
  EXPECT_TRUE(
      WaitUntil([&] { return w1->counters().jobs_done.load() == 1; }, std::chrono::seconds(10)));
  auto next = frontend_->Exec(
      {"b"}, LogRequest(R"({app="db"})", kFrom, kFrom + kMinute, 10, model::Direction::kForward));
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_EQ(next->stats.total_entries_returned, 2u);
}

// A job whose every querier dies fails after kMaxJobAttempts runs with a 503 naming why.
TEST_F(FrontendRpcTest, JobFailsAfterThreeBrokenRuns) {
  querier::QueryFrontend frontend(nullptr, &overrides_, querier::FrontendOptions{0, 2048},
                                  &stack_.clock);
  Result<QueryResult> got = Status::Internal("not run");
  std::thread query([&] {
    got = frontend.Exec({"a"}, LogRequest(R"({app="api"})", kFrom, kFrom + 30 * kSecond, 10,
                                          model::Direction::kForward));
  });
  for (int i = 1; i <= querier::kMaxJobAttempts; ++i) {
    Result<querier::PulledJob> job = frontend.Next(10'000'000'000);
    ASSERT_TRUE(job.ok()) << job.status().message();
    EXPECT_EQ(job->attempt, i);
    frontend.Requeue(job->handle, "querier q" + std::to_string(i) + " went away");
  }
  query.join();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(HttpStatusFor(got.status().code()), 503);
  EXPECT_EQ(got.status().message(),
            "query frontend: a sub-query failed on 3 queriers, the last one: querier q3 went away");
  EXPECT_EQ(frontend.running(), 0u);
  EXPECT_EQ(frontend.queued("a"), 0u);
}

// Tenant a's 100-split query does not hold up tenant b's one split: with two workers, b's query
// is answered after about one more of a's splits per worker, not after a's backlog.
TEST_F(FrontendRpcTest, TenantsAreServedFairlyAcrossWorkers) {
  StartFrontend();
  StartWorker(querier1_.get(), 1, "q1");
  StartWorker(querier2_.get(), 1, "q2");
  ASSERT_TRUE(WaitConnected(2));

  gated_.Close("a");
  Result<QueryResult> a_result = Status::Internal("not run");
  std::atomic<bool> a_done{false};
  std::thread a([&] {
    a_result = frontend_->Exec(
        {"a"}, LogRequest(R"({app="api"})", kFrom, kEnd, 5000, model::Direction::kForward));
    a_done = true;
  });
  ASSERT_TRUE(gated_.WaitHeld(2));  // both workers hold one of a's splits

  std::atomic<bool> b_done{false};
  Result<QueryResult> b_result = Status::Internal("not run");
  std::thread b([&] {
    b_result = frontend_->Exec({"b"}, LogRequest(R"({app="db"})", kFrom, kFrom + 30 * kSecond, 100,
                                                 model::Direction::kForward));
    b_done = true;
  });
  ASSERT_TRUE(WaitUntil([&] { return frontend_->queued("b") == 1; }, std::chrono::seconds(10)));

  // Let a's splits through one at a time until b is answered.
  int a_splits_before_b = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (b_done) return true;
        if (gated_.WaitHeld(2)) {
          a_splits_before_b = gated_.passed() + 1;
          gated_.Release();
        }
        return b_done.load();
      },
      std::chrono::seconds(20)));
  b.join();
  ASSERT_TRUE(b_result.ok()) << b_result.status().message();
  EXPECT_EQ(b_result->stats.total_entries_returned, 1u);
  // Each release lets one of a's splits finish; b goes next once a worker is free (a release
  // more can slip in while b's caller wakes up).
  EXPECT_LE(a_splits_before_b, 4);
  EXPECT_GE(a_splits_before_b, 1);
  EXPECT_FALSE(a_done.load());

  gated_.Open();
  a.join();
  ASSERT_TRUE(a_result.ok()) << a_result.status().message();
  EXPECT_EQ(a_result->stats.splits, 100u);
  EXPECT_EQ(a_result->stats.total_entries_returned, 1000u);
}

class FrontendRpcTimeoutTest : public FrontendRpcTest {
 protected:
  static config::Limits Limits() {
    config::Limits l = TestLimits();
    l.query_timeout = 300'000'000;  // 300ms, on the real clock
    return l;
  }
  FrontendRpcTimeoutTest() : FrontendRpcTest(Limits()) {}
};

// No querier connected: the query waits in the queue, then fails with the query timeout; it
// does not hang and leaves nothing queued.
TEST_F(FrontendRpcTimeoutTest, NoWorkersTimesOutCleanly) {
  StartFrontend(SystemClock::Default());
  const auto started = std::chrono::steady_clock::now();
  auto got = frontend_->Exec(
      {"a"}, LogRequest(R"({app="api"})", kFrom, kEnd, 100, model::Direction::kBackward));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(got.status().message(), std::string(querier::kQueryTimeoutMessage));
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(frontend_->queued("a"), 0u);

  // A pass-through waits the same way.
  querier::HttpJob job;
  job.method = "GET";
  job.path = "/loki/api/v1/labels";
  auto reply = frontend_->Forward({"a"}, job);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded);
}

// The frontend process's HTTP routes: queries split over the workers, every other read passed
// whole to a querier's router, answered byte for byte as that querier answers it.
TEST_F(FrontendRpcTest, ReadRoutesPassThroughWorkers) {
  StartFrontend();
  http::Router querier_router;
  http::RegisterQueryRoutes(&querier_router, querier1_.get(), /*auth_enabled=*/false,
                            &stack_.clock);
  StartWorker(querier1_.get(), 2, "q1", &querier_router);
  StartWorker(querier2_.get(), 2, "q2", &querier_router);
  ASSERT_TRUE(WaitConnected(4));
  http::Router frontend_router;
  http::RegisterFrontendQueryRoutes(&frontend_router, frontend_.get(), /*auth_enabled=*/false,
                                    &stack_.clock);

  auto get = [](const http::Router& router, std::string path,
                std::vector<std::pair<std::string, std::string>> params) {
    http::Request r;
    r.method = "GET";
    r.path = std::move(path);
    for (auto& [k, v] : params) r.params.emplace(k, v);
    std::string route;
    return router.Dispatch(r, &route);
  };
  const std::string start = std::to_string(kFrom), end = std::to_string(kEnd);
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
      reads = {
          {"/loki/api/v1/labels", {{"start", start}, {"end", end}}},
          {"/loki/api/v1/label/app/values", {{"start", start}, {"end", end}}},
          {"/api/prom/label", {{"start", start}, {"end", end}}},
          {"/loki/api/v1/series", {{"match[]", R"({env="prod"})"}, {"start", start}, {"end", end}}},
          {"/loki/api/v1/index/stats",
           {{"query", R"({app="api"})"}, {"start", start}, {"end", end}}},
          {"/loki/api/v1/detected_labels",
           {{"query", R"({app="api"})"}, {"start", start}, {"end", end}}},
          {"/loki/api/v1/series", {{"match[]", "{bad"}}},  // the querier's 400, passed on
      };
  for (const auto& [path, params] : reads) {
    SCOPED_TRACE(path);
    http::Response want = get(querier_router, path, params);
    http::Response got = get(frontend_router, path, params);
    EXPECT_EQ(got.status, want.status);
    EXPECT_EQ(got.content_type, want.content_type);
    EXPECT_EQ(got.body, want.body);
  }
  EXPECT_NE(get(frontend_router, "/loki/api/v1/labels", {{"start", start}, {"end", end}})
                .body.find("\"app\""),
            std::string::npos);

  // query_range goes through the frontend's split.
  http::Response range = get(frontend_router, "/loki/api/v1/query_range",
                             {{"query", R"(count_over_time({app="db"}[1m]))"},
                              {"start", start},
                              {"end", end},
                              {"step", "60"}});
  EXPECT_EQ(range.status, 200) << range.body;
  EXPECT_NE(range.body.find("\"resultType\":\"matrix\""), std::string::npos) << range.body;
  EXPECT_NE(range.body.find("\"splits\":"), std::string::npos);

  // format_query is answered by the frontend itself.
  http::Response formatted =
      get(frontend_router, "/loki/api/v1/format_query", {{"query", R"({app="api"}|="x")"}});
  EXPECT_EQ(formatted.status, 200);
}

// A querier started before its frontend, or that lost it, connects once the frontend is up.
TEST_F(FrontendRpcTest, WorkerReconnectsWhenTheFrontendComesBack) {
  // Take a free port, then close it: the worker dials it before anything listens there.
  StartFrontend();
  const int port = server_->port();
  service_->Stop();
  server_->Shutdown(0);
  server_.reset();
  service_.reset();

  FrontendWorkerOptions opts;
  opts.frontend_address = "127.0.0.1:" + std::to_string(port);
  opts.parallelism = 2;
  opts.match_max_concurrent = false;
  opts.backoff_min_ns = 10'000'000;
  opts.backoff_max_ns = 50'000'000;
  workers_.push_back(
      std::make_unique<FrontendWorker>(opts, querier1_.get(), nullptr, &stack_.clock));
  ASSERT_TRUE(workers_.back()->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return workers_.back()->counters().sessions.load() >= 3; },
                        std::chrono::seconds(10)));  // failing, retrying

  service_ = std::make_unique<FrontendService>(frontend_.get(), &stack_.clock);
  GrpcServer::Options server_opts;
  server_opts.address = "127.0.0.1:" + std::to_string(port);
  auto server = GrpcServer::Start(server_opts, {service_.get()});
  ASSERT_TRUE(server.ok()) << server.status().message();
  server_ = std::move(server).value();
  ASSERT_TRUE(WaitConnected(2));
  auto got = frontend_->Exec({"a"}, LogRequest(R"({app="db"})", kFrom, kFrom + 2 * kMinute, 100,
                                               model::Direction::kForward));
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->stats.total_entries_returned, 4u);
}

}  // namespace
}  // namespace sluice::rpc
