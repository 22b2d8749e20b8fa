#include "gotemplate/gofmt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sluice::gotemplate::internal {
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

}  // namespace
}  // namespace sluice::gotemplate::internal
