#include "gocompat/quote.h"

#include "common/utf8.h"

namespace sluice::gocompat {

namespace {

constexpr char kLowerHex[] = "0123456789abcdef";

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// strconv.IsPrint, approximated by the ranges that matter in log lines.
bool IsPrintRune(char32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r < 0x7F) return true;
  if (r <= 0xA0 || r == 0xAD) return false;
  if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
      (r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0xFEFF || (r >= 0xFFF9 && r <= 0xFFFB) ||
      (r >= 0xE000 && r <= 0xF8FF) || r == 0xFFFE || r == 0xFFFF) {
    return false;
  }
  return true;
}

}  // namespace

int UnhexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = Lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void AppendEscapedRune(char32_t r, char quote, bool ascii_only, std::string* out) {
  if (r == static_cast<char32_t>(quote) || r == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(r));
    return;
  }
  if (ascii_only ? (r < 0x7F && IsPrintRune(r)) : IsPrintRune(r)) {
    AppendUtf8(out, r);
    return;
  }
  switch (r) {
    case '\a':
      out->append("\\a");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    case '\v':
      out->append("\\v");
      return;
    default:
      break;
  }
  auto hex = [&](uint32_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out->push_back(kLowerHex[(v >> (4 * i)) & 0xF]);
  };
  if (r < ' ' || r == 0x7F) {
    out->append("\\x");
    hex(r, 2);
  } else if (r < 0x10000) {
    out->append("\\u");
    hex(r, 4);
  } else {
    out->append("\\U");
    hex(r, 8);
  }
}

void AppendQuoted(std::string_view s, bool ascii_only, std::string* out) {
  out->push_back('"');
  for (size_t i = 0, w = 0; i < s.size(); i += w) {
    char32_t r = DecodeRune(s, i, &w);
    if (r == kRuneError && w == 1) {
      out->append("\\x");
      auto c = static_cast<unsigned char>(s[i]);
      out->push_back(kLowerHex[c >> 4]);
      out->push_back(kLowerHex[c & 0xF]);
      continue;
    }
    AppendEscapedRune(r, '"', ascii_only, out);
  }
  out->push_back('"');
}

bool UnquoteChar(std::string_view* s, char quote, char32_t* r, bool* multibyte) {
  *multibyte = false;
  if (s->empty()) return false;
  char c = (*s)[0];
  if (c == quote && (quote == '\'' || quote == '"')) return false;
  if (static_cast<unsigned char>(c) >= 0x80) {
    size_t w;
    *r = DecodeRune(*s, 0, &w);
    s->remove_prefix(w);
    *multibyte = true;
    return true;
  }
  if (c != '\\') {
    *r = static_cast<unsigned char>(c);
    s->remove_prefix(1);
    return true;
  }
  if (s->size() <= 1) return false;
  char e = (*s)[1];
  s->remove_prefix(2);
  switch (e) {
    case 'a':
      *r = '\a';
      return true;
    case 'b':
      *r = '\b';
      return true;
    case 'f':
      *r = '\f';
      return true;
    case 'n':
      *r = '\n';
      return true;
    case 'r':
      *r = '\r';
      return true;
    case 't':
      *r = '\t';
      return true;
    case 'v':
      *r = '\v';
      return true;
    case 'x':
    case 'u':
    case 'U': {
      size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      if (s->size() < n) return false;
      uint32_t v = 0;
      for (size_t j = 0; j < n; ++j) {
        int d = UnhexDigit((*s)[j]);
        if (d < 0) return false;
        v = (v << 4) | static_cast<uint32_t>(d);
      }
      s->remove_prefix(n);
      if (e == 'x') {
        *r = v;  // a single byte
        return true;
      }
      if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
      *r = v;
      *multibyte = true;
      return true;
    }
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': {
      uint32_t v = static_cast<uint32_t>(e - '0');
      if (s->size() < 2) return false;
      for (size_t j = 0; j < 2; ++j) {
        char d = (*s)[j];
        if (d < '0' || d > '7') return false;
        v = (v << 3) | static_cast<uint32_t>(d - '0');
      }
      if (v > 255) return false;
      s->remove_prefix(2);
      *r = v;
      return true;
    }
    case '\\':
      *r = '\\';
      return true;
    case '\'':
    case '"':
      if (e != quote) return false;
      *r = static_cast<unsigned char>(e);
      return true;
    default:
      return false;
  }
}

std::optional<std::string> Unquote(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  char quote = s[0];
  if (quote != s.back()) return std::nullopt;
  s = s.substr(1, s.size() - 2);
  std::string out;
  if (quote == '`') {
    if (s.find('`') != std::string_view::npos) return std::nullopt;
    for (char c : s) {
      if (c != '\r') out.push_back(c);
    }
    return out;
  }
  if (quote != '"' && quote != '\'') return std::nullopt;
  if (s.find('\n') != std::string_view::npos) return std::nullopt;
  while (!s.empty()) {
    char32_t r;
    bool mb;
    if (!UnquoteChar(&s, quote, &r, &mb)) return std::nullopt;
    if (r < 0x80 || !mb) {
      if (r < 0x100 && !mb) {
        out.push_back(static_cast<char>(r));
      } else {
        AppendUtf8(&out, r);
      }
    } else {
      AppendUtf8(&out, r);
    }
    if (quote == '\'' && !s.empty()) return std::nullopt;
  }
  return out;
}

}  // namespace sluice::gocompat
