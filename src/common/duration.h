#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

// Durations as Loki writes them in config and queries: Prometheus-style units
// ("1w", "2d", "1h30m", "500ms", "15s"), plus Go's "us"/"µs"/"ns". Returns nanoseconds.
Result<int64_t> ParseDuration(std::string_view text);
// The shortest Prometheus-style spelling ("1h30m", "168h"->"1w"), as Loki prints config.
std::string FormatDuration(int64_t nanos);

// Sizes as Loki's flagext.ByteSize accepts them: "256KB", "1.5MB", "10MiB", "4096".
Result<uint64_t> ParseByteSize(std::string_view text);
std::string FormatByteSize(uint64_t bytes);

// A timestamp as Loki's HTTP API accepts it: Unix nanoseconds, Unix seconds with a fraction,
// or RFC3339(Nano). Returns Unix nanoseconds.
Result<int64_t> ParseTimestamp(std::string_view text);
// RFC3339Nano in UTC, as Loki prints timestamps in error messages.
std::string FormatRfc3339Nano(int64_t nanos);

}  // namespace sluice
