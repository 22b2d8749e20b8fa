#pragma once

// Minimal JSON output helpers for responses, matching the bytes Go's encoders (encoding/json and
// jsoniter's HTML-escaping writer, which Loki uses) produce for strings:
//   - `"` and `\` are backslash-escaped; \n \r \t use their short forms; other bytes below 0x20
//     become \u00XX (lower-case hex);
//   - `<`, `>`, `&` become \u003c, \u003e, \u0026, and U+2028 / U+2029 become \u2028 / \u2029;
//   - every byte of an invalid UTF-8 sequence becomes \ufffd.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/json_string.h"

namespace sluice::http {

using ::sluice::AppendJsonString;  // common/json_string.h
// Appends a number the way Go's strconv.FormatFloat(v, 'f', -1, 64) does for finite values
// (Loki's float seconds in stats); NaN and infinities are written as 0.
void AppendJsonFloat(std::string* out, double v);
void AppendJsonInt(std::string* out, int64_t v);
void AppendJsonUint(std::string* out, uint64_t v);

}  // namespace sluice::http
