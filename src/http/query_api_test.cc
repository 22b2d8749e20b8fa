#include "http/query_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "testing/fake_clock.h"
#include "testing/memory_source.h"

namespace sluice::http {
namespace {

class QueryApiTest : public ::testing::Test {
 protected:
  QueryApiTest() : overrides_(config::Limits{}, "", 0), querier_(&source_, &overrides_, &clock_) {
    const int64_t base = clock_.NowNanos() - 60 * kNanosPerSecond;
    source_.Add("fake", R"({app="api", env="prod"})",
                {{base + 1, "line <1>", {}},
                 {base + 2, "line 2", {{"trace_id", "abc"}}},
                 {base + 3, "line 3", {}}});
    source_.Add("fake", R"({app="web"})", {{base + 2, "web \"quoted\"", {}}});
    source_.Add("team-b", R"({app="b"})", {{base + 5, "from b", {}}});
    RegisterQueryRoutes(&router_, &querier_, auth_, &clock_);
  }

  Response Get(std::string path, std::vector<std::pair<std::string, std::string>> params,
               std::map<std::string, std::string> headers = {}) {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    for (auto& [k, v] : params) r.params.emplace(k, v);
    r.headers = std::move(headers);
    std::string route;
    return router_.Dispatch(r, &route);
  }

  bool auth_ = false;
  testing::FakeClock clock_{1'700'000'000LL * kNanosPerSecond};
  config::Overrides overrides_;
  testing::MemorySource source_;
  querier::Querier querier_;
  Router router_;
};

TEST_F(QueryApiTest, QueryRangeShape) {
  Response r = Get("/loki/api/v1/query_range", {{"query", R"({app=~"api|web"})"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  const int64_t base = clock_.NowNanos() - 60 * kNanosPerSecond;
  // Structured metadata is folded into the stream's labels (a stream of its own), as Loki does
  // without encoding flags; streams sort by their labels' text.
  std::string want_prefix = R"({"status":"success","data":{"resultType":"streams","result":[)"
                            R"({"stream":{"app":"api","env":"prod","trace_id":"abc"},)"
                            R"("values":[[")" +
                            std::to_string(base + 2) +
                            R"(","line 2"]]},)"
                            R"({"stream":{"app":"api","env":"prod"},"values":[[")" +
                            std::to_string(base + 3) + R"(","line 3"],[")" +
                            std::to_string(base + 1) +
                            R"(","line \u003c1\u003e"]]},)"
                            R"({"stream":{"app":"web"},"values":[[")" +
                            std::to_string(base + 2) + R"(","web \"quoted\""]]}],"stats":{)";
  EXPECT_EQ(r.body.substr(0, want_prefix.size()), want_prefix);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
  simdjson::dom::element stats = doc["data"]["stats"];
  EXPECT_EQ(uint64_t(stats["summary"]["totalEntriesReturned"]), 4u);
  EXPECT_EQ(uint64_t(stats["summary"]["totalLinesProcessed"]), 4u);
  EXPECT_TRUE(stats["summary"]["execTime"].is_number());
  EXPECT_TRUE(stats["querier"]["store"]["chunk"]["totalDuplicates"].is_number());
  EXPECT_TRUE(stats["ingester"]["store"]["totalChunksRef"].is_number());
  EXPECT_TRUE(stats["cache"]["chunk"]["entriesFound"].is_number());
  EXPECT_TRUE(stats["cache"]["result"]["requests"].is_number());
}

TEST_F(QueryApiTest, ForwardLimitAndPost) {
  Request r;
  r.method = "POST";
  r.path = "/loki/api/v1/query_range";
  r.params = {{"query", R"({app="api"})"}, {"direction", "FORWARD"}, {"limit", "2"}};
  std::string route;
  Response resp = router_.Dispatch(r, &route);
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(route, "loki_api_v1_query_range");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(resp.body).get(doc), simdjson::SUCCESS);
  // "line 2" carries structured metadata: a stream of its own, sorted first.
  simdjson::dom::array result = doc["data"]["result"];
  ASSERT_EQ(result.size(), 2u) << resp.body;
  simdjson::dom::array with_md = result.at(0)["values"];
  simdjson::dom::array plain = result.at(1)["values"];
  ASSERT_EQ(with_md.size(), 1u);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(std::string_view(plain.at(0).at(1)), "line <1>");
  EXPECT_EQ(std::string_view(with_md.at(0).at(1)), "line 2");
}

TEST_F(QueryApiTest, CategorizeLabels) {
  Response r = Get("/loki/api/v1/query_range", {{"query", R"({app="api"})"}},
                   {{"x-loki-response-encoding-flags", "categorize-labels"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("data":{"resultType":"streams","encodingFlags":["categorize-labels"],)"
                        R"("result":[{"stream":{"app":"api","env":"prod"},)"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"(,"line 2",{"structuredMetadata":{"trace_id":"abc"}}])"),
            std::string::npos);
  EXPECT_NE(r.body.find(R"(,"line 3",{}])"), std::string::npos);
}

TEST_F(QueryApiTest, EmptyResult) {
  Response r = Get("/loki/api/v1/query_range", {{"query", R"({app="none"})"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind(
                R"({"status":"success","data":{"resultType":"streams","result":[],"stats":{)", 0),
            0u);
}

TEST_F(QueryApiTest, BadParams) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> params;
    int status;
    std::string body;
  };
  const std::string q = R"({app="api"})";
  std::vector<Case> cases = {
      {{{"query", q}, {"start", "abc"}},
       400,
       "could not parse 'start' parameter: strconv.ParseInt: parsing \"abc\": invalid syntax"},
      {{{"query", q}, {"end", "1.x"}},
       400,
       "could not parse 'end' parameter: strconv.ParseFloat: parsing \"1.x\": invalid syntax"},
      {{{"query", q}, {"since", "forever"}},
       400,
       "could not parse 'since' parameter: not a valid duration string: \"forever\""},
      {{{"query", q}, {"start", "200"}, {"end", "100"}},
       400,
       "end timestamp must not be before or equal to start time"},
      {{{"query", q}, {"limit", "x"}}, 400, "strconv.Atoi: parsing \"x\": invalid syntax"},
      {{{"query", q}, {"limit", "0"}}, 400, "limit must be a positive value"},
      {{{"query", q}, {"limit", "6000"}},
       400,
       "max entries limit per query exceeded, limit > max_entries_limit (6000 > 5000)"},
      {{{"query", q}, {"direction", "sideways"}}, 400, "invalid direction 'sideways'"},
      {{{"query", q}, {"step", "0"}},
       400,
       "zero or negative query resolution step widths are not accepted. Try a positive integer"},
      {{{"query", q}, {"step", "1ms"}},
       400,
       "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of "
       "the step parameter"},
      {{{"query", q}, {"step", "abc"}}, 400, "cannot parse \"abc\" to a valid duration"},
      {{{"query", q}, {"interval", "-1"}}, 400, "interval must be >= 0"},
      {{{"query", R"(count_over_time({app=~"api|web"}[1m]) + on() vector(1))"}},
       400,
       "multiple matches for labels: many-to-one matching must be explicit "
       "(group_left/group_right)"},
      {{{"query", R"({app="api"} | logfmt | addr = ip("abc"))"}},
       400,
       R"(ip: invalid pattern: "abc")"},
  };
  for (const auto& c : cases) {
    Response r = Get("/loki/api/v1/query_range", c.params);
    EXPECT_EQ(r.status, c.status) << c.body;
    EXPECT_EQ(r.body, c.body + "\n");
  }
  Response parse = Get("/loki/api/v1/query_range", {{"query", R"({app="api")"}});
  EXPECT_EQ(parse.status, 400);
  EXPECT_EQ(parse.body.rfind("parse error at line 1, col ", 0), 0u) << parse.body;
}

TEST_F(QueryApiTest, MetricResults) {
  // Values are strings formatted as Go's FormatFloat(v, 'f', -1, 64); timestamps are float
  // seconds with millisecond precision.
  Response vec =
      Get("/loki/api/v1/query", {{"query", R"(sum(count_over_time({app=~"api|web"}[5m])))"}});
  ASSERT_EQ(vec.status, 200) << vec.body;
  EXPECT_EQ(vec.body.rfind(R"({"status":"success","data":{"resultType":"vector","result":[)"
                           R"({"metric":{},"value":[1700000000,"4"]}],"stats":{"summary":{)",
                           0),
            0u)
      << vec.body;

  // Steps at now-120s, now-60s, now: the entries (just after now-60s) are only in the last.
  Response matrix = Get("/loki/api/v1/query_range",
                        {{"query", R"(sum by (app) (count_over_time({app=~"api|web"}[1m])))"},
                         {"start", "1699999880"},
                         {"end", "1700000000"},
                         {"step", "60"}});
  ASSERT_EQ(matrix.status, 200) << matrix.body;
  EXPECT_EQ(matrix.body.rfind(R"({"status":"success","data":{"resultType":"matrix","result":[)"
                              R"({"metric":{"app":"api"},"values":[[1700000000,"3"]]},)"
                              R"({"metric":{"app":"web"},"values":[[1700000000,"1"]]}],"stats":{)",
                              0),
            0u)
      << matrix.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(matrix.body).get(doc), simdjson::SUCCESS) << matrix.body;
  EXPECT_EQ(uint64_t(doc["data"]["stats"]["summary"]["totalEntriesReturned"]), 2u);
  EXPECT_EQ(uint64_t(doc["data"]["stats"]["summary"]["totalLinesProcessed"]), 4u);

  Response scalar = Get("/loki/api/v1/query", {{"query", "1.5"}, {"time", "1700000000.25"}});
  ASSERT_EQ(scalar.status, 200) << scalar.body;
  EXPECT_EQ(scalar.body.rfind(R"({"status":"success","data":{"resultType":"scalar","result":)"
                              R"([1700000000.25,"1.5"],"stats":{)",
                              0),
            0u)
      << scalar.body;

  Response nan =
      Get("/loki/api/v1/query", {{"query", R"(sum(count_over_time({app="api"}[5m])) / 0)"}});
  ASSERT_EQ(nan.status, 200) << nan.body;
  EXPECT_NE(nan.body.find(R"("value":[1700000000,"NaN"])"), std::string::npos) << nan.body;

  // Structured metadata is part of a metric query's series labels, as in Loki.
  Response md = Get("/loki/api/v1/query", {{"query", R"(count_over_time({app="api"}[5m]))"}});
  EXPECT_NE(md.body.find(R"({"metric":{"app":"api","env":"prod","trace_id":"abc"},)"
                         R"("value":[1700000000,"1"]})"),
            std::string::npos)
      << md.body;
}

TEST_F(QueryApiTest, InstantQuery) {
  // A log query at an instant reads the `since` (1h) before `time`, newest first.
  Response r = Get("/loki/api/v1/query", {{"query", R"({app="api"})"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("resultType":"streams")"), std::string::npos);
  // (Newest first within a stream; "line 2" has metadata, so a stream of its own.)
  EXPECT_LT(r.body.find("line 3"), r.body.find(R"(line \u003c1\u003e)"));
  Response narrow = Get("/loki/api/v1/query", {{"query", R"({app="api"})"}, {"since", "1ns"}});
  EXPECT_EQ(narrow.body.find("line 3"), std::string::npos);
  Response bad_since = Get("/loki/api/v1/query", {{"query", R"({app="api"})"}, {"since", "x"}});
  EXPECT_EQ(bad_since.status, 400);
  Response bad_time = Get("/loki/api/v1/query", {{"query", R"({app="api"})"}, {"time", "nope"}});
  EXPECT_EQ(bad_time.status, 400);
  EXPECT_EQ(bad_time.body, "strconv.ParseInt: parsing \"nope\": invalid syntax\n");
}

TEST_F(QueryApiTest, LabelsValuesSeries) {
  Response labels = Get("/loki/api/v1/labels", {});
  ASSERT_EQ(labels.status, 200);
  EXPECT_EQ(labels.body, R"({"status":"success","data":["app","env"]})");

  Response values = Get("/loki/api/v1/label/app/values", {});
  EXPECT_EQ(values.body, R"({"status":"success","data":["api","web"]})");
  Response filtered = Get("/loki/api/v1/label/app/values", {{"query", R"({env="prod"})"}});
  EXPECT_EQ(filtered.body, R"({"status":"success","data":["api"]})");
  Response none = Get("/loki/api/v1/label/nope/values", {});
  EXPECT_EQ(none.body, R"({"status":"success","data":[]})");
  // Outside the default 1h window.
  Response old = Get("/loki/api/v1/labels", {{"start", "1"}, {"end", "2"}});
  EXPECT_EQ(old.body, R"({"status":"success","data":[]})");

  Response series =
      Get("/loki/api/v1/series", {{"match[]", R"({app="web"})"}, {"match[]", R"({env="prod"})"}});
  ASSERT_EQ(series.status, 200);
  EXPECT_EQ(series.body,
            R"({"status":"success","data":[{"app":"api","env":"prod"},{"app":"web"}]})");
  Response bad = Get("/loki/api/v1/series", {{"match[]", "{app"}});
  EXPECT_EQ(bad.status, 400);

  Response legacy = Get("/api/prom/label", {});
  EXPECT_EQ(legacy.body, R"({"values":["app","env"]})");
  Response legacy_values = Get("/api/prom/label/app/values", {});
  EXPECT_EQ(legacy_values.body, R"({"values":["api","web"]})");
}

TEST_F(QueryApiTest, LegacyQuery) {
  Response r = Get("/api/prom/query", {{"query", R"({app="web"})"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      r.body.rfind(
          R"({"streams":[{"labels":"{app=\"web\"}","entries":[{"ts":"2023-11-14T22:12:20.000000002Z","line":"web \"quoted\""}]}],"stats":{)",
          0),
      0u)
      << r.body;
  Response re = Get("/api/prom/query", {{"query", R"({app="api"})"}, {"regexp", "line [23]"}});
  ASSERT_EQ(re.status, 200) << re.body;
  EXPECT_EQ(re.body.find("line \\u003c1\\u003e"), std::string::npos);
  EXPECT_NE(re.body.find("line 2"), std::string::npos);
  Response metric = Get("/api/prom/query", {{"query", R"(rate({app="api"}[1m]))"}});
  EXPECT_EQ(metric.status, 400);
  EXPECT_EQ(metric.body, "legacy endpoints only support streams result type\n");
}

class QueryApiAuthTest : public QueryApiTest {
 protected:
  QueryApiAuthTest() {
    router_ = Router();
    RegisterQueryRoutes(&router_, &querier_, true, &clock_);
  }
};

TEST_F(QueryApiAuthTest, TenantsFromHeader) {
  Response none = Get("/loki/api/v1/query_range", {{"query", R"({app="b"})"}});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body, "no org id\n");
  Response b =
      Get("/loki/api/v1/query_range", {{"query", R"({app="b"})"}}, {{"x-scope-orgid", "team-b"}});
  ASSERT_EQ(b.status, 200);
  EXPECT_NE(b.body.find(R"({"stream":{"app":"b"},"values")"), std::string::npos) << b.body;
  Response multi = Get("/loki/api/v1/query_range", {{"query", R"({app=~"b|web"})"}},
                       {{"x-scope-orgid", "team-b|fake"}});
  ASSERT_EQ(multi.status, 200);
  EXPECT_NE(multi.body.find(R"({"stream":{"__tenant_id__":"fake","app":"web"})"), std::string::npos)
      << multi.body;
  EXPECT_NE(multi.body.find(R"({"stream":{"__tenant_id__":"team-b","app":"b"})"), std::string::npos)
      << multi.body;
}

TEST_F(QueryApiTest, FormatQuery) {
  // No tenant needed; the query comes back in canonical form.
  Response r = Get("/loki/api/v1/format_query",
                   {{"query", R"(sum   by(job) (rate( {app="x"}|="err" | json [5m])))"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(r.body, R"({"status":"success","data":"sum by (job)(rate({app=\"x\"} |= )"
                    R"j(\"err\" | json[5m]))"})j"
                    "\n");

  Request post;
  post.method = "POST";
  post.path = "/loki/api/v1/format_query";
  post.params = {{"query", R"({app="x"}  |  logfmt)"}};
  std::string route;
  Response p = router_.Dispatch(post, &route);
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.body, R"({"status":"success","data":"{app=\"x\"} | logfmt"})"
                    "\n");

  Response bad = Get("/loki/api/v1/format_query", {{"query", R"({app="x"} |)"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body.rfind(R"({"status":"invalid-query","error":"parse error)", 0), 0u) << bad.body;
  Response empty = Get("/loki/api/v1/format_query", {});
  EXPECT_EQ(empty.status, 400) << empty.body;
}

}  // namespace
}  // namespace sluice::http
