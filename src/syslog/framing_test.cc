#include "syslog/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::syslog {
namespace {

struct Sink {
  std::vector<std::string> frames;
  std::vector<size_t> oversize;
  StreamFramer::FrameFn frame() {
    return [this](std::string_view f) { frames.emplace_back(f); };
  }
  StreamFramer::OversizeFn over() {
    return [this](size_t n) { oversize.push_back(n); };
  }
};

TEST(StreamFramer, OctetCounting) {
  StreamFramer f(100);
  Sink s;
  std::string stream = "5 <13>a11 <13>b c d e\n3 <1>";
  ASSERT_TRUE(f.Feed(stream, s.frame(), s.over()).ok());
  EXPECT_EQ(f.mode(), StreamFramer::Mode::kOctetCounting);
  EXPECT_EQ(s.frames, (std::vector<std::string>{"<13>a", "<13>b c d e", "<1>"}));
  EXPECT_TRUE(f.Finish(s.frame()).ok());
}

TEST(StreamFramer, OctetCountingByteByByte) {
  StreamFramer f(100);
  Sink s;
  std::string stream = "11 <13>1 - - x3 <2>";
  for (char c : stream) ASSERT_TRUE(f.Feed(std::string_view(&c, 1), s.frame(), s.over()).ok());
  EXPECT_EQ(s.frames, (std::vector<std::string>{"<13>1 - - x", "<2>"}));
}

TEST(StreamFramer, OctetCountingOversizeIsSkipped) {
  StreamFramer f(4);
  Sink s;
  ASSERT_TRUE(f.Feed("10 0123", s.frame(), s.over()).ok());
  ASSERT_TRUE(f.Feed("456789", s.frame(), s.over()).ok());
  ASSERT_TRUE(f.Feed("3 <1>", s.frame(), s.over()).ok());
  EXPECT_EQ(s.oversize, (std::vector<size_t>{10}));
  EXPECT_EQ(s.frames, (std::vector<std::string>{"<1>"}));
}

TEST(StreamFramer, OctetCountingGarbageBreaksTheStream) {
  StreamFramer f(100);
  Sink s;
  ASSERT_TRUE(f.Feed("3 <1>", s.frame(), s.over()).ok());
  Status st = f.Feed("x3 <1>", s.frame(), s.over());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("invalid octet-counting frame"), std::string::npos);
  EXPECT_FALSE(StreamFramer(100).Feed("12345678901 x", s.frame(), s.over()).ok());
  EXPECT_FALSE(StreamFramer(100).Feed("05 <1>x", s.frame(), s.over()).ok());
  Sink other;
  EXPECT_FALSE(StreamFramer(100).Feed("3 <1> 3 <1>", other.frame(), other.over()).ok());
  EXPECT_EQ(other.frames, (std::vector<std::string>{"<1>"}));  // the frame before the garbage
  // A partial frame at the end of the stream.
  StreamFramer g(100);
  ASSERT_TRUE(g.Feed("9 <1>", s.frame(), s.over()).ok());
  EXPECT_FALSE(g.Finish(s.frame()).ok());
  EXPECT_EQ(s.frames.size(), 1u);
}

TEST(StreamFramer, NonTransparent) {
  StreamFramer f(100);
  Sink s;
  ASSERT_TRUE(f.Feed("<13>one\r\n\n<13>tw", s.frame(), s.over()).ok());
  EXPECT_EQ(f.mode(), StreamFramer::Mode::kNonTransparent);
  ASSERT_TRUE(f.Feed("o\n<13>three", s.frame(), s.over()).ok());
  EXPECT_EQ(s.frames, (std::vector<std::string>{"<13>one\r", "<13>two"}));
  ASSERT_TRUE(f.Finish(s.frame()).ok());
  EXPECT_EQ(s.frames.back(), "<13>three");
}

TEST(StreamFramer, NonTransparentOversizeIsSkipped) {
  StreamFramer f(8);
  Sink s;
  ASSERT_TRUE(f.Feed("<13>0123456789", s.frame(), s.over()).ok());
  ASSERT_TRUE(f.Feed("abcdef", s.frame(), s.over()).ok());
  ASSERT_TRUE(f.Feed("\n<13>ok\n<13>toolong!\n<1>x\n", s.frame(), s.over()).ok());
  EXPECT_EQ(s.oversize, (std::vector<size_t>{20, 12}));
  EXPECT_EQ(s.frames, (std::vector<std::string>{"<13>ok", "<1>x"}));
}

}  // namespace
}  // namespace sluice::syslog
