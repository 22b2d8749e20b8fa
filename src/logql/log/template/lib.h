#pragma once

// Internal to the template engine: the Go library behaviour that Loki's template functions
// are built from (strings, strconv via spf13/cast, net/url, encoding/base64, encoding/json,
// regexp's replacement expansion, go-humanize, shopspring/decimal).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "logql/log/template/value.h"

namespace re2 {
class RE2;
}

namespace sluice::logql::log::tmpl::internal {

// strings.ToLower / ToUpper / Title (sprig title) over the scripts described in template.h.
void GoToLower(std::string_view s, std::string* out);
void GoToUpper(std::string_view s, std::string* out);
void GoTitle(std::string_view s, std::string* out);

// strings.Trim / TrimLeft / TrimRight with a cutset of runes, and TrimSpace.
std::string_view GoTrim(std::string_view s, std::string_view cutset, bool left, bool right);
std::string_view GoTrimSpace(std::string_view s);
// strings.Replace(s, old, new, n); n < 0 replaces all.
void GoReplace(std::string_view s, std::string_view old_s, std::string_view new_s, int64_t n,
               std::string* out);

// spf13/cast ToInt64 and ToFloat64 (sprig's number coercion): unparsable values are 0.
int64_t CastToInt64(const Value& v);
double CastToFloat64(const Value& v);
// sprig's empty(): nil, "", 0, false and empty collections.
bool IsEmpty(const Value& v);

// url.QueryEscape / QueryUnescape (false with Go's message in *error).
void QueryEscape(std::string_view s, std::string* out);
bool QueryUnescape(std::string_view s, std::string* out, std::string* error);
// base64.StdEncoding.
void Base64Encode(std::string_view s, std::string* out);
bool Base64Decode(std::string_view s, std::string* out, std::string* error);
// template.HTMLEscapeString / JSEscapeString.
void HtmlEscape(std::string_view s, std::string* out);
void JsEscape(std::string_view s, std::string* out);

// encoding/json.Unmarshal into interface{}: objects become maps, arrays lists, numbers
// float64. Nil on any error, as sprig's fromJson.
Value ParseJson(std::string_view s);

// humanize.ParseBytes, as float64.
bool ParseHumanBytes(std::string_view s, double* out, std::string* error);

// regexp.ReplaceAllString (expand: $1 ${name} $$) / ReplaceAllLiteralString, and the number
// of matches of FindAllStringIndex. False once *out would exceed max_out bytes.
bool RegexReplaceAll(const re2::RE2& re, std::string_view src, std::string_view repl, bool expand,
                     size_t max_out, std::string* out);
int64_t RegexCount(const re2::RE2& re, std::string_view src);

// shopspring/decimal arithmetic on the shortest decimal forms of a and b, as sprig's
// addf/subf/mulf/divf do it. False on division by zero.
enum class DecOp : uint8_t { kAdd, kSub, kMul, kDiv };
bool DecimalOp(double a, double b, DecOp op, double* out);

}  // namespace sluice::logql::log::tmpl::internal
