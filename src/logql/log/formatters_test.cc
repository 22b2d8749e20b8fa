#include "logql/log/formatters.h"

#include <gtest/gtest.h>

#include "logql/log/pipeline_test_util.h"
#include "logql/log/template_engine.h"

namespace sluice::logql::log {
namespace {

using testing::CompileErrorOf;
using testing::LabelsOf;
using testing::RunLine;

constexpr const char* kJsonLine =
    R"({"level": "info", "method": "GET", "path": "/", "host": "grafana.net", "status": "200"})";

// The documented drop examples.
TEST(DropLabelsTest, Docs) {
  EXPECT_EQ(LabelsOf(R"({job="varlogs"} | json | drop level, method="GET")", R"({job="varlogs"})",
                     kJsonLine),
            R"({host="grafana.net", job="varlogs", path="/", status="200"})");
  EXPECT_EQ(LabelsOf(R"({job="varlogs"} | json | drop level, method="POST")", R"({job="varlogs"})",
                     kJsonLine),
            R"({host="grafana.net", job="varlogs", method="GET", path="/", status="200"})");
  EXPECT_EQ(
      LabelsOf(R"({job="varlogs"} | json | drop __error__)", R"({job="varlogs"})",
               "INFO GET / loki.net 200"),
      R"({__error_details__="Value looks like object, but can't find closing '}' symbol", job="varlogs"})");
  EXPECT_EQ(LabelsOf(R"({job="varlogs"} | json | drop __error__, __error_details__)",
                     R"({job="varlogs"})", "INFO GET / loki.net 200"),
            R"({job="varlogs"})");
  EXPECT_EQ(
      LabelsOf(R"({job="varlogs"} | json | drop __error__="JSONParserErr")", R"({job="varlogs"})",
               "INFO GET / loki.net 200"),
      R"({__error_details__="Value looks like object, but can't find closing '}' symbol", job="varlogs"})");
  const char* q = R"({job="varlogs"} | json | drop level, path, app=~"some-api.*")";
  EXPECT_EQ(
      LabelsOf(
          q, R"({job="varlogs"})",
          R"({"app": "some-api-service", "level": "info", "method": "GET", "path": "/", "host": "grafana.net", "status": "200"})"),
      R"({host="grafana.net", job="varlogs", method="GET", status="200"})");
  EXPECT_EQ(
      LabelsOf(
          q, R"({job="varlogs"})",
          R"({"app": "other-service", "level": "info", "method": "GET", "path": "/", "host": "grafana.net", "status": "200"})"),
      R"({app="other-service", host="grafana.net", job="varlogs", method="GET", status="200"})");
  // Stream labels can be dropped too.
  EXPECT_EQ(LabelsOf(R"({job="varlogs"} | drop job)", R"({job="varlogs", a="b"})", "x"),
            R"({a="b"})");
}

// The documented keep examples.
TEST(KeepLabelsTest, Docs) {
  const char* q = R"({job="varlogs"} | json | keep level, method="GET")";
  EXPECT_EQ(LabelsOf(q, R"({job="varlogs"})", kJsonLine), R"({level="info", method="GET"})");
  EXPECT_EQ(
      LabelsOf(
          q, R"({job="varlogs"})",
          R"({"level": "info", "method": "POST", "path": "/", "host": "grafana.net", "status": "200"})"),
      R"({level="info"})");
  q = R"({job="varlogs"} | json | keep level, tenant, app=~"some-api.*")";
  EXPECT_EQ(
      LabelsOf(
          q, R"({job="varlogs"})",
          R"({"app": "some-api-service", "level": "info", "method": "GET", "path": "/", "host": "grafana.net", "status": "200"})"),
      R"({app="some-api-service", level="info"})");
  // The error labels are always kept.
  EXPECT_EQ(
      LabelsOf(R"({job="varlogs"} | json | keep nothing)", R"({job="varlogs"})", "oops"),
      R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"})");
}

TEST(KeepLabelsTest, HidesStructuredMetadataFromLaterStages) {
  std::vector<model::Label> md = {{"trace_id", "abc"}};
  auto o = RunLine(R"({a="b"} | keep a | trace_id="")", R"({a="b"})", "x", md);
  EXPECT_TRUE(o.kept);
  o = RunLine(R"({a="b"} | trace_id="abc")", R"({a="b"})", "x", md);
  EXPECT_TRUE(o.kept);
  EXPECT_EQ(o.labels, R"({a="b"})");  // metadata is readable but not part of the stream
}

TEST(DecolorizeTest, StripsAnsi) {
  auto o = RunLine(R"({a="b"} | decolorize)", R"({a="b"})",
                   "\x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[0m");
  EXPECT_EQ(o.line, "red and bold green");
  o = RunLine(R"({a="b"} | decolorize)", R"({a="b"})",
              "\xC2\x9B"
              "31mcsi");
  EXPECT_EQ(o.line, "csi");
  o = RunLine(R"({a="b"} | decolorize)", R"({a="b"})", "\x1b]0;title\x07plain");
  EXPECT_EQ(o.line, "plain");
  o = RunLine(R"({a="b"} | decolorize)", R"({a="b"})", "nothing to strip");
  EXPECT_EQ(o.line, "nothing to strip");
}

TEST(LabelFormatTest, Rename) {
  EXPECT_EQ(LabelsOf(R"({a="b"} | logfmt | label_format dst=src)", R"({a="b"})", "src=1 x=2"),
            R"({a="b", dst="1", x="2"})");
  // A missing source is a no-op; a stream label can be renamed.
  EXPECT_EQ(LabelsOf(R"({a="b"} | label_format dst=nope, c=a)", R"({a="b"})", "x"), R"({c="b"})");
  // Renaming onto itself drops the label, as in Loki (set, then delete the source).
  EXPECT_EQ(LabelsOf(R"({a="b"} | label_format a=a)", R"({a="b"})", "x"), R"({})");
}

TEST(LabelFormatTest, Validation) {
  EXPECT_EQ(CompileErrorOf(R"({a="b"} | label_format __error__=x)"),
            "__error__ cannot be formatted");
  EXPECT_EQ(CompileErrorOf(R"({a="b"} | label_format foo=bar, foo="new")"),
            "multiple label name 'foo' not allowed in a single format operation");
}

class TemplateStagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TemplateEngineAvailable()) GTEST_SKIP() << "no template engine linked";
  }
};

TEST_F(TemplateStagesTest, LineFormat) {
  auto o = RunLine(R"({a="b"} | logfmt | line_format "{{.query}} {{.duration}}")", R"({a="b"})",
                   "query=up duration=1s");
  EXPECT_EQ(o.line, "up 1s");
  o = RunLine(R"({a="b"} | logfmt | line_format "{{.ip}} {{.status}} {{div .duration 1000}}")",
              R"({a="b"})", "ip=1.1.1.1 status=200 duration=3000");
  EXPECT_EQ(o.line, "1.1.1.1 200 3");
  // The simple-field form copies the label ("" when absent).
  o = RunLine(R"({a="b"} | logfmt | line_format "{{.msg}}")", R"({a="b"})", "msg=hello");
  EXPECT_EQ(o.line, "hello");
  o = RunLine(R"({a="b"} | logfmt | line_format "{{.nope}}")", R"({a="b"})", "msg=hello");
  EXPECT_EQ(o.line, "");
  o = RunLine(R"({a="b"} | line_format "{{__line__}}!")", R"({a="b"})", "x");
  EXPECT_EQ(o.line, "x!");
  // The error labels are template data, except in the simple-field form, which reads the
  // labels the way Loki's lbs.Get does (without the error).
  o = RunLine(R"({a="b"} | json | line_format "{{.__error__}}!")", R"({a="b"})", "x");
  EXPECT_EQ(o.line, "JSONParserErr!");
  o = RunLine(R"({a="b"} | json | line_format "{{.__error__}}")", R"({a="b"})", "x");
  EXPECT_EQ(o.line, "");
  // Later stages see the new line.
  o = RunLine(R"({a="b"} | logfmt | line_format "{{.inner}}" | json)", R"({a="b"})",
              R"(inner="{\"k\":\"v\"}")");
  EXPECT_EQ(o.labels, R"({a="b", inner="{\"k\":\"v\"}", k="v"})");
}

TEST_F(TemplateStagesTest, LineFormatErrors) {
  EXPECT_EQ(CompileErrorOf(R"({a="b"} | line_format "{{.a")").rfind("invalid line template: ", 0),
            0u);
  auto o = RunLine(R"({a="b"} | logfmt | line_format "{{.a.b}}")", R"({a="b"})", "a=1");
  EXPECT_EQ(o.line, "a=1");  // unchanged
  EXPECT_NE(o.labels.find(R"(__error__="TemplateFormatErr")"), std::string::npos) << o.labels;
}

TEST_F(TemplateStagesTest, LabelFormat) {
  EXPECT_EQ(LabelsOf(R"({a="b"} | logfmt | label_format x="{{.status}} {{.query}}")", R"({a="b"})",
                     "status=200 query=up"),
            R"({a="b", query="up", status="200", x="200 up"})");
  // Templates keep their sources; renames drop theirs.
  EXPECT_EQ(LabelsOf(R"({a="b"} | logfmt | label_format dst="{{.src}}")", R"({a="b"})", "src=1"),
            R"({a="b", dst="1", src="1"})");
  // Every template of one stage sees the labels from before the stage's first template.
  EXPECT_EQ(LabelsOf(R"({a="b"} | label_format x="1", y="{{.x}}")", R"({a="b"})", "l"),
            R"({a="b", x="1", y=""})");
  EXPECT_EQ(
      LabelsOf(R"({a="b"} | label_format x="1" | label_format y="{{.x}}")", R"({a="b"})", "l"),
      R"({a="b", x="1", y="1"})");
  EXPECT_EQ(CompileErrorOf(R"({a="b"} | label_format x="{{.a")")
                .rfind("invalid template for label 'x': ", 0),
            0u);
}

}  // namespace
}  // namespace sluice::logql::log
