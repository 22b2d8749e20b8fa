#pragma once

// The Go conversions Loki's label filters apply to label values, with Go's error texts (they end
// up in `__error_details__`). Each returns false and fills *err only on failure, so the hot
// path does not allocate.

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::logql::log {

// strconv.ParseFloat(s, 64): decimal and hex floats, inf/infinity/nan, `_` digit separators.
// "strconv.ParseFloat: parsing \"abc\": invalid syntax" / "...: value out of range".
bool ParseGoFloat(std::string_view s, double* out, std::string* err);

// time.ParseDuration: "1h30m", "1.5s", "-2us", "0". "time: invalid duration \"x\"",
// "time: missing unit in duration \"1\"", "time: unknown unit \"d\" in duration \"1d\"".
bool ParseGoDuration(std::string_view s, int64_t* nanos, std::string* err);

// go-humanize's ParseBytes: "42", "1.5 MB", "10KiB", "1,024kb" (kB = 1000, KiB = 1024).
// "unhandled size name: xx", "too large: ...", or ParseFloat's error for the number.
bool ParseHumanizeBytes(std::string_view s, uint64_t* out, std::string* err);

}  // namespace sluice::logql::log
