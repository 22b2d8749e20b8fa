#include "agent/breaker.h"

#include <gtest/gtest.h>

#include <vector>

#include "testing/fake_clock.h"

namespace sluice::agent {
namespace {

constexpr int64_t kS = 1'000'000'000;

class BreakerTest : public ::testing::Test {
 protected:
  sluice::testing::FakeClock clock_{1'000'000'000};
  std::vector<BreakerState> transitions_;
  CircuitBreaker breaker_{
      {3, 10 * kS}, &clock_, [this](BreakerState s) { transitions_.push_back(s); }};
};

TEST_F(BreakerTest, StaysClosedBelowThreshold) {
  EXPECT_TRUE(breaker_.Allow());
  breaker_.OnFailure();
  breaker_.OnFailure();
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
  breaker_.OnSuccess();  // resets the consecutive count
  breaker_.OnFailure();
  breaker_.OnFailure();
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
  EXPECT_TRUE(transitions_.empty());
}

TEST_F(BreakerTest, OpensAfterConsecutiveFailuresAndRefuses) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  EXPECT_EQ(breaker_.state(), BreakerState::kOpen);
  EXPECT_FALSE(breaker_.Allow());
  EXPECT_EQ(breaker_.RetryAt(), clock_.NowNanos() + 10 * kS);
  clock_.Advance(9 * kS);
  EXPECT_FALSE(breaker_.Allow());
  EXPECT_EQ(transitions_, std::vector<BreakerState>{BreakerState::kOpen});
}

TEST_F(BreakerTest, HalfOpenAllowsExactlyOneProbe) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  clock_.Advance(10 * kS);
  EXPECT_TRUE(breaker_.Allow());  // the probe
  EXPECT_EQ(breaker_.state(), BreakerState::kHalfOpen);
  EXPECT_FALSE(breaker_.Allow());
  EXPECT_FALSE(breaker_.Allow());
}

TEST_F(BreakerTest, ProbeSuccessCloses) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  clock_.Advance(10 * kS);
  ASSERT_TRUE(breaker_.Allow());
  breaker_.OnSuccess();
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
  EXPECT_TRUE(breaker_.Allow());
  EXPECT_TRUE(breaker_.Allow());
  EXPECT_EQ(transitions_, (std::vector<BreakerState>{BreakerState::kOpen, BreakerState::kHalfOpen,
                                                     BreakerState::kClosed}));
  // A fresh run of failures is needed to open again.
  breaker_.OnFailure();
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
}

TEST_F(BreakerTest, ProbeFailureReopensForAnotherPeriod) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  clock_.Advance(10 * kS);
  ASSERT_TRUE(breaker_.Allow());
  breaker_.OnFailure();
  EXPECT_EQ(breaker_.state(), BreakerState::kOpen);
  EXPECT_FALSE(breaker_.Allow());
  clock_.Advance(10 * kS - 1);
  EXPECT_FALSE(breaker_.Allow());
  clock_.Advance(1);
  EXPECT_TRUE(breaker_.Allow());
  EXPECT_EQ(breaker_.state(), BreakerState::kHalfOpen);
}

TEST_F(BreakerTest, LateFailuresWhileOpenDoNotExtendIt) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  int64_t until = breaker_.RetryAt();
  clock_.Advance(5 * kS);
  breaker_.OnFailure();  // a request that started before the breaker opened
  EXPECT_EQ(breaker_.RetryAt(), until);
}

}  // namespace
}  // namespace sluice::agent
