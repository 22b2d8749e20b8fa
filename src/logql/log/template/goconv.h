#pragma once

// Internal to the template engine: Go's strconv conversions that template semantics depend on
// (number literals, sprig's string-to-number casts, quoted string literals).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::logql::log::tmpl::internal {

// strconv.ParseInt(s, 0, 64): sign, 0x/0o/0b/0 prefixes, '_' separators. nullopt on syntax
// errors and overflow.
std::optional<int64_t> GoParseInt(std::string_view s);
// strconv.ParseUint(s, 0, 64).
std::optional<uint64_t> GoParseUint(std::string_view s);
// strconv.ParseFloat(s, 64): decimal and hex floats, '_' separators, inf/infinity/nan.
// nullopt on syntax errors and on overflow (Go returns an error then too).
std::optional<double> GoParseFloat(std::string_view s);

// strconv.UnquoteChar: decodes one (possibly escaped) character at the front of *s.
bool GoUnquoteChar(std::string_view* s, char quote, char32_t* r, bool* multibyte);
// strconv.Unquote for "..." (escapes), `...` (raw, \r dropped) and '...'.
std::optional<std::string> GoUnquote(std::string_view s);

}  // namespace sluice::logql::log::tmpl::internal
