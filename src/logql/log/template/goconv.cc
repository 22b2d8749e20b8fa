#include "logql/log/template/goconv.h"

#include "logql/log/go_values.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "logql/log/template/utf8.h"

namespace sluice::logql::log::tmpl::internal {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Go's underscoreOK: '_' only between digits (a base prefix counts as a digit).
bool UnderscoreOK(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' &&
      (Lower(s[1]) == 'b' || Lower(s[1]) == 'o' || Lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = Lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    char c = s[i];
    if ((c >= '0' && c <= '9') || (hex && Lower(c) >= 'a' && Lower(c) <= 'f')) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = Lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<uint64_t> GoParseUint(std::string_view s0) {
  std::string_view s = s0;
  if (s.empty()) return std::nullopt;
  int base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && Lower(s[1]) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && Lower(s[1]) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && Lower(s[1]) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  bool underscores = false;
  uint64_t n = 0;
  for (char c : s) {
    if (c == '_') {
      underscores = true;
      continue;
    }
    int d = HexVal(c);
    if (d < 0 || d >= base) return std::nullopt;
    if (n > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
      return std::nullopt;
    }
    n = n * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (underscores && !UnderscoreOK(s0)) return std::nullopt;
  return n;
}

std::optional<int64_t> GoParseInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  auto u = GoParseUint(s);
  if (!u) return std::nullopt;
  constexpr uint64_t kCutoff = uint64_t{1} << 63;
  if (!neg && *u >= kCutoff) return std::nullopt;
  if (neg && *u > kCutoff) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - *u) : static_cast<int64_t>(*u);
}

std::optional<double> GoParseFloat(std::string_view s) {
  // One implementation of Go's ParseFloat serves the label filters, unwrap and templates.
  double v;
  std::string err;
  if (!ParseGoFloat(s, &v, &err)) return std::nullopt;
  return v;
}

bool GoUnquoteChar(std::string_view* s, char quote, char32_t* r, bool* multibyte) {
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
        int d = HexVal((*s)[j]);
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

std::optional<std::string> GoUnquote(std::string_view s) {
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
    if (!GoUnquoteChar(&s, quote, &r, &mb)) return std::nullopt;
    if (r < 0x80 || !mb) {
      if (r < 0x100 && !mb) {
        out.push_back(static_cast<char>(r));
      } else {
        AppendRune(r, &out);
      }
    } else {
      AppendRune(r, &out);
    }
    if (quote == '\'' && !s.empty()) return std::nullopt;
  }
  return out;
}

}  // namespace sluice::logql::log::tmpl::internal
