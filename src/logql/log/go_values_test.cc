#include "logql/log/go_values.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace sluice::logql::log {
namespace {

TEST(GoValuesTest, ParseFloat) {
  struct Case {
    const char* in;
    double want;
  };
  for (const Case& c : std::vector<Case>{{"1", 1},
                                         {"-1.5", -1.5},
                                         {"+2", 2},
                                         {".5", 0.5},
                                         {"1.", 1},
                                         {"1e3", 1000},
                                         {"1E-3", 0.001},
                                         {"1_000", 1000},
                                         {"0x1p-2", 0.25},
                                         {"0X1.8P1", 3},
                                         {"1e-400", 0}}) {
    double v = -99;
    std::string err;
    EXPECT_TRUE(ParseGoFloat(c.in, &v, &err)) << c.in << ": " << err;
    EXPECT_DOUBLE_EQ(v, c.want) << c.in;
  }
  double v;
  std::string err;
  EXPECT_TRUE(ParseGoFloat("inf", &v, &err) && std::isinf(v) && v > 0);
  EXPECT_TRUE(ParseGoFloat("-Infinity", &v, &err) && std::isinf(v) && v < 0);
  EXPECT_TRUE(ParseGoFloat("NaN", &v, &err) && std::isnan(v));
  for (const char* bad : {"", " 1", "1 ", "abc", ".", "e5", "1e", "0x1", "1__0", "_1", "1_",
                          "+nan", "infin", "1.2.3", "--1", "0x"}) {
    EXPECT_FALSE(ParseGoFloat(bad, &v, &err)) << bad;
    EXPECT_EQ(err, "strconv.ParseFloat: parsing \"" + std::string(bad) + "\": invalid syntax");
  }
  EXPECT_FALSE(ParseGoFloat("1e400", &v, &err));
  EXPECT_EQ(err, R"(strconv.ParseFloat: parsing "1e400": value out of range)");
}

// Plain decimals take a from_chars fast path: it must round exactly as strtod does.
TEST(GoValuesTest, PlainDecimalsRoundAsStrtod) {
  for (const char* in : {"0", "-0", "0.1", "123.456", "-987654321.123456789", "0.30000000000000004",
                         "9007199254740993", "1.7976931348623157", "000123.4500", "-.5", "5.",
                         "2.2250738585072011", "123456789012345678901234567890.5"}) {
    double v = -99;
    std::string err;
    ASSERT_TRUE(ParseGoFloat(in, &v, &err)) << in << ": " << err;
    const double want = std::strtod(in, nullptr);
    EXPECT_EQ(std::signbit(v), std::signbit(want)) << in;
    EXPECT_EQ(v, want) << in;
  }
}

TEST(GoValuesTest, ParseDuration) {
  struct Case {
    const char* in;
    int64_t want;
  };
  for (const Case& c : std::vector<Case>{{"0", 0},
                                         {"-0", 0},
                                         {"1ns", 1},
                                         {"1.5s", 1500000000},
                                         {"1h30m", 5400000000000},
                                         {"-2us", -2000},
                                         {"3\xC2\xB5s", 3000},
                                         {"3\xCE\xBCs", 3000},
                                         {".5ms", 500000},
                                         {"1m0.5s", 60500000000},
                                         {"2562047h47m16.854775807s", INT64_MAX}}) {
    int64_t v = -99;
    std::string err;
    EXPECT_TRUE(ParseGoDuration(c.in, &v, &err)) << c.in << ": " << err;
    EXPECT_EQ(v, c.want) << c.in;
  }
  int64_t v;
  std::string err;
  EXPECT_FALSE(ParseGoDuration("", &v, &err));
  EXPECT_EQ(err, R"(time: invalid duration "")");
  EXPECT_FALSE(ParseGoDuration("1", &v, &err));
  EXPECT_EQ(err, R"(time: missing unit in duration "1")");
  EXPECT_FALSE(ParseGoDuration("1d", &v, &err));
  EXPECT_EQ(err, R"(time: unknown unit "d" in duration "1d")");
  EXPECT_FALSE(ParseGoDuration(".s", &v, &err));
  EXPECT_EQ(err, R"(time: invalid duration ".s")");
  EXPECT_FALSE(ParseGoDuration("9999999999h", &v, &err));
  EXPECT_EQ(err, R"(time: invalid duration "9999999999h")");
  EXPECT_FALSE(ParseGoDuration("1\xC3\xA9", &v, &err));
  EXPECT_EQ(err, R"(time: unknown unit "\xc3\xa9" in duration "1\xc3\xa9")");
}

TEST(GoValuesTest, ParseBytes) {
  struct Case {
    const char* in;
    uint64_t want;
  };
  for (const Case& c : std::vector<Case>{{"42", 42},
                                         {"42b", 42},
                                         {"1.5 MB", 1500000},
                                         {"10KiB", 10240},
                                         {"1,024kb", 1024000},
                                         {"1k", 1000},
                                         {"2Mi", 2097152},
                                         {"1 GB", 1000000000},
                                         {"1EiB", 1152921504606846976ULL}}) {
    uint64_t v = 0;
    std::string err;
    EXPECT_TRUE(ParseHumanizeBytes(c.in, &v, &err)) << c.in << ": " << err;
    EXPECT_EQ(v, c.want) << c.in;
  }
  uint64_t v;
  std::string err;
  EXPECT_FALSE(ParseHumanizeBytes("12 xx", &v, &err));
  EXPECT_EQ(err, "unhandled size name: xx");
  EXPECT_FALSE(ParseHumanizeBytes("-5", &v, &err));
  EXPECT_EQ(err, R"(strconv.ParseFloat: parsing "": invalid syntax)");
  EXPECT_FALSE(ParseHumanizeBytes("100EB", &v, &err));
  EXPECT_EQ(err, "too large: 100EB");
}

}  // namespace
}  // namespace sluice::logql::log
