#pragma once

// Internal to the template engine: the functions a template can call. These are Go's
// text/template builtins plus the functions Loki registers (pkg/logql/log/fmt.go: its own,
// and the sprig functions it picks), with their Go signatures, which decide how arguments are
// checked and converted.

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::gotemplate::internal {

enum class Func : uint8_t {
  // text/template builtins.
  kAnd,
  kOr,
  kNot,
  kLen,
  kIndex,
  kSlice,
  kPrint,
  kPrintf,
  kPrintln,
  kHtml,
  kJs,
  kUrlquery,
  kCall,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  // Loki's line and timestamp.
  kLine,
  kTimestamp,
  // Loki's own (Go strings functions, regexes, conversions, time).
  kToLower,
  kToUpper,
  kGoReplace,
  kGoTrim,
  kGoTrimLeft,
  kGoTrimRight,
  kGoTrimPrefix,
  kGoTrimSuffix,
  kGoTrimSpace,
  kRegexReplaceAll,
  kRegexReplaceAllLiteral,
  kCount,
  kUrldecode,
  kUrlencode,
  kBytes,
  kDuration,
  kUnixEpochMillis,
  kUnixEpochNanos,
  kToDateInZone,
  kUnixToTime,
  kAlignLeft,
  kAlignRight,
  // sprig.
  kB64enc,
  kB64dec,
  kLower,
  kUpper,
  kTitle,
  kTrunc,
  kSubstr,
  kContains,
  kHasPrefix,
  kHasSuffix,
  kIndent,
  kNindent,
  kReplace,
  kRepeat,
  kTrim,
  kTrimAll,
  kTrimSuffix,
  kTrimPrefix,
  kInt,
  kFloat64,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kAddf,
  kSubf,
  kMulf,
  kDivf,
  kMax,
  kMin,
  kMaxf,
  kMinf,
  kCeil,
  kFloor,
  kRound,
  kFromJson,
  kDate,
  kToDate,
  kNow,
  kUnixEpoch,
  kDefault,
};

// A parameter's Go type, which decides how an argument is checked.
enum class Param : uint8_t {
  kAny,  // interface{} or reflect.Value: anything
  kString,
  kInt,    // Go int
  kFloat,  // Go float64
  kBool,
  kTime,  // time.Time
};

struct FuncSig {
  std::string_view name;
  Func id;
  uint8_t num_fixed;  // fixed parameters
  std::array<Param, 4> fixed;
  bool variadic;  // then any number of `rest`
  Param rest;
};

// nullptr when no function has that name.
const FuncSig* LookupFunc(std::string_view name);
const FuncSig& FuncInfo(Func id);
// Go's name of a parameter type, for error messages.
std::string_view ParamTypeName(Param p);

}  // namespace sluice::gotemplate::internal
