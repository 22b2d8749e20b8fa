#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends `s` as a JSON string literal, escaped as Go's encoding/json does (so answers match
// Loki's byte for byte): quotes, backslashes and control characters, '<', '>' and '&' as
// \u003c..., U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace sluice
