#pragma once

// Go's strconv number parsing, with its grammar (base prefixes, `_` between digits, hex floats,
// inf/nan) and error texts, which LogQL passes through to users (`__error_details__`, HTTP
// errors). Plus go-humanize's ParseBytes, which LogQL's bytes filters and unwrap use.
//
// The parsers return why they failed rather than a message, so label filters' hot path does not
// allocate; NumErrorText spells the failure as Go's *strconv.NumError does.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::gocompat {

// strconv.ErrSyntax / strconv.ErrRange.
enum class NumError : uint8_t { kNone, kSyntax, kRange };

// NumError.Error(): `strconv.<func>: parsing "<num>": invalid syntax` (or `value out of range`).
std::string NumErrorText(std::string_view func, std::string_view num, NumError err);
// The same text as an InvalidArgument status.
Status NumErrorStatus(std::string_view func, std::string_view num, NumError err);

// strconv.ParseUint(s, base, 64) / ParseInt(s, base, 64). Base 0 reads a 0x / 0o / 0b / 0
// prefix and allows `_` between digits. On kRange *out is the clamped value, as in Go.
NumError ParseUint(std::string_view s, int base, uint64_t* out);
NumError ParseInt(std::string_view s, int base, int64_t* out);

// strconv.ParseFloat(s, 64): decimal and hex floats (a hex mantissa needs a `p` exponent),
// [+-]inf / infinity / nan in any case, `_` between digits. On kRange *out is ±Inf, as in Go.
NumError ParseFloat(std::string_view s, double* out);

// github.com/dustin/go-humanize ParseBytes: "42", "1.5 MB", "10KiB", "1,024kb" (kB = 1000,
// KiB = 1024, units in any case, "," as a thousands separator). False with the error in *err:
// ParseFloat's, `unhandled size name: xx`, or `too large: ...`.
bool ParseHumanizeBytes(std::string_view s, uint64_t* out, std::string* err);

// strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False.
bool ParseBool(std::string_view s, bool* out);

// go-humanize (v1.0.1) Bytes: an SI size rounded to one decimal, "9 B", "1.5 kB", "83 MB".
std::string FormatHumanizeBytes(uint64_t bytes);

}  // namespace sluice::gocompat
