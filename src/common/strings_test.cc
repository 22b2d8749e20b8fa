#include "common/strings.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(SplitCommaList, TrimsSpacesAndSkipsEmptyItems) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(SplitCommaList("a, b,,c "), (V{"a", "b", "c"}));
  EXPECT_EQ(SplitCommaList("distributor,query-frontend"), (V{"distributor", "query-frontend"}));
  EXPECT_EQ(SplitCommaList("one"), (V{"one"}));
  EXPECT_EQ(SplitCommaList(""), V{});
  EXPECT_EQ(SplitCommaList(" , ,"), V{});
  EXPECT_EQ(SplitCommaList("a\tb"), (V{"a\tb"}));  // only spaces are trimmed
}

}  // namespace
}  // namespace sluice
