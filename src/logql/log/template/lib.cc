#include "logql/log/template/lib.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

#include "logql/log/template/goconv.h"
#include "logql/log/template/gofmt.h"
#include "logql/log/template/utf8.h"

namespace sluice::logql::log::tmpl::internal {

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
    AppendRune(f(r), out);
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

int64_t FloatToInt64(double f) {
  if (std::isnan(f)) return INT64_MIN;
  if (f >= 9.2233720368547758e18 || f < -9.2233720368547758e18) return INT64_MIN;
  return static_cast<int64_t>(f);
}

// spf13/cast trims a zero fraction ("3.00" -> "3") before parsing integers.
std::string_view TrimZeroDecimal(std::string_view s) {
  bool found_zero = false;
  for (size_t i = s.size(); i > 0; --i) {
    char c = s[i - 1];
    if (c == '.') {
      if (found_zero) return s.substr(0, i - 1);
      return s;
    }
    if (c != '0') return s;
    found_zero = true;
  }
  return s;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---- JSON ----

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  bool Parse(Value* out) {
    SkipWs();
    if (!ParseValue(out, 0)) return false;
    SkipWs();
    return i_ == s_.size();
  }

 private:
  void SkipWs() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }

  bool Literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) return false;
    i_ += lit.size();
    return true;
  }

  bool ParseValue(Value* out, int depth) {
    if (depth > 1000 || i_ >= s_.size()) return false;
    char c = s_[i_];
    switch (c) {
      case '{': {
        ++i_;
        std::map<std::string, Value> m;
        SkipWs();
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
        } else {
          while (true) {
            SkipWs();
            std::string key;
            if (!ParseString(&key)) return false;
            SkipWs();
            if (i_ >= s_.size() || s_[i_] != ':') return false;
            ++i_;
            SkipWs();
            Value v;
            if (!ParseValue(&v, depth + 1)) return false;
            m[std::move(key)] = std::move(v);
            SkipWs();
            if (i_ < s_.size() && s_[i_] == ',') {
              ++i_;
              continue;
            }
            if (i_ < s_.size() && s_[i_] == '}') {
              ++i_;
              break;
            }
            return false;
          }
        }
        auto map = std::make_shared<Map>();
        map->reserve(m.size());
        for (auto& kv : m) map->emplace_back(kv.first, std::move(kv.second));
        *out = Value::FromMap(std::move(map));
        return true;
      }
      case '[': {
        ++i_;
        auto list = std::make_shared<List>();
        SkipWs();
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
        } else {
          while (true) {
            SkipWs();
            Value v;
            if (!ParseValue(&v, depth + 1)) return false;
            list->push_back(std::move(v));
            SkipWs();
            if (i_ < s_.size() && s_[i_] == ',') {
              ++i_;
              continue;
            }
            if (i_ < s_.size() && s_[i_] == ']') {
              ++i_;
              break;
            }
            return false;
          }
        }
        *out = Value::FromList(std::move(list));
        return true;
      }
      case '"': {
        std::string str;
        if (!ParseString(&str)) return false;
        *out = Value::Owned(std::move(str));
        return true;
      }
      case 't':
        *out = Value::Bool(true);
        return Literal("true");
      case 'f':
        *out = Value::Bool(false);
        return Literal("false");
      case 'n':
        *out = Value();
        return Literal("null");
      default:
        return ParseNumber(out);
    }
  }

  bool ParseNumber(Value* out) {
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size()) return false;
    if (s_[i_] == '0') {
      ++i_;
    } else if (s_[i_] >= '1' && s_[i_] <= '9') {
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    } else {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (i_ == d) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (i_ == d) return false;
    }
    auto f = GoParseFloat(s_.substr(start, i_ - start));
    if (!f) return false;  // out of float64 range: Unmarshal fails
    *out = Value::Float(*f);
    return true;
  }

  bool Hex4(uint32_t* v) {
    if (i_ + 4 > s_.size()) return false;
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      int d = HexDigit(s_[i_ + static_cast<size_t>(k)]);
      if (d < 0) return false;
      *v = (*v << 4) | static_cast<uint32_t>(d);
    }
    i_ += 4;
    return true;
  }

  bool ParseString(std::string* out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    while (true) {
      if (i_ >= s_.size()) return false;
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_++];
        switch (e) {
          case '"':
            out->push_back('"');
            break;
          case '\\':
            out->push_back('\\');
            break;
          case '/':
            out->push_back('/');
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            uint32_t v;
            if (!Hex4(&v)) return false;
            if (v >= 0xD800 && v < 0xDC00) {
              uint32_t lo;
              size_t save = i_;
              if (i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                i_ += 2;
                if (Hex4(&lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                  AppendRune(0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00), out);
                  break;
                }
              }
              i_ = save;
              AppendRune(kRuneError, out);
              break;
            }
            AppendRune(v, out);
            break;
          }
          default:
            return false;
        }
        continue;
      }
      if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        ++i_;
        continue;
      }
      size_t w;
      char32_t r = DecodeRune(s_, i_, &w);
      AppendRune(r, out);  // invalid UTF-8 becomes U+FFFD, as Go's decoder does
      i_ += w;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

// ---- decimal ----

struct Dec {
  __int128 c = 0;
  int e = 0;
};

Dec DecFromDouble(double f) {
  Dec d;
  if (f == 0) return d;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  size_t epos = s.find('e');
  bool neg = s[0] == '-';
  int nd = 0;
  for (size_t k = neg ? 1 : 0; k < epos; ++k) {
    if (s[k] == '.') continue;
    d.c = d.c * 10 + (s[k] - '0');
    ++nd;
  }
  int exp = 0;
  std::from_chars(s.data() + epos + (s[epos + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  d.e = exp - (nd - 1);
  if (neg) d.c = -d.c;
  return d;
}

bool Pow10(int n, __int128* out) {
  __int128 p = 1;
  for (int k = 0; k < n; ++k) {
    if (__builtin_mul_overflow(p, 10, &p)) return false;
  }
  *out = p;
  return true;
}

double DecToDouble(const Dec& d) {
  if (d.c == 0) return 0;
  __int128 c = d.c;
  bool neg = c < 0;
  if (neg) c = -c;
  char digits[64];
  int n = 0;
  while (c > 0) {
    digits[n++] = static_cast<char>('0' + static_cast<int>(c % 10));
    c /= 10;
  }
  std::string s = neg ? "-" : "";
  while (n > 0) s.push_back(digits[--n]);
  s += "e" + std::to_string(d.e);
  return std::strtod(s.c_str(), nullptr);
}

}  // namespace

void GoToLower(std::string_view s, std::string* out) { MapRunes(s, LowerRune, out); }
void GoToUpper(std::string_view s, std::string* out) { MapRunes(s, UpperRune, out); }

void GoTitle(std::string_view s, std::string* out) {
  auto is_separator = [](char32_t r) {
    if (r < 0x80) {
      return !((r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
               r == '_');
    }
    return IsSpaceRune(r);
  };
  char32_t prev = ' ';
  for (size_t i = 0, w = 0; i < s.size(); i += w) {
    char32_t r = DecodeRune(s, i, &w);
    char32_t m = is_separator(prev) ? UpperRune(r) : r;
    if (m == r && !(r == kRuneError && w == 1)) {
      out->append(s.substr(i, w));
    } else {
      AppendRune(m, out);
    }
    prev = r;
  }
}

std::string_view GoTrim(std::string_view s, std::string_view cutset, bool left, bool right) {
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

std::string_view GoTrimSpace(std::string_view s) {
  while (!s.empty()) {
    size_t w;
    char32_t r = DecodeRune(s, 0, &w);
    if (!IsSpaceRune(r)) break;
    s.remove_prefix(w);
  }
  while (!s.empty()) {
    size_t w;
    char32_t r = LastRune(s, s.size(), &w);
    if (!IsSpaceRune(r)) break;
    s.remove_suffix(w);
  }
  return s;
}

void GoReplace(std::string_view s, std::string_view old_s, std::string_view new_s, int64_t n,
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

int64_t CastToInt64(const Value& v) {
  switch (v.kind()) {
    case Kind::kBool:
      return v.b() ? 1 : 0;
    case Kind::kInt:
    case Kind::kInt64:
      return v.i();
    case Kind::kFloat:
      return FloatToInt64(v.f());
    case Kind::kString:
      return GoParseInt(TrimZeroDecimal(v.str())).value_or(0);
    default:
      return 0;
  }
}

double CastToFloat64(const Value& v) {
  switch (v.kind()) {
    case Kind::kBool:
      return v.b() ? 1 : 0;
    case Kind::kInt:
    case Kind::kInt64:
      return static_cast<double>(v.i());
    case Kind::kFloat:
      return v.f();
    case Kind::kString:
      return GoParseFloat(v.str()).value_or(0);
    default:
      return 0;
  }
}

bool IsEmpty(const Value& v) {
  switch (v.kind()) {
    case Kind::kNil:
      return true;
    case Kind::kBool:
      return !v.b();
    case Kind::kInt:
    case Kind::kInt64:
      return v.i() == 0;
    case Kind::kFloat:
      return v.f() == 0;
    case Kind::kString:
      return v.str().empty();
    case Kind::kList:
      return v.list().empty();
    case Kind::kMap:
      return v.map().empty();
    case Kind::kTime:
    case Kind::kLabels:
      return false;
  }
  return false;
}

void QueryEscape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out->push_back(ch);
    } else if (c == ' ') {
      out->push_back('+');
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    }
  }
}

bool QueryUnescape(std::string_view s, std::string* out, std::string* error) {
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || HexDigit(s[i + 1]) < 0 || HexDigit(s[i + 2]) < 0) {
        std::string_view bad = s.substr(i, 3);
        std::string q;
        AppendQuoted(bad, false, &q);
        *error = "invalid URL escape " + q;
        return false;
      }
      out->push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 3;
    } else if (c == '+') {
      out->push_back(' ');
      ++i;
    } else {
      out->push_back(c);
      ++i;
    }
  }
  return true;
}

void Base64Encode(std::string_view s, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8) |
                 static_cast<unsigned char>(s[i + 2]);
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  size_t rem = s.size() - i;
  if (rem > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16;
    if (rem == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8;
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(rem == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
}

bool Base64Decode(std::string_view s, std::string* out, std::string* error) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  auto fail = [&](size_t at) {
    *error = "illegal base64 data at input byte " + std::to_string(at);
    return false;
  };
  uint32_t acc = 0;
  int n = 0;
  size_t pads = 0;
  size_t i = 0;
  size_t quantum_start = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r' || c == '\n') continue;
    if (c == '=') {
      // Padding: only after 2 or 3 symbols of a quantum, then nothing but newlines.
      if (n < 2) return fail(i);
      pads = 4 - static_cast<size_t>(n);
      size_t seen = 0;
      size_t j = i;
      for (; j < s.size() && seen < pads; ++j) {
        if (s[j] == '\r' || s[j] == '\n') continue;
        if (s[j] != '=') return fail(j);
        ++seen;
      }
      if (seen < pads) return fail(s.size());
      for (; j < s.size(); ++j) {
        if (s[j] != '\r' && s[j] != '\n') return fail(j);
      }
      break;
    }
    int v = val(c);
    if (v < 0) return fail(i);
    if (n == 0) quantum_start = i;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if (++n == 4) {
      out->push_back(static_cast<char>(acc >> 16));
      out->push_back(static_cast<char>((acc >> 8) & 0xFF));
      out->push_back(static_cast<char>(acc & 0xFF));
      acc = 0;
      n = 0;
    }
  }
  if (n == 0) return true;
  if (pads == 0) return fail(quantum_start + static_cast<size_t>(n) > s.size() ? s.size() : i);
  if (n == 2) {
    out->push_back(static_cast<char>(acc >> 4));
  } else if (n == 3) {
    out->push_back(static_cast<char>(acc >> 10));
    out->push_back(static_cast<char>((acc >> 2) & 0xFF));
  }
  return true;
}

void HtmlEscape(std::string_view s, std::string* out) {
  for (char c : s) {
    switch (c) {
      case '\0':
        out->append("\xEF\xBF\xBD");
        break;
      case '"':
        out->append("&#34;");
        break;
      case '\'':
        out->append("&#39;");
        break;
      case '&':
        out->append("&amp;");
        break;
      case '<':
        out->append("&lt;");
        break;
      case '>':
        out->append("&gt;");
        break;
      default:
        out->push_back(c);
    }
  }
}

void JsEscape(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\':
          out->append("\\\\");
          break;
        case '\'':
          out->append("\\'");
          break;
        case '"':
          out->append("\\\"");
          break;
        case '<':
          out->append("\\u003C");
          break;
        case '>':
          out->append("\\u003E");
          break;
        case '&':
          out->append("\\u0026");
          break;
        case '=':
          out->append("\\u003D");
          break;
        default:
          if (c < ' ') {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xF]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t w;
    char32_t r = DecodeRune(s, i, &w);
    std::string probe;
    AppendQuoted(s.substr(i, w), false, &probe);
    bool printable = probe.size() == w + 2;  // Quote kept it verbatim
    if (printable) {
      out->append(s.substr(i, w));
    } else {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "\\u%04X", static_cast<unsigned>(r));
      out->append(buf);
    }
    i += w;
  }
}

Value ParseJson(std::string_view s) {
  JsonParser p(s);
  Value v;
  if (!p.Parse(&v)) return Value();
  return v;
}

bool ParseHumanBytes(std::string_view s, double* out, std::string* error) {
  size_t last_digit = 0;
  bool has_comma = false;
  while (last_digit < s.size()) {
    char c = s[last_digit];
    if (!((c >= '0' && c <= '9') || c == '.' || c == ',')) break;
    if (c == ',') has_comma = true;
    ++last_digit;
  }
  std::string num(s.substr(0, last_digit));
  if (has_comma) num.erase(std::remove(num.begin(), num.end(), ','), num.end());
  auto f = GoParseFloat(num);
  if (!f) {
    std::string q;
    AppendQuoted(num, false, &q);
    *error = "strconv.ParseFloat: parsing " + q + ": invalid syntax";
    return false;
  }
  std::string extra;
  GoToLower(GoTrimSpace(s.substr(last_digit)), &extra);
  static const std::map<std::string, double, std::less<>> kUnits = {
      {"", 1},
      {"b", 1},
      {"kib", 1024.0},
      {"kb", 1e3},
      {"mib", 1048576.0},
      {"mb", 1e6},
      {"gib", 1073741824.0},
      {"gb", 1e9},
      {"tib", 1099511627776.0},
      {"tb", 1e12},
      {"pib", 1125899906842624.0},
      {"pb", 1e15},
      {"eib", 1152921504606846976.0},
      {"eb", 1e18},
      {"ki", 1024.0},
      {"k", 1e3},
      {"mi", 1048576.0},
      {"m", 1e6},
      {"gi", 1073741824.0},
      {"g", 1e9},
      {"ti", 1099511627776.0},
      {"t", 1e12},
      {"pi", 1125899906842624.0},
      {"p", 1e15},
      {"ei", 1152921504606846976.0},
      {"e", 1e18},
  };
  auto it = kUnits.find(extra);
  if (it == kUnits.end()) {
    *error = "unhandled size name: " + extra;
    return false;
  }
  double v = *f * it->second;
  if (v >= 18446744073709551615.0) {
    *error = "too large: " + std::string(s);
    return false;
  }
  *out = static_cast<double>(static_cast<uint64_t>(v));
  return true;
}

namespace {

bool ExtractGroupRef(std::string_view t, std::string_view* name, int* num, size_t* consumed) {
  if (t.empty()) return false;
  bool brace = false;
  size_t i = 0;
  if (t[0] == '{') {
    brace = true;
    i = 1;
  }
  size_t start = i;
  while (i < t.size()) {
    size_t w;
    char32_t r = DecodeRune(t, i, &w);
    bool ok = r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') ||
              (r >= 'A' && r <= 'Z') || (r >= 0x80 && r != kRuneError && !IsSpaceRune(r));
    if (!ok) break;
    i += w;
  }
  if (i == start) return false;
  *name = t.substr(start, i - start);
  if (brace) {
    if (i >= t.size() || t[i] != '}') return false;
    ++i;
  }
  *num = 0;
  for (char c : *name) {
    if (c < '0' || c > '9' || *num >= 100000000) {
      *num = -1;
      break;
    }
    *num = *num * 10 + (c - '0');
  }
  if ((*name)[0] == '0' && name->size() > 1) *num = -1;
  *consumed = i;
  return true;
}

void Expand(const re2::RE2& re, std::string_view repl, const re2::StringPiece* groups, int ngroups,
            std::string* out) {
  while (!repl.empty()) {
    size_t d = repl.find('$');
    if (d == std::string_view::npos) break;
    out->append(repl.substr(0, d));
    repl.remove_prefix(d + 1);
    if (!repl.empty() && repl[0] == '$') {
      out->push_back('$');
      repl.remove_prefix(1);
      continue;
    }
    std::string_view name;
    int num;
    size_t consumed;
    if (!ExtractGroupRef(repl, &name, &num, &consumed)) {
      out->push_back('$');
      continue;
    }
    repl.remove_prefix(consumed);
    if (num >= 0) {
      if (num < ngroups && groups[num].data() != nullptr) {
        out->append(groups[num].data(), groups[num].size());
      }
    } else {
      const auto& names = re.NamedCapturingGroups();
      auto it = names.find(std::string(name));
      if (it != names.end() && it->second < ngroups && groups[it->second].data() != nullptr) {
        out->append(groups[it->second].data(), groups[it->second].size());
      }
    }
  }
  out->append(repl);
}

}  // namespace

bool RegexReplaceAll(const re2::RE2& re, std::string_view src, std::string_view repl, bool expand,
                     size_t max_out, std::string* out) {
  int ngroups = expand ? re.NumberOfCapturingGroups() + 1 : 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(ngroups));
  size_t last_match_end = 0;
  size_t search = 0;
  bool any = false;
  while (search <= src.size()) {
    if (!re.Match(src, search, src.size(), re2::RE2::UNANCHORED, groups.data(), ngroups)) break;
    size_t a = static_cast<size_t>(groups[0].data() - src.data());
    size_t b = a + groups[0].size();
    out->append(src.substr(last_match_end, a - last_match_end));
    // No replacement for an empty match right after the previous match.
    if (b > last_match_end || a == 0 || !any) {
      if (expand) {
        Expand(re, repl, groups.data(), ngroups, out);
      } else {
        out->append(repl);
      }
    }
    if (out->size() > max_out) return false;
    any = true;
    last_match_end = b;
    size_t width = 1;
    if (search < src.size()) DecodeRune(src, search, &width);
    if (search + width > b) {
      search += width;
    } else if (search + 1 > b) {
      ++search;
    } else {
      search = b;
    }
  }
  out->append(src.substr(last_match_end));
  return out->size() <= max_out;
}

int64_t RegexCount(const re2::RE2& re, std::string_view src) {
  re2::StringPiece m;
  int64_t n = 0;
  size_t pos = 0;
  size_t prev_end = SIZE_MAX;
  while (pos <= src.size()) {
    if (!re.Match(src, pos, src.size(), re2::RE2::UNANCHORED, &m, 1)) break;
    size_t a = static_cast<size_t>(m.data() - src.data());
    size_t b = a + m.size();
    bool accept = true;
    if (b == pos) {
      if (a == prev_end) accept = false;  // empty match right after the previous one
      size_t w = 1;
      if (pos < src.size()) DecodeRune(src, pos, &w);
      pos += w;
    } else {
      pos = b;
    }
    prev_end = b;
    if (accept) ++n;
  }
  return n;
}

bool DecimalOp(double a, double b, DecOp op, double* out) {
  Dec x = DecFromDouble(a), y = DecFromDouble(b);
  if (op == DecOp::kDiv && y.c == 0) return false;
  Dec r;
  bool ok = true;
  switch (op) {
    case DecOp::kAdd:
    case DecOp::kSub: {
      if (op == DecOp::kSub) y.c = -y.c;
      if (x.c == 0) {
        r = y;
        break;
      }
      if (y.c == 0) {
        r = x;
        break;
      }
      Dec& hi = x.e > y.e ? x : y;
      Dec& lo = x.e > y.e ? y : x;
      __int128 p;
      ok = Pow10(hi.e - lo.e, &p) && !__builtin_mul_overflow(hi.c, p, &hi.c);
      ok = ok && !__builtin_add_overflow(hi.c, lo.c, &r.c);
      r.e = lo.e;
      break;
    }
    case DecOp::kMul:
      ok = !__builtin_mul_overflow(x.c, y.c, &r.c);
      r.e = x.e + y.e;
      break;
    case DecOp::kDiv: {
      // shopspring's Div rounds the quotient to 16 decimal places, half away from zero.
      constexpr int kPrecision = 16;
      int k = x.e - y.e + kPrecision;
      __int128 num = x.c, den = y.c, p;
      if (k >= 0) {
        ok = Pow10(k, &p) && !__builtin_mul_overflow(num, p, &num);
      } else {
        ok = Pow10(-k, &p) && !__builtin_mul_overflow(den, p, &den);
      }
      if (ok) {
        __int128 q = num / den, rem = num % den;
        __int128 arem = rem < 0 ? -rem : rem, aden = den < 0 ? -den : den;
        if (2 * arem >= aden) q += ((num < 0) != (den < 0)) ? -1 : 1;
        r.c = q;
        r.e = -kPrecision;
      }
      break;
    }
  }
  if (!ok) {
    // Beyond 38 digits: plain float64 arithmetic.
    switch (op) {
      case DecOp::kAdd:
        *out = a + b;
        break;
      case DecOp::kSub:
        *out = a - b;
        break;
      case DecOp::kMul:
        *out = a * b;
        break;
      case DecOp::kDiv:
        *out = a / b;
        break;
    }
    return true;
  }
  *out = DecToDouble(r);
  return true;
}

}  // namespace sluice::logql::log::tmpl::internal
