#include "testing/fake_clock.h"

#include <gtest/gtest.h>

namespace sluice::testing {
namespace {

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(100);
  EXPECT_EQ(clock.NowNanos(), 100);
  EXPECT_EQ(clock.NowNanos(), 100);
  clock.Advance(5);
  EXPECT_EQ(clock.NowNanos(), 105);
  clock.Set(7);
  EXPECT_EQ(clock.NowNanos(), 7);
}

TEST(FakeClockTest, AutoAdvanceStepsOnEveryRead) {
  FakeClock clock(0, 30);
  EXPECT_EQ(clock.NowNanos(), 30);
  EXPECT_EQ(clock.NowNanos(), 60);
  clock.Advance(1);
  EXPECT_EQ(clock.NowNanos(), 91);
}

}  // namespace
}  // namespace sluice::testing
