#pragma once

// Go's time.Duration: ParseDuration and String(), with Go's error texts. Distinct from
// common/duration.h, which reads and prints durations the Prometheus way ("1d", "1w") as Loki's
// config and query parameters do; LogQL's duration filters, `unwrap duration(...)`, offsets and
// template functions use Go's forms.

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::gocompat {

// time.ParseDuration: "1h30m", "1.5s", "-2us", "0". False with Go's message in *err:
// `time: invalid duration "x"`, `time: missing unit in duration "1"`,
// `time: unknown unit "d" in duration "1d"`. Fills *err only on failure, so label filters'
// hot path does not allocate.
bool ParseDuration(std::string_view s, int64_t* nanos, std::string* err);

// time.Duration.String(): "1h0m0s", "1.5s", "250ms", "1.5µs", "0s".
std::string FormatDuration(int64_t nanos);

}  // namespace sluice::gocompat
