#include "logql/log/pattern.h"

#include <gtest/gtest.h>

namespace sluice::logql::log {
namespace {

std::vector<std::string> Capture(std::string_view pattern, std::string_view line) {
  auto m = PatternMatcher::Parse(pattern);
  EXPECT_TRUE(m.ok()) << pattern << ": " << m.status().message();
  if (!m.ok()) return {};
  std::vector<std::string_view> caps;
  m->Matches(line, &caps);
  return {caps.begin(), caps.end()};
}

using V = std::vector<std::string>;

TEST(PatternTest, Matches) {
  EXPECT_EQ(Capture("<foo> bar <buzz>", "1 bar 2"), (V{"1", "2"}));
  EXPECT_EQ(Capture("<foo> bar<buzz>", "1 bar2"), (V{"1", "2"}));
  EXPECT_EQ(Capture("<_> bar <buzz>", "1 bar 2"), (V{"2"}));
  EXPECT_EQ(Capture("foo <bar> buzz", "foo 1 buzz and more"), (V{"1"}));
  EXPECT_EQ(Capture("foo <bar> buzz", "nope 1 buzz"), V{});
  EXPECT_EQ(Capture("<a> <b>", "x"), (V{"x"}));
  EXPECT_EQ(Capture("<a>", ""), V{});
  // Captures take up to the first occurrence of the next literal.
  EXPECT_EQ(Capture("<a>,<b>", "1,2,3"), (V{"1", "2,3"}));
  EXPECT_EQ(Capture(R"(<ip> - <user> [<_>] "<method> <path> <_>" <status>)",
                    R"(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200)"),
            (V{"127.0.0.1", "frank", "GET", "/a.gif", "200"}));
  // Not a capture: `<` not followed by a name and `>`.
  EXPECT_EQ(Capture("a < b <x>", "a < b c"), (V{"c"}));
}

TEST(PatternTest, ParseErrors) {
  EXPECT_EQ(PatternMatcher::Parse("foo").status().message(), "at least one capture is required");
  EXPECT_EQ(PatternMatcher::Parse("<_> foo").status().message(),
            "at least one capture is required");
  EXPECT_EQ(PatternMatcher::Parse("<a><b>").status().message(),
            "found consecutive capture '<a><b>': invalid expression");
  EXPECT_EQ(PatternMatcher::Parse("<a> <a>").status().message(),
            "duplicate capture name (a): invalid expression");
  EXPECT_TRUE(PatternMatcher::Parse("<_> <_> <a>").ok());
  EXPECT_EQ(PatternMatcher::ParseLineFilter("<_> <x>").status().message(),
            "named captures are not allowed: found '<x>'");
}

TEST(PatternTest, LineFilterTest) {
  auto t = [](std::string_view pattern, std::string_view line) {
    auto m = PatternMatcher::ParseLineFilter(pattern);
    EXPECT_TRUE(m.ok()) << m.status().message();
    return m.ok() && m->Test(line);
  };
  // Loki's examples.
  EXPECT_FALSE(t("<_> bar", "foo bar baz"));
  EXPECT_TRUE(t("<_> baz", "foo bar baz"));
  EXPECT_TRUE(t("foo <_>", "foo bar baz"));
  EXPECT_FALSE(t("<_> bar <_>", " bar "));
  EXPECT_TRUE(t("<_>bar<_>", " bar "));
  EXPECT_TRUE(t("", ""));
  EXPECT_FALSE(t("", "x"));
  EXPECT_FALSE(t("<_>", ""));
  EXPECT_TRUE(t("<_> msg=<_> status=<_>", "ts=1 msg=hi status=200"));
}

}  // namespace
}  // namespace sluice::logql::log
