#include "agent/multiline.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::agent {
namespace {

struct Out {
  std::string line;
  uint64_t start, end;
};

class MultilineTest : public ::testing::Test {
 protected:
  MultilineJoiner Make(int max_lines = 128, int64_t max_wait = 3 * kSecond,
                       uint64_t max_line_size = 1 << 20) {
    MultilineConfig c;
    c.firstline = "^\\d{4}-\\d\\d-\\d\\d ";
    c.max_lines = max_lines;
    c.max_wait_time = max_wait;
    return MultilineJoiner(c, max_line_size);
  }
  // Feeds lines as a file would hold them (each followed by '\n') at time `now`.
  void Feed(MultilineJoiner& j, const std::vector<std::string>& lines, int64_t now = 0) {
    for (const auto& l : lines) {
      j.Add(LineOut{l, offset_, offset_ + l.size() + 1, false, false, 0, {}}, now, emit_);
      offset_ += l.size() + 1;
    }
  }
  uint64_t offset_ = 0;
  std::vector<Out> out_;
  LineFn emit_ = [this](const LineOut& l) {
    out_.push_back({std::string(l.line), l.start, l.end});
  };
};

TEST_F(MultilineTest, JoinsAStackTraceUnderItsFirstLine) {
  auto j = Make();
  Feed(j, {"preamble without a date", "2024-01-02 ERROR boom", "java.lang.IllegalStateException: x",
           "\tat a.B.c(B.java:1)", "2024-01-02 INFO next"});
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].line, "preamble without a date");  // before any first line: passed through
  EXPECT_EQ(out_[1].line,
            "2024-01-02 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)");
  // The joined entry covers its lines' offsets exactly, so positions advance over all of them.
  EXPECT_EQ(out_[1].start, out_[0].end);
  EXPECT_EQ(out_[1].end, offset_ - std::string("2024-01-02 INFO next\n").size());
  EXPECT_TRUE(j.pending());
  j.Flush(emit_);
  ASSERT_EQ(out_.size(), 3u);
  EXPECT_EQ(out_[2].line, "2024-01-02 INFO next");
  EXPECT_EQ(out_[2].end, offset_);
}

TEST_F(MultilineTest, MaxLinesCutsABlockAndTheRestContinuesIt) {
  auto j = Make(/*max_lines=*/2);
  Feed(j, {"2024-01-02 a", "b", "c", "d", "e"});
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].line, "2024-01-02 a\nb");
  EXPECT_EQ(out_[1].line, "c\nd");
  j.Flush(emit_);
  EXPECT_EQ(out_.back().line, "e");
}

TEST_F(MultilineTest, MaxWaitTimeFlushesAnIdleBlock) {
  auto j = Make(128, /*max_wait=*/100);
  Feed(j, {"2024-01-02 a", "b"}, /*now=*/1000);
  j.FlushIfIdle(1099, emit_);
  EXPECT_TRUE(out_.empty());
  Feed(j, {"c"}, 1050);  // every line restarts the wait, as in Promtail
  j.FlushIfIdle(1149, emit_);
  EXPECT_TRUE(out_.empty());
  j.FlushIfIdle(1150, emit_);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].line, "2024-01-02 a\nb\nc");
  EXPECT_FALSE(j.pending());
}

TEST_F(MultilineTest, ABlockNeverGrowsPastMaxLineSize) {
  auto j = Make(128, kSecond, /*max_line_size=*/20);
  Feed(j, {"2024-01-02 abcdefgh", "0123456789", "xy"});
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].line, "2024-01-02 abcdefgh");
  j.Flush(emit_);
  EXPECT_EQ(out_.back().line, "0123456789\nxy");
}

}  // namespace
}  // namespace sluice::agent
