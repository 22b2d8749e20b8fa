#include "common/civil.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(CivilTest, RoundTrips) {
  for (int64_t d : {-1000000, -719468, -1, 0, 1, 18933, 2932896}) {
    int64_t y;
    int m, day;
    CivilFromDays(d, &y, &m, &day);
    EXPECT_EQ(DaysFromCivil(y, m, day), d);
  }
  EXPECT_EQ(DaysFromCivil(1970, 13, 1), 365);  // month overflow normalises
}

}  // namespace
}  // namespace sluice
