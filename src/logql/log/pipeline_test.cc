#include "logql/log/pipeline.h"

#include <gtest/gtest.h>

#include "iter/merge.h"
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

TEST(PipelineTest, UnsupportedStagesAreClear400s) {
  Status st = CompileError(R"({a="b"} | json)");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "unsupported pipeline stage: json");
  EXPECT_EQ(CompileError(R"({a="b"} |= "x" | logfmt)").message(),
            "unsupported pipeline stage: logfmt");
  EXPECT_EQ(CompileError(R"({a="b"} | line_format "{{.a}}")").message(),
            "unsupported pipeline stage: line_format");
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

}  // namespace
}  // namespace sluice::logql::log
