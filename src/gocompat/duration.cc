#include "gocompat/duration.h"

#include <fmt/format.h>

#include <limits>

namespace sluice::gocompat {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

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

// Digits of v / 10^prec after the point, without trailing zeros ("" when none); *v becomes
// the integer part. As Go's time.fmtFrac.
std::string Fraction(uint64_t* v, int prec) {
  std::string digits;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = *v % 10;
    print = print || digit != 0;
    if (print) digits.insert(digits.begin(), static_cast<char>('0' + digit));
    *v /= 10;
  }
  return print ? "." + digits : "";
}

}  // namespace

bool ParseDuration(std::string_view s, int64_t* nanos, std::string* err) {
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

std::string FormatDuration(int64_t nanos) {
  if (nanos == 0) return "0s";
  std::string sign = nanos < 0 ? "-" : "";
  uint64_t u = nanos < 0 ? static_cast<uint64_t>(0) - static_cast<uint64_t>(nanos)
                         : static_cast<uint64_t>(nanos);
  if (u < 1'000'000'000) {
    if (u < 1'000) return fmt::format("{}{}ns", sign, u);
    bool micros = u < 1'000'000;
    std::string frac = Fraction(&u, micros ? 3 : 6);
    return fmt::format("{}{}{}{}", sign, u, frac, micros ? "\xc2\xb5s" : "ms");
  }
  std::string frac = Fraction(&u, 9);
  std::string out = fmt::format("{}{}s", u % 60, frac);
  u /= 60;
  if (u > 0) {
    out = fmt::format("{}m", u % 60) + out;
    u /= 60;
    if (u > 0) out = fmt::format("{}h", u) + out;
  }
  return sign + out;
}

}  // namespace sluice::gocompat
