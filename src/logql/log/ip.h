#pragma once

// `ip("...")` matching, as Loki's pkg/logql/log/ip.go: the pattern is one address
// ("192.168.0.1", "::1"), a CIDR prefix ("10.0.0.0/8") or an inclusive range
// ("192.168.0.1-192.168.0.23"), IPv4 or IPv6. A line (or label value) matches when any address
// found in it falls in the pattern; addresses are found by Loki's scan (a digit followed by a
// dot within 4 bytes starts an IPv4 candidate, hex digits followed by ':' an IPv6 one) and
// parsed with Go's netip.ParseAddr rules (no leading zeros in IPv4 octets).

#include <array>
#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sluice::logql::log {

struct IpAddr {
  std::array<uint8_t, 16> bytes{};  // IPv4 in the last 4 bytes
  bool is4 = false;
  // netip.Addr.Compare: IPv4 sorts before IPv6, then by bytes.
  int Compare(const IpAddr& o) const;
};

// netip.ParseAddr without zones.
bool ParseIpAddr(std::string_view s, IpAddr* out);

class IpMatcher {
 public:
  // InvalidArgument `ip: invalid pattern: "<pattern>"`.
  static Result<IpMatcher> Parse(std::string_view pattern);

  bool Contains(const IpAddr& ip) const;
  // Whether any address found in `text` is contained.
  bool MatchesIn(std::string_view text) const;

 private:
  enum class Kind : uint8_t { kAddr, kPrefix, kRange };
  Kind kind_ = Kind::kAddr;
  IpAddr from_;  // the address, the prefix's address, or the range's start
  IpAddr to_;    // the range's end
  int bits_ = 0;
};

}  // namespace sluice::logql::log
