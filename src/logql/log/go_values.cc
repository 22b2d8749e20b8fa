#include "logql/log/go_values.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "model/labels.h"

namespace sluice::logql::log {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f'); }

size_t CommonPrefixIgnoreCase(std::string_view s, std::string_view prefix) {
  size_t n = 0;
  while (n < s.size() && n < prefix.size() && Lower(s[n]) == prefix[n]) ++n;
  return n;
}

// strconv's underscoreOK: `_` only between digits (or after a base prefix).
bool UnderscoreOk(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' && (Lower(s[1]) == 'b' || Lower(s[1]) == 'o' || Lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = Lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    if (IsDigit(s[i]) || (hex && IsHex(s[i]))) {
      saw = '0';
      continue;
    }
    if (s[i] == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// Go's readFloat grammar, without computing the value. Sets *underscores when `_` appears.
bool ValidGoFloatSyntax(std::string_view s, bool* underscores) {
  size_t i = 0;
  *underscores = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  bool hex = false;
  if (i + 2 < s.size() && s[i] == '0' && Lower(s[i + 1]) == 'x') {
    hex = true;
    i += 2;
  }
  bool saw_dot = false, saw_digits = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      *underscores = true;
    } else if (c == '.') {
      if (saw_dot) break;
      saw_dot = true;
    } else if (IsDigit(c) || (hex && IsHex(c))) {
      saw_digits = true;
    } else {
      break;
    }
  }
  if (!saw_digits) return false;
  const char exp_char = hex ? 'p' : 'e';
  if (i < s.size() && Lower(s[i]) == exp_char) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    for (; i < s.size() && (IsDigit(s[i]) || s[i] == '_'); ++i) {
      if (s[i] == '_') *underscores = true;
    }
  } else if (hex) {
    return false;  // a hex mantissa requires a 'p' exponent
  }
  return i == s.size();
}

std::string FloatError(std::string_view s, std::string_view what) {
  return "strconv.ParseFloat: parsing " + model::QuoteString(s) + ": " + std::string(what);
}

// time's quote(): ASCII as is (with `"` and `\` escaped), every other byte as \xNN.
std::string TimeQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || c < ' ') {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

// [-]digits[.digits] or [-].digits: at least one digit, at most one point.
bool IsPlainDecimal(std::string_view s) {
  size_t i = s[0] == '-' ? 1 : 0;
  bool digit = false, point = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c == '.' && !point) {
      point = true;
    } else {
      return false;
    }
  }
  return digit;
}

}  // namespace

bool ParseGoFloat(std::string_view s, double* out, std::string* err) {
  // Most values are plain decimals (`-12.5`): from_chars rounds them correctly, as strtod and
  // Go do, and without an exponent nothing under 64 bytes can overflow or underflow.
  if (!s.empty() && s.size() < 64 && IsPlainDecimal(s)) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    if (ec == std::errc() && end == s.data() + s.size()) return true;
  }
  // Specials: [+-]inf, [+-]infinity, nan (any case).
  {
    std::string_view rest = s;
    double sign = 1;
    bool signed_ = false;
    if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
      sign = rest[0] == '-' ? -1 : 1;
      signed_ = true;
      rest.remove_prefix(1);
    }
    if (!rest.empty() && Lower(rest[0]) == 'i') {
      size_t n = CommonPrefixIgnoreCase(rest, "infinity");
      if ((n == 3 || n == 8) && n == rest.size()) {
        *out = sign * std::numeric_limits<double>::infinity();
        return true;
      }
    } else if (!signed_ && rest.size() == 3 && CommonPrefixIgnoreCase(rest, "nan") == 3) {
      *out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
  }
  bool underscores = false;
  if (!ValidGoFloatSyntax(s, &underscores) || (underscores && !UnderscoreOk(s))) {
    *err = FloatError(s, "invalid syntax");
    return false;
  }
  char stack[64];
  std::string heap;
  const char* cstr;
  if (s.size() < sizeof(stack)) {
    size_t n = 0;
    for (char c : s) {
      if (c != '_') stack[n++] = c;
    }
    stack[n] = '\0';
    cstr = stack;
  } else {
    for (char c : s) {
      if (c != '_') heap.push_back(c);
    }
    cstr = heap.c_str();
  }
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(cstr, &end);
  if (errno == ERANGE && std::isinf(v)) {
    *err = FloatError(s, "value out of range");
    return false;
  }
  *out = v;
  return true;
}

bool ParseGoDuration(std::string_view s, int64_t* nanos, std::string* err) {
  const std::string_view orig = s;
  auto invalid = [&] {
    *err = "time: invalid duration " + TimeQuote(orig);
    return false;
  };
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    *nanos = 0;
    return true;
  }
  if (s.empty()) return invalid();
  constexpr uint64_t kMax = uint64_t{1} << 63;
  uint64_t d = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0]))) return invalid();
    // [0-9]*
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (v > kMax / 10) return invalid();
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMax) return invalid();
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    // (\.[0-9]*)?
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && IsDigit(s[j]); ++j) {
        if (overflow) continue;
        if (f > (kMax - 1) / 10) {
          overflow = true;  // further digits cannot change the result
          continue;
        }
        uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
        if (y > kMax) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid();
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !IsDigit(s[u])) ++u;
    if (u == 0) {
      *err = "time: missing unit in duration " + TimeQuote(orig);
      return false;
    }
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit = 0;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xC2\xB5s" || unit_name == "\xCE\xBCs") {
      unit = 1000;
    } else if (unit_name == "ms") {
      unit = 1000000;
    } else if (unit_name == "s") {
      unit = 1000000000;
    } else if (unit_name == "m") {
      unit = 60ULL * 1000000000;
    } else if (unit_name == "h") {
      unit = 3600ULL * 1000000000;
    } else {
      *err = "time: unknown unit " + TimeQuote(unit_name) + " in duration " + TimeQuote(orig);
      return false;
    }
    if (v > kMax / unit) return invalid();
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMax) return invalid();
    }
    d += v;
    if (d > kMax) return invalid();
  }
  if (neg) {
    *nanos = d == kMax ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(d);
    return true;
  }
  if (d > kMax - 1) return invalid();
  *nanos = static_cast<int64_t>(d);
  return true;
}

bool ParseHumanizeBytes(std::string_view s, uint64_t* out, std::string* err) {
  size_t last_digit = 0;
  bool comma = false;
  for (char c : s) {
    if (!(IsDigit(c) || c == '.' || c == ',')) break;
    if (c == ',') comma = true;
    ++last_digit;
  }
  std::string num(s.substr(0, last_digit));
  if (comma) std::erase(num, ',');
  double f = 0;
  if (!ParseGoFloat(num, &f, err)) return false;
  std::string_view extra = s.substr(last_digit);
  while (!extra.empty() && (extra.front() == ' ' || extra.front() == '\t' ||
                            extra.front() == '\n' || extra.front() == '\r')) {
    extra.remove_prefix(1);
  }
  while (!extra.empty() && (extra.back() == ' ' || extra.back() == '\t' ||
                            extra.back() == '\n' || extra.back() == '\r')) {
    extra.remove_suffix(1);
  }
  std::string unit(extra);
  for (char& c : unit) c = Lower(c);
  struct Unit {
    std::string_view name;
    double mult;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"b", 1},
      {"k", 1e3},
      {"kb", 1e3},
      {"ki", 1024.0},
      {"kib", 1024.0},
      {"m", 1e6},
      {"mb", 1e6},
      {"mi", 1048576.0},
      {"mib", 1048576.0},
      {"g", 1e9},
      {"gb", 1e9},
      {"gi", 1073741824.0},
      {"gib", 1073741824.0},
      {"t", 1e12},
      {"tb", 1e12},
      {"ti", 1099511627776.0},
      {"tib", 1099511627776.0},
      {"p", 1e15},
      {"pb", 1e15},
      {"pi", 1125899906842624.0},
      {"pib", 1125899906842624.0},
      {"e", 1e18},
      {"eb", 1e18},
      {"ei", 1152921504606846976.0},
      {"eib", 1152921504606846976.0},
  };
  for (const Unit& u : kUnits) {
    if (u.name != unit) continue;
    f *= u.mult;
    if (f >= 18446744073709551615.0) {
      *err = "too large: " + std::string(s);
      return false;
    }
    *out = static_cast<uint64_t>(f);
    return true;
  }
  *err = "unhandled size name: " + unit;
  return false;
}

}  // namespace sluice::logql::log
