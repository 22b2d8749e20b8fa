#include "logql/engine/convert.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "model/labels.h"

namespace sluice::logql::engine {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f'); }

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != b[i]) return false;
  }
  return true;
}

Status FloatError(std::string_view s, bool range) {
  return Status::InvalidArgument(fmt::format("strconv.ParseFloat: parsing {}: {}",
                                             model::QuoteString(s),
                                             range ? "value out of range" : "invalid syntax"));
}

// Go's float literal syntax (after an optional sign, underscores removed): decimal digits with
// an optional point and exponent, or a hex mantissa with a mandatory p exponent.
bool WellFormedNumber(std::string_view s) {
  size_t i = 0;
  bool hex = s.size() >= 2 && s[0] == '0' && Lower(s[1]) == 'x';
  if (hex) i = 2;
  auto digit = hex ? IsHexDigit : IsDigit;
  bool digits = false, point = false;
  for (; i < s.size(); ++i) {
    if (digit(s[i])) {
      digits = true;
    } else if (s[i] == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (!digits) return false;
  if (i == s.size()) return !hex;
  char e = Lower(s[i]);
  if (e != (hex ? 'p' : 'e')) return false;
  ++i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

// Go accepts `_` only between digits (or right after a base prefix).
bool StripUnderscores(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '_') {
      out->push_back(s[i]);
      continue;
    }
    bool after = i > 0 && (IsHexDigit(s[i - 1]) || Lower(s[i - 1]) == 'x');
    bool before = i + 1 < s.size() && IsHexDigit(s[i + 1]);
    if (!after || !before) return false;
  }
  return true;
}

}  // namespace

Result<double> GoParseFloat(std::string_view s) {
  if (s.empty()) return FloatError(s, false);
  std::string_view body = s;
  bool negative = false;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualFold(body, "inf") || EqualFold(body, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (body.size() == s.size() && EqualFold(body, "nan")) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  std::string clean;
  if (!StripUnderscores(body, &clean) || !WellFormedNumber(clean)) return FloatError(s, false);
  if (negative) clean.insert(clean.begin(), '-');
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return FloatError(s, false);
  if (std::isinf(v)) return FloatError(s, true);
  return v;
}

Result<double> GoParseDurationSeconds(std::string_view orig) {
  auto invalid = [&] {
    return Status::InvalidArgument("time: invalid duration " + model::QuoteString(orig));
  };
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0.0;
  if (s.empty()) return invalid();
  constexpr uint64_t kMax = uint64_t{1} << 63;
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0]))) return invalid();
    // Integer part.
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (v > (kMax - 1) / 10) return invalid();
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMax) return invalid();
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    // Fraction: digits past uint64 precision are ignored, as Go does.
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
          overflow = true;
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
      return Status::InvalidArgument("time: missing unit in duration " + model::QuoteString(orig));
    }
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit = 0;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xc2\xb5s" || unit_name == "\xce\xbcs") {
      unit = 1000;
    } else if (unit_name == "ms") {
      unit = 1'000'000;
    } else if (unit_name == "s") {
      unit = 1'000'000'000;
    } else if (unit_name == "m") {
      unit = 60'000'000'000;
    } else if (unit_name == "h") {
      unit = 3'600'000'000'000;
    } else {
      return Status::InvalidArgument(fmt::format("time: unknown unit {} in duration {}",
                                                 model::QuoteString(unit_name),
                                                 model::QuoteString(orig)));
    }
    if (v > kMax / unit) return invalid();
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMax) return invalid();
    }
    total += v;
    if (total > kMax) return invalid();
  }
  if (!neg && total > kMax - 1) return invalid();
  // time.Duration.Seconds(): whole seconds plus the nanosecond remainder.
  int64_t d = neg ? static_cast<int64_t>(0 - total) : static_cast<int64_t>(total);
  int64_t sec = d / 1'000'000'000, nsec = d % 1'000'000'000;
  return static_cast<double>(sec) + static_cast<double>(nsec) / 1e9;
}

Result<double> HumanizeParseBytes(std::string_view s) {
  size_t last_digit = 0;
  bool comma = false;
  for (char c : s) {
    if (!(IsDigit(c) || c == '.' || c == ',')) break;
    if (c == ',') comma = true;
    ++last_digit;
  }
  std::string num(s.substr(0, last_digit));
  if (comma) {
    std::string stripped;
    for (char c : num) {
      if (c != ',') stripped.push_back(c);
    }
    num = std::move(stripped);
  }
  SLUICE_ASSIGN_OR_RETURN(double f, GoParseFloat(num));
  std::string_view rest = s.substr(last_digit);
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!rest.empty() && space(rest.front())) rest.remove_prefix(1);
  while (!rest.empty() && space(rest.back())) rest.remove_suffix(1);
  std::string extra;
  for (char c : rest) extra.push_back(Lower(c));
  struct Unit {
    const char* name;
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
    if (extra == u.name) {
      f *= u.mult;
      if (f >= 18446744073709551615.0) {
        return Status::InvalidArgument(fmt::format("too large: {}", s));
      }
      return static_cast<double>(static_cast<uint64_t>(f));
    }
  }
  return Status::InvalidArgument(fmt::format("unhandled size name: {}", extra));
}

Result<double> ConvertUnwrapped(syntax::UnwrapConversion conversion, std::string_view value) {
  switch (conversion) {
    case syntax::UnwrapConversion::kNone:
      return GoParseFloat(value);
    case syntax::UnwrapConversion::kBytes:
      return HumanizeParseBytes(value);
    case syntax::UnwrapConversion::kDuration:
    case syntax::UnwrapConversion::kDurationSeconds:
      return GoParseDurationSeconds(value);
  }
  return GoParseFloat(value);
}

}  // namespace sluice::logql::engine
