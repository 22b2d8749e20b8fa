#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when none starts there. Valid means
// what Go's utf8.DecodeRuneInString accepts: no overlong forms, no surrogates, nothing above
// U+10FFFF. REQUIRES: i < s.size().
inline size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto at = [&](size_t k) -> unsigned { return static_cast<unsigned char>(s[k]); };
  unsigned b0 = at(i);
  if (b0 < 0x80) return 1;
  size_t left = s.size() - i;
  auto cont = [&](size_t k) { return k < s.size() && (at(k) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    unsigned b1 = at(i + 1);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;  // overlong
    if (b0 == 0xED && b1 > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned b1 = at(i + 1);
    if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && b1 > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Whole-string validation; SIMD (simdjson's validator) because it runs over label values and
// query strings on request paths.
bool IsValidUtf8(std::string_view s);

// Appends the UTF-8 encoding of a code point. REQUIRES: cp <= 0x10FFFF.
void AppendUtf8(std::string* out, uint32_t cp);

}  // namespace sluice
