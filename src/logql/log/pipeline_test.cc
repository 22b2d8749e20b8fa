#include "logql/log/pipeline.h"

#include <gtest/gtest.h>

#include "iter/merge.h"
#include "logql/log/pipeline_test_util.h"
#include "logql/syntax/parser.h"

namespace sluice::logql::log {
namespace {

// Compiles the pipeline of `query` and returns which of `lines` pass it.
std::vector<std::string> Passing(std::string_view query, const std::vector<std::string>& lines) {
  auto expr = syntax::Parse(query);
  EXPECT_TRUE(expr.ok()) << expr.status().message();
  if (!expr.ok()) return {};
  auto p = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) return {};
  std::vector<std::string> out;
  for (const auto& l : lines) {
    if (p->FilterLine(0, l)) out.push_back(l);
  }
  return out;
}

Status CompileError(std::string_view query) {
  auto expr = syntax::Parse(query);
  if (!expr.ok()) return expr.status();
  auto p = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  return p.status();
}

const std::vector<std::string> kLines = {"level=error msg=boom", "level=info msg=ok",
                                         "level=warn msg=slow", "GET /api 500", ""};

TEST(PipelineTest, NoStagesIsNoop) {
  auto expr = syntax::Parse(R"({a="b"})");
  ASSERT_TRUE(expr.ok());
  auto p = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->IsNoop());
  EXPECT_EQ(Passing(R"({a="b"})", kLines), kLines);
}

TEST(PipelineTest, LiteralFilters) {
  EXPECT_EQ(Passing(R"({a="b"} |= "error")", kLines),
            (std::vector<std::string>{"level=error msg=boom"}));
  EXPECT_EQ(Passing(R"({a="b"} != "level")", kLines),
            (std::vector<std::string>{"GET /api 500", ""}));
  EXPECT_EQ(Passing(R"({a="b"} |= "")", kLines), kLines);
  EXPECT_EQ(Passing(R"({a="b"} != "")", kLines), std::vector<std::string>{});
}

TEST(PipelineTest, ChainedFiltersAreAnded) {
  EXPECT_EQ(Passing(R"({a="b"} |= "level" != "info" |= "msg=s")", kLines),
            (std::vector<std::string>{"level=warn msg=slow"}));
}

TEST(PipelineTest, RegexFiltersAreUnanchored) {
  EXPECT_EQ(Passing(R"({a="b"} |~ "err|warn")", kLines),
            (std::vector<std::string>{"level=error msg=boom", "level=warn msg=slow"}));
  EXPECT_EQ(Passing(R"({a="b"} |~ "5\\d\\d$")", kLines),
            (std::vector<std::string>{"GET /api 500"}));
  EXPECT_EQ(Passing(R"q({a="b"} !~ "level=(info|warn)")q", kLines),
            (std::vector<std::string>{"level=error msg=boom", "GET /api 500", ""}));
  EXPECT_EQ(Passing(R"({a="b"} |~ "(?i)LEVEL=ERROR")", kLines),
            (std::vector<std::string>{"level=error msg=boom"}));
  // A regex without metacharacters takes the literal path and means the same.
  EXPECT_EQ(Passing(R"({a="b"} |~ "msg=ok")", kLines),
            (std::vector<std::string>{"level=info msg=ok"}));
}

TEST(PipelineTest, OrAlternatives) {
  EXPECT_EQ(Passing(R"({a="b"} |= "boom" or "slow")", kLines),
            (std::vector<std::string>{"level=error msg=boom", "level=warn msg=slow"}));
  EXPECT_EQ(Passing(R"({a="b"} |~ "boom" or "^GET")", kLines),
            (std::vector<std::string>{"level=error msg=boom", "GET /api 500"}));
  // Negative `or`: contains neither.
  EXPECT_EQ(Passing(R"({a="b"} != "boom" or "slow")", kLines),
            (std::vector<std::string>{"level=info msg=ok", "GET /api 500", ""}));
}

TEST(PipelineTest, BuildErrorsAreClear400s) {
  Status st = CompileError(R"({a="b"} | json | addr = ip("abc"))");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), R"(ip: invalid pattern: "abc")");
  EXPECT_EQ(CompileError(R"({a="b"} |= ip("1.2.3"))").message(), R"(ip: invalid pattern: "1.2.3")");
  EXPECT_EQ(CompileError(R"({a="b"} | json x="a..b")").message(),
            "cannot parse expression [a..b]: syntax error");
  EXPECT_EQ(CompileError(R"({a="b"} | label_format __error__="x")").message(),
            "__error__ cannot be formatted");
  EXPECT_EQ(CompileError(R"({a="b"} | label_format a=b, a=c)").message(),
            "multiple label name 'a' not allowed in a single format operation");
  EXPECT_EQ(CompileError(R"({a="b"} |> "<x>")").message(),
            "named captures are not allowed: found '<x>'");
  EXPECT_EQ(CompileError(R"({a="b"} |> "<_><_>")").message(),
            "found consecutive capture '<_><_>': invalid expression");
}

TEST(PipelineTest, LineFilterDirectApi) {
  LineFilter any = LineFilter::Contains({"a", "zz"});
  EXPECT_TRUE(any.Matches("xxa"));
  EXPECT_TRUE(any.Matches("zz"));
  EXPECT_FALSE(any.Matches("z"));
  LineFilter not_b = LineFilter::NotContains("b");
  EXPECT_TRUE(not_b.Matches("aaa"));
  EXPECT_FALSE(not_b.Matches("abc"));
}

TEST(PipelineIteratorTest, FiltersAndCounts) {
  auto expr = syntax::Parse(R"({a="b"} |= "keep")");
  ASSERT_TRUE(expr.ok());
  auto p = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  ASSERT_TRUE(p.ok());
  std::vector<model::Entry> entries = {
      {1, "keep 1", {}}, {2, "drop", {}}, {3, "keep 3", {{"k", "v"}}}};
  PipelineStats stats;
  auto it = NewPipelineIterator(iter::NewVectorIterator(model::ParseLabels(R"({a="b"})").value(),
                                                        entries, model::Direction::kForward),
                                &*p, &stats);
  auto got = iter::Collect(it.get());
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[1].entry.line, "keep 3");
  EXPECT_EQ((*got)[1].entry.metadata.size(), 1u);
  EXPECT_EQ(stats.lines_processed, 3u);
  EXPECT_EQ(stats.bytes_processed, 6u + 4 + 6);
  EXPECT_EQ(stats.metadata_bytes_processed, 2u);
  EXPECT_EQ(stats.lines_passed, 2u);
}

// Loki's label categories: what stages set is "parsed" (errors after it), metadata a stage
// dropped or overrode is gone; the reported labels stay the stream's and the parsed ones.
TEST(PipelineIteratorTest, EntriesCarryTheirLabelCategories) {
  auto expr = syntax::Parse(R"({a="b"} | logfmt | drop span | label_format pod="{{.a}}-x")");
  ASSERT_TRUE(expr.ok());
  auto p = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::vector<model::Entry> entries = {
      {1, "level=info trace=from-line", {{"trace", "md"}, {"span", "s"}, {"user", "u"}}},
      {2, "plain", {}}};
  auto it = NewPipelineIterator(iter::NewVectorIterator(model::ParseLabels(R"({a="b"})").value(),
                                                        entries, model::Direction::kForward),
                                &*p, nullptr);
  auto got = iter::Collect(it.get());
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  const auto& first = (*got)[0];
  EXPECT_EQ(first.labels.ToString(), R"({a="b", level="info", pod="b-x", trace="from-line"})");
  EXPECT_EQ(first.entry.metadata, (std::vector<model::Label>{{"user", "u"}}));
  EXPECT_EQ(first.entry.parsed,
            (std::vector<model::Label>{{"level", "info"}, {"pod", "b-x"}, {"trace", "from-line"}}));
  EXPECT_TRUE((*got)[1].entry.metadata.empty());

  // Error labels come last among the parsed ones.
  auto json = syntax::Parse(R"({a="b"} | json | label_format z="1")");
  auto j = Pipeline::Compile((*json)->Cast<syntax::LogSelectorExpr>());
  ASSERT_TRUE(j.ok());
  auto it_json = NewPipelineIterator(
      iter::NewVectorIterator(model::ParseLabels(R"({a="b"})").value(), {{1, "not json", {}}},
                              model::Direction::kForward),
      &*j, nullptr);
  auto failed = iter::Collect(it_json.get());
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  const auto& parsed = (*failed)[0].entry.parsed;
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0], (model::Label{"z", "1"}));
  EXPECT_EQ(parsed[1], (model::Label{"__error__", "JSONParserErr"}));
  EXPECT_EQ(parsed[2].name, "__error_details__");

  // Without labels changes, entries pass as read: metadata untouched, nothing parsed.
  auto filter = syntax::Parse(R"({a="b"} |= "level")");
  auto f = Pipeline::Compile((*filter)->Cast<syntax::LogSelectorExpr>());
  auto it2 = NewPipelineIterator(iter::NewVectorIterator(model::ParseLabels(R"({a="b"})").value(),
                                                         entries, model::Direction::kForward),
                                 &*f, nullptr);
  auto kept = iter::Collect(it2.get());
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].entry.metadata.size(), 3u);
  EXPECT_TRUE((*kept)[0].entry.parsed.empty());
}

TEST(ResultLabelsTest, FoldedByDefaultStreamOnlyWhenCategorized) {
  const model::LabelSet labels = model::ParseLabels(R"({app="a", env="e", level="info"})").value();
  model::Entry e{1, "l", {{"trace_id", "t"}, {"env", "md-env"}}, {{"level", "info"}}};
  model::Entry folded_entry = e;
  // A metadata name that is a stream label's takes Loki's _extracted suffix.
  EXPECT_EQ(ResultLabels(labels, &folded_entry, false).ToString(),
            R"({app="a", env="e", env_extracted="md-env", level="info", trace_id="t"})");
  EXPECT_EQ(folded_entry.metadata,
            (std::vector<model::Label>{{"trace_id", "t"}, {"env_extracted", "md-env"}}));
  model::Entry categorized = e;
  EXPECT_EQ(ResultLabels(labels, &categorized, true).ToString(), R"({app="a", env="e"})");
  EXPECT_EQ(categorized.metadata, folded_entry.metadata);
  // Nothing to fold: the labels as they are.
  model::Entry plain{1, "l", {}, {}};
  EXPECT_EQ(ResultLabels(labels, &plain, false), labels);
}

// Entries served without their lines: stages need them loaded, a no-op pipeline does not.
TEST(PipelineIteratorTest, LoadsUnloadedEntriesOnlyForStages) {
  const model::LabelSet labels = model::ParseLabels(R"({a="b"})").value();
  const std::vector<model::Entry> entries = {{1, "keep 1", {}}, {2, "drop", {}}};
  auto unloaded = [&](int* loads) -> iter::EntryIteratorPtr {
    return std::make_unique<testing::UnloadedIterator>(
        iter::NewVectorIterator(labels, entries, model::Direction::kForward), loads);
  };
  auto expr = syntax::Parse(R"({a="b"} |= "keep")");
  ASSERT_TRUE(expr.ok());
  auto filter = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  ASSERT_TRUE(filter.ok());
  int loads = 0;
  auto it = NewPipelineIterator(unloaded(&loads), &*filter, nullptr);
  ASSERT_TRUE(it->Next());
  EXPECT_TRUE(it->LineLoaded());
  EXPECT_EQ(it->At().line, "keep 1");
  EXPECT_FALSE(it->Next());
  EXPECT_EQ(loads, 2);

  Pipeline noop;
  loads = 0;
  it = NewPipelineIterator(unloaded(&loads), &noop, nullptr);
  ASSERT_TRUE(it->Next());
  EXPECT_FALSE(it->LineLoaded());
  EXPECT_EQ(it->At().line, "");
  ASSERT_TRUE(it->LoadLine().ok());
  EXPECT_TRUE(it->LineLoaded());
  EXPECT_EQ(it->At().line, "keep 1");
  ASSERT_TRUE(it->Next());
  EXPECT_FALSE(it->LineLoaded());
  EXPECT_FALSE(it->Next());
  EXPECT_EQ(loads, 1);
}

// A stage that rewrites lines and sets a label, standing in for the formatters and parsers of
// the next milestone: the iterator must serve the rewritten entry and labels.
class UpperStage final : public Stage {
 public:
  bool Process(int64_t, std::string_view* line, LabelsBuilder* labels) override {
    buf_.assign(*line);
    for (char& c : buf_) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    *line = buf_;
    labels->Set("upper", "yes");
    labels->Del("drop_me");
    return true;
  }

 private:
  std::string buf_;
};

TEST(PipelineIteratorTest, RewritingStages) {
  std::vector<StagePtr> stages;
  stages.push_back(std::make_unique<UpperStage>());
  Pipeline p = Pipeline::FromStages(std::move(stages));
  EXPECT_FALSE(p.OnlyLineFilters());
  auto it = NewPipelineIterator(
      iter::NewVectorIterator(model::ParseLabels(R"({a="b", drop_me="x"})").value(),
                              {{1, "abc", {}}}, model::Direction::kForward),
      &p, nullptr);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().line, "ABC");
  EXPECT_EQ(it->Labels().ToString(), R"({a="b", upper="yes"})");
  EXPECT_FALSE(it->Next());
}

TEST(LabelsBuilderTest, GetSetDel) {
  model::LabelSet stream = model::ParseLabels(R"({a="1", b="2"})").value();
  std::vector<model::Label> md = {{"trace", "t"}};
  LabelsBuilder b;
  b.Reset(&stream, &md);
  EXPECT_EQ(*b.Get("a"), "1");
  EXPECT_EQ(*b.Get("trace"), "t");
  EXPECT_EQ(b.Get("zzz"), nullptr);
  EXPECT_FALSE(b.changed());
  b.Set("a", "9");
  b.Del("b");
  EXPECT_EQ(*b.Get("a"), "9");
  EXPECT_EQ(b.Get("b"), nullptr);
  EXPECT_EQ(b.Labels().ToString(), R"({a="9"})");
  b.Reset(&stream, &md);
  EXPECT_EQ(b.Labels().ToString(), R"({a="1", b="2"})");
}

TEST(LabelsBuilderTest, ErrorsAndEquality) {
  model::LabelSet stream = model::ParseLabels(R"({a="1"})").value();
  LabelsBuilder b;
  b.Reset(&stream, nullptr);
  EXPECT_TRUE(b.LabelsEqual(stream));
  b.SetErr("JSONParserErr");
  EXPECT_TRUE(b.changed());
  EXPECT_EQ(b.Get("__error__"), nullptr);  // kept apart, as in Loki
  EXPECT_EQ(b.Labels().ToString(), R"({__error__="JSONParserErr", a="1"})");
  EXPECT_FALSE(b.LabelsEqual(stream));
  EXPECT_TRUE(b.LabelsEqual(b.Labels()));
  b.Set("z", "2");
  EXPECT_FALSE(b.LabelsEqual(model::ParseLabels(R"({__error__="JSONParserErr", a="1"})").value()));
  EXPECT_TRUE(
      b.LabelsEqual(model::ParseLabels(R"({__error__="JSONParserErr", a="1", z="2"})").value()));
  b.ResetError();
  EXPECT_EQ(b.Labels().ToString(), R"({a="1", z="2"})");
  EXPECT_TRUE(b.BaseHas("a"));
  EXPECT_FALSE(b.BaseHas("z"));
}

// Stages combined, as a query chains them.
TEST(PipelineTest, CombinedStages) {
  const char* q = R"({app="api"} |= "status" | logfmt | status >= 500 or level="warn" | drop msg )"
                  R"(| level != "debug" | __error__="")";
  auto o = testing::RunLine(q, R"({app="api"})", R"(level=error status=503 msg="boom")");
  EXPECT_TRUE(o.kept);
  EXPECT_EQ(o.labels, R"({app="api", level="error", status="503"})");
  EXPECT_EQ(o.line, R"(level=error status=503 msg="boom")");
  EXPECT_FALSE(testing::RunLine(q, R"({app="api"})", "level=info status=200").kept);
  EXPECT_TRUE(testing::RunLine(q, R"({app="api"})", "level=warn status=200").kept);
  EXPECT_FALSE(testing::RunLine(q, R"({app="api"})", "level=warn").kept);  // line filter
  // A conversion error is caught by the final __error__ filter.
  EXPECT_FALSE(testing::RunLine(q, R"({app="api"})", "level=error status=oops").kept);

  // Parsers chain: unpack, then json on the unpacked line, then keep.
  o = testing::RunLine(R"({job="x"} | unpack | json | keep job, level)", R"({job="x"})",
                       R"({"pod":"p1","_entry":"{\"level\":\"info\",\"n\":1}"})");
  EXPECT_EQ(o.line, R"({"level":"info","n":1})");
  EXPECT_EQ(o.labels, R"({job="x", level="info"})");

  // pattern and regexp see the line, label_format renames, line filters by pattern and ip.
  o = testing::RunLine(
      R"({job="x"} |> "<_> GET <_>" |= ip("10.0.0.0/8") | pattern "<ip> <method> <path>" )"
      R"(| regexp "/(?P<section>[a-z]+)/" | label_format src=ip | decolorize)",
      R"({job="x"})", "10.1.2.3 GET /api/v1");
  EXPECT_TRUE(o.kept);
  EXPECT_EQ(o.labels, R"({job="x", method="GET", path="/api/v1", section="api", src="10.1.2.3"})");
  EXPECT_FALSE(testing::RunLine(R"({job="x"} |> "<_> GET <_>")", R"({job="x"})", "POST /").kept);
  EXPECT_FALSE(
      testing::RunLine(R"({job="x"} != ip("10.0.0.0/8"))", R"({job="x"})", "from 10.0.0.1").kept);
  EXPECT_TRUE(testing::RunLine(R"({job="x"} !> "<_> GET <_>")", R"({job="x"})", "POST /").kept);
}

// Entries of one stream that end with different labels come out as different streams; entries
// that end with the same labels share one LabelSet.
TEST(PipelineIteratorTest, FinalLabelsPerEntry) {
  auto expr = syntax::Parse(R"({a="b"} | logfmt | level != "debug")");
  ASSERT_TRUE(expr.ok());
  auto p = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  ASSERT_TRUE(p.ok());
  std::vector<model::Entry> entries = {{1, "level=info", {}},
                                       {2, "level=info", {}},
                                       {3, "level=debug", {}},
                                       {4, "level=error", {}},
                                       {5, "nothing", {}}};
  auto it = NewPipelineIterator(iter::NewVectorIterator(model::ParseLabels(R"({a="b"})").value(),
                                                        entries, model::Direction::kForward),
                                &*p, nullptr);
  std::vector<std::string> got;
  while (it->Next()) got.push_back(it->Labels().ToString() + " " + it->At().line);
  EXPECT_EQ(got, (std::vector<std::string>{
                     R"({a="b", level="info"} level=info)", R"({a="b", level="info"} level=info)",
                     R"({a="b", level="error"} level=error)", R"({a="b"} nothing)"}));
}

}  // namespace
}  // namespace sluice::logql::log
