#include "logql/log/template/gofmt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "logql/log/template/goconv.h"

namespace sluice::logql::log::tmpl::internal {
namespace {

std::string F(double f) {
  std::string s;
  AppendFloat(f, &s);
  return s;
}

std::string P(std::string_view format, std::vector<Value> args) {
  std::string s;
  Sprintf(format, args, &s);
  return s;
}

TEST(GoFmtTest, FloatLikeGo) {
  EXPECT_EQ(F(0), "0");
  EXPECT_EQ(F(-0.0), "-0");
  EXPECT_EQ(F(1), "1");
  EXPECT_EQ(F(0.1), "0.1");
  EXPECT_EQ(F(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(F(123456), "123456");
  EXPECT_EQ(F(1234567), "1.234567e+06");
  EXPECT_EQ(F(1e21), "1e+21");
  EXPECT_EQ(F(1e-5), "1e-05");
  EXPECT_EQ(F(0.0001), "0.0001");
  EXPECT_EQ(F(-2.5e-300), "-2.5e-300");
  EXPECT_EQ(F(HUGE_VAL), "+Inf");
  EXPECT_EQ(F(-HUGE_VAL), "-Inf");
  EXPECT_EQ(F(std::nan("")), "NaN");
}

TEST(GoFmtTest, Sprintf) {
  EXPECT_EQ(P("%5s|%-5s|", {Value::View("é"), Value::View("é")}), "    é|é    |");
  EXPECT_EQ(P("%05s", {Value::View("ab")}), "000ab");
  EXPECT_EQ(P("%.0d|%.3d|%8.3d", {Value::Int(0), Value::Int(7), Value::Int(-7)}), "|007|    -007");
  EXPECT_EQ(P("%#08x|%08d", {Value::Int(255), Value::Int(-42)}), "0x0000ff|-0000042");
  EXPECT_EQ(P("%d", {Value::Int64(INT64_MIN)}), "-9223372036854775808");
  EXPECT_EQ(P("% d|%+d", {Value::Int(3), Value::Int(-3)}), " 3|-3");
  EXPECT_EQ(P("%q", {Value::View("\x01\xff\u00e9\t")}), "\"\\x01\\xff\u00e9\\t\"");
  EXPECT_EQ(P("%+q", {Value::View("\u00e9\U0001F600")}), "\"\\u00e9\\U0001f600\"");
  EXPECT_EQ(P("%v", {Value::FromTime(Time())}), "0001-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(P("%s %d", {Value::Bool(true), Value::Bool(true)}), "%!s(bool=true) %!d(bool=true)");
  EXPECT_EQ(P("%!", {}), "%!!(MISSING)");
  EXPECT_EQ(P("%", {}), "%!(NOVERB)");
  EXPECT_EQ(P("%é", {Value::Int(1)}), "%!é(int=1)");
  EXPECT_EQ(P("%*d", {Value::View("x"), Value::Int(1)}), "%!(BADWIDTH)1");
  EXPECT_EQ(P("%.*d", {Value::View("x"), Value::Int(1)}), "%!(BADPREC)1");
  EXPECT_EQ(P("%10.3e|%-10.1f|", {Value::Float(1234.5), Value::Float(-0.05)}),
            " 1.234e+03|-0.1      |");
  EXPECT_EQ(P("%+.2f|% .2f|%+v", {Value::Float(1), Value::Float(1), Value::Float(2)}),
            "+1.00| 1.00|+2");
  EXPECT_EQ(P("%6.2f|%-8v|", {Value::Float(HUGE_VAL), Value::Float(std::nan(""))}),
            "  +Inf|NaN     |");
}

TEST(GoFmtTest, SprintAndSprintln) {
  std::vector<Value> args{Value::Int(1), Value::Float(2.5), Value::View("s"), Value(),
                          Value::Bool(false)};
  std::string s;
  Sprint(args, &s);
  EXPECT_EQ(s, "1 2.5s<nil> false");
  s.clear();
  Sprintln(args, &s);
  EXPECT_EQ(s, "1 2.5 s <nil> false\n");
}

TEST(GoConvTest, Numbers) {
  EXPECT_EQ(GoParseInt("0x1F"), 31);
  EXPECT_EQ(GoParseInt("-0b11"), -3);
  EXPECT_EQ(GoParseInt("010"), 8);
  EXPECT_EQ(GoParseInt("0o17"), 15);
  EXPECT_EQ(GoParseInt("1_000"), 1000);
  EXPECT_EQ(GoParseInt("1__0"), std::nullopt);
  EXPECT_EQ(GoParseInt("_1"), std::nullopt);
  EXPECT_EQ(GoParseInt("08"), std::nullopt);
  EXPECT_EQ(GoParseInt("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(GoParseInt("9223372036854775808"), std::nullopt);
  EXPECT_EQ(GoParseInt("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(GoParseInt(""), std::nullopt);
  EXPECT_EQ(GoParseUint("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(GoParseFloat("1.5e3"), 1500.0);
  EXPECT_EQ(GoParseFloat("+.5"), 0.5);
  EXPECT_EQ(GoParseFloat("0x1p-2"), 0.25);
  EXPECT_EQ(GoParseFloat("0x1"), std::nullopt);  // hex mantissa needs a p exponent
  EXPECT_EQ(GoParseFloat("Inf"), HUGE_VAL);
  EXPECT_EQ(GoParseFloat("-infinity"), -HUGE_VAL);
  EXPECT_TRUE(std::isnan(*GoParseFloat("NaN")));
  EXPECT_EQ(GoParseFloat("1e400"), std::nullopt);
  EXPECT_EQ(GoParseFloat("1e-400"), 0.0);
  EXPECT_EQ(GoParseFloat("1.5x"), std::nullopt);
  EXPECT_EQ(GoParseFloat(""), std::nullopt);
}

TEST(GoConvTest, Unquote) {
  EXPECT_EQ(GoUnquote(R"("a\tb\"\\\x41\101\u00e9\U0001F600")"), "a\tb\"\\AA\u00e9\U0001F600");
  EXPECT_EQ(GoUnquote("`a\\n\r`"), "a\\n");
  EXPECT_EQ(GoUnquote(R"("\'")"), std::nullopt);
  EXPECT_EQ(GoUnquote(R"("\400")"), std::nullopt);
  EXPECT_EQ(GoUnquote(R"("\ud800")"), std::nullopt);
  EXPECT_EQ(GoUnquote(R"("abc)"), std::nullopt);
}

}  // namespace
}  // namespace sluice::logql::log::tmpl::internal
