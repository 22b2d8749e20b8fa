#include "model/labels.h"

#include <gtest/gtest.h>

#include "model/matcher.h"
#include "model/tenant.h"

namespace sluice::model {
namespace {

TEST(LabelsTest, ParsesAndSortsAndPrints) {
  auto ls = ParseLabels(R"({job="api", env = "prod",level=`a"b`})");
  ASSERT_TRUE(ls.ok()) << ls.status().ToString();
  EXPECT_EQ(ls->ToString(), R"({env="prod", job="api", level="a\"b"})");
  EXPECT_EQ(*ls->Get("job"), "api");
  EXPECT_EQ(ls->Get("nope"), nullptr);
}

TEST(LabelsTest, EmptySelectorParses) {
  auto ls = ParseLabels("{}");
  ASSERT_TRUE(ls.ok());
  EXPECT_TRUE(ls->empty());
}

TEST(LabelsTest, ErrorsNameTheColumn) {
  auto ls = ParseLabels("{foo=}");
  ASSERT_FALSE(ls.ok());
  EXPECT_EQ(ls.status().message(),
            "parse error at line 1, col 6: syntax error: unexpected }, expecting STRING");
  EXPECT_FALSE(ParseLabels("{foo=\"bar\"").ok());
  EXPECT_FALSE(ParseLabels("foo=\"bar\"}").ok());
  EXPECT_FALSE(ParseLabels("{foo=\"bar\"} x").ok());
  EXPECT_FALSE(ParseLabels("{1a=\"b\"}").ok());
}

TEST(LabelsTest, FingerprintIgnoresInputOrder) {
  auto a = ParseLabels(R"({a="1", b="2"})");
  auto b = ParseLabels(R"({b="2", a="1"})");
  auto c = ParseLabels(R"({a="1", b="3"})");
  EXPECT_EQ(a->Fingerprint(), b->Fingerprint());
  EXPECT_NE(a->Fingerprint(), c->Fingerprint());
}

TEST(LabelsTest, DuplicateNamesAreReported) {
  auto ls = ParseLabels(R"({a="1", a="2"})");
  ASSERT_TRUE(ls.ok());
  EXPECT_EQ(ls->DuplicateName(), "a");
}

TEST(LabelsTest, QuoteEscapesLikeGo) {
  EXPECT_EQ(QuoteString("a\"b\\c\n"), R"("a\"b\\c\n")");
  EXPECT_EQ(QuoteString(std::string("\xff", 1)), R"("\xff")");
  EXPECT_EQ(QuoteString("héllo"), "\"héllo\"");
}

TEST(MatcherTest, RegexIsAnchored) {
  auto m = LabelMatcher::Make(LabelMatcher::Type::kRegexMatch, "job", "ap.");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->Matches("api"));
  EXPECT_FALSE(m->Matches("xapi"));
  EXPECT_FALSE(LabelMatcher::Make(LabelMatcher::Type::kRegexMatch, "job", "(").ok());
}

TEST(TenantTest, RejectsPathEscapes) {
  EXPECT_TRUE(ValidateTenantId("team-a_1").ok());
  EXPECT_EQ(ValidateTenantId("../x").message(),
            "tenant ID '../x' contains unsupported character '/'");
  EXPECT_EQ(ValidateTenantId("..").message(), "tenant ID is '.' or '..'");
  EXPECT_EQ(ValidateTenantId(std::string(151, 'a')).message(),
            "tenant ID is too long: max 150 characters");
  EXPECT_EQ(ValidateTenantId("").code(), StatusCode::kUnauthenticated);
  auto ids = ParseTenantIds("b|a|b");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace sluice::model
