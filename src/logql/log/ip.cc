#include "logql/log/ip.h"

#include <fmt/format.h>

#include <cstring>

#include "model/labels.h"

namespace sluice::logql::log {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four decimal fields, each 0..255 without leading zeros. Writes 4 bytes to out.
bool ParseV4(std::string_view s, uint8_t* out) {
  int fields = 0;
  size_t i = 0;
  while (true) {
    if (i >= s.size() || !IsDigit(s[i])) return false;
    size_t start = i;
    int v = 0;
    while (i < s.size() && IsDigit(s[i])) {
      v = v * 10 + (s[i] - '0');
      if (v > 255) return false;
      ++i;
    }
    if (i - start > 1 && s[start] == '0') return false;
    out[fields++] = static_cast<uint8_t>(v);
    if (fields == 4) return i == s.size();
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
  }
}

bool ParseV6(std::string_view s, IpAddr* out) {
  uint8_t ip[16] = {};
  int ellipsis = -1;
  size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    i = 2;
    if (i == s.size()) {
      std::memcpy(out->bytes.data(), ip, 16);
      out->is4 = false;
      return true;
    }
  }
  int n = 0;  // bytes written
  while (n < 16) {
    size_t start = i;
    uint32_t v = 0;
    int digits = 0;
    while (i < s.size() && HexValue(s[i]) >= 0) {
      v = v * 16 + static_cast<uint32_t>(HexValue(s[i]));
      ++i;
      if (++digits > 4) return false;
    }
    if (digits == 0) return false;
    if (i < s.size() && s[i] == '.') {
      // An embedded IPv4 address ends the string.
      if (ellipsis < 0 && n != 12) return false;
      if (n + 4 > 16) return false;
      if (!ParseV4(s.substr(start), ip + n)) return false;
      n += 4;
      i = s.size();
      break;
    }
    ip[n] = static_cast<uint8_t>(v >> 8);
    ip[n + 1] = static_cast<uint8_t>(v);
    n += 2;
    if (i == s.size()) break;
    if (s[i] != ':' || i + 1 == s.size()) return false;
    ++i;
    if (s[i] == ':') {
      if (ellipsis >= 0) return false;
      ellipsis = n;
      ++i;
      if (i == s.size()) break;
    }
  }
  if (i != s.size()) return false;
  if (n < 16) {
    if (ellipsis < 0) return false;
    int shift = 16 - n;
    for (int j = n - 1; j >= ellipsis; --j) ip[j + shift] = ip[j];
    for (int j = ellipsis + shift - 1; j >= ellipsis; --j) ip[j] = 0;
  } else if (ellipsis >= 0) {
    return false;  // "::" must stand for at least one group
  }
  std::memcpy(out->bytes.data(), ip, 16);
  out->is4 = false;
  return true;
}

// Loki's ipv4Hint / ipv6Hint and bytesSpan.
bool IsHexDigit(char c) { return HexValue(c) >= 0; }

bool Ipv4Hint(const char* p) {
  return IsDigit(p[0]) && (p[1] == '.' || p[2] == '.' || p[3] == '.');
}

bool Ipv6Hint(const char* p) {
  bool h1 = p[0] == ':' && p[1] == ':' && IsHexDigit(p[2]);
  bool h2 = IsHexDigit(p[0]) && p[1] == ':';
  bool h3 = IsHexDigit(p[0]) && IsHexDigit(p[1]) && p[2] == ':';
  bool h4 = IsHexDigit(p[0]) && IsHexDigit(p[1]) && IsHexDigit(p[2]) && p[3] == ':';
  bool h5 =
      IsHexDigit(p[0]) && IsHexDigit(p[1]) && IsHexDigit(p[2]) && IsHexDigit(p[3]) && p[4] == ':';
  return h1 || h2 || h3 || h4 || h5;
}

size_t Span(std::string_view s, bool v6) {
  size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    bool ok = IsDigit(c) || c == '.' || (v6 && (IsHexDigit(c) || c == ':'));
    if (!ok) break;
  }
  return i;
}

}  // namespace

int IpAddr::Compare(const IpAddr& o) const {
  if (is4 != o.is4) return is4 ? -1 : 1;
  return std::memcmp(bytes.data(), o.bytes.data(), 16) < 0   ? -1
         : std::memcmp(bytes.data(), o.bytes.data(), 16) > 0 ? 1
                                                             : 0;
}

bool ParseIpAddr(std::string_view s, IpAddr* out) {
  for (char c : s) {
    if (c == '.') {
      *out = IpAddr{};
      out->is4 = true;
      return ParseV4(s, out->bytes.data() + 12);
    }
    if (c == ':') return ParseV6(s, out);
  }
  return false;
}

Result<IpMatcher> IpMatcher::Parse(std::string_view pattern) {
  IpMatcher m;
  if (ParseIpAddr(pattern, &m.from_)) {
    m.kind_ = Kind::kAddr;
    return m;
  }
  size_t slash = pattern.rfind('/');
  if (slash != std::string_view::npos && ParseIpAddr(pattern.substr(0, slash), &m.from_)) {
    std::string_view bits = pattern.substr(slash + 1);
    int v = 0;
    bool ok = !bits.empty() && bits.size() <= 3 && !(bits.size() > 1 && bits[0] == '0');
    for (char c : bits) {
      if (!IsDigit(c)) ok = false;
      v = v * 10 + (c - '0');
    }
    if (ok && v <= (m.from_.is4 ? 32 : 128)) {
      m.kind_ = Kind::kPrefix;
      m.bits_ = v + (m.from_.is4 ? 96 : 0);
      return m;
    }
  }
  size_t dash = pattern.find('-');
  if (dash != std::string_view::npos && ParseIpAddr(pattern.substr(0, dash), &m.from_) &&
      ParseIpAddr(pattern.substr(dash + 1), &m.to_) && m.from_.is4 == m.to_.is4 &&
      m.from_.Compare(m.to_) <= 0) {
    m.kind_ = Kind::kRange;
    return m;
  }
  return Status::InvalidArgument(
      fmt::format("ip: invalid pattern: {}", model::QuoteString(pattern)));
}

bool IpMatcher::Contains(const IpAddr& ip) const {
  switch (kind_) {
    case Kind::kAddr:
      return from_.Compare(ip) == 0;
    case Kind::kRange:
      return from_.Compare(ip) <= 0 && to_.Compare(ip) >= 0;
    case Kind::kPrefix: {
      if (ip.is4 != from_.is4) return false;
      int full = bits_ / 8, rem = bits_ % 8;
      if (std::memcmp(ip.bytes.data(), from_.bytes.data(), static_cast<size_t>(full)) != 0) {
        return false;
      }
      if (rem == 0) return true;
      auto mask = static_cast<uint8_t>(0xFF << (8 - rem));
      return (ip.bytes[static_cast<size_t>(full)] & mask) ==
             (from_.bytes[static_cast<size_t>(full)] & mask);
    }
  }
  return false;
}

bool IpMatcher::MatchesIn(std::string_view line) const {
  const size_t n = line.size();
  for (size_t i = 0; i < n; ++i) {
    bool v4 = i + 3 < n && Ipv4Hint(line.data() + i);
    bool v6 = !v4 && i + 4 < n && Ipv6Hint(line.data() + i);
    if (!v4 && !v6) continue;
    size_t len = Span(line.substr(i), v6);
    IpAddr ip;
    if (ParseIpAddr(line.substr(i, len), &ip) && Contains(ip)) return true;
    // Loki skips the candidate, then the loop's own increment skips one byte more.
    i += len;
  }
  return false;
}

}  // namespace sluice::logql::log
