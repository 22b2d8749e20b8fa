#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// UTF-8 as Go's unicode/utf8 reads and writes it. The one implementation for the whole server:
// label values, JSON and logfmt, and Go's string functions in templates (gocompat, gotemplate).

inline constexpr char32_t kRuneError = 0xFFFD;

// utf8.DecodeRuneInString at s[i]: the rune and, in *width, its length in bytes. What is not a
// valid encoding (an overlong form, a surrogate, anything above U+10FFFF, a truncated sequence)
// decodes as kRuneError with width 1, so every loop over a string advances.
// REQUIRES: i < s.size().
inline char32_t DecodeRune(std::string_view s, size_t i, size_t* width) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  *width = 1;
  if (c < 0x80) return c;
  size_t n = s.size() - i;
  auto cont = [&](size_t k) { return k < n && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    *width = 2;
    return static_cast<char32_t>(((c & 0x1F) << 6) | (b(1) & 0x3F));
  }
  if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    char32_t r = static_cast<char32_t>(((c & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F));
    if (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF)) return kRuneError;
    *width = 3;
    return r;
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    char32_t r = static_cast<char32_t>(((c & 0x07) << 18) | ((b(1) & 0x3F) << 12) |
                                       ((b(2) & 0x3F) << 6) | (b(3) & 0x3F));
    if (r < 0x10000 || r > 0x10FFFF) return kRuneError;
    *width = 4;
    return r;
  }
  return kRuneError;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when none starts there (where
// DecodeRune falls back to kRuneError with width 1). REQUIRES: i < s.size().
inline size_t Utf8SequenceLength(std::string_view s, size_t i) {
  size_t width;
  char32_t r = DecodeRune(s, i, &width);
  return r == kRuneError && width == 1 ? 0 : width;
}

// utf8.RuneCountInString: invalid bytes count one each.
inline size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0, w = 0; i < s.size(); i += w, ++n) DecodeRune(s, i, &w);
  return n;
}

// Whole-string validation; SIMD (simdjson's validator) because it runs over label values and
// query strings on request paths.
bool IsValidUtf8(std::string_view s);

// utf8.AppendRune: the UTF-8 encoding of a code point; surrogates and values above U+10FFFF,
// which have none, are written as kRuneError.
void AppendUtf8(std::string* out, uint32_t cp);

}  // namespace sluice
