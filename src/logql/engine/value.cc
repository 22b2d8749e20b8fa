#include "logql/engine/value.h"

#include <charconv>
#include <cmath>

namespace sluice::logql::engine {

std::string FormatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip digits in fixed notation, like Go's 'f' with precision -1. Fixed
  // notation of a double needs at most ~330 characters.
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

std::string FormatTimestampMs(int64_t ts_ms) {
  return FormatSampleValue(static_cast<double>(ts_ms) / 1000.0);
}

}  // namespace sluice::logql::engine
