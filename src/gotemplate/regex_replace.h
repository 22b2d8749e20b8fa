#pragma once

// Internal to the template engine: regexp's replacement expansion, which sprig's
// regexReplaceAll and Loki's regex functions use.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace sluice::gotemplate::internal {

// regexp.ReplaceAllString (expand: $1 ${name} $$) / ReplaceAllLiteralString, and the number
// of matches of FindAllStringIndex. False once *out would exceed max_out bytes.
bool RegexReplaceAll(const re2::RE2& re, std::string_view src, std::string_view repl, bool expand,
                     size_t max_out, std::string* out);
int64_t RegexCount(const re2::RE2& re, std::string_view src);

}  // namespace sluice::gotemplate::internal
