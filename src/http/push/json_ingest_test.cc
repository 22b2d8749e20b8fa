#include "http/push/json_ingest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "testing/compress.h"

namespace sluice::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr int64_t kNow = 1'700'000'100'000'000'000;

struct Decoded {
  std::string labels;
  int64_t ts;
  std::string line;
  std::map<std::string, std::string> metadata;
};

// Every entry of a successful decode, in order, with its stream's labels.
std::vector<Decoded> Entries(const JsonIngestResult& r) {
  std::vector<Decoded> out;
  for (const auto& s : r.request.streams) {
    for (const auto& e : s.entries) {
      Decoded d{std::string(s.labels), e.timestamp_ns, std::string(e.line), {}};
      for (const auto& l : e.metadata) {
        d.metadata[l.name] = l.value;
      }
      out.push_back(std::move(d));
    }
  }
  return out;
}

JsonIngestParams Params(std::vector<std::string> stream, std::vector<std::string> msg = {"_msg"},
                        std::vector<std::string> time = {"_time"}) {
  JsonIngestParams p;
  p.stream_fields = std::move(stream);
  p.msg_fields = std::move(msg);
  p.time_fields = std::move(time);
  return p;
}

Result<JsonIngestResult> Lines(std::string_view body, const JsonIngestParams& params,
                               const config::Limits& limits = config::Limits(),
                               std::string_view encoding = "") {
  return DecodeJsonIngest(JsonIngestFormat::kJsonLines, body, encoding, params, PushDecodeOptions(),
                          limits, kNow);
}

Result<JsonIngestResult> Bulk(std::string_view body, const JsonIngestParams& params) {
  return DecodeJsonIngest(JsonIngestFormat::kElasticsearchBulk, body, "", params,
                          PushDecodeOptions(), config::Limits(), kNow);
}

TEST(JsonIngestTest, FieldsBecomeLabelsLineAndMetadata) {
  auto r = Lines(
      R"({"_msg":"disk full","_time":"2023-06-20T15:32:10.5Z","host":"h1","level":"error","code":507,"ok":false})"
      "\n",
      Params({"host"}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto e = Entries(*r);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].labels, R"({host="h1"})");
  EXPECT_EQ(e[0].line, "disk full");
  EXPECT_EQ(e[0].ts, 1687275130'500'000'000);
  EXPECT_THAT(e[0].metadata,
              ElementsAre(Pair("code", "507"), Pair("level", "error"), Pair("ok", "false")));
}

TEST(JsonIngestTest, NestedObjectsFlattenWithDotsAndNamesAreSanitised) {
  auto r = Lines(
      R"({"log":{"message":"hi","level":"warn"},"host":{"name":"web-1","os":{"version":"1.2"}},"tags":["a","b"],"@src":"x","5xx":1,"empty":"","nil":null})",
      Params({"host.name"}, {"log.message"}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto e = Entries(*r);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].labels, R"({host_name="web-1"})");
  EXPECT_EQ(e[0].line, "hi");
  EXPECT_THAT(e[0].metadata,
              ElementsAre(Pair("_src", "x"), Pair("host_os_version", "1.2"), Pair("key_5xx", "1"),
                          Pair("log_level", "warn"), Pair("tags", R"(["a","b"])")));
}

TEST(JsonIngestTest, FirstNonEmptyMessageFieldWinsAndMissingMessageKeepsTheDocument) {
  auto r = Lines(
      "{\"message\":\"\",\"msg\":\"second\",\"app\":\"a\"}\n"
      "{\"app\":\"a\",\"other\":1}\n",
      Params({"app"}, {"message", "msg"}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto e = Entries(*r);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, "second");
  EXPECT_TRUE(e[0].metadata.empty());  // "" is an absent field, "msg" became the line
  EXPECT_EQ(e[1].line, R"({"app":"a","other":1})");
  EXPECT_THAT(e[1].metadata, ElementsAre(Pair("other", "1")));
}

TEST(JsonIngestTest, TimesInEveryAcceptedForm) {
  const int64_t s = 1686026893;
  struct Case {
    std::string value;
    int64_t want;
  } cases[] = {
      {R"("2023-06-06T04:48:13Z")", s * 1'000'000'000},
      {R"("2023-06-06 06:48:13.123456789+02:00")", s * 1'000'000'000 + 123'456'789},
      {R"("2023-06-06T04:48:13")", s * 1'000'000'000},  // no zone: UTC
      {R"("2023-06-06")", (s - 4 * 3600 - 48 * 60 - 13) * 1'000'000'000},
      {"1686026893", s * 1'000'000'000},
      {R"("1686026893735")", s * 1'000'000'000 + 735'000'000},
      {"1686026893735321", s * 1'000'000'000 + 735'321'000},
      {R"("1686026893735321456")", s * 1'000'000'000 + 735'321'456},
      {"1686026893.25", s * 1'000'000'000 + 250'000'000},
      {R"("1686026893.000000007")", s * 1'000'000'000 + 7},
      {R"("0")", kNow},
      {"0", kNow},
      {R"("")", kNow},
  };
  for (const Case& c : cases) {
    std::string body = R"({"app":"a","_msg":"m","ts":)" + c.value + "}";
    auto r = Lines(body, Params({"app"}, {"_msg"}, {"ts"}));
    ASSERT_TRUE(r.ok()) << c.value << ": " << r.status().message();
    auto e = Entries(*r);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].ts, c.want) << c.value;
    EXPECT_TRUE(e[0].metadata.empty()) << c.value;  // the time field is not kept as metadata
  }
  // No time field at all: now.
  auto r = Lines(R"({"app":"a","_msg":"m"})", Params({"app"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Entries(*r)[0].ts, kNow);
}

TEST(JsonIngestTest, DocumentsGroupIntoStreamsByTheirLabels) {
  auto r = Lines(
      "{\"app\":\"a\",\"_msg\":\"1\"}\n\n{\"app\":\"b\",\"_msg\":\"2\"}\r\n"
      "{\"app\":\"a\",\"_msg\":\"3\",\"ignored\":\"x\",\"drop.me\":1,\"drop.too\":2}",
      [] {
        JsonIngestParams p = Params({"app"});
        p.ignore_fields = {"ignored", "drop.*"};
        return p;
      }());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->request.streams.size(), 2u);
  EXPECT_EQ(r->request.streams[0].labels, R"({app="a"})");
  EXPECT_EQ(r->request.streams[0].entries.size(), 2u);
  EXPECT_EQ(r->request.streams[1].labels, R"({app="b"})");
  for (const auto& e : Entries(*r)) {
    EXPECT_TRUE(e.metadata.empty()) << e.line;
  }
}

TEST(JsonIngestTest, NoStreamFieldFallsBackToUnknownServiceOrIsRefused) {
  auto r = Lines(R"({"_msg":"m"})", Params({}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Entries(*r)[0].labels, R"({service_name="unknown_service"})");

  config::Limits off;
  off.discover_service_name.clear();
  r = Lines("{\"app\":\"a\",\"_msg\":\"m\"}\n{\"_msg\":\"m\"}", Params({"app"}), off);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("line 2: the document has none of the stream"));
}

TEST(JsonIngestTest, BadInputNamesTheLine) {
  struct Case {
    std::string body;
    std::string want;
  } cases[] = {
      {"{\"_msg\":\"ok\",\"app\":\"a\"}\n{\"_msg\":", "line 2: invalid JSON"},
      {"{\"app\":\"a\"}\n\n[1,2]", "line 3: a document must be a JSON object"},
      {R"({"app":"a","_time":"yesterday"})",
       R"(line 1: cannot parse the time field "_time" value "yesterday")"},
      {R"({"app":"a","_time":"2023-13-45T00:00:00Z"})", "line 1: cannot parse the time field"},
      {R"({"app":"a","_time":"99999999999999999999"})", "line 1: cannot parse the time field"},
      {R"({"app":"a","...":"x"})", R"(line 1: field "...": normalization for label name)"},
      {std::string(70, '{') + std::string(70, '}'), "line 1: invalid JSON"},
  };
  for (const Case& c : cases) {
    auto r = Lines(c.body, Params({"app"}));
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.body;
  }
  std::string deep = R"({"app":"a",)";
  for (int i = 0; i < 70; ++i) deep += R"("k":{)";
  deep += R"("v":1)" + std::string(71, '}');
  auto r = Lines(deep, Params({"app"}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("line 1: objects nested deeper than 64 levels"));
}

TEST(JsonIngestTest, CompressedBodiesAndSizeCaps) {
  const std::string body = "{\"app\":\"a\",\"_msg\":\"zipped\"}\n";
  auto r = Lines(testing::Gzip(body), Params({"app"}), config::Limits(), "gzip");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Entries(*r)[0].line, "zipped");
  r = Lines(testing::Deflate(body, 15), Params({"app"}), config::Limits(), "deflate");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Entries(*r)[0].line, "zipped");

  r = Lines(body, Params({"app"}), config::Limits(), "br");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(R"(unsupported Content-Encoding "br")"));
  r = Lines("not gzip", Params({"app"}), config::Limits(), "gzip");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  PushDecodeOptions small;
  small.max_decompressed_bytes = 100;
  r = DecodeJsonIngest(JsonIngestFormat::kJsonLines, testing::Gzip(std::string(1000, ' ')), "gzip",
                       Params({"app"}), small, config::Limits(), kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  small.max_compressed_bytes = 10;
  r = DecodeJsonIngest(JsonIngestFormat::kJsonLines, body, "", Params({"app"}), small,
                       config::Limits(), kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
}

TEST(JsonIngestTest, ElasticsearchBulkPairsActionsWithDocuments) {
  auto r = Bulk(
      "{\"create\":{\"_index\":\"logs\"}}\n"
      "{\"message\":\"one\",\"@timestamp\":\"2023-06-06T04:48:13Z\",\"host\":{\"name\":"
      "\"h\"}}\n"
      "{\"index\":{}}\n"
      "{\"message\":\"two\",\"host\":{\"name\":\"h\"},\"pid\":7}\n",
      Params({"host.name"}, {"message"}, {"@timestamp"}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto e = Entries(*r);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].labels, R"({host_name="h"})");
  EXPECT_EQ(e[0].line, "one");
  EXPECT_EQ(e[0].ts, 1686026893'000'000'000);
  EXPECT_EQ(e[1].line, "two");
  EXPECT_EQ(e[1].ts, kNow);
  EXPECT_THAT(e[1].metadata, ElementsAre(Pair("pid", "7")));
  ASSERT_EQ(r->bulk_items.size(), 2u);
  EXPECT_EQ(r->bulk_items[0].action, "create");
  EXPECT_EQ(r->bulk_items[0].index, "logs");
  EXPECT_EQ(r->bulk_items[1].action, "index");

  EXPECT_EQ(ElasticsearchBulkResponse(*r, 3),
            R"({"took":3,"errors":false,"items":[)"
            R"({"create":{"_index":"logs","_version":1,"result":"created","status":201}},)"
            R"({"index":{"_index":"","_version":1,"result":"created","status":201}}]})");
}

TEST(JsonIngestTest, ElasticsearchBulkBadInput) {
  struct Case {
    std::string body;
    std::string want;
  } cases[] = {
      {"{\"delete\":{\"_id\":\"1\"}}\n", R"(line 1: bulk action "delete" is not supported)"},
      {"{\"create\":{}}\n{\"host\":\"h\"}\n{\"create\":{}}\n",
       "line 3: the bulk action has no document after it"},
      {"{\"create\":{}}\n{\"host\":\"h\"}\nnot json\n{}\n",
       "line 3: invalid JSON in the bulk action"},
      {"{\"create\":{},\"index\":{}}\n{}\n",
       "line 1: a bulk action must be an object with one key"},
      {"{\"create\":{}}\n\"text\"\n", "line 2: a document must be a JSON object"},
  };
  for (const Case& c : cases) {
    auto r = Bulk(c.body, Params({"host"}));
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.body;
  }
  auto empty = Bulk("", Params({"host"}));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(ElasticsearchBulkResponse(*empty, 0), R"({"took":0,"errors":false,"items":[]})");
}

TEST(JsonIngestTest, ElasticsearchErrorAndInfoShapes) {
  EXPECT_EQ(ElasticsearchErrorBody(Status::InvalidArgument("line 2: bad")),
            R"({"error":{"root_cause":[{"type":"illegal_argument_exception","reason":)"
            R"("line 2: bad"}],"type":"illegal_argument_exception","reason":"line 2: bad"},)"
            R"("status":400})");
  EXPECT_THAT(ElasticsearchErrorBody(Status::RateLimited("slow down")),
              HasSubstr(R"("type":"es_rejected_execution_exception")"));
  EXPECT_THAT(ElasticsearchInfoBody(), HasSubstr(R"("version":{"number":"8.)"));
}

TEST(JsonIngestTest, ParamsFromQueryOrHeaders) {
  Request req;
  req.params.emplace("_msg_field", "message, log.msg");
  req.params.emplace("_stream_fields", "host,app");
  req.headers["vl-stream-fields"] = "ignored";  // the query parameter wins
  req.headers["vl-time-field"] = "@timestamp";
  req.headers["vl-ignore-fields"] = "a,b.*";
  JsonIngestParams p = JsonIngestParamsFrom(req);
  EXPECT_THAT(p.msg_fields, ElementsAre("message", "log.msg"));
  EXPECT_THAT(p.time_fields, ElementsAre("@timestamp"));
  EXPECT_THAT(p.stream_fields, ElementsAre("host", "app"));
  EXPECT_THAT(p.ignore_fields, ElementsAre("a", "b.*"));

  JsonIngestParams defaults = JsonIngestParamsFrom(Request());
  EXPECT_THAT(defaults.msg_fields, ElementsAre("_msg"));
  EXPECT_THAT(defaults.time_fields, ElementsAre("_time"));
  EXPECT_TRUE(defaults.stream_fields.empty());
}

}  // namespace
}  // namespace sluice::http
