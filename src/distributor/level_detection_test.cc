#include "distributor/level_detection.h"

#include <gtest/gtest.h>

#include "config/limits.h"

namespace sluice::distributor {
namespace {

model::LabelSet Labels(std::vector<model::Label> labels) {
  return model::LabelSet(std::move(labels));
}

LevelDetector Default() { return LevelDetector(config::DefaultLogLevelFields(), 2); }

TEST(NormalizeLevelTest, LokiSpellingsAnyCase) {
  EXPECT_EQ(NormalizeLevel("TRACE"), "trace");
  EXPECT_EQ(NormalizeLevel("trc"), "trace");
  EXPECT_EQ(NormalizeLevel("Debug"), "debug");
  EXPECT_EQ(NormalizeLevel("DBG"), "debug");
  EXPECT_EQ(NormalizeLevel("info"), "info");
  EXPECT_EQ(NormalizeLevel("INF"), "info");
  EXPECT_EQ(NormalizeLevel("Information"), "info");
  EXPECT_EQ(NormalizeLevel("WARN"), "warn");
  EXPECT_EQ(NormalizeLevel("wrn"), "warn");
  EXPECT_EQ(NormalizeLevel("Warning"), "warn");
  EXPECT_EQ(NormalizeLevel("ERROR"), "error");
  EXPECT_EQ(NormalizeLevel("err"), "error");
  EXPECT_EQ(NormalizeLevel("CRITICAL"), "critical");
  EXPECT_EQ(NormalizeLevel("Fatal"), "fatal");
  // Anything else is kept as written, as Loki does.
  EXPECT_EQ(NormalizeLevel("Notice"), "Notice");
  EXPECT_EQ(NormalizeLevel("errors"), "errors");
  EXPECT_EQ(NormalizeLevel(""), "");
  EXPECT_EQ(KnownLevel("Notice"), "");
  EXPECT_EQ(KnownLevel("unknown"), "");
}

TEST(LevelFromSeverityNumberTest, OpenTelemetryRanges) {
  EXPECT_EQ(LevelFromSeverityNumber("0"), "unknown");
  EXPECT_EQ(LevelFromSeverityNumber("1"), "trace");
  EXPECT_EQ(LevelFromSeverityNumber("4"), "trace");
  EXPECT_EQ(LevelFromSeverityNumber("5"), "debug");
  EXPECT_EQ(LevelFromSeverityNumber("9"), "info");
  EXPECT_EQ(LevelFromSeverityNumber("12"), "info");
  EXPECT_EQ(LevelFromSeverityNumber("13"), "warn");
  EXPECT_EQ(LevelFromSeverityNumber("17"), "error");
  EXPECT_EQ(LevelFromSeverityNumber("20"), "error");
  EXPECT_EQ(LevelFromSeverityNumber("21"), "fatal");
  EXPECT_EQ(LevelFromSeverityNumber("24"), "fatal");
  EXPECT_EQ(LevelFromSeverityNumber("25"), "unknown");
  EXPECT_EQ(LevelFromSeverityNumber("+17"), "error");
  // Not an integer: Loki answers info.
  EXPECT_EQ(LevelFromSeverityNumber("ERROR"), "info");
  EXPECT_EQ(LevelFromSeverityNumber("17x"), "info");
  EXPECT_EQ(LevelFromSeverityNumber("99999999999999999999"), "info");
}

TEST(LevelFromTextTest, FirstStandaloneWord) {
  EXPECT_EQ(LevelFromText("2024-01-01 ERROR something failed"), "error");
  EXPECT_EQ(LevelFromText("[warn] disk almost full"), "warn");
  EXPECT_EQ(LevelFromText("WARNING: low memory"), "warn");
  EXPECT_EQ(LevelFromText("debug: cache miss"), "debug");
  EXPECT_EQ(LevelFromText("(Fatal) giving up"), "fatal");
  EXPECT_EQ(LevelFromText("x err=timeout"), "error");
  // The earliest word wins, whatever its rank.
  EXPECT_EQ(LevelFromText("info: retrying after error"), "info");
  EXPECT_EQ(LevelFromText("retrying after error, info follows"), "error");
  // Words inside other words, or after a colon, are not levels.
  EXPECT_EQ(LevelFromText("errors happened"), "unknown");
  EXPECT_EQ(LevelFromText("terror information"), "unknown");
  EXPECT_EQ(LevelFromText("misc:error"), "unknown");
  EXPECT_EQ(LevelFromText("GET /index.html 200"), "unknown");
  EXPECT_EQ(LevelFromText(""), "unknown");
  EXPECT_EQ(LevelFromText("critical"), "critical");
  EXPECT_EQ(LevelFromText("trace id=1"), "trace");
}

TEST(LevelDetectorTest, FromLabelsInListOrderNormalised) {
  LevelDetector d = Default();
  EXPECT_EQ(d.FromLabels(Labels({{"app", "x"}, {"level", "ERR"}})), "error");
  EXPECT_EQ(d.FromLabels(Labels({{"severity", "Warning"}})), "warn");
  EXPECT_EQ(d.FromLabels(Labels({{"lvl", "notice"}})), "notice");
  // "level" precedes "severity" in the list.
  EXPECT_EQ(d.FromLabels(Labels({{"severity", "info"}, {"level", "debug"}})), "debug");
  EXPECT_EQ(d.FromLabels(Labels({{"app", "x"}})), "");
  EXPECT_EQ(d.FromLabels(Labels({{"LeVeL", "error"}})), "");  // labels match exactly
}

TEST(LevelDetectorTest, FromMetadataThenSeverityNumberThenLine) {
  LevelDetector d = Default();
  std::vector<model::Label> otlp = {{"severity_number", "17"}, {"severity_text", "Warning"}};
  EXPECT_EQ(d.FromEntry(otlp, "error in body"), "warn");  // severity_text is a level field
  std::vector<model::Label> number_only = {{"severity_number", "10"}, {"trace_id", "ab"}};
  EXPECT_EQ(d.FromEntry(number_only, "error in body"), "info");
  std::vector<model::Label> none = {{"trace_id", "ab"}};
  EXPECT_EQ(d.FromEntry(none, "level=error msg=x"), "error");
  EXPECT_EQ(d.FromEntry({}, "plain line"), "unknown");
  // An empty level field: Loki adds nothing.
  std::vector<model::Label> empty_level = {{"level", ""}};
  EXPECT_EQ(d.FromEntry(empty_level, "error"), "");
}

TEST(LevelDetectorTest, Json) {
  LevelDetector d = Default();
  EXPECT_EQ(d.FromLine(R"({"ts":1,"level":"ERROR","msg":"boom"})"), "error");
  EXPECT_EQ(d.FromLine(R"(  {"Severity": "wrn", "msg": "x"}  )"), "warn");
  EXPECT_EQ(d.FromLine(R"({"log.level":"debug"})"), "debug");
  EXPECT_EQ(d.FromLine(R"({"SeverityText":"Information"})"), "info");
  // Nested one level (the default depth 2), skipping arrays and escaped strings on the way.
  EXPECT_EQ(d.FromLine(R"({"a":[1,{"level":"info"}],"s":"q\"}","log":{"lvl":"fatal"}})"), "fatal");
  // The first level field in document order wins.
  EXPECT_EQ(d.FromLine(R"({"meta":{"level":"warn"},"level":"error"})"), "warn");
  // JSON names match exactly: "LeVeL" is not a field; the text then has no level word either.
  EXPECT_EQ(d.FromLine(R"({"LeVeL":"debug2"})"), "unknown");
  // A numeric level (pino's 30) is not a string: the text decides.
  EXPECT_EQ(d.FromLine(R"({"level":30,"msg":"request failed: error"})"), "error");
  // A value that is not a level falls back to the text too.
  EXPECT_EQ(d.FromLine(R"({"level":"notice","msg":"x"})"), "unknown");
  // Deeper than max depth: not searched.
  EXPECT_EQ(d.FromLine(R"({"a":{"b":{"level":"warnx"}}})"), "unknown");
  EXPECT_EQ(
      LevelDetector(config::DefaultLogLevelFields(), 0).FromLine(R"({"a":{"b":{"level":"wrn"}}})"),
      "warn");
  EXPECT_EQ(LevelDetector(config::DefaultLogLevelFields(), 1).FromLine(R"({"a":{"level":"wrn"}})"),
            "unknown");
  // Malformed or deeply nested input ends the scan without harm.
  EXPECT_EQ(d.FromLine(R"({"level": })"), "unknown");
  EXPECT_EQ(d.FromLine(R"({"msg":"x" "level":"error"})"), "error");  // by the text
  std::string deep = R"({"lvl":1,"a":)";
  for (int i = 0; i < 100000; ++i) deep += R"({"a":)";
  deep += "1" + std::string(100001, '}');
  EXPECT_EQ(LevelDetector(config::DefaultLogLevelFields(), 0).FromLine(deep), "unknown");
  deep.replace(deep.size() - 100002, 1, R"("warn")");
  EXPECT_EQ(LevelDetector(config::DefaultLogLevelFields(), 0).FromLine(deep), "warn");
}

TEST(LevelDetectorTest, Logfmt) {
  LevelDetector d = Default();
  EXPECT_EQ(d.FromLine("ts=1 level=WARN msg=hi"), "warn");
  EXPECT_EQ(d.FromLine(R"(msg="disk full" LEVEL="error")"), "error");
  EXPECT_EQ(d.FromLine("ts=1 Lvl=dbg"), "debug");
  // Keys match in any case, and the field first in the list wins over an earlier key.
  EXPECT_EQ(d.FromLine("lvl=debug LeVeL=error"), "error");
  // A word before the pairs is a key without a value.
  EXPECT_EQ(d.FromLine("2024-01-01T00:00:00 [main] level=info msg=x"), "info");
  // A malformed pair ends the scan; then the text decides.
  EXPECT_EQ(d.FromLine("a=b=c level=warn"), "warn");  // "warn" as a word after '='
  EXPECT_EQ(d.FromLine("a=b=c level=notice"), "unknown");
  // Not a level: the text decides.
  EXPECT_EQ(d.FromLine("level=notice msg=\"error while\""), "error");
  EXPECT_EQ(d.FromLine("status=200 path=/"), "unknown");
}

TEST(LevelDetectorTest, CustomFields) {
  LevelDetector d({"sev"}, 2);
  EXPECT_EQ(d.FromLine(R"({"sev":"ERROR"})"), "error");
  EXPECT_EQ(d.FromLine("SEV=warning"), "warn");
  EXPECT_EQ(d.FromLine(R"({"level":"debug2"})"), "unknown");
  EXPECT_EQ(d.FromLabels(Labels({{"level", "error"}})), "");
}

}  // namespace
}  // namespace sluice::distributor
