#include "gocompat/number.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <vector>

namespace sluice::gocompat {
namespace {

// The shapes LogQL's label filters and the template engine call these in.
bool ParseGoFloat(std::string_view s, double* out, std::string* err) {
  NumError e = ParseFloat(s, out);
  if (e == NumError::kNone) return true;
  *err = NumErrorText("ParseFloat", s, e);
  return false;
}
std::optional<double> GoParseFloat(std::string_view s) {
  double v;
  if (ParseFloat(s, &v) != NumError::kNone) return std::nullopt;
  return v;
}
std::optional<int64_t> GoParseInt(std::string_view s) {
  int64_t v;
  if (ParseInt(s, 0, &v) != NumError::kNone) return std::nullopt;
  return v;
}
std::optional<uint64_t> GoParseUint(std::string_view s) {
  uint64_t v;
  if (ParseUint(s, 0, &v) != NumError::kNone) return std::nullopt;
  return v;
}

TEST(NumberTest, ParseFloat) {
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
  for (const char* bad : {"", " 1", "1 ", "abc", ".", "e5", "1e", "0x1", "1__0", "_1", "1_", "+nan",
                          "infin", "1.2.3", "--1", "0x"}) {
    EXPECT_FALSE(ParseGoFloat(bad, &v, &err)) << bad;
    EXPECT_EQ(err, "strconv.ParseFloat: parsing \"" + std::string(bad) + "\": invalid syntax");
  }
  EXPECT_FALSE(ParseGoFloat("1e400", &v, &err));
  EXPECT_EQ(err, R"(strconv.ParseFloat: parsing "1e400": value out of range)");
}

// Plain decimals take a from_chars fast path: it must round exactly as strtod does.
TEST(NumberTest, PlainDecimalsRoundAsStrtod) {
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

TEST(NumberTest, Numbers) {
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

TEST(NumberTest, ParseIntBase10) {
  int64_t v;
  EXPECT_EQ(ParseInt("+42", 10, &v), NumError::kNone);
  EXPECT_EQ(v, 42);
  EXPECT_EQ(ParseInt("-42", 10, &v), NumError::kNone);
  EXPECT_EQ(v, -42);
  EXPECT_EQ(ParseInt("1_000", 10, &v), NumError::kSyntax);  // `_` only with base 0
  EXPECT_EQ(ParseInt("0x10", 10, &v), NumError::kSyntax);
  EXPECT_EQ(ParseInt("+-1", 10, &v), NumError::kSyntax);
  EXPECT_EQ(ParseInt("", 10, &v), NumError::kSyntax);
  EXPECT_EQ(ParseInt("99999999999999999999", 10, &v), NumError::kRange);
  EXPECT_EQ(v, INT64_MAX);
  EXPECT_EQ(ParseInt("-99999999999999999999", 10, &v), NumError::kRange);
  EXPECT_EQ(v, INT64_MIN);
  EXPECT_EQ(NumErrorText("Atoi", "x1", NumError::kSyntax),
            R"(strconv.Atoi: parsing "x1": invalid syntax)");
  EXPECT_EQ(NumErrorText("ParseInt", "99999999999999999999", NumError::kRange),
            R"(strconv.ParseInt: parsing "99999999999999999999": value out of range)");
}

TEST(NumberTest, ParseBytes) {
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

TEST(FormatHumanizeBytesTest, SiWithOneDecimalBelowTen) {
  EXPECT_EQ(FormatHumanizeBytes(0), "0 B");
  EXPECT_EQ(FormatHumanizeBytes(9), "9 B");
  EXPECT_EQ(FormatHumanizeBytes(10), "10 B");
  EXPECT_EQ(FormatHumanizeBytes(999), "999 B");
  EXPECT_EQ(FormatHumanizeBytes(1000), "1.0 kB");
  EXPECT_EQ(FormatHumanizeBytes(1500), "1.5 kB");
  EXPECT_EQ(FormatHumanizeBytes(82854982), "83 MB");  // go-humanize's own example
  EXPECT_EQ(FormatHumanizeBytes(1048576), "1.0 MB");
}

TEST(ParseBoolTest, GoSpellings) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"}) {
    bool b = false;
    EXPECT_TRUE(ParseBool(t, &b) && b) << t;
  }
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"}) {
    bool b = true;
    EXPECT_TRUE(ParseBool(f, &b) && !b) << f;
  }
  bool b;
  EXPECT_FALSE(ParseBool("tRuE", &b));
  EXPECT_FALSE(ParseBool("yes", &b));
  EXPECT_FALSE(ParseBool("", &b));
}

}  // namespace
}  // namespace sluice::gocompat
