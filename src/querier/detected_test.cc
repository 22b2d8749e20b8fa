#include "querier/detected.h"

#include <gtest/gtest.h>

#include "testing/fake_clock.h"
#include "testing/memory_source.h"

namespace sluice::querier {
namespace {

model::LabelSet Labels(std::string_view text) {
  auto l = model::ParseLabels(text);
  EXPECT_TRUE(l.ok()) << text;
  return *l;
}

model::Entry Line(std::string line, std::vector<model::Label> metadata = {},
                  std::vector<model::Label> parsed = {}) {
  return model::Entry{1, std::move(line), std::move(metadata), std::move(parsed)};
}

const DetectedField* FindField(const std::vector<DetectedField>& fields, std::string_view name) {
  for (const auto& f : fields) {
    if (f.label == name) return &f;
  }
  return nullptr;
}

std::vector<std::string> Names(const std::vector<DetectedField>& fields) {
  std::vector<std::string> out;
  for (const auto& f : fields) out.push_back(f.label);
  return out;
}

TEST(DetectFieldTypeTest, FollowsLokisOrderOfGoParsers) {
  struct Case {
    std::string_view value;
    FieldType want;
  };
  const Case cases[] = {
      {"42", FieldType::kInt},
      {"-7", FieldType::kInt},
      {"+3", FieldType::kInt},
      // Out of int64 range: ParseInt fails, ParseFloat does not.
      {"99999999999999999999", FieldType::kFloat},
      {"3.14", FieldType::kFloat},
      {"1e3", FieldType::kFloat},
      {"NaN", FieldType::kFloat},
      {"true", FieldType::kBoolean},
      {"F", FieldType::kBoolean},
      {"TRUE", FieldType::kBoolean},
      {"1h30m", FieldType::kDuration},
      {"250ms", FieldType::kDuration},
      {"-1.5s", FieldType::kDuration},
      {"10MB", FieldType::kBytes},
      {"1.5 KiB", FieldType::kBytes},
      {"2,048kb", FieldType::kBytes},
      {"hello", FieldType::kString},
      {"", FieldType::kString},
      {"1d", FieldType::kString},     // not a Go duration, and "d" is no byte unit
      {"1e400", FieldType::kString},  // ParseFloat's range error; "e400" is no byte unit
      {"yes", FieldType::kString},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FieldTypeName(DetectFieldType(c.value)), FieldTypeName(c.want)) << c.value;
  }
}

TEST(FieldDetectorTest, JsonFieldsWithTypesCardinalityAndPaths) {
  FieldDetector d(1000);
  const model::LabelSet stream = Labels(R"({app="api"})");
  d.Add(stream, Line(R"({"msg":"ok","status":200,"latency":"12ms","user":{"id":"u1"},"ok":true})"));
  d.Add(stream, Line(R"({"msg":"ok","status":404,"latency":"3ms","user":{"id":"u2"},"ok":false})"));
  d.Add(stream,
        Line(R"({"msg":"fail","status":500,"latency":"1s","user":{"id":"u1"},"tags":[1]})"));
  auto fields = d.Fields();
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"latency", "msg", "ok", "status", "user_id"}));
  const DetectedField* status = FindField(fields, "status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->type, FieldType::kInt);
  EXPECT_EQ(status->cardinality, 3u);
  EXPECT_EQ(status->parsers, std::vector<std::string>{"json"});
  EXPECT_EQ(status->json_path, std::vector<std::string>{"status"});
  EXPECT_EQ(FindField(fields, "latency")->type, FieldType::kDuration);
  EXPECT_EQ(FindField(fields, "ok")->type, FieldType::kBoolean);
  EXPECT_EQ(FindField(fields, "ok")->cardinality, 2u);
  EXPECT_EQ(FindField(fields, "msg")->cardinality, 2u);
  const DetectedField* user = FindField(fields, "user_id");
  EXPECT_EQ(user->cardinality, 2u);
  EXPECT_EQ(user->json_path, (std::vector<std::string>{"user", "id"}));
}

TEST(FieldDetectorTest, LogfmtWhenTheLineIsNotJson) {
  FieldDetector d(1000);
  const model::LabelSet stream = Labels(R"({app="api"})");
  d.Add(stream, Line(R"(level=info status=200 size=1.5KB msg="hello world")"));
  d.Add(stream, Line(R"(level=warn status=200 size=3KB empty=)"));
  d.Add(stream, Line("plain text without pairs"));
  auto fields = d.Fields();
  // Empty values are dropped (Loki's logfmt without --keep-empty); bare words have none.
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"level", "msg", "size", "status"}));
  const DetectedField* level = FindField(fields, "level");
  EXPECT_EQ(level->parsers, std::vector<std::string>{"logfmt"});
  EXPECT_TRUE(level->json_path.empty());
  EXPECT_EQ(level->cardinality, 2u);
  EXPECT_EQ(FindField(fields, "status")->cardinality, 1u);
  EXPECT_EQ(FindField(fields, "size")->type, FieldType::kBytes);
}

TEST(FieldDetectorTest, StructuredMetadataHasNoParser) {
  FieldDetector d(1000);
  const model::LabelSet stream = Labels(R"({app="api"})");
  d.Add(stream, Line("just text", {{"trace_id", "a1"}, {"pod_ip", "10.0.0.1"}}));
  d.Add(stream, Line("more text", {{"trace_id", "b2"}}));
  d.Add(stream, Line(R"({"trace_id":"c3"})"));
  auto fields = d.Fields();
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"pod_ip", "trace_id"}));
  EXPECT_TRUE(FindField(fields, "pod_ip")->parsers.empty());
  // Seen as metadata and in a json line: one field, json among its parsers.
  const DetectedField* trace = FindField(fields, "trace_id");
  EXPECT_EQ(trace->cardinality, 3u);
  EXPECT_EQ(trace->parsers, std::vector<std::string>{"json"});
}

TEST(FieldDetectorTest, KeyEqualToAStreamLabelIsExtracted) {
  FieldDetector d(1000);
  d.Add(Labels(R"({app="api", level="info"})"), Line(R"({"level":"debug","app":{"v":"2"}})"));
  auto fields = d.Fields();
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"app_v", "level_extracted"}));
  // The path names the keys as written in the line.
  EXPECT_EQ(FindField(fields, "level_extracted")->json_path, std::vector<std::string>{"level"});
  EXPECT_EQ(FindField(fields, "app_v")->json_path, (std::vector<std::string>{"app", "v"}));
}

TEST(FieldDetectorTest, QueryParsedLabelsCountAndErrorsDoNot) {
  FieldDetector d(1000);
  // What `| regexp` and a failed `| json` of the query left on the entry.
  d.Add(Labels(R"({app="api"})"),
        Line("GET /x 200", {},
             {{"method", "GET"}, {"__error__", "JSONParserErr"}, {"__error_details__", "x"}}));
  auto fields = d.Fields();
  EXPECT_EQ(Names(fields), std::vector<std::string>{"method"});
  EXPECT_EQ(FindField(fields, "method")->parsers, std::vector<std::string>{"logfmt"});
}

TEST(FieldDetectorTest, LimitCapsNewFieldsAndTheLastEntryDecidesTheType) {
  FieldDetector d(2);
  const model::LabelSet stream = Labels(R"({app="api"})");
  d.Add(stream, Line("a=1 b=x"));
  d.Add(stream, Line("a=1.5 c=y"));
  auto fields = d.Fields();
  EXPECT_EQ(Names(fields), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(FindField(fields, "a")->type, FieldType::kFloat);
  EXPECT_EQ(FindField(fields, "a")->cardinality, 2u);
}

TEST(FieldValueCollectorTest, ValuesFromMetadataAndLinesWithBytesNormalized) {
  FieldValueCollector c("size", 1000);
  const model::LabelSet stream = Labels(R"({app="api"})");
  c.Add(stream, Line("size=1.5KB"));
  c.Add(stream, Line(R"({"size":"2048 b"})"));
  c.Add(stream, Line("size=17"));
  c.Add(stream, Line("other=1", {{"size", "9 MiB"}}));
  // Metadata values are kept as written; parsed byte sizes with a unit become go-humanize's.
  EXPECT_EQ(c.Values(), (std::vector<std::string>{"1.5kB", "17", "2.0kB", "9 MiB"}));
}

TEST(FieldValueCollectorTest, StopsAtTheLimit) {
  FieldValueCollector c("level", 2);
  const model::LabelSet stream = Labels(R"({app="api"})");
  for (std::string_view level : {"info", "warn", "error", "debug"}) {
    if (c.full()) break;
    c.Add(stream, Line("level=" + std::string(level)));
  }
  EXPECT_TRUE(c.full());
  EXPECT_EQ(c.Values(), (std::vector<std::string>{"info", "warn"}));
}

TEST(ShouldRejectLabelTest, IdsAndEmptyAreRejectedFlagsAreNot) {
  using Set = std::set<std::string, std::less<>>;
  EXPECT_TRUE(ShouldRejectLabel(Set{}));
  EXPECT_FALSE(ShouldRejectLabel(Set{"0", "1"}));
  EXPECT_FALSE(ShouldRejectLabel(Set{"1"}));
  EXPECT_TRUE(ShouldRejectLabel(Set{"1", "2"}));
  EXPECT_TRUE(ShouldRejectLabel(Set{"3.5"}));
  EXPECT_FALSE(ShouldRejectLabel(Set{"api"}));
  EXPECT_FALSE(ShouldRejectLabel(Set{"1", "2", "api"}));
  EXPECT_TRUE(ShouldRejectLabel(Set{"7", "123e4567-e89b-12d3-a456-426614174000",
                                    "{123e4567-e89b-12d3-a456-426614174001}",
                                    "123e4567e89b12d3a456426614174002"}));
  EXPECT_FALSE(ShouldRejectLabel(Set{"1", "2", "123e4567-e89b-12d3-a456-42661417400"}));
}

class DetectedQueryTest : public ::testing::Test {
 protected:
  DetectedQueryTest()
      : overrides_(config::Limits{}, "", 0), querier_(&source_, &overrides_, &clock_) {
    source_.Add("fake", R"({app="api", pod="1"})",
                {{10, R"({"status":200,"path":"/a"})", {{"trace_id", "t1"}}},
                 {20, R"({"status":500,"path":"/b"})", {{"trace_id", "t2"}}},
                 {30, R"({"status":200,"path":"/a"})", {}}});
    source_.Add("fake", R"({app="web", pod="2", id="17"})", {{15, "level=info dur=5s", {}}});
  }

  DetectedFieldsRequest Req(std::string query) {
    DetectedFieldsRequest r;
    r.query = std::move(query);
    r.start_ns = 0;
    r.end_ns = 100;
    return r;
  }

  testing::FakeClock clock_{10'000 * kNanosPerSecond};
  config::Overrides overrides_;
  testing::MemorySource source_;
  Querier querier_;
};

TEST_F(DetectedQueryTest, FieldsOfTheSelectedLines) {
  auto got = DetectFields(&querier_, {"fake"}, Req(R"({app=~"api|web"})"));
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(Names(*got), (std::vector<std::string>{"dur", "level", "path", "status", "trace_id"}));
  EXPECT_EQ(FindField(*got, "status")->cardinality, 2u);
  EXPECT_EQ(FindField(*got, "trace_id")->cardinality, 2u);
  EXPECT_TRUE(FindField(*got, "trace_id")->parsers.empty());
  EXPECT_EQ(FindField(*got, "dur")->type, FieldType::kDuration);

  // line_limit reads the newest lines only.
  DetectedFieldsRequest newest = Req(R"({app="api"})");
  newest.line_limit = 1;
  got = DetectFields(&querier_, {"fake"}, newest);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Names(*got), (std::vector<std::string>{"path", "status"}));

  // A pipeline narrows the lines read.
  got = DetectFields(&querier_, {"fake"}, Req(R"({app="api"} | json | status >= 500)"));
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(FindField(*got, "status")->cardinality, 1u);
  EXPECT_EQ(FindField(*got, "path")->cardinality, 1u);
}

TEST_F(DetectedQueryTest, FieldValuesAndBadQueries) {
  auto values = DetectFieldValues(&querier_, {"fake"}, Req(R"({app="api"})"), "path");
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"/a", "/b"}));
  values = DetectFieldValues(&querier_, {"fake"}, Req(R"({app="api"})"), "trace_id");
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"t1", "t2"}));

  auto metric = DetectFields(&querier_, {"fake"}, Req(R"(count_over_time({app="api"}[1m]))"));
  EXPECT_EQ(metric.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(metric.status().message(), "only log selector is supported");
  EXPECT_EQ(DetectFields(&querier_, {"fake"}, Req("")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(DetectedQueryTest, LabelsWithCardinalityWithoutIdLabels) {
  auto got = DetectLabels(&querier_, {"fake"}, "", 0, 100);
  ASSERT_TRUE(got.ok()) << got.status().message();
  // `id` holds only numbers and is left out; `pod` too, but it is one of Loki's static labels.
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].label, "app");
  EXPECT_EQ((*got)[0].cardinality, 2u);
  EXPECT_EQ((*got)[1].label, "pod");
  EXPECT_EQ((*got)[1].cardinality, 2u);

  got = DetectLabels(&querier_, {"fake"}, R"({app="web"})", 0, 100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].cardinality, 1u);

  EXPECT_FALSE(DetectLabels(&querier_, {"fake"}, R"({app="web"} | json)", 0, 100).ok());
}

}  // namespace
}  // namespace sluice::querier
