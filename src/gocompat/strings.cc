#include "gocompat/strings.h"

#include "common/utf8.h"

namespace sluice::gocompat {

// Go's unicode.IsSpace.
bool IsSpace(char32_t r) {
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

namespace {

char32_t LowerRune(char32_t r) {
  if (r < 0x80) return (r >= 'A' && r <= 'Z') ? r + 32 : r;
  if ((r >= 0xC0 && r <= 0xDE && r != 0xD7)) return r + 32;
  if (r >= 0x100 && r <= 0x17F) {
    if (r == 0x130) return 'i';
    if (r == 0x178) return 0xFF;
    if ((r >= 0x100 && r <= 0x137) || (r >= 0x14A && r <= 0x177)) return (r % 2 == 0) ? r + 1 : r;
    if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E)) return (r % 2 == 1) ? r + 1 : r;
    return r;
  }
  if (r >= 0x391 && r <= 0x3A9 && r != 0x3A2) return r + 32;
  if (r == 0x386) return 0x3AC;
  if (r >= 0x388 && r <= 0x38A) return r + 37;
  if (r == 0x38C) return 0x3CC;
  if (r == 0x38E || r == 0x38F) return r + 63;
  if (r >= 0x410 && r <= 0x42F) return r + 32;
  if (r >= 0x400 && r <= 0x40F) return r + 80;
  if ((r >= 0x460 && r <= 0x481) || (r >= 0x48A && r <= 0x4BF)) return (r % 2 == 0) ? r + 1 : r;
  return r;
}

char32_t UpperRune(char32_t r) {
  if (r < 0x80) return (r >= 'a' && r <= 'z') ? r - 32 : r;
  if (r >= 0xE0 && r <= 0xFE && r != 0xF7) return r - 32;
  if (r == 0xFF) return 0x178;
  if (r == 0xB5) return 0x39C;
  if (r >= 0x100 && r <= 0x17F) {
    if (r == 0x131) return 'I';
    if (r == 0x17F) return 'S';
    if ((r >= 0x100 && r <= 0x137) || (r >= 0x14A && r <= 0x177)) return (r % 2 == 1) ? r - 1 : r;
    if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E)) return (r % 2 == 0) ? r - 1 : r;
    return r;
  }
  if (r >= 0x3B1 && r <= 0x3C9 && r != 0x3C2) return r - 32;
  if (r == 0x3C2) return 0x3A3;
  if (r == 0x3AC) return 0x386;
  if (r >= 0x3AD && r <= 0x3AF) return r - 37;
  if (r == 0x3CC) return 0x38C;
  if (r == 0x3CD || r == 0x3CE) return r - 63;
  if (r >= 0x430 && r <= 0x44F) return r - 32;
  if (r >= 0x450 && r <= 0x45F) return r - 80;
  if ((r >= 0x460 && r <= 0x481) || (r >= 0x48A && r <= 0x4BF)) return (r % 2 == 1) ? r - 1 : r;
  return r;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

template <typename F>
void MapRunes(std::string_view s, F f, std::string* out) {
  out->reserve(out->size() + s.size());
  if (IsAscii(s)) {
    for (char c : s) out->push_back(static_cast<char>(f(static_cast<char32_t>(c))));
    return;
  }
  for (size_t i = 0, w = 0; i < s.size(); i += w) {
    char32_t r = DecodeRune(s, i, &w);
    AppendUtf8(out, f(r));
  }
}

bool InCutset(char32_t r, std::string_view cutset) {
  for (size_t i = 0, w = 0; i < cutset.size(); i += w) {
    if (DecodeRune(cutset, i, &w) == r) return true;
  }
  return false;
}

// The rune that ends at s[end) (the last rune before `end`) and its width.
char32_t LastRune(std::string_view s, size_t end, size_t* width) {
  size_t start = end - 1;
  size_t lim = end >= 4 ? end - 4 : 0;
  while (start > lim && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  size_t w;
  char32_t r = DecodeRune(s, start, &w);
  if (start + w != end) {
    *width = 1;
    return kRuneError;
  }
  *width = w;
  return r;
}

}  // namespace

void ToLower(std::string_view s, std::string* out) { MapRunes(s, LowerRune, out); }
void ToUpper(std::string_view s, std::string* out) { MapRunes(s, UpperRune, out); }

void Title(std::string_view s, std::string* out) {
  auto is_separator = [](char32_t r) {
    if (r < 0x80) {
      return !((r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
               r == '_');
    }
    return IsSpace(r);
  };
  char32_t prev = ' ';
  for (size_t i = 0, w = 0; i < s.size(); i += w) {
    char32_t r = DecodeRune(s, i, &w);
    char32_t m = is_separator(prev) ? UpperRune(r) : r;
    if (m == r && !(r == kRuneError && w == 1)) {
      out->append(s.substr(i, w));
    } else {
      AppendUtf8(out, m);
    }
    prev = r;
  }
}

std::string_view Trim(std::string_view s, std::string_view cutset, bool left, bool right) {
  if (s.empty() || cutset.empty()) return s;
  if (left) {
    size_t i = 0;
    while (i < s.size()) {
      size_t w;
      char32_t r = DecodeRune(s, i, &w);
      if (!InCutset(r, cutset)) break;
      i += w;
    }
    s.remove_prefix(i);
  }
  if (right) {
    while (!s.empty()) {
      size_t w;
      char32_t r = LastRune(s, s.size(), &w);
      if (!InCutset(r, cutset)) break;
      s.remove_suffix(w);
    }
  }
  return s;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty()) {
    size_t w;
    char32_t r = DecodeRune(s, 0, &w);
    if (!IsSpace(r)) break;
    s.remove_prefix(w);
  }
  while (!s.empty()) {
    size_t w;
    char32_t r = LastRune(s, s.size(), &w);
    if (!IsSpace(r)) break;
    s.remove_suffix(w);
  }
  return s;
}

void Replace(std::string_view s, std::string_view old_s, std::string_view new_s, int64_t n,
             std::string* out) {
  if (n == 0 || old_s == new_s) {
    out->append(s);
    return;
  }
  size_t pos = 0;
  int64_t done = 0;
  if (old_s.empty()) {
    // Go inserts `new` before every rune and at the end, up to n times.
    size_t i = 0;
    while ((n < 0 || done < n)) {
      out->append(new_s);
      ++done;
      if (i >= s.size()) break;
      size_t w;
      DecodeRune(s, i, &w);
      out->append(s.substr(i, w));
      i += w;
    }
    if (i < s.size()) out->append(s.substr(i));
    return;
  }
  while (n < 0 || done < n) {
    size_t x = s.find(old_s, pos);
    if (x == std::string_view::npos) break;
    out->append(s.substr(pos, x - pos));
    out->append(new_s);
    pos = x + old_s.size();
    ++done;
  }
  out->append(s.substr(pos));
}

}  // namespace sluice::gocompat
