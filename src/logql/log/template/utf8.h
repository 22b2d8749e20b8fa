#pragma once

// Internal to the template engine: UTF-8 as Go's unicode/utf8 reads it. An invalid byte decodes
// as U+FFFD with width 1, so every loop over a string advances.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::logql::log::tmpl::internal {

inline constexpr char32_t kRuneError = 0xFFFD;

// Decodes the rune at s[i]; *width is its length in bytes (1 for an invalid byte).
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

// True when the byte at s[i] starts a valid encoding (DecodeRune did not fall back).
inline bool ValidRuneAt(std::string_view s, size_t i) {
  size_t w;
  char32_t r = DecodeRune(s, i, &w);
  return !(r == kRuneError && w == 1);
}

inline void AppendRune(char32_t r, std::string* out) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = kRuneError;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

inline size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0, w = 0; i < s.size(); i += w, ++n) DecodeRune(s, i, &w);
  return n;
}

// Go's unicode.IsSpace.
inline bool IsSpaceRune(char32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

}  // namespace sluice::logql::log::tmpl::internal
