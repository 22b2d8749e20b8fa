#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace sluice {

// A transparent hash for unordered containers keyed by std::string: with std::equal_to<>,
// find() takes a std::string_view without building a std::string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace sluice
