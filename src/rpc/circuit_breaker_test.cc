#include "rpc/circuit_breaker.h"

#include <gtest/gtest.h>

#include <vector>

#include "testing/fake_clock.h"

namespace sluice::rpc {
namespace {

using State = CircuitBreaker::State;
constexpr int64_t kSecond = kNanosPerSecond;

void Fail(CircuitBreaker& b) {
  auto p = b.Allow();
  ASSERT_TRUE(p.allowed);
  b.Record(p, false);
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresOnly) {
  testing::FakeClock clock(1000 * kSecond);
  CircuitBreaker b({3, 10 * kSecond, {}}, &clock);
  Fail(b);
  Fail(b);
  auto ok = b.Allow();
  b.Record(ok, true);  // a success resets the count
  Fail(b);
  Fail(b);
  EXPECT_EQ(b.state(), State::kClosed);
  Fail(b);
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_FALSE(b.Allow().allowed);
}

TEST(CircuitBreakerTest, OneTrialAfterCooldownClosesOrReopens) {
  testing::FakeClock clock(1000 * kSecond);
  CircuitBreaker b({1, 10 * kSecond, {}}, &clock);
  Fail(b);
  ASSERT_EQ(b.state(), State::kOpen);
  clock.Advance(10 * kSecond - 1);
  EXPECT_FALSE(b.Allow().allowed) << "still cooling down";
  clock.Advance(1);
  auto trial = b.Allow();
  ASSERT_TRUE(trial.allowed);
  EXPECT_EQ(b.state(), State::kHalfOpen);
  EXPECT_FALSE(b.Allow().allowed) << "one trial at a time";
  b.Record(trial, false);
  EXPECT_EQ(b.state(), State::kOpen);
  clock.Advance(9 * kSecond);
  EXPECT_FALSE(b.Allow().allowed) << "a failed trial starts a new cool-down";
  clock.Advance(kSecond);
  trial = b.Allow();
  ASSERT_TRUE(trial.allowed);
  b.Record(trial, true);
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_TRUE(b.Allow().allowed);
}

TEST(CircuitBreakerTest, OutcomesOfCallsFromBeforeAStateChangeAreIgnored) {
  testing::FakeClock clock(1000 * kSecond);
  CircuitBreaker b({2, 10 * kSecond, {}}, &clock);
  auto slow_call = b.Allow();  // began while closed, answers late
  Fail(b);
  Fail(b);
  ASSERT_EQ(b.state(), State::kOpen);
  b.Record(slow_call, true);
  EXPECT_EQ(b.state(), State::kOpen) << "a late success does not close an open breaker";
  clock.Advance(10 * kSecond);
  auto trial = b.Allow();
  ASSERT_TRUE(trial.allowed);
  b.Record(slow_call, true);
  EXPECT_EQ(b.state(), State::kHalfOpen) << "only the trial decides";
  b.Record(trial, true);
  EXPECT_EQ(b.state(), State::kClosed);
}

TEST(CircuitBreakerTest, ZeroThresholdNeverOpens) {
  testing::FakeClock clock(0);
  CircuitBreaker b({0, kSecond, {}}, &clock);
  for (int i = 0; i < 100; ++i) Fail(b);
  EXPECT_EQ(b.state(), State::kClosed);
}

TEST(BulkheadTest, BoundsCallsInFlight) {
  Bulkhead b(2);
  std::vector<Bulkhead::Slot> held;
  {
    auto s1 = b.TryAcquire();
    auto s2 = b.TryAcquire();
    ASSERT_TRUE(s1 && s2);
    EXPECT_EQ(b.in_flight(), 2);
    EXPECT_FALSE(b.TryAcquire()) << "the third waits for nobody: refused";
    EXPECT_EQ(b.in_flight(), 2);
    held.push_back(std::move(*s1));
  }
  EXPECT_EQ(b.in_flight(), 1) << "a released slot frees its place";
  EXPECT_TRUE(b.TryAcquire());
  held.clear();
  EXPECT_EQ(b.in_flight(), 0);
  Bulkhead unbounded(0);
  std::vector<Bulkhead::Slot> many;
  for (int i = 0; i < 1000; ++i) many.push_back(std::move(*unbounded.TryAcquire()));
  EXPECT_EQ(unbounded.in_flight(), 1000);
}

TEST(CircuitBreakerTest, ANewerSignOfLifeClosesItAndStateChangesAreReported) {
  testing::FakeClock clock(1000 * kSecond);
  std::vector<State> changes;
  CircuitBreaker b({1, 10 * kSecond, [&](State s) { changes.push_back(s); }}, &clock);
  Fail(b);
  ASSERT_EQ(b.state(), State::kOpen);
  EXPECT_FALSE(b.CloseIfOpenedBefore(999 * kSecond));  // older than the failure: no news
  EXPECT_FALSE(b.CloseIfOpenedBefore(1000 * kSecond));
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_TRUE(b.CloseIfOpenedBefore(1001 * kSecond));
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_TRUE(b.Allow().allowed);
  EXPECT_FALSE(b.CloseIfOpenedBefore(2000 * kSecond));  // already closed
  EXPECT_EQ(changes, (std::vector<State>{State::kOpen, State::kClosed}));
}

}  // namespace
}  // namespace sluice::rpc
