#pragma once

#include <string_view>
#include <vector>

namespace sluice {

// The items of a comma-separated list with the spaces around each removed and empty items
// skipped ("a, b,,c " -> {"a", "b", "c"}): -target, memcached addresses, header flag lists.
// The views point into `list`.
std::vector<std::string_view> SplitCommaList(std::string_view list);

}  // namespace sluice
