#include "common/duration.h"

#include <fmt/format.h>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/civil.h"
#include "common/clock.h"

namespace sluice {

namespace {

struct Unit {
  std::string_view name;
  int64_t nanos;
};
// Longest names first so "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {
    {"ms", 1'000'000},
    {"us", 1'000},
    {"\xc2\xb5s", 1'000},
    {"ns", 1},
    {"y", 365 * 24 * 3600 * kNanosPerSecond},
    {"w", 7 * 24 * 3600 * kNanosPerSecond},
    {"d", 24 * 3600 * kNanosPerSecond},
    {"h", 3600 * kNanosPerSecond},
    {"m", 60 * kNanosPerSecond},
    {"s", kNanosPerSecond},
};

bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!ParseDigits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' ||
      !ParseDigits(s, 5, 2, &month) || s[7] != '-' || !ParseDigits(s, 8, 2, &day) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !ParseDigits(s, 11, 2, &hour) ||
      s[13] != ':' || !ParseDigits(s, 14, 2, &minute) || s[16] != ':' ||
      !ParseDigits(s, 17, 2, &second) || month < 1 || month > 12 || day < 1 || day > 31 ||
      hour > 23 || minute > 59 || second > 60) {
    return Status::InvalidArgument("not an RFC3339 timestamp");
  }
  size_t pos = 19;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 9) {
        frac = frac * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return Status::InvalidArgument("not an RFC3339 timestamp");
    while (digits++ < 9) frac *= 10;
  }
  int64_t offset_sec = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!ParseDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, &om)) {
      return Status::InvalidArgument("not an RFC3339 timestamp");
    }
    offset_sec = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return Status::InvalidArgument("not an RFC3339 timestamp");
  }
  if (pos != s.size()) return Status::InvalidArgument("not an RFC3339 timestamp");
  int64_t days = DaysFromCivil(year, month, day);
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_sec;
  return secs * kNanosPerSecond + frac;
}

// Whole-string decimal int64; false on overflow or stray characters (never throws).
bool ParseInt64(std::string_view s, int64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  std::string_view s = text;
  if (s == "0") return int64_t{0};
  if (s.empty()) return Status::InvalidArgument("empty duration string");
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  double total = 0;
  bool any = false;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0)
      return Status::InvalidArgument(fmt::format("not a valid duration string: \"{}\"", text));
    double number = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
    s.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (s.substr(0, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) {
      return Status::InvalidArgument(fmt::format("not a valid duration string: \"{}\"", text));
    }
    s.remove_prefix(unit->name.size());
    total += number * static_cast<double>(unit->nanos);
    any = true;
  }
  if (!any || total > 9.2e18) {
    return Status::InvalidArgument(fmt::format("not a valid duration string: \"{}\"", text));
  }
  auto nanos = static_cast<int64_t>(std::llround(total));
  return negative ? -nanos : nanos;
}

std::string FormatDuration(int64_t nanos) {
  if (nanos == 0) return "0s";
  std::string out;
  if (nanos < 0) {
    out = "-";
    nanos = -nanos;
  }
  if (nanos % kNanosPerMilli != 0) return out + fmt::format("{}ns", nanos);
  int64_t ms = nanos / kNanosPerMilli;
  // Prometheus' model.Duration.String(): y, w, d, h, m, s, ms, largest first.
  const std::pair<const char*, int64_t> units[] = {{"y", 365LL * 24 * 3600 * 1000},
                                                   {"w", 7LL * 24 * 3600 * 1000},
                                                   {"d", 24LL * 3600 * 1000},
                                                   {"h", 3600LL * 1000},
                                                   {"m", 60LL * 1000},
                                                   {"s", 1000},
                                                   {"ms", 1}};
  for (const auto& [name, size] : units) {
    // Years and weeks only when exact, as Prometheus does: "30d1h" reads better than "4w2d1h".
    bool exact_only = size >= 7LL * 24 * 3600 * 1000;
    if (exact_only && ms % size != 0) continue;
    if (ms >= size) {
      out += fmt::format("{}{}", ms / size, name);
      ms %= size;
    }
  }
  return out;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  std::string_view s = text;
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return Status::InvalidArgument(fmt::format("invalid byte size: \"{}\"", text));
  double number = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
  std::string unit;
  for (char c : s.substr(i)) {
    if (c != ' ') unit += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  double mult;
  if (unit.empty() || unit == "B") {
    mult = 1;
  } else if (unit == "KB" || unit == "K" || unit == "KIB") {
    mult = 1024;
  } else if (unit == "MB" || unit == "M" || unit == "MIB") {
    mult = 1024.0 * 1024;
  } else if (unit == "GB" || unit == "G" || unit == "GIB") {
    mult = 1024.0 * 1024 * 1024;
  } else if (unit == "TB" || unit == "T" || unit == "TIB") {
    mult = 1024.0 * 1024 * 1024 * 1024;
  } else {
    return Status::InvalidArgument(fmt::format("invalid byte size: \"{}\"", text));
  }
  return static_cast<uint64_t>(number * mult);
}

std::string FormatByteSize(uint64_t bytes) {
  const std::pair<const char*, uint64_t> units[] = {
      {"TB", 1ULL << 40}, {"GB", 1ULL << 30}, {"MB", 1ULL << 20}, {"KB", 1ULL << 10}};
  // As Loki's flagext.ByteSize: the largest unit that divides exactly, else plain bytes, so the
  // text always parses back to the same number.
  for (const auto& [name, size] : units) {
    if (bytes >= size && bytes % size == 0) return fmt::format("{}{}", bytes / size, name);
  }
  return fmt::format("{}B", bytes);
}

Result<int64_t> ParseTimestamp(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty timestamp");
  bool all_digits = true;
  bool has_dot = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      has_dot = true;
    } else if (!std::isdigit(static_cast<unsigned char>(c)) && !(i == 0 && c == '-')) {
      all_digits = false;
    }
  }
  if (all_digits && has_dot) {
    // Unix seconds with a fraction. Split instead of using a double so nanoseconds survive.
    size_t dot = text.find('.');
    std::string_view whole = text.substr(0, dot);
    std::string_view frac = text.substr(dot + 1);
    if (frac.find('.') != std::string_view::npos)
      return Status::InvalidArgument("invalid timestamp");
    int64_t secs = 0;
    if (!whole.empty() && whole != "-" && !ParseInt64(whole, &secs)) {
      return Status::InvalidArgument("timestamp out of range");
    }
    if (secs > INT64_MAX / kNanosPerSecond - 1 || secs < INT64_MIN / kNanosPerSecond + 1) {
      return Status::InvalidArgument("timestamp out of range");
    }
    int64_t nanos = 0;
    int digits = 0;
    for (char c : frac) {
      if (digits++ >= 9) break;
      nanos = nanos * 10 + (c - '0');
    }
    while (digits++ < 9) nanos *= 10;
    return secs * kNanosPerSecond + (text[0] == '-' ? -nanos : nanos);
  }
  if (all_digits) {
    if (text.size() > 19 + (text[0] == '-' ? 1 : 0))
      return Status::InvalidArgument("invalid timestamp");
    int64_t v = 0;
    if (!ParseInt64(text, &v)) return Status::InvalidArgument("timestamp out of range");
    // As Loki: up to 10 digits is seconds, more is nanoseconds.
    if (text.size() <= 10) {
      if (v > INT64_MAX / kNanosPerSecond) return Status::InvalidArgument("timestamp out of range");
      return v * kNanosPerSecond;
    }
    return v;
  }
  return ParseRfc3339(text);
}

std::string FormatRfc3339Nano(int64_t nanos) {
  int64_t secs = nanos / kNanosPerSecond;
  int64_t frac = nanos % kNanosPerSecond;
  if (frac < 0) {
    frac += kNanosPerSecond;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t y;
  int m, d;
  CivilFromDays(days, &y, &m, &d);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, rem / 3600,
                                (rem / 60) % 60, rem % 60);
  if (frac != 0) {
    std::string f = fmt::format("{:09}", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "Z";
}

}  // namespace sluice
