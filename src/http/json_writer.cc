#include "http/json_writer.h"

#include <charconv>
#include <cmath>

namespace sluice::http {

namespace {

// Length of the valid UTF-8 sequence starting at s[i] (Go's utf8.DecodeRuneInString rules:
// no overlongs, no surrogates, nothing above U+10FFFF), or 0 when invalid.
size_t ValidUtf8Length(std::string_view s, size_t i) {
  auto at = [&](size_t k) -> unsigned { return static_cast<unsigned char>(s[k]); };
  unsigned b0 = at(i);
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

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t start = 0;  // s[start, i) is pending verbatim output
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) {
      size_t n = ValidUtf8Length(s, i);
      if (n == 0) {
        out->append(s.data() + start, i - start);
        out->append("\\ufffd");
        start = ++i;
        continue;
      }
      // U+2028 (E2 80 A8) and U+2029 (E2 80 A9).
      if (n == 3 && b == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
          (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
        out->append(s.data() + start, i - start);
        out->append(static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029");
        i += 3;
        start = i;
        continue;
      }
      i += n;
      continue;
    }
    if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&') {
      ++i;
      continue;
    }
    out->append(s.data() + start, i - start);
    switch (b) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[b >> 4]);
        out->push_back(kHex[b & 0xF]);
        break;
    }
    start = ++i;
  }
  out->append(s.data() + start, s.size() - start);
  out->push_back('"');
}

void AppendJsonFloat(std::string* out, double v) {
  if (!std::isfinite(v)) {
    out->push_back('0');
    return;
  }
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  out->append(buf, r.ptr);
}

void AppendJsonInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendJsonUint(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace sluice::http
