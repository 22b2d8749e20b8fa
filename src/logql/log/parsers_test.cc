#include "logql/log/parsers.h"

#include <gtest/gtest.h>

#include "logql/log/pipeline_test_util.h"

namespace sluice::logql::log {
namespace {

using testing::CompileErrorOf;
using testing::LabelsOf;
using testing::RunLine;

struct Case {
  const char* name;
  const char* query;
  const char* stream;
  const char* line;
  const char* want;  // final labels
};

void RunCases(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    EXPECT_EQ(LabelsOf(c.query, c.stream, c.line), c.want) << c.name << ": " << c.line;
  }
}

// Loki's TestJSONParser cases and its documented examples.
TEST(JsonParserTest, Flattens) {
  RunCases({
      {"multi depth", R"({a="b"} | json)", R"({a="b"})",
       R"({"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}}})",
       R"({a="b", app="foo", namespace="prod", pod_deployment_ref="foobar", pod_uuid="foo"})"},
      {"numeric", R"({a="b"} | json)", R"({a="b"})", R"({"counter":1, "price": {"_net_":5.56909}})",
       R"({a="b", counter="1", price__net_="5.56909"})"},
      {"escaped", R"({a="b"} | json)", R"({a="b"})",
       R"({"counter":1,"foo":"foo\"bar", "price": {"_net_":5.56909}})",
       R"({a="b", counter="1", foo="foo\"bar", price__net_="5.56909"})"},
      {"utf8 error rune", R"({a="b"} | json)", R"({a="b"})",
       "{\"counter\":1,\"foo\":\"\xEF\xBF\xBD\", \"price\": {\"_net_\":5.56909}}",
       R"({a="b", counter="1", foo=" ", price__net_="5.56909"})"},
      {"unicode escape", R"({a="b"} | json)", R"({a="b"})", R"({"s":"caf\u00e9 \ud83d\ude00"})",
       "{a=\"b\", s=\"caf\xC3\xA9 \xF0\x9F\x98\x80\"}"},
      {"skip arrays and nulls", R"({a="b"} | json)", R"({a="b"})",
       R"({"counter":1, "price": {"net_":["10","20"]}, "n": null})", R"({a="b", counter="1"})"},
      {"bool", R"({a="b"} | json)", R"({a="b"})", R"({"ok":true,"ko":false})",
       R"({a="b", ko="false", ok="true"})"},
      {"bad key replaced", R"({a="b"} | json)", R"({a="b"})",
       R"({"cou-nter":1, " sp ace ":2, "9lives":3, "ü":4})",
       R"({_="4", _9lives="3", a="b", cou_nter="1", sp_ace="2"})"},
      {"nested key digit not prefixed", R"({a="b"} | json)", R"({a="b"})", R"({"x":{"1":2}})",
       R"({a="b", x_1="2"})"},
      {"duplicate with stream label", R"({app="foo"} | json)", R"({app="foo"})",
       R"({"app":"bar","pod":{"uuid":"x"}})", R"({app="foo", app_extracted="bar", pod_uuid="x"})"},
      {"nested duplicate", R"({pod_uuid="s"} | json)", R"({pod_uuid="s"})",
       R"({"pod":{"uuid":"x"}})", R"({pod_uuid="s", pod_uuid_extracted="x"})"},
      {"later key wins", R"({a="b"} | json)", R"({a="b"})", R"({"k":"1","k":"2"})",
       R"({a="b", k="2"})"},
      {"empty object", R"({a="b"} | json)", R"({a="b"})", R"({})", R"({a="b"})"},
  });
}

TEST(JsonParserTest, ErrorsKeepWhatWasExtracted) {
  RunCases({
      {"not an object", R"({a="b"} | json)", R"({a="b"})", "INFO GET / loki.net 200",
       R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", a="b"})"},
      {"loki errors case", R"({a="b"} | json)", R"({a="b"})", "{n}",
       R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", a="b"})"},
      {"empty line", R"({a="b"} | json)", R"({a="b"})", "",
       R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", a="b"})"},
      {"truncated", R"({a="b"} | json)", R"({a="b"})", R"({"x":"1","y":)",
       R"({__error__="JSONParserErr", __error_details__="Malformed JSON error", a="b", x="1"})"},
      {"unterminated string", R"({a="b"} | json)", R"({a="b"})", R"({"x":"1","y":"abc)",
       R"({__error__="JSONParserErr", __error_details__="Value is string, but can't find closing '\"' symbol", a="b", x="1"})"},
      {"missing closing brace", R"({a="b"} | json)", R"({a="b"})", R"({"x":"1")",
       R"({__error__="JSONParserErr", __error_details__="Value is array, but can't find closing ']' symbol", a="b", x="1"})"},
      {"unknown value", R"({a="b"} | json)", R"({a="b"})", R"({"x":nope})",
       R"({__error__="JSONParserErr", __error_details__="Unknown value type", a="b"})"},
      {"drop __error__", R"({a="b"} | json | drop __error__, __error_details__)", R"({a="b"})",
       "INFO GET / loki.net 200", R"({a="b"})"},
  });
}

// Loki's TestJSONExpressionParser cases and the documented examples.
TEST(JsonExpressionParserTest, ExtractsPaths) {
  const char* line =
      "{\"app\":\"foo\",\"field with space\":\"value\",\"field with \xC3\x9C"
      "FT8\xF0\x9F\x91\x8C\":\"value\",\"null_field\":null,\"bool_field\":false,"
      "\"namespace\":\"prod\",\"pod\":{\"uuid\":\"foo\",\"deployment\":{\"ref\":\"foobar\", "
      "\"params\": [1,2,3,\"string_value\"]}}}";
  RunCases({
      {"single field", R"({a="b"} | json app)", R"({a="b"})", line, R"({a="b", app="foo"})"},
      {"alternate syntax", R"({a="b"} | json test="app")", R"({a="b"})", line,
       R"({a="b", test="foo"})"},
      {"multiple fields", R"({a="b"} | json app, namespace)", R"({a="b"})", line,
       R"({a="b", app="foo", namespace="prod"})"},
      {"nested field", R"({a="b"} | json uuid="pod.uuid")", R"({a="b"})", line,
       R"({a="b", uuid="foo"})"},
      {"nested field alternate", R"({a="b"} | json uuid="pod[\"uuid\"]")", R"({a="b"})", line,
       R"({a="b", uuid="foo"})"},
      {"deep", R"({a="b"} | json ref="pod.deployment.ref")", R"({a="b"})", line,
       R"({a="b", ref="foobar"})"},
      {"array index", R"({a="b"} | json p="pod.deployment.params[0]")", R"({a="b"})", line,
       R"({a="b", p="1"})"},
      {"array string", R"({a="b"} | json p="pod.deployment.params[3]")", R"({a="b"})", line,
       R"({a="b", p="string_value"})"},
      {"array index out of range", R"({a="b"} | json p="pod.deployment.params[9]")", R"({a="b"})",
       line, R"({a="b", p=""})"},
      {"whole array", R"({a="b"} | json p="pod.deployment.params")", R"({a="b"})", line,
       R"({a="b", p="[1,2,3,\"string_value\"]"})"},
      {"whole object", R"({a="b"} | json d="pod.deployment")", R"({a="b"})", line,
       R"({a="b", d="{\"ref\":\"foobar\", \"params\": [1,2,3,\"string_value\"]}"})"},
      {"field with space", R"({a="b"} | json f="[\"field with space\"]")", R"({a="b"})", line,
       R"({a="b", f="value"})"},
      {"field with utf8",
       "{a=\"b\"} | json f=\"[\\\"field with \xC3\x9C"
       "FT8\xF0\x9F\x91\x8C\\\"]\"",
       R"({a="b"})", line, R"({a="b", f="value"})"},
      {"missing", R"({a="b"} | json x="pod.nope", app)", R"({a="b"})", line,
       R"({a="b", app="foo", x=""})"},
      {"null", R"({a="b"} | json n="null_field")", R"({a="b"})", line, R"({a="b", n=""})"},
      {"bool", R"({a="b"} | json b="bool_field")", R"({a="b"})", line, R"({a="b", b="false"})"},
      {"duplicate with stream label", R"({app="bar"} | json app)", R"({app="bar"})", line,
       R"({app="bar", app_extracted="foo"})"},
      {"same path twice", R"({a="b"} | json x="app", y="app")", R"({a="b"})", line,
       R"({a="b", x="foo", y="foo"})"},
      {"top level array", R"({a="b"} | json x="[1]")", R"({a="b"})", R"([{"a":1},"two"])",
       R"({a="b", x="two"})"},
      {"first occurrence wins", R"({a="b"} | json k)", R"({a="b"})", R"({"k":"1","k":"2"})",
       R"({a="b", k="1"})"},
      {"not json", R"({a="b"} | json app)", R"({a="b"})", "app=foo",
       R"({__error__="JSONParserErr", a="b"})"},
      {"empty line", R"({a="b"} | json app)", R"({a="b"})", "", R"({a="b"})"},
      {"malformed matched value", R"({a="b"} | json x)", R"({a="b"})", R"({"x":"abc)",
       R"({__error__="JSONParserErr", __error_details__="Value is string, but can't find closing '\"' symbol", a="b", x=""})"},
  });
}

TEST(JsonExpressionParserTest, InvalidExpressions) {
  EXPECT_EQ(CompileErrorOf(R"({a="b"} | json x="a..b")"),
            "cannot parse expression [a..b]: syntax error");
  EXPECT_EQ(CompileErrorOf(R"({a="b"} | json x="[1.5]")"),
            "cannot parse expression [[1.5]]: syntax error");
  EXPECT_EQ(CompileErrorOf(R"({a="b"} | json x="a$")"),
            "cannot parse expression [a$]: unexpected char $");
  EXPECT_EQ(CompileErrorOf(R"({a="b"} | json x="")"), "cannot parse expression []: syntax error");
}

// Loki's TestLogfmtParser cases and the documented examples.
TEST(LogfmtParserTest, Extracts) {
  RunCases({
      {"docs", R"({a="b"} | logfmt)", R"({a="b"})",
       R"(at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200)",
       R"({a="b", at="info", fwd="124.133.124.161", host="grafana.net", method="GET", path="/", service="8ms", status="200"})"},
      {"docs with params", R"({a="b"} | logfmt host, fwd_ip="fwd")", R"({a="b"})",
       R"(at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200)",
       R"({a="b", fwd_ip="124.133.124.161", host="grafana.net"})"},
      {"quoted escapes", R"({a="b"} | logfmt)", R"({a="b"})", R"(foo=bar buzz="foo \"x\" \u00e9")",
       "{a=\"b\", buzz=\"foo \\\"x\\\" \xC3\xA9\", foo=\"bar\"}"},
      {"utf8 error rune", R"({a="b"} | logfmt)", R"({a="b"})",
       "buzz=foo bar=\xEF\xBF\xBD"
       "f",
       R"({a="b", bar=" f", buzz="foo"})"},
      {"duplicate", R"({foo="bar"} | logfmt)", R"({foo="bar"})", "foo=foo bar=bar",
       R"({bar="bar", foo="bar", foo_extracted="foo"})"},
      {"sanitized keys", R"({a="b"} | logfmt)", R"({a="b"})", "a.b-c=1 1a=x",
       R"({_1a="x", a="b", a_b_c="1"})"},
      {"empty and standalone dropped", R"({a="b"} | logfmt)", R"({a="b"})", "x= y z=1 w=\"\"",
       R"({a="b", z="1"})"},
      {"keep empty", R"({a="b"} | logfmt --keep-empty)", R"({a="b"})", "x= y z=1",
       R"({a="b", x="", y="", z="1"})"},
      {"non-strict skips bad pairs", R"({a="b"} | logfmt)", R"({a="b"})",
       R"(x=1 =value foo=bar=buzz fo"o=bar y=2)", R"({a="b", x="1", y="2"})"},
      {"strict stops at the first bad pair", R"({a="b"} | logfmt --strict)", R"({a="b"})",
       "x=1 foo=bar=buzz y=2",
       R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 12 : unexpected '='", a="b", x="1"})"},
      {"strict no key", R"({a="b"} | logfmt --strict)", R"({a="b"})", "=value",
       R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 1 : unexpected '='", a="b"})"},
      {"strict quote in key", R"({a="b"} | logfmt --strict)", R"({a="b"})", R"(fo"o=bar)",
       R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 3 : unexpected '\"'", a="b"})"},
      {"strict unterminated", R"({a="b"} | logfmt --strict)", R"({a="b"})", R"(x="abc)",
       R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 7 : unterminated quoted value", a="b"})"},
      {"strict ok", R"({a="b"} | logfmt --strict)", R"({a="b"})", "x=1  y=\"2\"  ",
       R"({a="b", x="1", y="2"})"},
      {"params missing key", R"({a="b"} | logfmt x, y)", R"({a="b"})", "x=1",
       R"({a="b", x="1", y=""})"},
      {"params keep requested empty", R"({a="b"} | logfmt x)", R"({a="b"})", "x= z=1",
       R"({a="b", x=""})"},
      {"params duplicate with stream", R"({x="s"} | logfmt x)", R"({x="s"})", "x=1",
       R"({x="s", x_extracted="1"})"},
      {"params strict", R"({a="b"} | logfmt --strict x, y)", R"({a="b"})", "x=1 =2 y=3",
       R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 5 : unexpected '='", a="b", x="1", y=""})"},
  });
}

// The documented regexp example, plus Loki's TestRegexpParser behaviours.
TEST(RegexpParserTest, Extracts) {
  RunCases({
      {"docs",
       R"q({a="b"} | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+) \\((?P<status>\\d+?)\\) (?P<duration>.*)")q",
       R"({a="b"})", "POST /api/prom/api/v1/query_range (200) 1.5s",
       R"({a="b", duration="1.5s", method="POST", path="/api/prom/api/v1/query_range", status="200"})"},
      {"no match", R"q({a="b"} | regexp "(?P<x>\\d+)")q", R"({a="b"})", "abc", R"({a="b"})"},
      {"optional group", R"q({a="b"} | regexp "(?P<x>a)(?P<y>z)?")q", R"({a="b"})", "abc",
       R"({a="b", x="a", y=""})"},
      {"duplicate", R"q({x="s"} | regexp "(?P<x>a)")q", R"({x="s"})", "abc",
       R"({x="s", x_extracted="a"})"},
  });
}

TEST(PatternParserTest, Extracts) {
  RunCases({
      {"docs nginx",
       R"q({a="b"} | pattern `<ip> - - <_> "<method> <uri> <_>" <status> <size> <_> "<agent>" <_>`)q",
       R"({a="b"})",
       R"(0.191.12.2 - - [10/Jun/2021:09:14:29 +0000] "GET /api/plugins/versioncheck HTTP/1.1" 200 2 "-" "Go-http-client/2.0" "13.76.247.102, 34.120.177.193" "TLSv1.2" "US" "")",
       R"({a="b", agent="Go-http-client/2.0", ip="0.191.12.2", method="GET", size="2", status="200", uri="/api/plugins/versioncheck"})"},
      {"docs unanchored", R"q({a="b"} | pattern `<_> msg="<method> <path> (<status>) <latency>"`)q",
       R"({a="b"})",
       R"(level=debug ts=2021-06-10T09:24:13.472094048Z caller=logging.go:66 traceID=0568b66ad2d9294c msg="POST /loki/api/v1/push (204) 16.652862ms")",
       R"({a="b", latency="16.652862ms", method="POST", path="/loki/api/v1/push", status="204"})"},
      {"stops at a missing literal", R"({a="b"} | pattern "<x> b <y> d <z>")", R"({a="b"})",
       "a b c", R"({a="b", x="a", y="c"})"},
      {"anchored leading literal", R"({a="b"} | pattern "GET <x>")", R"({a="b"})", "POST /",
       R"({a="b"})"},
      {"duplicate", R"({x="s"} | pattern "<x> <_>")", R"({x="s"})", "a b",
       R"({x="s", x_extracted="a"})"},
      {"empty line", R"({a="b"} | pattern "<x>")", R"({a="b"})", "", R"({a="b"})"},
  });
}

TEST(UnpackParserTest, Unpacks) {
  auto o = RunLine(R"({a="b"} | unpack)", R"({a="b"})",
                   R"({"container":"myapp","pod":"pod-3223f","_entry":"original log message"})");
  EXPECT_TRUE(o.kept);
  EXPECT_EQ(o.line, "original log message");
  EXPECT_EQ(o.labels, R"({a="b", container="myapp", pod="pod-3223f"})");

  o = RunLine(R"({app="x"} | unpack | json)", R"({app="x"})",
              R"({"app":"y","n":1,"_entry":"{\"level\":\"info\"}"})");
  EXPECT_EQ(o.line, R"({"level":"info"})");
  EXPECT_EQ(o.labels, R"({app="x", app_extracted="y", level="info"})");

  // Without `_entry` nothing is unpacked.
  o = RunLine(R"({a="b"} | unpack)", R"({a="b"})", R"({"x":"1"})");
  EXPECT_EQ(o.line, R"({"x":"1"})");
  EXPECT_EQ(o.labels, R"({a="b"})");

  o = RunLine(R"({a="b"} | unpack)", R"({a="b"})", "plain");
  EXPECT_EQ(
      o.labels,
      R"({__error__="JSONParserErr", __error_details__="expecting json object(6), but it is not", a="b"})");
  EXPECT_EQ(o.line, "plain");

  o = RunLine(R"({a="b"} | unpack)", R"({a="b"})", R"({"_entry":"x","y":)");
  EXPECT_EQ(o.labels,
            R"({__error__="JSONParserErr", __error_details__="Malformed JSON error", a="b"})");
  EXPECT_EQ(o.line, R"({"_entry":"x","y":)");
}

}  // namespace
}  // namespace sluice::logql::log

namespace sluice::logql::log {
namespace {

// Hostile input: deep nesting must neither crash nor take long.
TEST(JsonParserTest, DeepNestingIsBounded) {
  constexpr int kDepth = 20000;
  std::string line;
  for (int i = 0; i < kDepth; ++i) line += R"({"a":)";
  line += "1";
  line.append(kDepth, '}');
  auto o = testing::RunLine(R"({x="y"} | json)", R"({x="y"})", line);
  EXPECT_TRUE(o.kept);
  o = testing::RunLine(R"({x="y"} | json v="a.a.a")", R"({x="y"})", line);
  EXPECT_TRUE(o.kept);
  EXPECT_NE(o.labels.find(R"(v="{)"), std::string::npos) << o.labels.substr(0, 100);
  o = testing::RunLine(R"({x="y"} | unpack)", R"({x="y"})", line);
  EXPECT_TRUE(o.kept);
}

}  // namespace
}  // namespace sluice::logql::log

namespace sluice::logql::log {
namespace {

// The labels `query`'s parser stage sets on `line` with `hints`, then the error labels.
std::string HintedLabels(std::string_view query, const ParserHints& hints, std::string_view line) {
  auto expr = syntax::Parse(query);
  EXPECT_TRUE(expr.ok()) << query;
  if (!expr.ok()) return "";
  auto pipeline = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>(), hints);
  EXPECT_TRUE(pipeline.ok()) << query;
  if (!pipeline.ok()) return "";
  const model::LabelSet stream = model::ParseLabels(R"({app="x", level="info"})").value();
  LabelsBuilder builder;
  builder.Reset(&stream, nullptr);
  std::string_view l = line;
  EXPECT_TRUE(pipeline->Process(0, &l, &builder));
  return builder.Labels().ToString();
}

ParserHints Hints(std::vector<std::string> names, std::string_view query = R"({app="x"})") {
  auto expr = syntax::Parse(query);
  return ParserHints::For(std::move(names), (*expr)->Cast<syntax::LogSelectorExpr>().stages);
}

TEST(ParserHintsTest, NamesWhatTheStagesRead) {
  ParserHints h = Hints({"a", "b_extracted"}, R"({app="x"} | json | c > 1 | label_format d=e)");
  EXPECT_FALSE(h.all());
  for (const char* name : {"a", "b", "b_extracted", "c", "d", "e"}) {
    EXPECT_TRUE(h.ShouldExtract(name)) << name;
  }
  EXPECT_FALSE(h.ShouldExtract("f"));
  EXPECT_FALSE(h.ShouldExtract("a_extracted"));
  EXPECT_TRUE(Hints({"req_user_id"}).ShouldExtractPrefix("req_user"));
  EXPECT_TRUE(Hints({"req_user_id"}).ShouldExtractPrefix("req"));
  EXPECT_FALSE(Hints({"req_user_id"}).ShouldExtractPrefix("req_use"));
  EXPECT_FALSE(Hints({"req_user_id"}).ShouldExtractPrefix("req_user_id"));
  // Templates may read any label.
  EXPECT_TRUE(Hints({"a"}, R"({app="x"} | json | line_format "{{.b}}")").all());
  EXPECT_TRUE(Hints({"a"}, R"({app="x"} | json | label_format a="{{.b}}")").all());
  EXPECT_TRUE(ParserHints().all());
}

TEST(ParserHintsTest, JsonSetsOnlyHintedLabelsWithTheSameErrors) {
  const ParserHints h = Hints({"dur", "user_id", "level_extracted"});
  const char* q = R"({app="x"} | json)";
  EXPECT_EQ(HintedLabels(q, h, R"({"level":"warn","dur":1,"path":"/a","user":{"id":7,"n":"x"}})"),
            R"({app="x", dur="1", level="info", level_extracted="warn", user_id="7"})");
  // The last duplicate wins, and a key escaped in the line still matches.
  EXPECT_EQ(HintedLabels(q, h, R"({"dur":1,"d\u0075r":2,"path":"/a"})"),
            R"({app="x", dur="2", level="info"})");
  // Errors anywhere in the line, even after every hinted label and in skipped objects.
  for (const char* line :
       {R"({"dur":1,"user_id":2,"level":"x","path":)", R"({"dur":1,"other":{"a" 1}})",
        R"({"dur":1,"other":{"a":tru}})", "not json"}) {
    // The error labels sort first, before app="x".
    auto errors = [](const std::string& labels) { return labels.substr(0, labels.find("app=")); };
    const std::string hinted = errors(HintedLabels(q, h, line));
    EXPECT_NE(hinted.find(R"(__error__="JSONParserErr")"), std::string::npos) << line;
    EXPECT_EQ(hinted, errors(HintedLabels(q, ParserHints(), line))) << line;
  }
}

TEST(ParserHintsTest, LogfmtSetsOnlyHintedLabels) {
  const ParserHints h = Hints({"dur", "level_extracted"});
  EXPECT_EQ(HintedLabels(R"({app="x"} | logfmt)", h, "level=warn dur=1 dur=2 path=/a"),
            R"({app="x", dur="2", level="info", level_extracted="warn"})");
  EXPECT_EQ(HintedLabels(R"({app="x"} | logfmt --strict)", h, R"(dur=1 path="/a)"),
            R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 15 : )"
            R"(unterminated quoted value", app="x", dur="1", level="info"})");
}

}  // namespace
}  // namespace sluice::logql::log
