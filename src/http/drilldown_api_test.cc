#include "http/drilldown_api.h"

#include <gtest/gtest.h>

#include "http/query_params.h"
#include "testing/fake_clock.h"
#include "testing/memory_source.h"

namespace sluice::http {
namespace {

class DrilldownApiTest : public ::testing::Test {
 protected:
  DrilldownApiTest()
      : overrides_(config::Limits{}, "", 0), querier_(&source_, &overrides_, &clock_) {
    const int64_t base = clock_.NowNanos() - 60 * kNanosPerSecond;
    source_.Add("fake", R"({app="api", env="prod"})",
                {{base + 1, "level=info status=200", {}},
                 {base + 2, R"({"level":"error","user":{"id":"u1"}})", {{"trace_id", "abc"}}}});
    RegisterDrilldownRoutes(&router_, &querier_, false, &clock_);
  }

  Response Get(std::string path, std::vector<std::pair<std::string, std::string>> params) {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    for (auto& [k, v] : params) r.params.emplace(k, v);
    std::string route;
    return router_.Dispatch(r, &route);
  }

  testing::FakeClock clock_{1'700'000'000LL * kNanosPerSecond};
  config::Overrides overrides_;
  testing::MemorySource source_;
  querier::Querier querier_;
  Router router_;
};

TEST_F(DrilldownApiTest, DetectedFieldsShape) {
  Response r = Get("/loki/api/v1/detected_fields", {{"query", R"({app="api"})"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(r.body,
            R"({"fields":[)"
            R"({"label":"level","type":"string","cardinality":2,"parsers":["json","logfmt"],)"
            R"("jsonPath":["level"]},)"
            R"({"label":"status","type":"int","cardinality":1,"parsers":["logfmt"]},)"
            R"({"label":"trace_id","type":"string","cardinality":1,"parsers":null},)"
            R"({"label":"user_id","type":"string","cardinality":1,"parsers":["json"],)"
            R"("jsonPath":["user","id"]}],"limit":1000})"
            "\n");
}

TEST_F(DrilldownApiTest, DetectedFieldValuesAndEmptyAnswers) {
  Response r = Get("/loki/api/v1/detected_field/level/values",
                   {{"query", R"({app="api"})"}, {"field_limit", "5"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"values\":[\"error\",\"info\"],\"limit\":5}\n");
  r = Get("/loki/api/v1/detected_field/nope/values", {{"query", R"({app="api"})"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}\n");
  r = Get("/loki/api/v1/detected_fields", {{"query", R"({app="none"})"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}\n");
}

TEST_F(DrilldownApiTest, DetectedLabelsShape) {
  Response r = Get("/loki/api/v1/detected_labels", {});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"detectedLabels":[{"label":"app","cardinality":1},)"
                    R"({"label":"env","cardinality":1}]})"
                    "\n");
  r = Get("/loki/api/v1/detected_labels", {{"query", R"({app="none"})"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}\n");
}

TEST_F(DrilldownApiTest, BadParametersGetLokisTexts) {
  struct Case {
    std::string path;
    std::vector<std::pair<std::string, std::string>> params;
    std::string want;
  };
  const std::string sel = R"({app="api"})";
  const Case cases[] = {
      {"/loki/api/v1/detected_fields",
       {{"query", sel}, {"line_limit", "0"}},
       "limit must be a positive value"},
      {"/loki/api/v1/detected_fields",
       {{"query", sel}, {"line_limit", "x"}},
       R"(strconv.Atoi: parsing "x": invalid syntax)"},
      {"/loki/api/v1/detected_fields",
       {{"query", sel}, {"line_limit", "4294967296"}},
       "line_limit value 4294967296 is out of range [0, 4294967295]"},
      {"/loki/api/v1/detected_fields",
       {{"query", sel}, {"limit", "-1"}},
       "limit must be a positive value"},
      {"/loki/api/v1/detected_field/a/values",
       {{"query", sel}, {"field_limit", "4294967296"}},
       "limit value 4294967296 is out of range [0, 4294967295]"},
      {"/loki/api/v1/detected_fields",
       {{"query", sel}, {"step", "0"}},
       "zero or negative query resolution step widths are not accepted. Try a positive integer"},
      {"/loki/api/v1/detected_fields",
       {{"query", sel}, {"start", "20"}, {"end", "10"}},
       "end timestamp must not be before or equal to start time"},
      {"/loki/api/v1/detected_labels",
       {{"start", "20"}, {"end", "10"}},
       "end timestamp must not be before or equal to start time"},
      {"/loki/api/v1/detected_fields",
       {{"query", "sum(count_over_time(" + sel + "[1m]))"}},
       "only log selector is supported"},
  };
  for (const auto& c : cases) {
    Response r = Get(c.path, c.params);
    EXPECT_EQ(r.status, 400) << c.path << " " << c.want;
    EXPECT_EQ(r.body, c.want + "\n") << c.path;  // http.Error ends the text with a newline
  }
  // A missing query is a parse error, as in Loki.
  EXPECT_EQ(Get("/loki/api/v1/detected_fields", {}).status, 400);
}

TEST(ParseDetectedFieldsQueryTest, DefaultsAndAliases) {
  Request r;
  r.params.emplace("query", "{a=\"b\"}");
  r.params.emplace("since", "5m");
  const int64_t now = 1'700'000'000LL * kNanosPerSecond;
  auto q = ParseDetectedFieldsQuery(r, now);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->line_limit, 100u);
  EXPECT_EQ(q->limit, 1000u);
  EXPECT_EQ(q->end_ns, now);
  EXPECT_EQ(q->start_ns, now - 300 * kNanosPerSecond);
  r.params.emplace("field_limit", "7");
  r.params.emplace("line_limit", "50");
  q = ParseDetectedFieldsQuery(r, now);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->limit, 7u);
  EXPECT_EQ(q->line_limit, 50u);
  r.params.emplace("limit", "9");  // `limit` wins over `field_limit`
  q = ParseDetectedFieldsQuery(r, now);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->limit, 9u);
}

TEST(MarshalDetectedTest, EmptyListsAreEmptyObjects) {
  EXPECT_EQ(MarshalDetectedFields({}, 1000), "{}\n");
  EXPECT_EQ(MarshalDetectedFieldValues({}, 1000), "{}\n");
  EXPECT_EQ(MarshalDetectedLabels({}), "{}\n");
}

}  // namespace
}  // namespace sluice::http
