#pragma once

// The conversions `| unwrap` applies to a label value, with Go's semantics and error texts
// (they end up in the __error_details__ label, which Loki's pipeline error prints):
//
//   unwrap x                    strconv.ParseFloat(x, 64)
//   unwrap duration(x)          time.ParseDuration(x).Seconds()      (also duration_seconds)
//   unwrap bytes(x)             humanize.ParseBytes(x)               ("1.5 KiB", "20MB", "42")

#include <string>
#include <string_view>

#include "common/status.h"
#include "logql/syntax/ast.h"

namespace sluice::logql::log {

// Go's strconv.ParseFloat(s, 64): decimal and hex floats, "inf"/"infinity"/"nan" in any case,
// `_` between digits. Error: `strconv.ParseFloat: parsing "x": invalid syntax` (or
// "value out of range", in which case Go also returns ±Inf; so do we, with the error).
Result<double> GoParseFloat(std::string_view s);
// Go's time.ParseDuration, in seconds. Error: `time: invalid duration "x"`, `time: missing unit
// in duration "1"`, `time: unknown unit "x" in duration "1x"`.
Result<double> GoParseDurationSeconds(std::string_view s);
// github.com/dustin/go-humanize ParseBytes: kB = 1000, KiB = 1024, case-insensitive units, ","
// as a thousands separator. Errors: ParseFloat's, `unhandled size name: x`, `too large: x`.
Result<double> HumanizeParseBytes(std::string_view s);

// The conversion an unwrap names.
Result<double> ConvertUnwrapped(syntax::UnwrapConversion conversion, std::string_view value);

}  // namespace sluice::logql::log
