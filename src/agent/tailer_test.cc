#include "agent/tailer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sluice::agent {
namespace {

namespace fs = std::filesystem;

struct Got {
  std::string line;
  uint64_t start, end;
  bool truncated, split;
  bool operator==(const Got&) const = default;
};

class Collector {
 public:
  LineFn fn() {
    return [this](const LineOut& l) {
      lines.push_back({std::string(l.line), l.start, l.end, l.truncated, l.split});
    };
  }
  std::vector<std::string> Texts() const {
    std::vector<std::string> out;
    for (const auto& g : lines) out.push_back(g.line);
    return out;
  }
  std::vector<Got> lines;
};

TEST(LineSplitter, SplitsLinesAcrossFeedsWithOffsets) {
  LineSplitter s(100, false, 10);
  Collector c;
  s.Feed("ab", c.fn());
  EXPECT_TRUE(c.lines.empty());
  s.Feed("c\nde\r\n\nf", c.fn());
  ASSERT_EQ(c.lines.size(), 3u);
  EXPECT_EQ(c.lines[0], (Got{"abc", 10, 14, false, false}));
  EXPECT_EQ(c.lines[1], (Got{"de", 14, 18, false, false}));  // \r dropped, offset counts it
  EXPECT_EQ(c.lines[2], (Got{"", 18, 19, false, false}));
  EXPECT_EQ(s.next_offset(), 20u);
  s.Flush(c.fn());
  EXPECT_EQ(c.lines.back(), (Got{"f", 19, 20, false, false}));
}

TEST(LineSplitter, SplitModeCutsLongLinesIntoPieces) {
  LineSplitter s(4, false, 0);
  Collector c;
  s.Feed("abcdefghij\nxy\n", c.fn());
  EXPECT_EQ(c.Texts(), (std::vector<std::string>{"abcd", "efgh", "ij", "xy"}));
  EXPECT_EQ(c.lines[0], (Got{"abcd", 0, 4, false, true}));
  EXPECT_EQ(c.lines[1], (Got{"efgh", 4, 8, false, true}));
  EXPECT_EQ(c.lines[2], (Got{"ij", 8, 11, false, false}));
}

TEST(LineSplitter, SplitNeverCutsAUtf8Sequence) {
  LineSplitter s(5, false, 0);
  Collector c;
  s.Feed("abc\xc3\xa9\xc3\xa9z\n", c.fn());  // abcéé z: a cut at 5 would land inside the 2nd é
  ASSERT_GE(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[0].line, "abc\xc3\xa9");
  EXPECT_EQ(c.lines[1].line, "\xc3\xa9z");
}

TEST(LineSplitter, TruncateModeKeepsTheHeadAndEndsAtTheNewline) {
  LineSplitter s(4, true, 0);
  Collector c;
  s.Feed("abcdef", c.fn());
  EXPECT_TRUE(c.lines.empty());  // held until the newline so the offset covers the whole line
  s.Feed("ghij\nok\n", c.fn());
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[0], (Got{"abcd", 0, 11, true, false}));
  EXPECT_EQ(c.lines[1], (Got{"ok", 11, 14, false, false}));
  EXPECT_LE(s.pending_bytes(), 4u);
}

TEST(LineSplitter, ExactlyMaxIsNotMutated) {
  LineSplitter s(4, true, 0);
  Collector c;
  s.Feed("abcd\n", c.fn());
  EXPECT_EQ(c.lines[0], (Got{"abcd", 0, 5, false, false}));
  LineSplitter s2(4, false, 0);
  Collector c2;
  s2.Feed("abcd\n", c2.fn());
  EXPECT_EQ(c2.lines[0], (Got{"abcd", 0, 5, false, false}));
}

TEST(ReplayTimestamps, NumbersLinesWithinEachRun) {
  ReplayTimestamps r({{100, 130, 5000}, {130, 140, 9000}});
  EXPECT_EQ(r.For(100), 5000);
  EXPECT_EQ(r.For(110), 5001);
  EXPECT_EQ(r.For(120), 5002);
  EXPECT_EQ(r.For(130), 9000);
  EXPECT_FALSE(r.done());
  EXPECT_EQ(r.For(140), 0);
  EXPECT_TRUE(r.done());
}

class TailerTest : public ::testing::Test {
 protected:
  TailerTest() {
    char tmpl[] = "/tmp/sluice-tailer-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/app.log";
  }
  ~TailerTest() override { fs::remove_all(dir_); }
  void Append(const std::string& s) { std::ofstream(path_, std::ios::app) << s; }

  std::string dir_, path_;
};

TEST_F(TailerTest, FollowsAppends) {
  Append("one\ntw");
  auto t = FileTailer::Open(path_, 0, 1024, false);
  ASSERT_TRUE(t.ok());
  Collector c;
  ASSERT_EQ(*(*t)->Read(1 << 20, c.fn()), 6u);
  EXPECT_EQ(c.Texts(), std::vector<std::string>{"one"});
  EXPECT_EQ(*(*t)->Read(1 << 20, c.fn()), 0u);
  EXPECT_EQ((*t)->Check(c.fn()), FileChange::kNone);
  Append("o\nthree\n");
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());
  EXPECT_EQ(c.Texts(), (std::vector<std::string>{"one", "two", "three"}));
}

TEST_F(TailerTest, ResumesAtAnOffset) {
  Append("one\ntwo\n");
  auto t = FileTailer::Open(path_, 4, 1024, false);
  Collector c;
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());
  EXPECT_EQ(c.Texts(), std::vector<std::string>{"two"});
  EXPECT_FALSE((*t)->reset_on_open());
}

TEST_F(TailerTest, OffsetPastTheEndStartsOver) {
  Append("one\n");
  auto t = FileTailer::Open(path_, 100, 1024, false);
  EXPECT_TRUE((*t)->reset_on_open());
  Collector c;
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());
  EXPECT_EQ(c.Texts(), std::vector<std::string>{"one"});
}

TEST_F(TailerTest, DetectsRotationByRenameAndFinishesTheOldFile) {
  Append("a\n");
  auto t = FileTailer::Open(path_, 0, 1024, false);
  Collector c;
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());
  Append("b\n");  // written just before the rotation
  fs::rename(path_, path_ + ".1");
  Append("new\n");  // the new file at the same path
  EXPECT_EQ((*t)->Check(c.fn()), FileChange::kRotated);
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());  // the old file's tail is still read
  EXPECT_EQ(c.Texts(), (std::vector<std::string>{"a", "b"}));
  auto fresh = FileTailer::Open(path_, 0, 1024, false);
  EXPECT_NE((*fresh)->ino(), (*t)->ino());
}

TEST_F(TailerTest, DetectsDeletion) {
  Append("a\n");
  auto t = FileTailer::Open(path_, 0, 1024, false);
  Collector c;
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());
  fs::remove(path_);
  EXPECT_EQ((*t)->Check(c.fn()), FileChange::kDeleted);
}

TEST_F(TailerTest, DetectsCopyTruncateAndRestartsAtZero) {
  Append("first line\nsecond line\n");
  auto t = FileTailer::Open(path_, 0, 1024, false);
  Collector c;
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());
  fs::copy_file(path_, path_ + ".1");
  fs::resize_file(path_, 0);
  Append("x\n");
  EXPECT_EQ((*t)->Check(c.fn()), FileChange::kTruncated);
  EXPECT_EQ((*t)->offset(), 0u);
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());
  EXPECT_EQ(c.Texts(), (std::vector<std::string>{"first line", "second line", "x"}));
  EXPECT_EQ(c.lines.back().start, 0u);
}

TEST_F(TailerTest, HugeLineIsSplitWithBoundedMemory) {
  std::string huge(100000, 'x');
  Append(huge + "\nend\n");
  auto t = FileTailer::Open(path_, 0, 1000, false);
  Collector c;
  ASSERT_TRUE((*t)->Read(1 << 20, c.fn()).ok());
  ASSERT_EQ(c.lines.size(), 101u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(c.lines[i].line.size(), 1000u);
  EXPECT_EQ(c.lines.back().line, "end");
}

}  // namespace
}  // namespace sluice::agent
