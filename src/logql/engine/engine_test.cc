#include "logql/engine/engine.h"

#include <gtest/gtest.h>

#include <cmath>

#include "iter/merge.h"
#include "logql/engine/range_vector.h"
#include "logql/log/convert.h"
#include "logql/log/pipeline_test_util.h"
#include "logql/syntax/parser.h"

namespace sluice::logql::engine {
namespace {

using log::GoParseDurationSeconds;
using log::GoParseFloat;
using log::HumanizeParseBytes;

// All timestamps are seconds after kBase, which keeps expectations readable.
constexpr int64_t kBaseSec = 1'700'000'000;
constexpr int64_t Sec(double s) { return kBaseSec * 1'000'000'000 + static_cast<int64_t>(s * 1e9); }

// An in-memory StreamSource: streams matched by the request's matchers. Records each read's
// range and whether it asked for lines; with `unload_when_allowed`, a read without
// lines_needed returns entries unloaded.
class FakeReader final : public read::StreamSource {
 public:
  void Add(std::string_view labels, std::vector<model::Entry> entries) {
    streams_.emplace_back(model::ParseLabels(labels).value(), std::move(entries));
  }
  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& req,
                                                            std::string_view /*tenant*/) override {
    calls.emplace_back(req.from_ns, req.through_ns);
    lines_needed.push_back(req.lines_needed);
    std::vector<iter::EntryIteratorPtr> its;
    for (const auto& [labels, entries] : streams_) {
      if (!model::MatchesAll(req.matchers, labels)) continue;
      std::vector<model::Entry> in;
      for (const auto& e : entries) {
        if (e.timestamp_ns >= req.from_ns && e.timestamp_ns < req.through_ns) in.push_back(e);
      }
      iter::EntryIteratorPtr it = iter::NewVectorIterator(labels, std::move(in), req.direction);
      if (unload_when_allowed && !req.lines_needed) {
        it = std::make_unique<log::testing::UnloadedIterator>(std::move(it), &loads);
      }
      its.push_back(std::move(it));
    }
    return its;
  }
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& req,
                                                    std::string_view /*tenant*/) override {
    std::vector<model::LabelSet> out;
    for (const auto& [labels, entries] : streams_) {
      if (model::MatchesAll(req.matchers, labels)) out.push_back(labels);
    }
    return out;
  }
  // Without stream_ordered, samples come from one global time-ordered merge instead.
  Result<log::SampleIteratorPtr> SelectSamples(const read::SelectRequest& req) override {
    if (stream_ordered) return StreamSource::SelectSamples(req);
    read::SelectRequest raw = req;
    raw.raw = true;
    raw.order = read::Order::kTime;
    raw.direction = model::Direction::kForward;
    raw.stats = nullptr;
    SLUICE_ASSIGN_OR_RETURN(iter::EntryIteratorPtr entries, SelectLogs(raw));
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<log::SampleExtractor> x,
                            log::SampleExtractor::Make(*req.aggregation, std::move(entries),
                                                       nullptr, req.parser_hints));
    return log::SampleIteratorPtr(std::move(x));
  }
  std::vector<std::pair<int64_t, int64_t>> calls;
  std::vector<bool> lines_needed;
  // Stream after stream (as the fan-out reads for the engine) instead of one global merge.
  bool stream_ordered = true;
  bool unload_when_allowed = false;
  int loads = 0;  // LoadLine() calls on unloaded entries

 private:
  std::vector<std::pair<model::LabelSet, std::vector<model::Entry>>> streams_;
};

// Every read of these tests is for one tenant.
read::SelectRequest Base() {
  read::SelectRequest base;
  base.tenants = {"t"};
  return base;
}

model::Entry E(double s, std::string line, std::vector<model::Label> md = {}) {
  return model::Entry{Sec(s), std::move(line), std::move(md)};
}

// The dataset every test reads (times in seconds after kBase):
//
//   {app="api", env="prod"}  5 "aaaa"  10 "bb"  15 "cccccc"  20 "d"  30 "eeee"
//   {app="api", env="dev"}   10 "x"    20 "yy"
//   {app="web", env="prod"}  12 "web1" 25 "web22"
//   {app="m", env="prod"}    v (structured metadata) = 1@5 2@10 3@15 4@20 5@30
//   {app="m", env="dev"}     v = 10@10 20@20
//   {app="bad"}              v = "abc"@12 "7"@25
//   {app="counter"}          c = 1@10 5@20 2@30 (a reset) 6@40
//   {app="units"}            d = "1.5s"@10 "250ms"@20, b = "2KiB"@10 "1kB"@20
//   {app="svc"}              logfmt: level/latency/status/size at 10, 12, 14 (latency=abc), 16
//   {app="js"}               JSON at 10 and 15, "not json" at 18
class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    reader_.Add(R"({app="api", env="prod"})",
                {E(5, "aaaa"), E(10, "bb"), E(15, "cccccc"), E(20, "d"), E(30, "eeee")});
    reader_.Add(R"({app="api", env="dev"})", {E(10, "x"), E(20, "yy")});
    reader_.Add(R"({app="web", env="prod"})", {E(12, "web1"), E(25, "web22")});
    reader_.Add(R"({app="m", env="prod"})",
                {E(5, "m", {{"v", "1"}}), E(10, "m", {{"v", "2"}}), E(15, "m", {{"v", "3"}}),
                 E(20, "m", {{"v", "4"}}), E(30, "m", {{"v", "5"}})});
    reader_.Add(R"({app="m", env="dev"})", {E(10, "m", {{"v", "10"}}), E(20, "m", {{"v", "20"}})});
    reader_.Add(R"({app="bad"})", {E(12, "b", {{"v", "abc"}}), E(25, "b", {{"v", "7"}})});
    reader_.Add(R"({app="counter"})", {E(10, "c", {{"c", "1"}}), E(20, "c", {{"c", "5"}}),
                                       E(30, "c", {{"c", "2"}}), E(40, "c", {{"c", "6"}})});
    reader_.Add(R"({app="units"})", {E(10, "u", {{"b", "2KiB"}, {"d", "1.5s"}}),
                                     E(20, "u", {{"b", "1kB"}, {"d", "250ms"}})});
    reader_.Add(R"({app="svc"})", {E(10, "level=info latency=100ms status=200 size=1kB"),
                                   E(12, "level=error latency=1.5s status=500 size=2KiB"),
                                   E(14, "level=info latency=abc status=200"),
                                   E(16, "level=info latency=250ms status=404 size=10")});
    reader_.Add(R"({app="js"})", {E(10, R"({"level":"info","dur":0.5,"req":{"bytes":"1KiB"}})"),
                                  E(15, R"({"level":"warn","dur":1.5})"), E(18, "not json")});
  }

  Result<QueryValue> Exec(std::string_view query, EngineParams params) {
    auto expr = syntax::Parse(query);
    if (!expr.ok()) return expr.status();
    Engine engine(&reader_, Base(), params);
    return engine.Exec(**expr);
  }

  // Instant query at second `t`: "{labels} value, ..." in result order.
  std::string Instant(std::string_view query, double t, uint64_t max_series = 0) {
    auto r = Exec(query, EngineParams{Sec(t), Sec(t), 0, true, max_series});
    if (!r.ok()) return "error: " + r.status().message();
    return Render(*r);
  }
  // Range query: "{labels} t:v t:v | ..." with t in seconds after kBase.
  std::string Range(std::string_view query, double start, double end, double step,
                    uint64_t max_series = 0) {
    auto r = Exec(query, EngineParams{Sec(start), Sec(end), static_cast<int64_t>(step * 1e9), false,
                                      max_series});
    if (!r.ok()) return "error: " + r.status().message();
    return Render(*r);
  }

  static std::string Render(const QueryValue& v) {
    auto ts = [](int64_t ms) {
      return FormatSampleValue(static_cast<double>(ms - kBaseSec * 1000) / 1000);
    };
    if (v.type == ValueType::kScalar)
      return "scalar " + ts(v.scalar.ts_ms) + ":" + FormatSampleValue(v.scalar.value);
    std::string out;
    for (const auto& s : v.series) {
      if (!out.empty()) out += v.type == ValueType::kVector ? ", " : " | ";
      out += s.labels.ToString();
      for (const auto& p : s.points) {
        out += " ";
        if (v.type == ValueType::kMatrix) out += ts(p.ts_ms) + ":";
        out += FormatSampleValue(p.value);
      }
    }
    return out;
  }

  FakeReader reader_;
};

// The querier hands the engine streams one after the other (iter::StreamOrderedIterator), not
// in global time order: every result must be the same, bit for bit, series order included.
TEST_F(EngineTest, StreamOrderedInputGivesTheSameResults) {
  const char* queries[] = {
      R"(count_over_time({app=~".+"}[10s]))",
      R"(sum by (env) (count_over_time({app=~".+"}[7s])))",
      R"(rate({app="api"}[3s]))",
      R"(bytes_over_time({app=~"api|web"}[20s]))",
      R"(sum_over_time({app="m"} | unwrap v [10s]))",
      R"(sum_over_time({app="m"} | unwrap v [10s]) by (app))",
      R"(first_over_time({app="m"} | unwrap v [30s]) by (app))",
      R"(last_over_time({app="m"} | unwrap v [30s]) by (app))",
      R"(quantile_over_time(0.5, {app="m"} | unwrap v [20s]) by (app))",
      R"(rate_counter({app="counter"} | unwrap c [30s]))",
      R"(avg_over_time({app="svc"} | logfmt | unwrap latency | __error__="" [10s]) by (level))",
      R"(count_over_time({app="js"} | json [10s]))",
      R"(absent_over_time({app="nothing"}[5s]))",
      R"(topk(2, count_over_time({app=~".+"}[10s])))",
      R"(sum_over_time({app="bad"} | unwrap v [30s]))",
  };
  for (const char* q : queries) {
    for (double step : {1.0, 3.0, 15.0}) {
      reader_.stream_ordered = false;
      std::string merged = Range(q, 0, 45, step);
      reader_.stream_ordered = true;
      std::string ordered = Range(q, 0, 45, step);
      EXPECT_EQ(ordered, merged) << q << " step " << step;
    }
    reader_.stream_ordered = false;
    std::string merged = Instant(q, 20);
    reader_.stream_ordered = true;
    EXPECT_EQ(Instant(q, 20), merged) << q;
  }
}

// Only the values of count_over_time, rate and absent_over_time without stages ignore lines.
TEST_F(EngineTest, RequestsSayWhetherTheAggregationReadsLines) {
  struct Case {
    const char* query;
    bool lines_needed;
  };
  const Case cases[] = {
      {R"(count_over_time({app="api"}[10s]))", false},
      {R"(rate({app="api"}[10s]))", false},
      {R"(sum by (env) (count_over_time({app="api"}[10s])))", false},
      {R"(absent_over_time({app="api"}[10s]))", false},
      {R"(bytes_over_time({app="api"}[10s]))", true},
      {R"(bytes_rate({app="api"}[10s]))", true},
      {R"(count_over_time({app="api"} |= "a" [10s]))", true},
      {R"(rate({app="svc"} | logfmt [10s]))", true},
      {R"(count_over_time({app="api"} | label_format x="y" [10s]))", true},
      {R"(rate({app="m"} | unwrap v [10s]))", true},
      {R"(max_over_time({app="m"} | unwrap v [10s]) by ())", true},
  };
  for (const Case& c : cases) {
    reader_.lines_needed.clear();
    Instant(c.query, 20);
    ASSERT_EQ(reader_.lines_needed.size(), 1u) << c.query;
    EXPECT_EQ(reader_.lines_needed[0], c.lines_needed) << c.query;
  }
  // Both sides of a binary operation are read with their own hints.
  reader_.lines_needed.clear();
  Instant(R"(count_over_time({app="api"}[10s]) / bytes_over_time({app="api"}[10s]))", 20);
  ASSERT_EQ(reader_.lines_needed.size(), 2u);
  EXPECT_NE(reader_.lines_needed[0], reader_.lines_needed[1]);
}

// A source may serve a timestamps-only read unloaded: the engine loads an entry only when its
// metadata can still label the series, and gets the same results either way.
TEST_F(EngineTest, UnloadedEntriesGiveTheSameResultsWithoutLoadingLines) {
  const char* queries[] = {
      R"(count_over_time({app="units"}[30s]))",  // metadata labels the series
      R"(rate({app=~"api|m"}[30s]))",
      R"(absent_over_time({app="units"}[30s]))",
      R"(absent_over_time({app="nothing"}[30s]))",
  };
  for (const char* q : queries) {
    reader_.unload_when_allowed = false;
    const std::string loaded = Range(q, 0, 40, 5);
    reader_.unload_when_allowed = true;
    EXPECT_EQ(Range(q, 0, 40, 5), loaded) << q;
  }
  reader_.loads = 0;
  // Metadata still labels the series: it comes with unloaded entries.
  EXPECT_EQ(Instant(R"(count_over_time({app="units"}[30s]))", 30),
            R"({app="units", b="1kB", d="250ms"} 1, {app="units", b="2KiB", d="1.5s"} 1)");
  EXPECT_EQ(reader_.loads, 0);
  reader_.loads = 0;
  EXPECT_EQ(Instant(R"(absent_over_time({app="units"}[30s]))", 30), "");
  EXPECT_EQ(Instant(R"(absent_over_time({app="units"}[5s]))", 30), R"({app="units"} 1)");
  EXPECT_EQ(reader_.loads, 0);
}

// --- Range aggregations -----------------------------------------------------------------------

TEST_F(EngineTest, CountOverTimeWindowIsLeftOpenRightClosed) {
  // (10, 20]: prod has 15 and 20 (not 10), dev has 20.
  EXPECT_EQ(Instant(R"(count_over_time({app="api"}[10s]))", 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 2)");
  // The evaluation time itself is included: an entry exactly at t counts.
  EXPECT_EQ(Instant(R"(count_over_time({app="api", env="prod"}[1s]))", 30),
            R"({app="api", env="prod"} 1)");
  // ...and one exactly at t - range does not.
  EXPECT_EQ(Instant(R"(count_over_time({app="api", env="prod"}[10s]))", 40), "");
}

TEST_F(EngineTest, ReadsOneRangeBeforeTheFirstStepThroughTheLast) {
  ASSERT_EQ(Range(R"(count_over_time({app="api"}[10s] offset 5s))", 10, 30, 10).rfind("{", 0), 0u);
  ASSERT_EQ(reader_.calls.size(), 1u);
  EXPECT_EQ(reader_.calls[0].first, Sec(10 - 10 - 5));
  EXPECT_EQ(reader_.calls[0].second, Sec(30 - 5) + 1);  // the last step's end is included
}

TEST_F(EngineTest, RangeQueryStepsFromStartToEndInclusive) {
  // Steps 10, 20, 30. At 30, dev's window (20, 30] is empty so it has no point.
  EXPECT_EQ(Range(R"(count_over_time({app="api"}[10s]))", 10, 30, 10),
            R"({app="api", env="dev"} 10:1 20:1 | {app="api", env="prod"} 10:2 20:2 30:1)");
}

TEST_F(EngineTest, StepAlignmentFollowsStartNotTheClock) {
  // Steps at 7, 17, 27 (not rounded to multiples of the step).
  EXPECT_EQ(Range(R"(count_over_time({app="api"}[10s]))", 7, 30, 10),
            R"({app="api", env="dev"} 17:1 27:1 | {app="api", env="prod"} 7:1 17:2 27:1)");
  // A step larger than the range skips entries between windows.
  EXPECT_EQ(Range(R"(count_over_time({app="api", env="prod"}[2s]))", 10, 30, 10),
            R"({app="api", env="prod"} 10:1 20:1 30:1)");
}

TEST_F(EngineTest, Offset) {
  // At 30 with offset 10s the window is (10, 20]; the point is reported at 30.
  EXPECT_EQ(Instant(R"(count_over_time({app="api"}[10s] offset 10s))", 30),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 2)");
  EXPECT_EQ(Range(R"(count_over_time({app="api", env="prod"}[10s] offset 10s))", 20, 40, 10),
            R"({app="api", env="prod"} 20:2 30:2 40:1)");
}

TEST_F(EngineTest, RateAndBytes) {
  EXPECT_EQ(Instant(R"(rate({app="api"}[10s]))", 20),
            R"({app="api", env="dev"} 0.1, {app="api", env="prod"} 0.2)");
  // "cccccc" + "d" = 7 bytes; "yy" = 2.
  EXPECT_EQ(Instant(R"(bytes_over_time({app="api"}[10s]))", 20),
            R"({app="api", env="dev"} 2, {app="api", env="prod"} 7)");
  EXPECT_EQ(Instant(R"(bytes_rate({app="api"}[10s]))", 20),
            R"({app="api", env="dev"} 0.2, {app="api", env="prod"} 0.7)");
}

TEST_F(EngineTest, LineFiltersApplyBeforeCounting) {
  EXPECT_EQ(Instant(R"(count_over_time({app="api"} |= "b" [30s]))", 30),
            R"({app="api", env="prod"} 1)");
  EXPECT_EQ(Instant(R"(count_over_time({app=~"api|web"} |~ "^web" [30s]))", 30),
            R"({app="web", env="prod"} 2)");
}

TEST_F(EngineTest, UnwrapAggregations) {
  // Window (10, 20]: prod 3, 4; dev 20. The unwrapped label is not part of the series.
  const std::string sel = R"({app="m"} | unwrap v [10s])";
  EXPECT_EQ(Instant("sum_over_time(" + sel + ")", 20),
            R"({app="m", env="dev"} 20, {app="m", env="prod"} 7)");
  EXPECT_EQ(Instant("avg_over_time(" + sel + ")", 20),
            R"({app="m", env="dev"} 20, {app="m", env="prod"} 3.5)");
  EXPECT_EQ(Instant("min_over_time(" + sel + ")", 20),
            R"({app="m", env="dev"} 20, {app="m", env="prod"} 3)");
  EXPECT_EQ(Instant("max_over_time(" + sel + ")", 20),
            R"({app="m", env="dev"} 20, {app="m", env="prod"} 4)");
  EXPECT_EQ(Instant("first_over_time(" + sel + ")", 20),
            R"({app="m", env="dev"} 20, {app="m", env="prod"} 3)");
  EXPECT_EQ(Instant("last_over_time(" + sel + ")", 20),
            R"({app="m", env="dev"} 20, {app="m", env="prod"} 4)");
  // Population variance of {3, 4}: 0.25.
  EXPECT_EQ(Instant("stdvar_over_time(" + sel + ")", 20),
            R"({app="m", env="dev"} 0, {app="m", env="prod"} 0.25)");
  EXPECT_EQ(Instant("stddev_over_time(" + sel + ")", 20),
            R"({app="m", env="dev"} 0, {app="m", env="prod"} 0.5)");
  // rate of an unwrapped value: the sum over the range in seconds.
  EXPECT_EQ(Instant("rate(" + sel + ")", 20),
            R"({app="m", env="dev"} 2, {app="m", env="prod"} 0.7)");
}

TEST_F(EngineTest, QuantileOverTime) {
  // prod over (0, 30]: 1 2 3 4 5. φ=0.9: rank 3.6 -> 4*0.4 + 5*0.6.
  const std::string sel = R"({app="m", env="prod"} | unwrap v [30s])";
  EXPECT_EQ(Instant("quantile_over_time(0.5, " + sel + ")", 30), R"({app="m", env="prod"} 3)");
  EXPECT_EQ(Instant("quantile_over_time(0.9, " + sel + ")", 30), R"({app="m", env="prod"} 4.6)");
  EXPECT_EQ(Instant("quantile_over_time(0, " + sel + ")", 30), R"({app="m", env="prod"} 1)");
  EXPECT_EQ(Instant("quantile_over_time(1.5, " + sel + ")", 30), R"({app="m", env="prod"} +Inf)");
}

TEST_F(EngineTest, UnwrapConversions) {
  EXPECT_EQ(Instant(R"(sum_over_time({app="units"} | unwrap duration(d) [30s]))", 30),
            R"({app="units", b="1kB"} 0.25, {app="units", b="2KiB"} 1.5)");
  EXPECT_EQ(Instant(R"(sum(sum_over_time({app="units"} | unwrap duration_seconds(d) [30s])))", 30),
            "{} 1.75");
  EXPECT_EQ(Instant(R"(sum(sum_over_time({app="units"} | unwrap bytes(b) [30s])))", 30), "{} 3048");
}

TEST_F(EngineTest, RangeGroupingMergesSeriesBeforeAggregating) {
  // max over (0, 30] of every {app="m"} sample, prod and dev together.
  const std::string sel = R"({app="m"} | unwrap v [30s])";
  EXPECT_EQ(Instant("max_over_time(" + sel + ") by (app)", 30), R"({app="m"} 20)");
  EXPECT_EQ(Instant("max_over_time(" + sel + ") without (env)", 30), R"({app="m"} 20)");
  EXPECT_EQ(Instant("max_over_time(" + sel + ") by ()", 30), "{} 20");
  // The unwrapped label stays only when `by` names it.
  EXPECT_EQ(Instant(R"(max_over_time({app="m", env="dev"} | unwrap v [30s]) by (v))", 30),
            R"({v="10"} 10, {v="20"} 20)");
  // first/last follow time order across the merged streams: at 10 both streams have a sample
  // and the merge puts dev (labels sort first) before prod.
  EXPECT_EQ(Instant("first_over_time(" + sel + ") by (app)", 30), R"({app="m"} 1)");
  EXPECT_EQ(Instant(R"(first_over_time({app="m"} | unwrap v [12s]) by (app))", 10),
            R"({app="m"} 1)");
  EXPECT_EQ(Instant(R"(last_over_time({app="m"} | unwrap v [1s]) by (app))", 10), R"({app="m"} 2)");
}

TEST_F(EngineTest, StructuredMetadataIsPartOfTheSeriesLabels) {
  EXPECT_EQ(Instant(R"(count_over_time({app="units"}[30s]))", 30),
            R"({app="units", b="1kB", d="250ms"} 1, {app="units", b="2KiB", d="1.5s"} 1)");
}

TEST_F(EngineTest, ConversionErrorsFailTheQueryAsLoki) {
  std::string got = Instant(R"(sum_over_time({app="bad"} | unwrap v [10s]))", 20);
  EXPECT_EQ(
      got,
      "error: pipeline error: 'SampleExtractionErr' for series: "
      "'{__error__=\"SampleExtractionErr\", "
      "__error_details__=\"strconv.ParseFloat: parsing \\\"abc\\\": invalid syntax\", app=\"bad\", "
      "v=\"abc\"}'.\n"
      "Use a label filter to intentionally skip this error. (e.g | "
      "__error__!=\"SampleExtractionErr\").\n"
      "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
      "The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" "
      ")\n");
  // A window without the bad sample is fine.
  EXPECT_EQ(Instant(R"(sum_over_time({app="bad"} | unwrap v [10s]))", 30), R"({app="bad"} 7)");
  // A line without the unwrapped label has no sample (not an error).
  EXPECT_EQ(Instant(R"(sum_over_time({app=~"m|api", env="dev"} | unwrap v [10s]))", 20),
            R"({app="m", env="dev"} 20)");
}

TEST_F(EngineTest, ExtractedLabels) {
  // Every extracted label is part of the series; sum by collapses them.
  EXPECT_EQ(Instant(R"(sum by (level) (count_over_time({app="svc"} | logfmt [20s])))", 20),
            R"({level="error"} 1, {level="info"} 3)");
  EXPECT_EQ(Instant(R"(count_over_time({app="svc"} | logfmt | level="error" [20s]))", 20),
            R"({app="svc", latency="1.5s", level="error", size="2KiB", status="500"} 1)");
  EXPECT_EQ(Instant(R"(max_over_time({app="svc"} | logfmt | unwrap status [20s]) by (level))", 20),
            R"({level="error"} 500, {level="info"} 404)");
  // Lines without the unwrapped label (14) have no sample.
  EXPECT_EQ(
      Instant(R"(sum by (app) (sum_over_time({app="svc"} | logfmt | unwrap bytes(size) [20s])))",
              20),
      R"({app="svc"} 3058)");
}

TEST_F(EngineTest, ErrorsAfterUnwrapCanBeFiltered) {
  // latency=abc does not convert: the query fails unless `| __error__=""` drops it.
  EXPECT_EQ(
      Instant(R"(avg_over_time({app="svc"} | logfmt | unwrap duration(latency) [20s]) by (level))",
              20)
          .rfind("error: pipeline error: 'SampleExtractionErr' for series: "
                 "'{__error__=\"SampleExtractionErr\", __error_details__=\"time: invalid "
                 "duration \\\"abc\\\"\", app=\"svc\", latency=\"abc\", level=\"info\", "
                 "status=\"200\"}'.",
                 0),
      0u);
  EXPECT_EQ(
      Instant(
          R"(avg_over_time({app="svc"} | logfmt | unwrap duration(latency) | __error__="" [20s]) by (level))",
          20),
      R"({level="error"} 1.5, {level="info"} 0.175)");
  // Without duration(), no latency ("100ms", ...) is a float: every sample is an error, dropped.
  EXPECT_EQ(
      Instant(
          R"(avg_over_time({app="svc"} | logfmt | unwrap latency | __error__!="SampleExtractionErr" [20s]) by (level))",
          20),
      "");
}

TEST_F(EngineTest, ParserErrors) {
  EXPECT_EQ(
      Instant(R"(sum by (level) (count_over_time({app="js"} | json [20s])))", 20)
          .rfind("error: pipeline error: 'JSONParserErr' for series: '{__error__=\"JSONParserErr\"",
                 0),
      0u);
  EXPECT_EQ(
      Instant(R"(sum by (level) (count_over_time({app="js"} | json | __error__="" [20s])))", 20),
      R"({level="info"} 1, {level="warn"} 1)");
  EXPECT_EQ(
      Instant(R"(sum(sum_over_time({app="js"} | json | __error__="" | unwrap dur [20s])))", 20),
      "{} 2");
  // The line that fails to parse has no req_bytes: no sample, so no error.
  EXPECT_EQ(Instant(R"(sum(sum_over_time({app="js"} | json | unwrap bytes(req_bytes) [20s])))", 20),
            "{} 1024");
}

TEST_F(EngineTest, RateCounterHandlesResetsWithLokisExtrapolation) {
  // (0, 40]: 1 5 2 6. Increase with the reset: (6 - 1) + 5 = 10. Loki feeds nanosecond
  // timestamps to Prometheus' millisecond formula: to_start = 40 (the range in ms / 1000),
  // sampled interval = 30s in ns / 1000 = 3e7, both under the extrapolation threshold, so
  // the increase is scaled by (3e7 + 40) / 3e7, then divided by 40s.
  auto r = Exec(R"(rate_counter({app="counter"} | unwrap c [40s]))",
                EngineParams{Sec(40), Sec(40), 0, true, 0});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_DOUBLE_EQ(r->series[0].points[0].value, 10 * ((3e7 + 40) / 3e7) / 40);
  // One sample: 0.
  EXPECT_EQ(Instant(R"(rate_counter({app="counter"} | unwrap c [5s]))", 40),
            R"({app="counter"} 0)");
}

TEST_F(EngineTest, AbsentOverTime) {
  EXPECT_EQ(Instant(R"(absent_over_time({app="nope", env=~".+"}[10s]))", 20), R"({app="nope"} 1)");
  EXPECT_EQ(Instant(R"(absent_over_time({app="api"}[10s]))", 20), "");
  // Present until 30 (prod's entry at 30), absent at 40 and 50. A name matched twice is dropped.
  EXPECT_EQ(Range(R"(absent_over_time({app="api", app!="x"}[10s]))", 10, 50, 10), "{} 40:1 50:1");
}

// --- Vector aggregations ----------------------------------------------------------------------

// At 20 over (10, 20]: {api, prod} 2, {api, dev} 1, {web, prod} 1 (its entry at 12).
constexpr const char* kCounts = R"(count_over_time({app=~"api|web"}[10s]))";

std::string Wrap(std::string_view op) { return std::string(op) + "(" + kCounts + ")"; }

TEST_F(EngineTest, VectorAggregations) {
  EXPECT_EQ(Instant(Wrap("sum"), 20), "{} 4");
  EXPECT_EQ(Instant(Wrap("sum by (env)"), 20), R"({env="dev"} 1, {env="prod"} 3)");
  EXPECT_EQ(Instant(Wrap("sum without (app)"), 20), R"({env="dev"} 1, {env="prod"} 3)");
  EXPECT_EQ(Instant(Wrap("min"), 20), "{} 1");
  EXPECT_EQ(Instant(Wrap("max"), 20), "{} 2");
  EXPECT_EQ(Instant(Wrap("count"), 20), "{} 3");
  EXPECT_EQ(Instant(Wrap("avg by (env)"), 20), R"({env="dev"} 1, {env="prod"} 1.5)");
  // Values 2, 1, 1: mean 4/3, population variance 2/9.
  auto r = Exec(Wrap("stdvar"), EngineParams{Sec(20), Sec(20), 0, true, 0});
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->series[0].points[0].value, 2.0 / 9);
  r = Exec(Wrap("stddev"), EngineParams{Sec(20), Sec(20), 0, true, 0});
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->series[0].points[0].value, std::sqrt(2.0 / 9));
  EXPECT_EQ(Range(Wrap("sum"), 10, 30, 10), "{} 10:3 20:4 30:2");
}

TEST_F(EngineTest, TopkBottomkAndTies) {
  EXPECT_EQ(Instant("topk(1, " + std::string(kCounts) + ")", 20), R"({app="api", env="prod"} 2)");
  // A tie at 1 between {api, dev} and {web, prod}: Loki picks by Go map order (random);
  // sluice keeps the series whose labels sort first. The instant result is then sorted by
  // labels, as Loki sorts every instant vector that is not sort()/sort_desc().
  EXPECT_EQ(Instant("topk(2, " + std::string(kCounts) + ")", 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 2)");
  EXPECT_EQ(Instant("bottomk(1, " + std::string(kCounts) + ")", 20), R"({app="api", env="dev"} 1)");
  EXPECT_EQ(Instant("topk by (app) (1, " + std::string(kCounts) + ")", 20),
            R"({app="api", env="prod"} 2, {app="web", env="prod"} 1)");
  EXPECT_EQ(Instant("topk(0, " + std::string(kCounts) + ")", 20),
            "error: parse error : invalid parameter (must be greater than 0) topk(0");
  EXPECT_EQ(Instant("topk(10, " + std::string(kCounts) + ")", 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 2, {app="web", env="prod"} 1)");
}

TEST_F(EngineTest, SortKeepsValueOrderInInstantQueries) {
  EXPECT_EQ(Instant(Wrap("sort"), 20),
            R"({app="api", env="dev"} 1, {app="web", env="prod"} 1, {app="api", env="prod"} 2)");
  EXPECT_EQ(Instant(Wrap("sort_desc"), 20),
            R"({app="api", env="prod"} 2, {app="api", env="dev"} 1, {app="web", env="prod"} 1)");
}

// --- Binary operations ------------------------------------------------------------------------

TEST_F(EngineTest, ArithmeticWithLiterals) {
  const std::string c = R"(count_over_time({app="api"}[10s]))";
  EXPECT_EQ(Instant(c + " * 2", 20), R"({app="api", env="dev"} 2, {app="api", env="prod"} 4)");
  EXPECT_EQ(Instant("10 / " + c, 20), R"({app="api", env="dev"} 10, {app="api", env="prod"} 5)");
  EXPECT_EQ(Instant("1 - " + c, 20), R"({app="api", env="dev"} 0, {app="api", env="prod"} -1)");
  EXPECT_EQ(Instant(c + " ^ 3", 20), R"({app="api", env="dev"} 1, {app="api", env="prod"} 8)");
  EXPECT_EQ(Instant(c + " % 2", 20), R"({app="api", env="dev"} 1, {app="api", env="prod"} 0)");
  // Loki quirk: division and modulo by zero are NaN (Prometheus: +Inf / NaN).
  EXPECT_EQ(Instant(c + " / 0", 20), R"({app="api", env="dev"} NaN, {app="api", env="prod"} NaN)");
  EXPECT_EQ(Instant(c + " % 0", 20), R"({app="api", env="dev"} NaN, {app="api", env="prod"} NaN)");
  // Literals fold at parse time: a scalar.
  EXPECT_EQ(Instant("1 + 2 * 3", 20), "scalar 20:7");
}

TEST_F(EngineTest, ComparisonsFilterOrReturnBool) {
  EXPECT_EQ(Instant(std::string(kCounts) + " > 1", 20), R"({app="api", env="prod"} 2)");
  // The vector's value is kept whichever side the literal is on.
  EXPECT_EQ(Instant("1 < " + std::string(kCounts), 20), R"({app="api", env="prod"} 2)");
  EXPECT_EQ(Instant(std::string(kCounts) + " > bool 1", 20),
            R"({app="api", env="dev"} 0, {app="api", env="prod"} 1, {app="web", env="prod"} 0)");
  EXPECT_EQ(Instant(std::string(kCounts) + " == 1", 20),
            R"({app="api", env="dev"} 1, {app="web", env="prod"} 1)");
  // Vector to vector: the left sample's value, on matching labels.
  EXPECT_EQ(Instant(Wrap("sum by (env)") + " >= " + Wrap("max by (env)"), 20),
            R"({env="dev"} 1, {env="prod"} 3)");
  EXPECT_EQ(Instant(Wrap("sum by (env)") + " > bool " + Wrap("max by (env)"), 20),
            R"({env="dev"} 0, {env="prod"} 1)");
}

TEST_F(EngineTest, VectorMatching) {
  const std::string api = R"(count_over_time({app="api"}[10s]))";
  const std::string web = R"(count_over_time({app="web"}[10s]))";
  // Same labels only: nothing in common.
  EXPECT_EQ(Instant(api + " + " + web, 20), "");
  EXPECT_EQ(Instant(api + " + " + api, 20),
            R"({app="api", env="dev"} 2, {app="api", env="prod"} 4)");
  // ignoring/on reduce the result's labels to the matched ones in one-to-one matching.
  EXPECT_EQ(Instant(api + " + ignoring(app) " + web, 20), R"({env="prod"} 3)");
  EXPECT_EQ(Instant(api + " + on(env) " + web, 20), R"({env="prod"} 3)");
  // Many-to-one must be explicit.
  EXPECT_EQ(Instant(std::string(kCounts) + " / on(env) " + Wrap("sum by (env)"), 20),
            "error: multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
  EXPECT_EQ(Instant(std::string(kCounts) + " / on(env) group_left " + Wrap("sum by (env)"), 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 0.6666666666666666, )"
            R"({app="web", env="prod"} 0.3333333333333333)");
  EXPECT_EQ(Instant(Wrap("sum by (env)") + " / on(env) group_right " + std::string(kCounts), 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 1.5, {app="web", env="prod"} 3)");
  // group_left(label) copies the label from the "one" side.
  EXPECT_EQ(Instant(api + R"( * on(env) group_left(team) label_replace()" + web +
                        R"q(, "team", "t-$1", "app", "(.*)"))q",
                    20),
            R"({app="api", env="prod", team="t-web"} 2)");
  // Duplicates on the "one" side.
  EXPECT_EQ(Instant(Wrap("sum by (env)") + " / on(env) group_right " + Wrap("sum by (env)") +
                        " * 0 + on() group_left " + std::string(kCounts),
                    20)
                .rfind("error: found duplicate series on the right hand-side", 0),
            0u);
}

TEST_F(EngineTest, SetOperations) {
  const std::string api = R"(count_over_time({app="api"}[10s]))";
  const std::string web = R"(count_over_time({app="web"}[10s]))";
  const std::string dev = R"(count_over_time({app="api", env="dev"}[10s]))";
  EXPECT_EQ(Instant(std::string(kCounts) + " and " + api, 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 2)");
  EXPECT_EQ(Instant(api + " or " + web, 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 2, {app="web", env="prod"} 1)");
  EXPECT_EQ(Instant(std::string(kCounts) + " unless on(env) " + dev, 20),
            R"({app="api", env="prod"} 2, {app="web", env="prod"} 1)");
  EXPECT_EQ(Instant(api + R"( and count_over_time({app="nope"}[10s]))", 20), "");
  EXPECT_EQ(Instant(api + R"( unless count_over_time({app="nope"}[10s]))", 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 2)");
}

TEST_F(EngineTest, LabelReplace) {
  const std::string api = R"(count_over_time({app="api"}[10s]))";
  EXPECT_EQ(Instant(R"(label_replace()" + api + R"q(, "svc", "$1-x", "env", "(p.*)"))q", 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod", svc="prod-x"} 2)");
  // The regex is anchored: "rod" does not match "prod".
  EXPECT_EQ(Instant(R"(label_replace()" + api + R"(, "svc", "x", "env", "rod"))", 20),
            R"({app="api", env="dev"} 1, {app="api", env="prod"} 2)");
  // An empty replacement deletes the destination (here making two series alike: equal labels
  // keep their evaluation order); named groups and ${n} work.
  EXPECT_EQ(Instant(R"(label_replace()" + api + R"(, "env", "", "app", "api"))", 20),
            R"({app="api"} 2, {app="api"} 1)");
  EXPECT_EQ(
      Instant(R"(label_replace()" + api + R"q(, "x", "${1}_$name", "env", "(?P<name>d)(.*)"))q",
              20),
      R"({app="api", env="dev", x="d_d"} 1, {app="api", env="prod"} 2)");
}

TEST_F(EngineTest, VectorAndLiterals) {
  EXPECT_EQ(Instant("vector(5)", 20), "{} 5");
  EXPECT_EQ(Range("vector(5)", 10, 30, 10), "{} 10:5 20:5 30:5");
  EXPECT_EQ(Instant("3", 20), "scalar 20:3");
  EXPECT_EQ(Range("3", 10, 30, 10), "{} 10:3 20:3 30:3");
  EXPECT_EQ(Instant(Wrap("sum") + " + vector(1)", 20), "{} 5");
  EXPECT_EQ(Instant(std::string(kCounts) + " + vector(1)", 20), "");
  EXPECT_EQ(Instant(Wrap("sum") + " or vector(0)", 100), "{} 0");
}

// --- Limits -----------------------------------------------------------------------------------

TEST_F(EngineTest, MaxSeries) {
  EXPECT_EQ(Instant(kCounts, 20, 2),
            "error: maximum number of series (2) reached for a single query; consider reducing "
            "query cardinality by adding more specific stream selectors, reducing the time range, "
            "or aggregating results with functions like sum(), count() or topk()");
  EXPECT_EQ(Instant(Wrap("sum"), 20, 1), "{} 4");
  // A range query fails once the union of series over the steps passes the limit: one series
  // at 10, two at 20.
  EXPECT_EQ(
      Range(R"(count_over_time({app="web"}[5s]) or count_over_time({app="api", env="dev"}[5s]))",
            10, 25, 5, 1)
          .rfind("error: maximum number of series (1)", 0),
      0u);
  EXPECT_EQ(Range(R"(count_over_time({app="web"}[5s]))", 10, 25, 5, 1),
            R"({app="web", env="prod"} 15:1 25:1)");
}

// --- Conversions and formatting ---------------------------------------------------------------

// Parser hints (log/parser_hints.h) let json and logfmt skip the labels a query cannot see.
// Results must be those of a full extraction, errors (and the labels they print) included.
TEST_F(EngineTest, ParserHintsGiveTheSameResults) {
  FakeReader reader;
  reader.Add(R"({app="j", level="info"})",
             {
                 E(1, R"({"level":"debug","dur":1.5,"path":"/a","user":{"id":7,"name":"a\"b"}})"),
                 E(2, R"({"dur":2,"path":"/b","dur":3})"),  // duplicate key: the last wins
                 E(3, R"({"dur":4,"path":"/c\u00e9","user":{"id":8}} trailing)"),
                 E(4, R"({"dur":5,"path":"/d","user":{"id" 9}})"),  // error in a nested object
                 E(5, R"({"dur":6,"path":"/e",)"),    // truncated after the hinted labels
                 E(6, R"({"dur":7,"path":"x\qy"})"),  // invalid escape: path=""
                 E(7, R"({"du-r":8,"1st":"a","user_id":9,"user":{"id":10}})"),  // user_id twice
                 E(8, "not json"),
                 E(9, R"({"dur":"abc","path":"/f"})"),  // unwrap conversion error
                 E(11, R"({"dur":1,"path":"/a","user":{"id":[1,2],"x":null}})"),
                 E(12, R"({"dur":2,"path":"/b","level":"warn"})"),
             });
  reader.Add(R"({app="l", queue="q0"})",
             {
                 E(1, R"(level=info queue=a dur=1 msg="x y")"),
                 E(2, "queue=b dur=2 queue=c"),       // duplicate key: the last wins
                 E(3, R"(dur=3 queue=d bad"key=1)"),  // malformed pair after the hinted labels
                 E(4, "dur= queue=e"),
                 E(5, R"(dur=5 msg="unterminated)"),
                 E(6, R"(dur=6 msg="a\qb" queue=f)"),
                 E(11, "queue=a dur=7"),
                 E(12, "dur=8 queue=b"),
             });
  const char* queries[] = {
      R"(max_over_time({app="j"} | json | unwrap dur [20s]) by (path))",
      R"(avg_over_time({app="j"} | json | __error__="" | unwrap dur [20s]) by (path))",
      R"(max_over_time({app="j"} | json | unwrap dur | __error__="" [20s]) by (path))",
      R"(max_over_time({app="j"} | json | __error__="" | unwrap dur [5s]) by (path))",
      R"(max_over_time({app="j"} | json | unwrap dur [20s]) by (user_id))",
      R"(max_over_time({app="j"} | json | unwrap dur [20s]) by ())",
      R"(max_over_time({app="j"} | json | __error__="" | unwrap dur [20s]) by ())",
      R"(min_over_time({app="j"} | json | __error__="" | unwrap dur [20s]))"
      R"( by (user_id, level_extracted))",
      R"(max_over_time({app="j"} | json | __error__!="" | drop __error_details__)"
      R"( | unwrap dur [20s]) by (__error__))",
      R"(max_over_time({app="j"} | json | drop __error__, __error_details__)"
      R"( | unwrap user_id [20s]) by (du_r, _1st, user_name))",
      R"(avg_over_time({app="j"} | json | __error__="" | label_format p=path)"
      R"( | unwrap dur [20s]) by (p))",
      R"(max_over_time({app="j"} | json | __error__="" | user_id > 8 | unwrap dur [20s]))"
      R"( by (level))",
      R"(max_over_time({app="j"} | json | __error__="" | unwrap user_id [20s]) by (path))",
      R"(first_over_time({app="j"} | json | keep path, dur | unwrap dur [20s]) by (path))",
      R"(sum_over_time({app="j"} | json | __error__="" | unwrap dur [20s]))",
      R"(max_over_time({app="l"} | logfmt | unwrap dur [20s]) by (queue_extracted))",
      R"(max_over_time({app="l"} | logfmt | unwrap dur [5s]) by (queue))",
      R"(max_over_time({app="l"} | logfmt --strict | unwrap dur [20s]) by (queue_extracted))",
      R"(max_over_time({app="l"} | logfmt --strict | __error__="" | unwrap dur [20s]))"
      R"( by (queue_extracted))",
      R"(max_over_time({app="l"} | logfmt --keep-empty | unwrap dur [20s]) by (msg))",
      R"(max_over_time({app="l"} | logfmt | json | unwrap dur [20s]) by (queue_extracted))",
  };
  auto run = [&](const char* q, EngineParams params) {
    auto expr = syntax::Parse(q);
    EXPECT_TRUE(expr.ok()) << q;
    if (!expr.ok()) return std::string();
    Engine engine(&reader, Base(), params);
    auto r = engine.Exec(**expr);
    return r.ok() ? Render(*r) : "error: " + r.status().message();
  };
  int errors = 0, values = 0;
  for (const char* q : queries) {
    for (bool instant : {true, false}) {
      EngineParams params{Sec(15), Sec(15), 0, instant, 0};
      if (!instant) params = EngineParams{Sec(0), Sec(20), int64_t{2'000'000'000}, false, 0};
      params.parser_hints = false;
      const std::string full = run(q, params);
      params.parser_hints = true;
      EXPECT_EQ(run(q, params), full) << q << (instant ? " (instant)" : " (range)");
      (full.starts_with("error:") ? errors : values)++;
    }
  }
  // Both kinds of outcome are covered.
  EXPECT_GT(errors, 10);
  EXPECT_GT(values, 10);
  // Duplicate keys: the last one wins, hinted as unhinted.
  EngineParams at15{Sec(15), Sec(15), 0, true, 0};
  EXPECT_EQ(run(R"(max_over_time({app="j"} | json | __error__="" | path="/b" | unwrap dur [20s]))"
                R"( by (path))",
                at15),
            R"({path="/b"} 3)");
  EXPECT_EQ(run(R"(max_over_time({app="l"} | logfmt | queue_extracted=~"c|f" | unwrap dur [20s]))"
                R"( by (queue_extracted))",
                at15),
            R"({queue_extracted="c"} 2, {queue_extracted="f"} 6)");
}

TEST(ConvertTest, GoParseFloat) {
  EXPECT_EQ(*GoParseFloat("1.5"), 1.5);
  EXPECT_EQ(*GoParseFloat("-2e3"), -2000);
  EXPECT_EQ(*GoParseFloat("0x1p-2"), 0.25);
  EXPECT_EQ(*GoParseFloat("1_000"), 1000);
  EXPECT_TRUE(std::isinf(*GoParseFloat("+Inf")));
  EXPECT_TRUE(std::isnan(*GoParseFloat("NaN")));
  EXPECT_EQ(GoParseFloat("abc").status().message(),
            R"(strconv.ParseFloat: parsing "abc": invalid syntax)");
  EXPECT_EQ(GoParseFloat(" 1").status().message(),
            R"(strconv.ParseFloat: parsing " 1": invalid syntax)");
  EXPECT_EQ(GoParseFloat("1e400").status().message(),
            R"(strconv.ParseFloat: parsing "1e400": value out of range)");
  EXPECT_FALSE(GoParseFloat("0x10").ok());  // hex needs a p exponent
  EXPECT_FALSE(GoParseFloat("+nan").ok());
}

TEST(ConvertTest, GoDurations) {
  EXPECT_EQ(*GoParseDurationSeconds("1h30m"), 5400);
  EXPECT_EQ(*GoParseDurationSeconds("1.5s"), 1.5);
  EXPECT_EQ(*GoParseDurationSeconds("-250ms"), -0.25);
  EXPECT_EQ(*GoParseDurationSeconds("1us"), 1e-6);
  EXPECT_EQ(*GoParseDurationSeconds("0"), 0);
  EXPECT_EQ(GoParseDurationSeconds("1").status().message(),
            R"(time: missing unit in duration "1")");
  EXPECT_EQ(GoParseDurationSeconds("1d").status().message(),
            R"(time: unknown unit "d" in duration "1d")");
  EXPECT_EQ(GoParseDurationSeconds("x").status().message(), R"(time: invalid duration "x")");
}

TEST(ConvertTest, HumanizeBytes) {
  EXPECT_EQ(*HumanizeParseBytes("42"), 42);
  EXPECT_EQ(*HumanizeParseBytes("1.5 KiB"), 1536);
  EXPECT_EQ(*HumanizeParseBytes("20MB"), 20e6);
  EXPECT_EQ(*HumanizeParseBytes("1,000 b"), 1000);
  EXPECT_EQ(*HumanizeParseBytes("2k"), 2000);
  EXPECT_EQ(HumanizeParseBytes("12 zz").status().message(), "unhandled size name: zz");
  EXPECT_EQ(HumanizeParseBytes("-1").status().message(),
            R"(strconv.ParseFloat: parsing "": invalid syntax)");
}

TEST(FormatTest, ValuesAndTimestampsAsPrometheus) {
  EXPECT_EQ(FormatSampleValue(1), "1");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatSampleValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatSampleValue(-2.5), "-2.5");
  EXPECT_EQ(FormatSampleValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatSampleValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatSampleValue(NAN), "NaN");
  EXPECT_EQ(FormatTimestampMs(1700000000000), "1700000000");
  EXPECT_EQ(FormatTimestampMs(1700000000250), "1700000000.25");
  EXPECT_EQ(FormatTimestampMs(1700000000001), "1700000000.001");
}

}  // namespace
}  // namespace sluice::logql::engine
