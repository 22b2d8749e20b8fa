#pragma once

// Retry policy for pushes: which outcomes are retried, and how long to wait before the next
// attempt. Pure functions of their inputs (the random source is passed in) so tests are exact.
//
// Retried: connection errors, timeouts, 429 and 5xx. Dropped (counted, logged): other 4xx, which
// would fail the same way forever. The wait is "full jitter" exponential backoff,
//   uniform(0, min(max_period, min_period * 2^(attempt-1))),
// except after a response with Retry-After, whose value (capped at max_retry_after) is used
// exactly: the server said when it can take more.

#include <cstdint>
#include <optional>
#include <random>
#include <string>

namespace sluice::agent {

// What one push attempt came back with. `http_status` 0 means no response: `error` says why.
struct PushResult {
  int http_status = 0;
  bool timed_out = false;
  std::string error;                      // transport error or a response body excerpt
  std::optional<int64_t> retry_after_ns;  // parsed Retry-After, when present
};

enum class ErrorClass : uint8_t {
  kNone,         // 2xx
  kConnection,   // refused, reset, DNS, TLS
  kTimeout,      // client.timeout passed
  kRateLimited,  // 429
  kServer,       // 5xx
  kClient,       // 4xx other than 429: not retried
};

ErrorClass Classify(const PushResult& r);
const char* ErrorClassName(ErrorClass c);
bool IsRetryable(ErrorClass c);
// Whether the outcome says the server is unhealthy (feeds the circuit breaker). A 429 is a
// healthy server pacing us, and a 4xx is our fault: neither opens the breaker.
bool IsServerFailure(ErrorClass c);

struct BackoffOptions {
  int64_t min_period;
  int64_t max_period;
  int64_t max_retry_after;
};

// The wait before retry number `attempt` (1 for the first retry).
int64_t BackoffDelay(const BackoffOptions& opts, int attempt, std::optional<int64_t> retry_after_ns,
                     std::mt19937_64& rng);

// Parses a Retry-After header value: delta-seconds, or an IMF-fixdate relative to `now_unix_ns`.
std::optional<int64_t> ParseRetryAfter(const std::string& value, int64_t now_unix_ns);

}  // namespace sluice::agent
