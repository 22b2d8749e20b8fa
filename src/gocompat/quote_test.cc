#include "gocompat/quote.h"

#include <gtest/gtest.h>

namespace sluice::gocompat {
namespace {

TEST(QuoteTest, Unquote) {
  EXPECT_EQ(Unquote(R"("a\tb\"\\\x41\101\u00e9\U0001F600")"), "a\tb\"\\AA\u00e9\U0001F600");
  EXPECT_EQ(Unquote("`a\\n\r`"), "a\\n");
  EXPECT_EQ(Unquote(R"("\'")"), std::nullopt);
  EXPECT_EQ(Unquote(R"("\400")"), std::nullopt);
  EXPECT_EQ(Unquote(R"("\ud800")"), std::nullopt);
  EXPECT_EQ(Unquote(R"("abc)"), std::nullopt);
}

}  // namespace
}  // namespace sluice::gocompat
