#include "gocompat/duration.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/clock.h"

namespace sluice::gocompat {
namespace {

bool ParseGoDuration(std::string_view s, int64_t* nanos, std::string* err) {
  return ParseDuration(s, nanos, err);
}

TEST(DurationTest, Parse) {
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

TEST(DurationTest, ParseAsTemplatesDo) {
  auto ok = [](std::string_view s) {
    int64_t ns = 0;
    std::string err;
    EXPECT_TRUE(ParseGoDuration(s, &ns, &err)) << s << ": " << err;
    return ns;
  };
  auto fail = [](std::string_view s) {
    int64_t ns = 0;
    std::string err;
    EXPECT_FALSE(ParseGoDuration(s, &ns, &err)) << s;
    return err;
  };
  EXPECT_EQ(ok("1h30m"), 5400000000000);
  EXPECT_EQ(ok("1.5s"), 1500000000);
  EXPECT_EQ(ok("-2ms"), -2000000);
  EXPECT_EQ(ok("0"), 0);
  EXPECT_EQ(ok("3\xc2\xb5s"), 3000);
  EXPECT_EQ(ok(".5h"), 1800000000000);
  EXPECT_EQ(fail(""), "time: invalid duration \"\"");
  EXPECT_EQ(fail("1"), "time: missing unit in duration \"1\"");
  EXPECT_EQ(fail("1d"), "time: unknown unit \"d\" in duration \"1d\"");
  EXPECT_EQ(fail("."), "time: invalid duration \".\"");
  EXPECT_EQ(fail("9999999999999999999h"), "time: invalid duration \"9999999999999999999h\"");
}

TEST(DurationTest, Format) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(1), "1ns");
  EXPECT_EQ(FormatDuration(1'500), "1.5\xc2\xb5s");
  EXPECT_EQ(FormatDuration(250'000'000), "250ms");
  EXPECT_EQ(FormatDuration(1'500'000'000), "1.5s");
  EXPECT_EQ(FormatDuration(300'000'000'000), "5m0s");
  EXPECT_EQ(FormatDuration(5'400'000'000'000), "1h30m0s");
  EXPECT_EQ(FormatDuration(-300'000'000'000), "-5m0s");
  EXPECT_EQ(FormatDuration(90'000'000'001), "1m30.000000001s");
}

TEST(DurationTest, FormatQueryLengths) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(1), "1ns");
  EXPECT_EQ(FormatDuration(1500), "1.5µs");
  EXPECT_EQ(FormatDuration(300 * kNanosPerMilli), "300ms");
  EXPECT_EQ(FormatDuration(1500 * kNanosPerMilli), "1.5s");
  EXPECT_EQ(FormatDuration(3600 * kNanosPerSecond), "1h0m0s");
  EXPECT_EQ(FormatDuration(90 * kNanosPerSecond), "1m30s");
  EXPECT_EQ(FormatDuration(-2 * kNanosPerSecond), "-2s");
}

}  // namespace
}  // namespace sluice::gocompat
