#include "querier/frontend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "cache/cache.h"
#include "cache/cache_metrics.h"
#include "logql/engine/engine.h"
#include "querier/results_cache.h"
#include "testing/fake_clock.h"
#include "testing/memory_source.h"

namespace sluice::querier {
namespace {

using model::Direction;

constexpr int64_t kSec = kNanosPerSecond;

std::string Render(const QueryResult& r) {
  std::string out;
  for (const auto& s : r.streams) {
    if (!out.empty()) out += " | ";
    out += s.labels.ToString();
    for (const auto& e : s.entries) out += " " + std::to_string(e.timestamp_ns) + ":" + e.line;
  }
  for (const auto& s : r.series) {
    if (!out.empty()) out += " | ";
    out += s.labels.ToString();
    for (const auto& p : s.points)
      out += " " + std::to_string(p.ts_ms) + "=" + std::to_string(p.value);
  }
  return out;
}

// Counts the entries read from a source, to see a cancelled sub-query stop.
class CountingIterator final : public iter::EntryIterator {
 public:
  CountingIterator(iter::EntryIteratorPtr it, std::atomic<int>* reads)
      : it_(std::move(it)), reads_(reads) {}
  bool Next() override {
    if (!it_->Next()) return false;
    ++*reads_;
    return true;
  }
  const model::Entry& At() const override { return it_->At(); }
  const model::LabelSet& Labels() const override { return it_->Labels(); }
  Status Error() const override { return it_->Error(); }

 private:
  iter::EntryIteratorPtr it_;
  std::atomic<int>* reads_;
};

// A source that holds every SelectLogs call for `gated_tenant` until the test lets one through:
// a slow tenant without sleeps. Records the tenant of every call, in order.
class GatedSource final : public read::StreamSource {
 public:
  GatedSource(read::StreamSource* inner, std::string gated_tenant)
      : inner_(inner), gated_(std::move(gated_tenant)) {}

  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& p,
                                                            std::string_view tenant) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      order_.push_back(std::string(tenant));
      if (tenant == gated_) {
        ++waiting_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return open_ || permits_ > 0; });
        --waiting_;
        if (!open_) --permits_;
        cv_.notify_all();
      }
    }
    auto got = inner_->SelectStreams(p, tenant);
    if (!got.ok()) return got;
    for (auto& it : *got) it = std::make_unique<CountingIterator>(std::move(it), &reads_);
    return got;
  }
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& p,
                                                    std::string_view tenant) override {
    return inner_->StreamLabels(p, tenant);
  }

  // Lets one held call go on.
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    ++permits_;
    cv_.notify_all();
  }
  // Lets every call, held or future, go on.
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits until a call is held and no permit is pending, or `done` is true.
  void WaitHeldOr(const std::atomic<bool>& done) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done.load() || (waiting_ > 0 && permits_ == 0); });
  }
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }
  int reads() const { return reads_.load(); }

 private:
  read::StreamSource* inner_;
  std::string gated_;
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  int permits_ = 0;
  bool open_ = false;
  std::vector<std::string> order_;
  std::atomic<int> reads_{0};
};

config::Limits TestLimits() {
  config::Limits l;
  l.split_queries_by_interval = 60 * kSec;
  l.max_query_length = 0;
  return l;
}

class FrontendTest : public ::testing::Test {
 protected:
  explicit FrontendTest(config::Limits limits = TestLimits())
      : overrides_(limits, "", 0), querier_(&source_, &overrides_, &clock_) {
    // Ten minutes of three streams, with ties across streams at the same timestamps.
    for (int i = 0; i < 600; i += 3) {
      source_.Add("a", R"({app="api", env="prod"})", i * kSec, "api " + std::to_string(i));
      if (i % 2 == 0) {
        source_.Add("a", R"({app="web", env="prod"})", i * kSec, "web " + std::to_string(i));
      }
      if (i % 5 == 0) {
        source_.Add("a", R"({app="db", env="dev"})", i * kSec + 7, "db error " + std::to_string(i));
      }
    }
    source_.Add("b", R"({app="api", env="prod"})", 5 * kSec, "b only");
  }

  QueryRequest LogRequest(std::string query, int64_t start, int64_t end, uint32_t limit,
                          Direction dir) {
    QueryRequest r;
    r.query = std::move(query);
    r.start_ns = start;
    r.end_ns = end;
    r.limit = limit;
    r.direction = dir;
    return r;
  }
  QueryRequest MetricRequest(std::string query, int64_t start, int64_t end, int64_t step) {
    QueryRequest r;
    r.query = std::move(query);
    r.start_ns = start;
    r.end_ns = end;
    r.step_ns = step;
    return r;
  }

  testing::FakeClock clock_{1'000'000 * kSec};
  config::Overrides overrides_;
  testing::MemorySource source_;
  Querier querier_;
};

TEST(SplitTest, LogRangeIsCutAtIntervalMultiples) {
  auto render = [](const std::vector<SubQuery>& v) {
    std::string out;
    for (const auto& s : v)
      out += "[" + std::to_string(s.start_ns) + "," + std::to_string(s.end_ns) + ")";
    return out;
  };
  EXPECT_EQ(render(SplitLogRange(5, 35, 10)), "[5,10)[10,20)[20,30)[30,35)");
  EXPECT_EQ(render(SplitLogRange(10, 30, 10)), "[10,20)[20,30)");
  EXPECT_EQ(render(SplitLogRange(-15, 5, 10)), "[-15,-10)[-10,0)[0,5)");
  EXPECT_EQ(render(SplitLogRange(3, 7, 10)), "[3,7)");
  EXPECT_TRUE(SplitLogRange(5, 5, 10).empty());
}

TEST(SplitTest, MetricStepsAreGroupedByInterval) {
  auto render = [](const std::vector<SubQuery>& v) {
    std::string out;
    for (const auto& s : v)
      out += "[" + std::to_string(s.start_ns) + "," + std::to_string(s.end_ns) + "]";
    return out;
  };
  // Steps 0 15 30 45 60 75 90.
  EXPECT_EQ(render(SplitMetricSteps(0, 100, 15, 30)), "[0,15][30,45][60,75][90,90]");
  // Unaligned start: steps 7 22 37 52 67.
  EXPECT_EQ(render(SplitMetricSteps(7, 67, 15, 30)), "[7,22][37,52][67,67]");
  // A step longer than the interval: one step per sub-query.
  EXPECT_EQ(render(SplitMetricSteps(0, 100, 40, 30)), "[0,0][40,40][80,80]");
  EXPECT_EQ(render(SplitMetricSteps(5, 5, 10, 30)), "[5,5]");
}

TEST_F(FrontendTest, LogQueriesEqualUnsplit) {
  QueryFrontend frontend(&querier_, &overrides_, FrontendOptions{4, 2048}, &clock_);
  const std::vector<std::string> queries = {R"({env=~".+"})", R"({env=~".+"} |= "error")",
                                            R"({app="api"} != "3")"};
  for (const auto& q : queries) {
    for (Direction dir : {Direction::kForward, Direction::kBackward}) {
      for (uint32_t limit : {1u, 7u, 50u, 150u, 5000u}) {
        const std::vector<std::pair<int64_t, int64_t>> ranges = {
            {0, 600 * kSec}, {30 * kSec + 1, 301 * kSec}, {61 * kSec, 62 * kSec}};
        for (auto [start, end] : ranges) {
          QueryRequest req = LogRequest(q, start, end, limit, dir);
          auto want = querier_.Exec({"a"}, req);
          auto got = frontend.Exec({"a"}, req);
          ASSERT_TRUE(want.ok()) << want.status().message();
          ASSERT_TRUE(got.ok()) << got.status().message();
          SCOPED_TRACE(q + " limit " + std::to_string(limit));
          EXPECT_EQ(Render(*got), Render(*want));
          EXPECT_EQ(got->stats.total_entries_returned, want->stats.total_entries_returned);
          EXPECT_EQ(got->stats.splits, SplitLogRange(start, end, 60 * kSec).size());
        }
      }
    }
  }
}

TEST_F(FrontendTest, LogQueryStopsAtLimit) {
  QueryFrontend frontend(&querier_, &overrides_, FrontendOptions{1, 2048}, &clock_);
  // Backward, 10 splits: the newest split alone has more than `limit` entries.
  auto got =
      frontend.Exec({"a"}, LogRequest(R"({env=~".+"})", 0, 600 * kSec, 5, Direction::kBackward));
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->stats.splits, 10u);
  EXPECT_EQ(got->stats.total_entries_returned, 5u);
  // Submitted ahead (max_query_parallelism) but only the first one was needed.
  EXPECT_EQ(got->stats.subqueries, 1u);
}

TEST_F(FrontendTest, MultiTenantAndIntervalQueriesEqualUnsplit) {
  QueryFrontend frontend(&querier_, &overrides_, FrontendOptions{2, 2048}, &clock_);
  QueryRequest req = LogRequest(R"({app="api"})", 0, 600 * kSec, 300, Direction::kForward);
  auto want = querier_.Exec({"a", "b"}, req);
  auto got = frontend.Exec({"a", "b"}, req);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(Render(*got), Render(*want));

  req.interval_ns = 50 * kSec;  // not split: one entry per interval across the whole range
  want = querier_.Exec({"a"}, req);
  got = frontend.Exec({"a"}, req);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(Render(*got), Render(*want));
  EXPECT_EQ(got->stats.splits, 0u);
}

TEST_F(FrontendTest, MetricRangeQueriesEqualUnsplit) {
  QueryFrontend frontend(&querier_, &overrides_, FrontendOptions{3, 2048}, &clock_);
  const std::vector<std::string> queries = {
      R"(count_over_time({env=~".+"}[90s]))",
      R"(sum by (app) (rate({env=~".+"}[2m])))",
      R"(sum(count_over_time({app="api"}[30s])) * 2)",
      R"(count_over_time({env=~".+"} |= "error" [45s] offset 20s))",
      R"(sum by (env) (count_over_time({env=~".+"}[5s])) > 1)",
  };
  for (const auto& q : queries) {
    const std::vector<std::tuple<int64_t, int64_t, int64_t>> ranges = {
        {0, 600 * kSec, 7 * kSec},
        {13 * kSec, 400 * kSec, 60 * kSec},
        {0, 600 * kSec, 100 * kSec},
        {59 * kSec, 61 * kSec, kSec}};
    for (auto [start, end, step] : ranges) {
      QueryRequest req = MetricRequest(q, start, end, step);
      // The frontend aligns the range to the step first, as Loki's does; the querier alone
      // evaluates what it is given.
      QueryRequest aligned = req;
      AlignToStep(step, &aligned.start_ns, &aligned.end_ns);
      auto want = querier_.Exec({"a"}, aligned);
      auto got = frontend.Exec({"a"}, req);
      ASSERT_TRUE(want.ok()) << q << ": " << want.status().message();
      ASSERT_TRUE(got.ok()) << q << ": " << got.status().message();
      SCOPED_TRACE(q);
      EXPECT_EQ(got->type, ResultType::kMatrix);
      EXPECT_EQ(Render(*got), Render(*want));
      EXPECT_EQ(got->stats.total_entries_returned, want->stats.total_entries_returned);
      EXPECT_EQ(got->stats.splits,
                SplitMetricSteps(aligned.start_ns, aligned.end_ns, step, 60 * kSec).size());
    }
  }
}

TEST(AlignToStepTest, StartRoundsDownEndRoundsUp) {
  struct Case {
    int64_t start, end, step, want_start, want_end;
  };
  for (const Case& c : std::vector<Case>{
           {13 * kSec, 400 * kSec, 60 * kSec, 0, 420 * kSec},
           {60 * kSec, 120 * kSec, 60 * kSec, 60 * kSec, 120 * kSec},  // already aligned
           {60 * kSec + 1, 120 * kSec - 1, 60 * kSec, 60 * kSec, 120 * kSec},
           {7 * kSec, 7 * kSec, 5 * kSec, 5 * kSec, 10 * kSec},
       }) {
    int64_t start = c.start, end = c.end;
    AlignToStep(c.step, &start, &end);
    EXPECT_EQ(start, c.want_start) << c.start;
    EXPECT_EQ(end, c.want_end) << c.end;
  }
}

// A dashboard's range rarely starts on a step: Loki evaluates at multiples of the step from the
// epoch (covering the asked range), not at start + k*step, whether or not the range is split.
TEST_F(FrontendTest, MetricRangeStepsAreAlignedToTheStep) {
  QueryFrontend frontend(&querier_, &overrides_, FrontendOptions{2, 2048}, &clock_);
  for (auto [start, end] : std::vector<std::pair<int64_t, int64_t>>{
           {13 * kSec, 47 * kSec},      // inside one split interval
           {13 * kSec, 400 * kSec}}) {  // cut into several
    QueryRequest req = MetricRequest(R"(count_over_time({env=~".+"}[90s]))", start, end, 20 * kSec);
    auto got = frontend.Exec({"a"}, req);
    ASSERT_TRUE(got.ok()) << got.status().message();
    ASSERT_FALSE(got->series.empty());
    int64_t first = std::numeric_limits<int64_t>::max(), last = 0;
    for (const auto& series : got->series) {
      for (const auto& p : series.points) {
        EXPECT_EQ(p.ts_ms % 20'000, 0) << p.ts_ms;
        first = std::min(first, p.ts_ms);
        last = std::max(last, p.ts_ms);
      }
    }
    EXPECT_EQ(first, start / 1'000'000 / 20'000 * 20'000);  // 0s: rounded down
    EXPECT_GE(last * 1'000'000, end);                       // rounded up
  }
}

TEST_F(FrontendTest, InstantQueriesPassThrough) {
  QueryFrontend frontend(&querier_, &overrides_, FrontendOptions{1, 2048}, &clock_);
  QueryRequest req =
      MetricRequest(R"(sum by (app) (count_over_time({env=~".+"}[10m])))", 0, 300 * kSec, 0);
  req.instant = true;
  auto want = querier_.Exec({"a"}, req);
  auto got = frontend.Exec({"a"}, req);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(got->type, ResultType::kVector);
  EXPECT_EQ(Render(*got), Render(*want));
  EXPECT_EQ(got->stats.splits, 0u);
}

TEST_F(FrontendTest, ErrorsAreTheQueriersOwn) {
  QueryFrontend frontend(&querier_, &overrides_, FrontendOptions{1, 2048}, &clock_);
  std::vector<QueryRequest> requests = {
      LogRequest("{app=", 0, 600 * kSec, 10, Direction::kBackward),
      LogRequest(R"({app="api"})", 0, 600 * kSec, 6000, Direction::kBackward),  // > max entries
      // A pipeline error the engine reports from the first split.
      MetricRequest(R"(sum by (app) (sum_over_time({app="api"} | unwrap foo [1m])))", 0, 600 * kSec,
                    10 * kSec),
  };
  for (const auto& req : requests) {
    auto want = querier_.Exec({"a"}, req);
    auto got = frontend.Exec({"a"}, req);
    ASSERT_EQ(got.ok(), want.ok()) << req.query;
    if (!want.ok()) {
      EXPECT_EQ(got.status().code(), want.status().code());
      EXPECT_EQ(got.status().message(), want.status().message());
    }
  }
  auto none = frontend.Exec({}, LogRequest(R"({app="api"})", 0, 10, 10, Direction::kBackward));
  EXPECT_EQ(none.status().code(), StatusCode::kUnauthenticated);
}

class FrontendLimitsTest : public FrontendTest {
 protected:
  static config::Limits Limits() {
    config::Limits l = TestLimits();
    l.max_query_series = 5;
    l.max_query_length = 300 * kSec;
    return l;
  }
  FrontendLimitsTest() : FrontendTest(Limits()) {}
};

TEST_F(FrontendLimitsTest, LimitsApplyToTheWholeQuery) {
  QueryFrontend frontend(&querier_, &overrides_, FrontendOptions{2, 2048}, &clock_);
  // One series per db line: four in each one-minute split, eight in all.
  QueryRequest req = MetricRequest(
      R"q(count_over_time({app="db"} | regexp "db error (?P<n>\\d+)" [1s]))q", 0, 119 * kSec, kSec);
  auto want = querier_.Exec({"a"}, req);
  auto got = frontend.Exec({"a"}, req);
  ASSERT_FALSE(want.ok());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(), want.status().message());
  EXPECT_EQ(got.status().message(), logql::engine::SeriesLimitMessage(5));
  req.end_ns = 59 * kSec;  // one split, four series: fine
  ASSERT_TRUE(frontend.Exec({"a"}, req).ok());

  // max_query_length applies to the whole range, not to each split.
  QueryRequest logs = LogRequest(R"({app="api"})", 0, 301 * kSec, 10, Direction::kBackward);
  want = querier_.Exec({"a"}, logs);
  got = frontend.Exec({"a"}, logs);
  ASSERT_FALSE(want.ok());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(), want.status().message());
}

TEST_F(FrontendTest, TenantsAreServedRoundRobin) {
  GatedSource gated(&source_, "a");
  Querier querier(&gated, &overrides_, &clock_);
  QueryFrontend frontend(&querier, &overrides_, FrontendOptions{1, 2048}, &clock_);

  // Tenant a: ten splits, all needed (forward, no limit reached), behind a slow source.
  Result<QueryResult> a_result = Status::Internal("not run");
  std::thread a([&] {
    a_result = frontend.Exec(
        {"a"}, LogRequest(R"({app="api"})", 0, 600 * kSec, 5000, Direction::kForward));
  });
  std::atomic<bool> never{false};
  gated.WaitHeldOr(never);  // the worker holds a's first split; nine are queued
  while (frontend.queued("a") != 9) std::this_thread::yield();

  // Tenant b: one split, queued behind a's nine.
  std::atomic<bool> b_done{false};
  Result<QueryResult> b_result = Status::Internal("not run");
  std::thread b([&] {
    b_result =
        frontend.Exec({"b"}, LogRequest(R"({app="api"})", 0, 60 * kSec, 100, Direction::kForward));
    b_done = true;
    gated.Notify();
  });
  while (frontend.queued("b") != 1) std::this_thread::yield();

  // Let a's splits through one at a time until b is done.
  while (true) {
    gated.WaitHeldOr(b_done);
    if (b_done) break;
    gated.Release();
  }
  gated.Open();
  a.join();
  b.join();

  ASSERT_TRUE(b_result.ok()) << b_result.status().message();
  EXPECT_EQ(Render(*b_result), R"({app="api", env="prod"} 5000000000:b only)");
  ASSERT_TRUE(a_result.ok()) << a_result.status().message();
  EXPECT_EQ(a_result->stats.splits, 10u);
  // b's split ran after at most one more of a's, not after a's backlog.
  std::vector<std::string> order = gated.order();
  ASSERT_EQ(order.size(), 11u);
  auto b_pos = static_cast<size_t>(std::find(order.begin(), order.end(), "b") - order.begin());
  EXPECT_LE(b_pos, 2u);
}

TEST_F(FrontendTest, FullQueueIsRefusedWith429) {
  GatedSource gated(&source_, "a");
  Querier querier(&gated, &overrides_, &clock_);
  QueryFrontend frontend(&querier, &overrides_, FrontendOptions{1, 3}, &clock_);

  auto got =
      frontend.Exec({"a"}, LogRequest(R"({app="api"})", 0, 600 * kSec, 5000, Direction::kForward));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kRateLimited);
  EXPECT_EQ(HttpStatusFor(got.status().code()), 429);
  EXPECT_EQ(got.status().message(), "too many outstanding requests");
  // The refused query's queued splits are gone; another tenant is unaffected.
  EXPECT_EQ(frontend.queued("a"), 0u);
  gated.Open();
  auto b =
      frontend.Exec({"b"}, LogRequest(R"({app="api"})", 0, 60 * kSec, 100, Direction::kForward));
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->stats.total_entries_returned, 1u);
}

class FrontendCancelTest : public FrontendTest {
 protected:
  static config::Limits Limits() {
    config::Limits l = TestLimits();
    l.query_timeout = 10 * kSec;
    return l;
  }
  FrontendCancelTest() : FrontendTest(Limits()) {
    // Enough entries in the first split for the deadline check (every 1024 reads) to fire.
    std::vector<model::Entry> many;
    for (int i = 0; i < 5000; ++i) many.push_back(model::Entry{i * 1000, "x", {}});
    source_.Add("c", R"({app="big"})", std::move(many));
    source_.Add("c", R"({app="big"})", 500 * kSec, "late");
  }

  // Runs a ten-split query for tenant c whose first split is held in the source, calls
  // `give_up` once it is held, and checks that the query is dropped: its queued splits never run
  // and the running one stops reading at its next deadline check.
  void ExpectAbandoned(const std::function<void()>& give_up, const std::atomic<bool>* cancelled,
                       StatusCode want_code, const std::string& want_message) {
    GatedSource gated(&source_, "c");
    Querier querier(&gated, &overrides_, &clock_);
    {
      QueryFrontend frontend(&querier, &overrides_, FrontendOptions{1, 2048}, &clock_);
      Result<QueryResult> result = Status::Internal("not run");
      std::thread t([&] {
        result = frontend.Exec(
            {"c"}, LogRequest(R"({app="big"})", 0, 600 * kSec, 5000, Direction::kForward),
            cancelled);
      });
      std::atomic<bool> never{false};
      gated.WaitHeldOr(never);
      give_up();
      t.join();
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.status().code(), want_code);
      EXPECT_EQ(result.status().message(), want_message);
      EXPECT_EQ(frontend.queued("c"), 0u);
      gated.Open();                       // the held split goes on, and meets the lowered deadline
    }                                     // joins the worker
    EXPECT_EQ(gated.order().size(), 1u);  // the nine queued splits never ran
    EXPECT_GE(gated.reads(), 1);
    EXPECT_LT(gated.reads(), 2000);
  }
};

TEST_F(FrontendCancelTest, TimeoutDropsQueuedAndStopsRunningSubqueries) {
  ExpectAbandoned([this] { clock_.Advance(11 * kSec); }, nullptr, StatusCode::kDeadlineExceeded,
                  std::string(kQueryTimeoutMessage));
}

TEST_F(FrontendCancelTest, CancelDropsQueuedAndStopsRunningSubqueries) {
  std::atomic<bool> cancelled{false};
  ExpectAbandoned([&] { cancelled = true; }, &cancelled, StatusCode::kUnavailable,
                  "context canceled");
}

}  // namespace
}  // namespace sluice::querier

namespace sluice::querier {
namespace {

// Exact equality of two matrices: labels, timestamps and the values' bits.
void ExpectSameMatrix(const QueryResult& got, const QueryResult& want) {
  ASSERT_EQ(got.type, ResultType::kMatrix);
  ASSERT_EQ(want.type, ResultType::kMatrix);
  ASSERT_EQ(got.series.size(), want.series.size());
  for (size_t i = 0; i < got.series.size(); ++i) {
    EXPECT_EQ(got.series[i].labels, want.series[i].labels);
    EXPECT_EQ(got.series[i].points, want.series[i].points) << got.series[i].labels.ToString();
  }
}

cache::CachePtr ResultsCache() {
  cache::CacheOptions o;
  o.embedded_cache.enabled = true;
  o.embedded_cache.max_size_bytes = 16 << 20;
  auto c = cache::NewCache(o, "frontend.results-cache");
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

TEST_F(FrontendTest, ResultsCacheAnswersRepeatedMetricQueriesIdentically) {
  cache::CachePtr results = ResultsCache();
  FrontendOptions options{3, 2048};
  options.cache_results = true;
  options.results_cache = results.get();
  QueryFrontend cached(&querier_, &overrides_, options, &clock_);
  QueryFrontend uncached(&querier_, &overrides_, FrontendOptions{3, 2048}, &clock_);
  auto& hits = *cache::InstrumentMetrics::Get().hits->WithLabels({"frontend.results-cache"});

  const std::vector<std::string> queries = {
      R"(count_over_time({env=~".+"}[90s]))",
      R"(sum by (app) (rate({env=~".+"}[2m])))",
      R"(sum(count_over_time({app="api"}[30s])) * 2)",
  };
  for (const auto& q : queries) {
    SCOPED_TRACE(q);
    for (auto [start, end, step] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {0, 600 * kSec, 7 * kSec}, {13 * kSec, 400 * kSec, 60 * kSec}}) {
      QueryRequest req = MetricRequest(q, start, end, step);
      auto want = uncached.Exec({"a"}, req);
      ASSERT_TRUE(want.ok());
      auto first = cached.Exec({"a"}, req);
      ASSERT_TRUE(first.ok());
      ExpectSameMatrix(*first, *want);
      EXPECT_EQ(first->stats.results_cache_found, 0u);
      EXPECT_EQ(first->stats.results_cache_stored, first->stats.splits);

      const double hits_before = hits.value();
      auto again = cached.Exec({"a"}, req);
      ASSERT_TRUE(again.ok());
      ExpectSameMatrix(*again, *want);
      EXPECT_EQ(again->stats.results_cache_requested, again->stats.splits);
      EXPECT_EQ(again->stats.results_cache_found, again->stats.splits);
      EXPECT_EQ(again->stats.results_cache_stored, 0u);
      EXPECT_EQ(again->stats.total_lines_processed, 0u);  // nothing ran
      EXPECT_EQ(hits.value() - hits_before, static_cast<double>(again->stats.splits));
    }
  }
  // Different tenants, another query text, another step: different entries.
  auto other = cached.Exec({"b"}, MetricRequest(queries[0], 0, 600 * kSec, 7 * kSec));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->stats.results_cache_found, 0u);
  // The same query spelled differently shares them.
  auto respelled = cached.Exec(
      {"a"}, MetricRequest("count_over_time( { env =~ \".+\" } [90s] )", 0, 600 * kSec, 7 * kSec));
  ASSERT_TRUE(respelled.ok());
  EXPECT_EQ(respelled->stats.results_cache_found, respelled->stats.splits);
}

TEST_F(FrontendTest, ResultsCacheRunsRecentSplitsAndSeesNewData) {
  cache::CachePtr results = ResultsCache();
  FrontendOptions options{3, 2048};
  options.cache_results = true;
  options.results_cache = results.get();
  options.max_cache_freshness_ns = 10 * 60 * kSec;
  QueryFrontend cached(&querier_, &overrides_, options, &clock_);
  QueryFrontend uncached(&querier_, &overrides_, FrontendOptions{3, 2048}, &clock_);

  // "Now" is 15 minutes after the data starts: splits ending before minute 5 are final.
  clock_.Set(900 * kSec);
  const QueryRequest req =
      MetricRequest(R"(sum by (app) (count_over_time({env=~".+"}[1m])))", 0, 600 * kSec, 15 * kSec);
  auto first = cached.Exec({"a"}, req);
  ASSERT_TRUE(first.ok());
  const uint64_t final_splits = first->stats.results_cache_requested;
  EXPECT_EQ(final_splits, 5u);  // minutes 0-4 of the eleven one-minute splits
  EXPECT_EQ(first->stats.results_cache_stored, final_splits);

  // New lines arrive in the newest split, which is not final: it runs again and shows them.
  source_.Add("a", R"({app="api", env="prod"})", 590 * kSec + 1, "late arrival");
  source_.Add("a", R"({app="new", env="prod"})", 595 * kSec, "a new stream");
  auto again = cached.Exec({"a"}, req);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stats.results_cache_found, final_splits);
  auto want = uncached.Exec({"a"}, req);
  ASSERT_TRUE(want.ok());
  ExpectSameMatrix(*again, *want);
  bool saw_new = false;
  for (const auto& s : again->series) saw_new |= s.labels.ToString() == R"({app="new"})";
  EXPECT_TRUE(saw_new);

  // As time passes, the newer splits become final and are cached in their turn.
  clock_.Set(2000 * kSec);
  auto later = cached.Exec({"a"}, req);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->stats.results_cache_requested, later->stats.splits);
  EXPECT_EQ(later->stats.results_cache_found, final_splits);
  ExpectSameMatrix(*later, *want);
}

TEST_F(FrontendTest, ResultsCacheLeavesLogAndInstantQueriesAlone) {
  cache::CachePtr results = ResultsCache();
  FrontendOptions options{3, 2048};
  options.cache_results = true;
  options.results_cache = results.get();
  QueryFrontend cached(&querier_, &overrides_, options, &clock_);
  auto logs =
      cached.Exec({"a"}, LogRequest(R"({app="api"})", 0, 600 * kSec, 50, Direction::kBackward));
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(logs->stats.results_cache_requested, 0u);
  QueryRequest instant = MetricRequest(R"(count_over_time({app="api"}[1m]))", 0, 300 * kSec, 0);
  instant.instant = true;
  auto inst = cached.Exec({"a"}, instant);
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ(inst->stats.results_cache_requested, 0u);
}

TEST(ResultsCacheCodecTest, RoundTripKeepsEveryBit) {
  std::vector<logql::engine::Series> series = {
      {*model::ParseLabels(R"({app="api", env="prod"})"),
       {{-5000, 1.5}, {0, -0.0}, {15000, 1e300}, {15001, std::numeric_limits<double>::infinity()}}},
      {model::LabelSet(), {}},
      {*model::ParseLabels(R"({a="\n\"quoted\""})"),
       {{std::numeric_limits<int64_t>::max() / 2, 3}}},
  };
  std::string encoded = EncodeMatrix(series);
  auto decoded = DecodeMatrix(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_EQ(decoded->size(), series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    EXPECT_EQ((*decoded)[i].labels, series[i].labels);
    ASSERT_EQ((*decoded)[i].points.size(), series[i].points.size());
    for (size_t j = 0; j < series[i].points.size(); ++j) {
      EXPECT_EQ((*decoded)[i].points[j].ts_ms, series[i].points[j].ts_ms);
      EXPECT_EQ(std::signbit((*decoded)[i].points[j].value),
                std::signbit(series[i].points[j].value));
      EXPECT_EQ((*decoded)[i].points[j].value, series[i].points[j].value);
    }
  }
  // Every truncation, a trailing byte and an unknown version are refused.
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    EXPECT_FALSE(DecodeMatrix(encoded.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(DecodeMatrix(encoded + "x").ok());
  std::string v2 = encoded;
  v2[0] = 2;
  EXPECT_FALSE(DecodeMatrix(v2).ok());
}

}  // namespace
}  // namespace sluice::querier
