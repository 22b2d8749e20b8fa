#include "agent/backoff.h"

#include <gtest/gtest.h>

namespace sluice::agent {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(Backoff, ClassifiesOutcomes) {
  EXPECT_EQ(Classify({204, false, "", {}}), ErrorClass::kNone);
  EXPECT_EQ(Classify({0, false, "refused", {}}), ErrorClass::kConnection);
  EXPECT_EQ(Classify({0, true, "timeout", {}}), ErrorClass::kTimeout);
  EXPECT_EQ(Classify({429, false, "", {}}), ErrorClass::kRateLimited);
  EXPECT_EQ(Classify({500, false, "", {}}), ErrorClass::kServer);
  EXPECT_EQ(Classify({503, false, "", {}}), ErrorClass::kServer);
  EXPECT_EQ(Classify({400, false, "", {}}), ErrorClass::kClient);
  EXPECT_EQ(Classify({413, false, "", {}}), ErrorClass::kClient);
}

TEST(Backoff, RetriesOnly429And5xxAndTransportErrors) {
  EXPECT_TRUE(IsRetryable(ErrorClass::kConnection));
  EXPECT_TRUE(IsRetryable(ErrorClass::kTimeout));
  EXPECT_TRUE(IsRetryable(ErrorClass::kRateLimited));
  EXPECT_TRUE(IsRetryable(ErrorClass::kServer));
  EXPECT_FALSE(IsRetryable(ErrorClass::kClient));
  // 429 is a live server pacing us: it must not open the breaker.
  EXPECT_FALSE(IsServerFailure(ErrorClass::kRateLimited));
  EXPECT_FALSE(IsServerFailure(ErrorClass::kClient));
  EXPECT_TRUE(IsServerFailure(ErrorClass::kServer));
  EXPECT_TRUE(IsServerFailure(ErrorClass::kConnection));
}

TEST(Backoff, FullJitterStaysUnderTheExponentialCap) {
  BackoffOptions opts{100 * kMs, 1600 * kMs, 60'000 * kMs};
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 10; ++attempt) {
    int64_t cap = std::min<int64_t>(100 * kMs << (attempt - 1), 1600 * kMs);
    int64_t max_seen = 0;
    for (int i = 0; i < 2000; ++i) {
      int64_t d = BackoffDelay(opts, attempt, std::nullopt, rng);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap) << "attempt " << attempt;
      max_seen = std::max(max_seen, d);
    }
    // Full jitter spreads over the whole range, not just near the cap or near zero.
    EXPECT_GT(max_seen, cap * 9 / 10) << "attempt " << attempt;
  }
}

TEST(Backoff, JitterIsSpreadNotConstant) {
  BackoffOptions opts{100 * kMs, 10'000 * kMs, 60'000 * kMs};
  std::mt19937_64 rng(7);
  int64_t low = 0, high = 0;
  for (int i = 0; i < 1000; ++i) {
    int64_t d = BackoffDelay(opts, 4, std::nullopt, rng);  // cap 800ms
    if (d < 400 * kMs)
      ++low;
    else
      ++high;
  }
  EXPECT_GT(low, 400);
  EXPECT_GT(high, 400);
}

TEST(Backoff, SameSeedSameDelays) {
  BackoffOptions opts{100 * kMs, 10'000 * kMs, 60'000 * kMs};
  std::mt19937_64 a(5), b(5);
  for (int i = 1; i < 20; ++i)
    EXPECT_EQ(BackoffDelay(opts, i, std::nullopt, a), BackoffDelay(opts, i, std::nullopt, b));
}

TEST(Backoff, RetryAfterIsHonouredAndCapped) {
  BackoffOptions opts{100 * kMs, 1000 * kMs, 5000 * kMs};
  std::mt19937_64 rng(1);
  EXPECT_EQ(BackoffDelay(opts, 1, 3000 * kMs, rng),
            3000 * kMs);  // longer than max_period: still honoured
  EXPECT_EQ(BackoffDelay(opts, 1, 60'000 * kMs, rng), 5000 * kMs);
  EXPECT_EQ(BackoffDelay(opts, 1, 0, rng), 0);
}

TEST(Backoff, ParsesRetryAfter) {
  EXPECT_EQ(ParseRetryAfter("2", 0), 2'000'000'000);
  EXPECT_EQ(ParseRetryAfter(" 10 \r\n", 0), 10'000'000'000);
  EXPECT_EQ(ParseRetryAfter("", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-1", 0), std::nullopt);
  // 1994-11-06T08:49:37Z is 784111777.
  int64_t now = 784111770LL * 1'000'000'000;
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), 7'000'000'000);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now + 60'000'000'000), 0);
}

}  // namespace
}  // namespace sluice::agent
