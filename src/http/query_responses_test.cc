#include "http/query_responses.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::http {
namespace {

// Bodies are compared up to their stats, which AppendStatsJson writes and StatsShape checks.
std::string BeforeStats(const std::string& body) { return body.substr(0, body.find("\"stats\":")); }

model::LabelSet Labels(std::vector<model::Label> labels) {
  return model::LabelSet(std::move(labels));
}

querier::QueryResult OneStream() {
  querier::QueryResult r;
  r.streams.push_back(model::Stream{Labels({{"app", "a"}}),
                                    {{5, "plain", {}}, {7, "with <md>", {{"trace_id", "x"}}}}});
  return r;
}

TEST(QueryResponsesTest, Streams) {
  // Without flags values are [ts, line] pairs whatever the entries carry: Loki folds metadata
  // and parsed labels into the stream labels instead (the engine groups the streams so).
  EXPECT_EQ(BeforeStats(MarshalStreamsResponse(OneStream(), false)),
            R"({"status":"success","data":{"resultType":"streams","result":[)"
            R"({"stream":{"app":"a"},"values":[["5","plain"],)"
            R"(["7","with \u003cmd\u003e"]]}],)");
  // categorize-labels: the flags after resultType, and every value gets a third element.
  EXPECT_EQ(BeforeStats(MarshalStreamsResponse(OneStream(), true)),
            R"({"status":"success","data":{"resultType":"streams",)"
            R"("encodingFlags":["categorize-labels"],"result":[)"
            R"({"stream":{"app":"a"},"values":[["5","plain",{}],)"
            R"(["7","with \u003cmd\u003e",{"structuredMetadata":{"trace_id":"x"}}]]}],)");
  // Parsed labels, alone and beside metadata.
  querier::QueryResult parsed;
  model::Entry only_parsed{1, "l", {}, {{"level", "info"}}};
  model::Entry both{2, "m", {{"trace_id", "x"}}, {{"__error__", "JSONParserErr"}}};
  parsed.streams.push_back(model::Stream{Labels({{"app", "a"}}), {only_parsed, both}});
  EXPECT_EQ(BeforeStats(MarshalStreamsResponse(parsed, true)),
            R"({"status":"success","data":{"resultType":"streams",)"
            R"("encodingFlags":["categorize-labels"],"result":[)"
            R"({"stream":{"app":"a"},"values":[["1","l",{"parsed":{"level":"info"}}],)"
            R"(["2","m",{"structuredMetadata":{"trace_id":"x"},)"
            R"("parsed":{"__error__":"JSONParserErr"}}]]}],)");
}

TEST(QueryResponsesTest, Metric) {
  querier::QueryResult matrix;
  matrix.type = querier::ResultType::kMatrix;
  matrix.series.push_back(logql::engine::Series{Labels({{"app", "a"}}), {{1000, 1}, {2500, 0.5}}});
  EXPECT_EQ(BeforeStats(MarshalMetricResponse(matrix, false)),
            R"({"status":"success","data":{"resultType":"matrix","result":[)"
            R"({"metric":{"app":"a"},"values":[[1,"1"],[2.5,"0.5"]]}],)");

  querier::QueryResult vector = matrix;
  vector.type = querier::ResultType::kVector;
  EXPECT_EQ(BeforeStats(MarshalMetricResponse(vector, true)),
            R"({"status":"success","data":{"resultType":"vector",)"
            R"("encodingFlags":["categorize-labels"],"result":[)"
            R"({"metric":{"app":"a"},"value":[1,"1"]}],)");

  querier::QueryResult scalar;
  scalar.type = querier::ResultType::kScalar;
  scalar.scalar = {1500, 2};
  EXPECT_EQ(BeforeStats(MarshalMetricResponse(scalar, false)),
            R"({"status":"success","data":{"resultType":"scalar","result":[1.5,"2"],)");
}

TEST(QueryResponsesTest, Legacy) {
  EXPECT_EQ(BeforeStats(MarshalLegacyStreamsResponse(OneStream())),
            R"({"streams":[{"labels":"{app=\"a\"}","entries":[)"
            R"({"ts":"1970-01-01T00:00:00.000000005Z","line":"plain"},)"
            R"({"ts":"1970-01-01T00:00:00.000000007Z","line":"with \u003cmd\u003e"}]}],)");
}

TEST(QueryResponsesTest, StringsAndSeries) {
  EXPECT_EQ(MarshalStringsResponse({}), R"({"status":"success","data":[]})");
  EXPECT_EQ(MarshalStringsResponse({"a", "b\"c"}), R"({"status":"success","data":["a","b\"c"]})");
  EXPECT_EQ(MarshalSeriesResponse({Labels({{"b", "2"}, {"a", "1"}}), model::LabelSet()}),
            R"({"status":"success","data":[{"a":"1","b":"2"},{}]})");
}

TEST(QueryResponsesTest, StatsShape) {
  querier::QueryStats stats;
  stats.exec_time_ns = 500'000'000;
  stats.total_bytes_processed = 1000;
  stats.total_lines_processed = 10;
  stats.duplicates = 3;
  std::string out;
  AppendStatsJson(&out, stats);
  EXPECT_EQ(out.rfind(R"({"summary":{"bytesProcessedPerSecond":2000,"linesProcessedPerSecond":20,)"
                      R"("totalBytesProcessed":1000,"totalLinesProcessed":10,"execTime":0.5,)",
                      0),
            0u)
      << out;
  EXPECT_NE(out.find(R"("totalDuplicates":3,)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"(,"index":{"totalChunks":0,"postFilterChunks":0,"shardsDuration":0,)"
                     R"("usedBloomFilters":false}})"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace sluice::http
