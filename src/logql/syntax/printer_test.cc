#include "logql/syntax/printer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sluice::logql::syntax {
namespace {

TEST(PrinterTest, GoFloat) {
  EXPECT_EQ(FormatGoFloat(0), "0");
  EXPECT_EQ(FormatGoFloat(1), "1");
  EXPECT_EQ(FormatGoFloat(-2.5), "-2.5");
  EXPECT_EQ(FormatGoFloat(100000), "100000");
  EXPECT_EQ(FormatGoFloat(123456), "123456");
  EXPECT_EQ(FormatGoFloat(1e6), "1e+06");
  EXPECT_EQ(FormatGoFloat(1234567), "1.234567e+06");
  EXPECT_EQ(FormatGoFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatGoFloat(0.00001), "1e-05");
  EXPECT_EQ(FormatGoFloat(0.1), "0.1");
  EXPECT_EQ(FormatGoFloat(1e21), "1e+21");
  EXPECT_EQ(FormatGoFloat(std::nan("")), "NaN");
  EXPECT_EQ(FormatGoFloat(INFINITY), "+Inf");
  EXPECT_EQ(FormatGoFloat(-INFINITY), "-Inf");
}

}  // namespace
}  // namespace sluice::logql::syntax
