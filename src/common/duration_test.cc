#include "common/duration.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/coding.h"
#include "common/token_bucket.h"

namespace sluice {
namespace {

TEST(DurationTest, ParsesPrometheusAndGoUnits) {
  EXPECT_EQ(*ParseDuration("1h30m"), 5400 * kNanosPerSecond);
  EXPECT_EQ(*ParseDuration("1w"), 7 * 24 * 3600 * kNanosPerSecond);
  EXPECT_EQ(*ParseDuration("500ms"), 500 * kNanosPerMilli);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500 * kNanosPerMilli);
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("abc").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_EQ(FormatDuration(5400 * kNanosPerSecond), "1h30m");
  EXPECT_EQ(FormatDuration(168 * 3600 * kNanosPerSecond), "1w");
  EXPECT_EQ(FormatDuration(721 * 3600 * kNanosPerSecond), "30d1h");
}

TEST(DurationTest, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("256KB"), 256u * 1024);
  EXPECT_EQ(*ParseByteSize("1.5MB"), 1536u * 1024);
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_EQ(FormatByteSize(256 * 1024), "256KB");
  EXPECT_EQ(FormatByteSize(1500), "1500B");
  EXPECT_EQ(*ParseByteSize(FormatByteSize(12345)), 12345u);
}

TEST(DurationTest, Timestamps) {
  EXPECT_EQ(*ParseTimestamp("1700000000"), 1700000000 * kNanosPerSecond);
  EXPECT_EQ(*ParseTimestamp("1700000000123456789"), 1700000000123456789);
  EXPECT_EQ(*ParseTimestamp("1700000000.5"), 1700000000 * kNanosPerSecond + 500 * kNanosPerMilli);
  EXPECT_EQ(*ParseTimestamp("2023-11-14T22:13:20Z"), 1700000000 * kNanosPerSecond);
  EXPECT_EQ(*ParseTimestamp("2023-11-14T23:13:20.25+01:00"),
            1700000000 * kNanosPerSecond + 250 * kNanosPerMilli);
  EXPECT_FALSE(ParseTimestamp("yesterday").ok());
  EXPECT_FALSE(ParseTimestamp("9999999999999999999").ok());  // 19 digits, over int64
  EXPECT_FALSE(ParseTimestamp("-9223372036854775809").ok());
  EXPECT_FALSE(ParseTimestamp("99999999999999999999.5").ok());
  EXPECT_FALSE(ParseTimestamp("99999999999.5").ok());
  EXPECT_FALSE(ParseTimestamp("9999999999").ok());  // 10 digits are seconds: past int64 nanoseconds
                                                    // // seconds that overflow as nanoseconds
  EXPECT_FALSE(ParseTimestamp("2023-13-14T22:13:20Z").ok());
  EXPECT_EQ(FormatRfc3339Nano(1700000000 * kNanosPerSecond + 5), "2023-11-14T22:13:20.000000005Z");
}

TEST(CodingTest, VarintRoundTripAndTruncation) {
  std::string buf;
  coding::PutVarint64(&buf, 300);
  coding::PutVarintSigned64(&buf, -5);
  coding::PutLengthPrefixed(&buf, "hello");
  coding::Reader r(buf);
  uint64_t u;
  int64_t s;
  std::string_view v;
  ASSERT_TRUE(r.GetVarint64(&u));
  EXPECT_EQ(u, 300u);
  ASSERT_TRUE(r.GetVarintSigned64(&s));
  EXPECT_EQ(s, -5);
  ASSERT_TRUE(r.GetLengthPrefixed(&v));
  EXPECT_EQ(v, "hello");
  EXPECT_TRUE(r.empty());
  coding::Reader truncated(std::string_view(buf).substr(0, buf.size() - 1));
  truncated.GetVarint64(&u);
  truncated.GetVarintSigned64(&s);
  EXPECT_FALSE(truncated.GetLengthPrefixed(&v));
}

TEST(TokenBucketTest, RefillsAtRateUpToBurst) {
  TokenBucket b(100, 200, 0);
  EXPECT_TRUE(b.TryTake(150, 0));
  EXPECT_FALSE(b.TryTake(100, 0));
  EXPECT_TRUE(b.TryTake(100, kNanosPerSecond));         // 50 + 100 refilled
  EXPECT_FALSE(b.TryTake(250, 100 * kNanosPerSecond));  // never more than burst
}

}  // namespace
}  // namespace sluice
