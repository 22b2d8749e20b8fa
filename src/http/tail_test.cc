#include "http/tail.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "http/index_api.h"
#include "http/query_api.h"
#include "logql/syntax/parser.h"
#include "testing/fake_clock.h"
#include "testing/memory_source.h"

namespace sluice::http {
namespace {

constexpr int64_t kSec = 1'000'000'000;

// A querier over an in-memory source, and a query frontend in front of it (one local worker).
class TailFixture : public ::testing::Test {
 protected:
  explicit TailFixture(config::Limits limits = {})
      : overrides_(limits, "", 0),
        querier_(&source_, &overrides_, &clock_),
        frontend_(&querier_, &overrides_, querier::FrontendOptions{}, &clock_),
        querier_source_(&querier_),
        frontend_source_(&frontend_, &overrides_) {}

  Tailer MakeOn(TailSource* source, std::string query, int64_t start_ns, uint32_t limit = 100,
                int64_t delay_ns = 0, bool categorize = false) {
    Tailer t(source, {"fake"}, TailRequest{std::move(query), start_ns, limit, delay_ns, categorize},
             &clock_);
    EXPECT_TRUE(t.Init().ok());
    return t;
  }
  std::string Poll(Tailer& t) {
    auto frame = t.Poll();
    EXPECT_TRUE(frame.ok()) << frame.status().message();
    return frame.ok() ? *frame : "";
  }

  testing::FakeClock clock_{10'000 * kSec};
  config::Overrides overrides_;
  testing::MemorySource source_;
  querier::Querier querier_;
  querier::QueryFrontend frontend_;
  QuerierTailSource querier_source_;
  FrontendTailSource frontend_source_;
};

// Every tail behaviour holds whichever source the tailer polls: the querier (the single binary)
// or the query frontend (a frontend-only process).
enum class Via : uint8_t { kQuerier, kFrontend };

class TailTest : public TailFixture, public ::testing::WithParamInterface<Via> {
 protected:
  Tailer Make(std::string query, int64_t start_ns, uint32_t limit = 100, int64_t delay_ns = 0,
              bool categorize = false) {
    TailSource* source = GetParam() == Via::kQuerier ? static_cast<TailSource*>(&querier_source_)
                                                     : &frontend_source_;
    return MakeOn(source, std::move(query), start_ns, limit, delay_ns, categorize);
  }
};

INSTANTIATE_TEST_SUITE_P(Sources, TailTest, ::testing::Values(Via::kQuerier, Via::kFrontend),
                         [](const ::testing::TestParamInfo<Via>& info) {
                           return info.param == Via::kQuerier ? "Querier" : "Frontend";
                         });

TEST_P(TailTest, SendsHistoryThenOnlyNewEntries) {
  int64_t now = clock_.NowNanos();
  source_.Add("fake", R"({app="a"})", now - 3 * kSec, "one");
  source_.Add("fake", R"({app="a"})", now - 2 * kSec, "two");
  source_.Add("fake", R"({app="a"})", now - 1 * kSec, "three");
  Tailer t = Make(R"({app="a"})", now - 10 * kSec, /*limit=*/2);
  // The newest `limit` entries, oldest first.
  EXPECT_EQ(Poll(t), "{\"streams\":[{\"stream\":{\"app\":\"a\"},\"values\":[[\"" +
                         std::to_string(now - 2 * kSec) + "\",\"two\"],[\"" +
                         std::to_string(now - kSec) + "\",\"three\"]]}]}");
  EXPECT_EQ(Poll(t), "");

  clock_.Advance(kSec);
  source_.Add("fake", R"({app="a"})", now, "four");
  // Late by less than the window: still seen, once.
  source_.Add("fake", R"({app="a"})", now - 500'000'000, "late");
  std::string frame = Poll(t);
  EXPECT_NE(frame.find("\"late\"]"), std::string::npos) << frame;
  EXPECT_NE(frame.find("\"four\"]"), std::string::npos) << frame;
  EXPECT_EQ(frame.find("three"), std::string::npos) << frame;
  clock_.Advance(kSec);
  EXPECT_EQ(Poll(t), "");
}

// Frames follow the query API's rule: metadata folded into the labels by default; with
// categorize-labels, stream labels only, a third value element and the flags at the end.
TEST_P(TailTest, StructuredMetadataShapes) {
  int64_t now = clock_.NowNanos();
  source_.Add("fake", R"({app="a"})",
              {{now - 2 * kSec, "one", {{"trace", "x"}}}, {now - kSec, "two", {}}});
  const std::string one = "\"" + std::to_string(now - 2 * kSec) + "\",\"one\"";
  const std::string two = "\"" + std::to_string(now - kSec) + "\",\"two\"";
  Tailer plain = Make(R"({app="a"})", now - 10 * kSec);
  std::string frame = Poll(plain);
  EXPECT_NE(frame.find(R"({"stream":{"app":"a","trace":"x"},"values":[[)" + one + "]]}"),
            std::string::npos)
      << frame;
  EXPECT_NE(frame.find(R"({"stream":{"app":"a"},"values":[[)" + two + "]]}"), std::string::npos)
      << frame;
  Tailer categorized =
      Make(R"({app="a"} | label_format b="{{.app}}")", now - 10 * kSec, 100, 0, true);
  EXPECT_EQ(Poll(categorized),
            R"({"streams":[{"stream":{"app":"a"},"values":[[)" + one +
                R"(,{"structuredMetadata":{"trace":"x"},"parsed":{"b":"a"}}],[)" + two +
                R"(,{"parsed":{"b":"a"}}]]}],"encodingFlags":["categorize-labels"]})");
}

TEST_P(TailTest, AppliesPipelineAndDelay) {
  int64_t now = clock_.NowNanos();
  Tailer t = Make(R"({app="a"} |= "keep")", now - kSec, 100, /*delay_ns=*/2 * kSec);
  EXPECT_EQ(Poll(t), "");
  source_.Add("fake", R"({app="a"})", now, "keep me");
  source_.Add("fake", R"({app="a"})", now + 1, "drop me");
  clock_.Advance(kSec);
  EXPECT_EQ(Poll(t), "");  // still inside delay_for
  clock_.Advance(2 * kSec);
  std::string frame = Poll(t);
  EXPECT_NE(frame.find("keep me"), std::string::npos) << frame;
  EXPECT_EQ(frame.find("drop me"), std::string::npos) << frame;
}

TEST(ParseTailQueryTest, DefaultsAndErrors) {
  Request r;
  r.params.emplace("query", R"({app="a"})");
  auto parsed = ParseTailQuery(r, 5000 * kSec);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->start_ns, 5000 * kSec - 3600 * kSec);
  EXPECT_EQ(parsed->limit, 100u);
  EXPECT_EQ(parsed->delay_ns, 0);

  r.params.emplace("delay_for", "6");
  EXPECT_EQ(ParseTailQuery(r, 5000 * kSec).status().message(), "delay_for can't be greater than 5");
}

TEST(TailLimiterTest, CapsTailsPerTenant) {
  config::Limits limits;
  limits.max_concurrent_tail_requests = 1;
  config::Overrides overrides(limits, "", 0);
  TailLimiter limiter;
  EXPECT_TRUE(limiter.Acquire({"a"}, &overrides).ok());
  EXPECT_EQ(limiter.Acquire({"a"}, &overrides).message(),
            "max concurrent tail requests limit exceeded, count > limit (2 > 1)");
  EXPECT_TRUE(limiter.Acquire({"b"}, &overrides).ok());
  limiter.Release({"a"});
  EXPECT_TRUE(limiter.Acquire({"a"}, &overrides).ok());
}

using TailIndexTest = TailFixture;

TEST_F(TailIndexTest, IndexStatsAndVolume) {
  source_.Add("fake", R"({app="a", pod="1"})", {{1 * kSec, "12345", {}}, {2 * kSec, "123", {}}});
  source_.Add("fake", R"({app="a", pod="2"})", 1 * kSec, "1234567890");
  source_.Add("fake", R"({app="b"})", 1 * kSec, "x");
  Router router;
  RegisterIndexRoutes(&router, &querier_, false, &clock_);
  auto get = [&](std::string path, std::multimap<std::string, std::string> params) {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.params = std::move(params);
    r.params.emplace("start", "0");
    r.params.emplace("end", "10");
    std::string route;
    return router.Dispatch(r, &route);
  };
  Response stats = get("/loki/api/v1/index/stats", {{"query", R"({app="a"})"}});
  EXPECT_EQ(stats.status, 200) << stats.body;
  EXPECT_EQ(stats.body, R"({"streams":2,"chunks":0,"entries":3,"bytes":18})");

  Response volume = get("/loki/api/v1/index/volume", {{"query", R"({app=~"a|b"})"}});
  EXPECT_EQ(
      volume.body,
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"app":"a"},"value":[10,"18"]},{"metric":{"app":"b"},"value":[10,"1"]}]}})");

  Response by_pod = get("/loki/api/v1/index/volume",
                        {{"query", R"({app="a"})"}, {"targetLabels", "pod"}, {"limit", "1"}});
  EXPECT_EQ(by_pod.body, R"({"status":"success","data":{"resultType":"vector","result":[)"
                         R"({"metric":{"pod":"2"},"value":[10,"10"]}]}})");

  Response range =
      get("/loki/api/v1/index/volume_range", {{"query", R"({app="a"})"}, {"step", "5"}});
  EXPECT_EQ(range.body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                        R"({"metric":{"app":"a"},"values":[[5,"18"]]}]}})");
}

// Reads `source` to the end: "labels ts line" per entry, in the order returned.
std::vector<std::string> ReadAll(TailSource* source, TailRead read) {
  auto expr = logql::syntax::Parse(read.query);
  EXPECT_TRUE(expr.ok());
  read.plan = std::move(*expr);
  auto it = source->Read({"fake"}, read);
  EXPECT_TRUE(it.ok()) << it.status().message();
  std::vector<std::string> out;
  if (!it.ok()) return out;
  for (int i = 0; i < 10'000 && (*it)->Next(); ++i) {
    out.push_back((*it)->Labels().ToString() + " " + std::to_string((*it)->At().timestamp_ns) +
                  " " + (*it)->At().line);
  }
  EXPECT_TRUE((*it)->Error().ok()) << (*it)->Error().message();
  return out;
}

// Pages of three entries (max_entries_limit_per_query) from sub-queries split every 2s, so reads
// through the frontend take many pages and cut through timestamps shared by several entries.
class FrontendPagesTest : public TailFixture {
 protected:
  static config::Limits SmallPages() {
    config::Limits l;
    l.max_entries_limit_per_query = 3;
    l.split_queries_by_interval = 2 * kSec;
    return l;
  }
  FrontendPagesTest() : TailFixture(SmallPages()) {}

  // Two streams, entries of one timestamp in both and twice in one.
  void AddCorpus(int64_t t0) {
    source_.Add("fake", R"({app="a"})",
                {{t0, "a0", {}},
                 {t0 + 1, "a1", {}},
                 {t0 + 1, "a1bis", {}},
                 {t0 + 3 * kSec, "a3", {{"trace", "t"}}},
                 {t0 + 3 * kSec + 1, "a4", {}}});
    source_.Add("fake", R"({app="b"})",
                {{t0 + 1, "b1", {}}, {t0 + 2 * kSec, "b2", {}}, {t0 + 3 * kSec, "b3", {}}});
  }
};

TEST_F(FrontendPagesTest, ReadsEveryEntryOnceAsTheQuerierDoes) {
  const int64_t t0 = clock_.NowNanos() - 10 * kSec;
  AddCorpus(t0);
  for (auto direction : {model::Direction::kForward, model::Direction::kBackward}) {
    for (bool categorize : {false, true}) {
      TailRead read;
      read.query = R"({app=~"a|b"} |= "")";
      read.from_ns = t0;
      read.through_ns = clock_.NowNanos();
      read.direction = direction;
      read.categorize_labels = categorize;
      read.expected = 1000;
      std::vector<std::string> want = ReadAll(&querier_source_, read);
      ASSERT_EQ(want.size(), 8u);
      // Timestamp order; the querier's order within a timestamp is not the frontend's.
      std::vector<std::string> got = ReadAll(&frontend_source_, read);
      auto ts_of = [](const std::string& s) {
        size_t end = s.rfind(' ');
        size_t begin = s.rfind(' ', end - 1) + 1;
        return std::stoll(s.substr(begin, end - begin));
      };
      for (size_t i = 1; i < got.size(); ++i) {
        if (direction == model::Direction::kForward) {
          EXPECT_LE(ts_of(got[i - 1]), ts_of(got[i]));
        } else {
          EXPECT_GE(ts_of(got[i - 1]), ts_of(got[i]));
        }
      }
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want) << "categorize=" << categorize;
    }
  }
}

// More entries of one nanosecond than a page holds: the page cannot move on, so the rest of that
// nanosecond is skipped (the documented edge), and the read still ends.
TEST_F(FrontendPagesTest, FullPageOfOneTimestampMovesPastIt) {
  const int64_t t0 = clock_.NowNanos() - 10 * kSec;
  source_.Add("fake", R"({app="a"})",
              {{t0, "x1", {}}, {t0, "x2", {}}, {t0, "x3", {}}, {t0, "x4", {}}, {t0 + 1, "y", {}}});
  TailRead read;
  read.query = R"({app="a"})";
  read.from_ns = t0;
  read.through_ns = clock_.NowNanos();
  read.expected = 1000;
  std::vector<std::string> got = ReadAll(&frontend_source_, read);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.back(), R"({app="a"} )" + std::to_string(t0 + 1) + " y");
}

// A tailer over the paged frontend sends the frames a tailer over the querier sends.
TEST_F(FrontendPagesTest, TailerFramesMatchTheQuerier) {
  const int64_t t0 = clock_.NowNanos() - 10 * kSec;
  AddCorpus(t0);
  for (bool categorize : {false, true}) {
    Tailer local = MakeOn(&querier_source_, R"({app=~"a|b"})", t0 - kSec, 100, 0, categorize);
    Tailer remote = MakeOn(&frontend_source_, R"({app=~"a|b"})", t0 - kSec, 100, 0, categorize);
    std::string history = Poll(local);
    EXPECT_NE(history.find("a1bis"), std::string::npos) << history;
    EXPECT_EQ(Poll(remote), history);
    // New entries, and a late one inside kLateWindow, over several pages.
    const int64_t now = clock_.NowNanos();
    source_.Add("fake", R"({app="a"})",
                {{now, "n1", {}}, {now, "n1bis", {}}, {now + 1, "n2", {}}, {now + 2, "n3", {}}});
    source_.Add("fake", R"({app="b"})",
                {{now - 2 * kSec, "late", {}}, {now + 1, "m2", {}}, {now + 3, "m3", {}}});
    clock_.Advance(kSec);
    std::string fresh = Poll(local);
    EXPECT_NE(fresh.find("late"), std::string::npos) << fresh;
    EXPECT_EQ(fresh.find("a1bis"), std::string::npos) << fresh;
    EXPECT_EQ(Poll(remote), fresh);
    clock_.Advance(kSec);
    EXPECT_EQ(Poll(local), "");
    EXPECT_EQ(Poll(remote), "");
  }
}

// A session that records what the handler sends and closes after `polls` waits.
class RecordingSession final : public WebSocketSession {
 public:
  RecordingSession(int polls, std::function<void(int)> between)
      : polls_(polls), between_(std::move(between)) {}
  bool SendText(std::string text) override {
    frames.push_back(std::move(text));
    return true;
  }
  bool WaitClosed(int64_t) override {
    if (++waits_ >= polls_) return true;
    between_(waits_);
    return false;
  }
  void Close(uint16_t code, std::string reason) override {
    close_code = code;
    close_reason = std::move(reason);
  }

  std::vector<std::string> frames;
  uint16_t close_code = 0;
  std::string close_reason;

 private:
  int polls_;
  int waits_ = 0;
  std::function<void(int)> between_;
};

// A frontend-only process's routes serve the tail websocket, polling through the frontend.
TEST_F(TailIndexTest, FrontendRoutesServeTail) {
  config::Limits limits;
  limits.max_concurrent_tail_requests = 1;
  config::Overrides one_tail(limits, "", 0);
  Router router;
  RegisterFrontendQueryRoutes(&router, &frontend_, /*auth_enabled=*/false, &clock_, &one_tail);
  const int64_t now = clock_.NowNanos();
  source_.Add("fake", R"({app="a"})", now - kSec, "old");
  Request r;
  r.method = "GET";
  r.path = "/loki/api/v1/tail";
  r.params.emplace("query", R"({app="a"})");
  std::string route;
  const WebSocketHandler* handler = router.MatchWebSocket(r, &route);
  ASSERT_NE(handler, nullptr);
  EXPECT_EQ(route, "loki_api_v1_tail");

  auto run = (*handler)(r);
  ASSERT_TRUE(run.ok()) << run.status().message();
  // A second tail of the tenant while the first runs is refused with Loki's close frame.
  Request again = r;
  RecordingSession session(3, [&](int wait) {
    if (wait == 1) {
      auto second = (*handler)(again);
      ASSERT_TRUE(second.ok());
      RecordingSession refused(1, [](int) {});
      (*second)(refused);
      EXPECT_EQ(refused.close_code, 1011);
      EXPECT_EQ(refused.close_reason,
                "max concurrent tail requests limit exceeded, count > limit (2 > 1)");
      source_.Add("fake", R"({app="a"})", now, "new");
      clock_.Advance(kSec);
    }
  });
  (*run)(session);
  EXPECT_EQ(session.close_code, 0) << session.close_reason;
  ASSERT_EQ(session.frames.size(), 2u);
  EXPECT_EQ(session.frames[0], R"({"streams":[{"stream":{"app":"a"},"values":[[")" +
                                   std::to_string(now - kSec) + R"(","old"]]}]})");
  EXPECT_EQ(session.frames[1], R"({"streams":[{"stream":{"app":"a"},"values":[[")" +
                                   std::to_string(now) + R"(","new"]]}]})");

  // The slot was released when the session ended; a metric query is refused before the upgrade.
  Request metric = r;
  metric.params.clear();
  metric.params.emplace("query", R"(count_over_time({app="a"}[1m]))");
  auto refused = (*handler)(metric);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "tail requires a log query, not a metric query");
  auto third = (*handler)(r);
  ASSERT_TRUE(third.ok());
  RecordingSession last(1, [](int) {});
  (*third)(last);
  EXPECT_EQ(last.close_code, 0) << last.close_reason;
}

}  // namespace
}  // namespace sluice::http
