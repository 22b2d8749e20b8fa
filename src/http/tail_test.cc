#include "http/tail.h"

#include <gtest/gtest.h>

#include "http/index_api.h"
#include "testing/fake_clock.h"
#include "testing/memory_source.h"

namespace sluice::http {
namespace {

constexpr int64_t kSec = 1'000'000'000;

class TailTest : public ::testing::Test {
 protected:
  TailTest() : overrides_(config::Limits{}, "", 0), querier_(&source_, &overrides_, &clock_) {}

  Tailer Make(std::string query, int64_t start_ns, uint32_t limit = 100, int64_t delay_ns = 0,
              bool categorize = false) {
    Tailer t(&querier_, {"fake"},
             TailRequest{std::move(query), start_ns, limit, delay_ns, categorize}, &clock_);
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
};

TEST_F(TailTest, SendsHistoryThenOnlyNewEntries) {
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
TEST_F(TailTest, StructuredMetadataShapes) {
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

TEST_F(TailTest, AppliesPipelineAndDelay) {
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

TEST_F(TailTest, IndexStatsAndVolume) {
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

}  // namespace
}  // namespace sluice::http
