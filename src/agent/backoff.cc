#include "agent/backoff.h"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace sluice::agent {

ErrorClass Classify(const PushResult& r) {
  if (r.http_status == 0) return r.timed_out ? ErrorClass::kTimeout : ErrorClass::kConnection;
  if (r.http_status >= 200 && r.http_status < 300) return ErrorClass::kNone;
  if (r.http_status == 429) return ErrorClass::kRateLimited;
  if (r.http_status >= 500) return ErrorClass::kServer;
  return ErrorClass::kClient;
}

const char* ErrorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kNone:
      return "none";
    case ErrorClass::kConnection:
      return "connection";
    case ErrorClass::kTimeout:
      return "timeout";
    case ErrorClass::kRateLimited:
      return "http_429";
    case ErrorClass::kServer:
      return "http_5xx";
    case ErrorClass::kClient:
      return "http_4xx";
  }
  return "unknown";
}

bool IsRetryable(ErrorClass c) {
  return c == ErrorClass::kConnection || c == ErrorClass::kTimeout ||
         c == ErrorClass::kRateLimited || c == ErrorClass::kServer;
}

bool IsServerFailure(ErrorClass c) {
  return c == ErrorClass::kConnection || c == ErrorClass::kTimeout || c == ErrorClass::kServer;
}

int64_t BackoffDelay(const BackoffOptions& opts, int attempt, std::optional<int64_t> retry_after_ns,
                     std::mt19937_64& rng) {
  if (retry_after_ns) return std::clamp<int64_t>(*retry_after_ns, 0, opts.max_retry_after);
  int64_t cap = opts.min_period;
  for (int i = 1; i < attempt && cap < opts.max_period; ++i) cap *= 2;
  cap = std::min(cap, opts.max_period);
  std::uniform_int_distribution<int64_t> dist(0, cap);
  return dist(rng);
}

std::optional<int64_t> ParseRetryAfter(const std::string& value, int64_t now_unix_ns) {
  std::string v = value;
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  size_t start = 0;
  while (start < v.size() && std::isspace(static_cast<unsigned char>(v[start]))) ++start;
  v = v.substr(start);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (v.size() > 9) return std::nullopt;
    return std::stoll(v) * 1'000'000'000LL;
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  const char* end = strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  int64_t at = static_cast<int64_t>(timegm(&tm)) * 1'000'000'000LL;
  return std::max<int64_t>(0, at - now_unix_ns);
}

}  // namespace sluice::agent
