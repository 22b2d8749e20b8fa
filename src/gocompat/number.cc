#include "gocompat/number.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "gocompat/quote.h"
#include "gocompat/strings.h"

namespace sluice::gocompat {

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
  if (s.size() >= 2 && s[0] == '0' &&
      (Lower(s[1]) == 'b' || Lower(s[1]) == 'o' || Lower(s[1]) == 'x')) {
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

std::string NumErrorText(std::string_view func, std::string_view num, NumError err) {
  std::string out = "strconv.";
  out += func;
  out += ": parsing ";
  AppendQuoted(num, false, &out);
  out += err == NumError::kRange ? ": value out of range" : ": invalid syntax";
  return out;
}

Status NumErrorStatus(std::string_view func, std::string_view num, NumError err) {
  return Status::InvalidArgument(NumErrorText(func, num, err));
}

NumError ParseUint(std::string_view s, int base, uint64_t* out) {
  *out = 0;
  if (s.empty()) return NumError::kSyntax;
  const std::string_view s0 = s;
  const bool base0 = base == 0;
  if (base0) {
    base = 10;
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
  } else if (base < 2 || base > 36) {
    return NumError::kSyntax;
  }
  const auto b = static_cast<uint64_t>(base);
  const uint64_t cutoff = std::numeric_limits<uint64_t>::max() / b + 1;
  bool underscores = false;
  uint64_t n = 0;
  for (char c : s) {
    uint64_t d;
    if (c == '_' && base0) {
      underscores = true;
      continue;
    } else if (IsDigit(c)) {
      d = static_cast<uint64_t>(c - '0');
    } else if (Lower(c) >= 'a' && Lower(c) <= 'z') {
      d = static_cast<uint64_t>(Lower(c) - 'a' + 10);
    } else {
      return NumError::kSyntax;
    }
    if (d >= b) return NumError::kSyntax;
    if (n >= cutoff) {
      *out = std::numeric_limits<uint64_t>::max();
      return NumError::kRange;
    }
    n *= b;
    const uint64_t n1 = n + d;
    if (n1 < n) {
      *out = std::numeric_limits<uint64_t>::max();
      return NumError::kRange;
    }
    n = n1;
  }
  if (underscores && !UnderscoreOk(s0)) return NumError::kSyntax;
  *out = n;
  return NumError::kNone;
}

NumError ParseInt(std::string_view s, int base, int64_t* out) {
  *out = 0;
  if (s.empty()) return NumError::kSyntax;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  uint64_t u;
  NumError e = ParseUint(s, base, &u);
  if (e == NumError::kSyntax) return e;
  constexpr uint64_t kCutoff = uint64_t{1} << 63;
  if (!neg && u >= kCutoff) {
    *out = std::numeric_limits<int64_t>::max();
    return NumError::kRange;
  }
  if (neg && u > kCutoff) {
    *out = std::numeric_limits<int64_t>::min();
    return NumError::kRange;
  }
  *out = neg ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
  return NumError::kNone;
}

NumError ParseFloat(std::string_view s, double* out) {
  // Most values are plain decimals (`-12.5`): from_chars rounds them correctly, as strtod and
  // Go do, and without an exponent nothing under 64 bytes can overflow or underflow.
  if (!s.empty() && s.size() < 64 && IsPlainDecimal(s)) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    if (ec == std::errc() && end == s.data() + s.size()) return NumError::kNone;
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
        return NumError::kNone;
      }
    } else if (!signed_ && rest.size() == 3 && CommonPrefixIgnoreCase(rest, "nan") == 3) {
      *out = std::numeric_limits<double>::quiet_NaN();
      return NumError::kNone;
    }
  }
  bool underscores = false;
  if (!ValidGoFloatSyntax(s, &underscores) || (underscores && !UnderscoreOk(s))) {
    return NumError::kSyntax;
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
  *out = v;  // on overflow ±Inf, as Go returns with its range error
  if (errno == ERANGE && std::isinf(v)) return NumError::kRange;
  return NumError::kNone;
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
  if (NumError e = ParseFloat(num, &f); e != NumError::kNone) {
    *err = NumErrorText("ParseFloat", num, e);
    return false;
  }
  std::string unit;
  ToLower(TrimSpace(s.substr(last_digit)), &unit);
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

bool ParseBool(std::string_view s, bool* out) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") {
    *out = true;
    return true;
  }
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    *out = false;
    return true;
  }
  return false;
}

std::string FormatHumanizeBytes(uint64_t bytes) {
  if (bytes < 10) return fmt::format("{} B", bytes);
  static constexpr std::string_view kSizes[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  const double s = static_cast<double>(bytes);
  // Go computes the exponent as log(s)/log(1000), floored: the same float steps here.
  const double e = std::floor(std::log(s) / std::log(1000.0));
  const double val = std::floor(s / std::pow(1000.0, e) * 10 + 0.5) / 10;
  const std::string_view unit = kSizes[static_cast<size_t>(e)];
  return val < 10 ? fmt::format("{:.1f} {}", val, unit) : fmt::format("{:.0f} {}", val, unit);
}

}  // namespace sluice::gocompat
