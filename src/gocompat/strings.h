#pragma once

// Go's strings and unicode packages as templates and go-humanize use them. Case mapping covers
// Latin-1, Latin Extended-A, Greek and Cyrillic (the scripts gotemplate/template.h describes);
// other runes map to themselves.

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::gocompat {

// unicode.IsSpace.
bool IsSpace(char32_t r);

// strings.ToLower / ToUpper / Title (sprig title), appended to *out.
void ToLower(std::string_view s, std::string* out);
void ToUpper(std::string_view s, std::string* out);
void Title(std::string_view s, std::string* out);

// strings.Trim / TrimLeft / TrimRight with a cutset of runes, and TrimSpace.
std::string_view Trim(std::string_view s, std::string_view cutset, bool left, bool right);
std::string_view TrimSpace(std::string_view s);
// strings.Replace(s, old, new, n); n < 0 replaces all.
void Replace(std::string_view s, std::string_view old_s, std::string_view new_s, int64_t n,
             std::string* out);

}  // namespace sluice::gocompat
