#include "gotemplate/funcs.h"

namespace sluice::gotemplate::internal {

namespace {

using P = Param;
constexpr P A = P::kAny, S = P::kString, I = P::kInt, F = P::kFloat, T = P::kTime;

constexpr FuncSig Fixed(std::string_view name, Func id, std::array<P, 4> fixed, uint8_t n) {
  return FuncSig{name, id, n, fixed, false, A};
}
constexpr FuncSig Var(std::string_view name, Func id, std::array<P, 4> fixed, uint8_t n, P rest) {
  return FuncSig{name, id, n, fixed, true, rest};
}

// Signatures as Go declares them: they decide argument counting and type checks.
constexpr FuncSig kFuncs[] = {
    Var("and", Func::kAnd, {A}, 1, A),
    Var("or", Func::kOr, {A}, 1, A),
    Fixed("not", Func::kNot, {A}, 1),
    Fixed("len", Func::kLen, {A}, 1),
    Var("index", Func::kIndex, {A}, 1, A),
    Var("slice", Func::kSlice, {A}, 1, A),
    Var("print", Func::kPrint, {}, 0, A),
    Var("printf", Func::kPrintf, {S}, 1, A),
    Var("println", Func::kPrintln, {}, 0, A),
    Var("html", Func::kHtml, {}, 0, A),
    Var("js", Func::kJs, {}, 0, A),
    Var("urlquery", Func::kUrlquery, {}, 0, A),
    Var("call", Func::kCall, {A}, 1, A),
    Var("eq", Func::kEq, {A}, 1, A),
    Fixed("ne", Func::kNe, {A, A}, 2),
    Fixed("lt", Func::kLt, {A, A}, 2),
    Fixed("le", Func::kLe, {A, A}, 2),
    Fixed("gt", Func::kGt, {A, A}, 2),
    Fixed("ge", Func::kGe, {A, A}, 2),

    Fixed("__line__", Func::kLine, {}, 0),
    Fixed("__timestamp__", Func::kTimestamp, {}, 0),

    Fixed("ToLower", Func::kToLower, {S}, 1),
    Fixed("ToUpper", Func::kToUpper, {S}, 1),
    Fixed("Replace", Func::kGoReplace, {S, S, S, I}, 4),
    Fixed("Trim", Func::kGoTrim, {S, S}, 2),
    Fixed("TrimLeft", Func::kGoTrimLeft, {S, S}, 2),
    Fixed("TrimRight", Func::kGoTrimRight, {S, S}, 2),
    Fixed("TrimPrefix", Func::kGoTrimPrefix, {S, S}, 2),
    Fixed("TrimSuffix", Func::kGoTrimSuffix, {S, S}, 2),
    Fixed("TrimSpace", Func::kGoTrimSpace, {S}, 1),
    Fixed("regexReplaceAll", Func::kRegexReplaceAll, {S, S, S}, 3),
    Fixed("regexReplaceAllLiteral", Func::kRegexReplaceAllLiteral, {S, S, S}, 3),
    Fixed("count", Func::kCount, {S, S}, 2),
    Fixed("urldecode", Func::kUrldecode, {S}, 1),
    Fixed("urlencode", Func::kUrlencode, {S}, 1),
    Fixed("bytes", Func::kBytes, {S}, 1),
    Fixed("duration", Func::kDuration, {S}, 1),
    Fixed("duration_seconds", Func::kDuration, {S}, 1),
    Fixed("unixEpochMillis", Func::kUnixEpochMillis, {T}, 1),
    Fixed("unixEpochNanos", Func::kUnixEpochNanos, {T}, 1),
    Fixed("toDateInZone", Func::kToDateInZone, {S, S, S}, 3),
    Fixed("unixToTime", Func::kUnixToTime, {S}, 1),
    Fixed("alignLeft", Func::kAlignLeft, {I, S}, 2),
    Fixed("alignRight", Func::kAlignRight, {I, S}, 2),

    Fixed("b64enc", Func::kB64enc, {S}, 1),
    Fixed("b64dec", Func::kB64dec, {S}, 1),
    Fixed("lower", Func::kLower, {S}, 1),
    Fixed("upper", Func::kUpper, {S}, 1),
    Fixed("title", Func::kTitle, {S}, 1),
    Fixed("trunc", Func::kTrunc, {I, S}, 2),
    Fixed("substr", Func::kSubstr, {I, I, S}, 3),
    Fixed("contains", Func::kContains, {S, S}, 2),
    Fixed("hasPrefix", Func::kHasPrefix, {S, S}, 2),
    Fixed("hasSuffix", Func::kHasSuffix, {S, S}, 2),
    Fixed("indent", Func::kIndent, {I, S}, 2),
    Fixed("nindent", Func::kNindent, {I, S}, 2),
    Fixed("replace", Func::kReplace, {S, S, S}, 3),
    Fixed("repeat", Func::kRepeat, {I, S}, 2),
    Fixed("trim", Func::kTrim, {S}, 1),
    Fixed("trimAll", Func::kTrimAll, {S, S}, 2),
    Fixed("trimSuffix", Func::kTrimSuffix, {S, S}, 2),
    Fixed("trimPrefix", Func::kTrimPrefix, {S, S}, 2),
    Fixed("int", Func::kInt, {A}, 1),
    Fixed("float64", Func::kFloat64, {A}, 1),
    Var("add", Func::kAdd, {}, 0, A),
    Fixed("sub", Func::kSub, {A, A}, 2),
    Var("mul", Func::kMul, {A}, 1, A),
    Fixed("div", Func::kDiv, {A, A}, 2),
    Fixed("mod", Func::kMod, {A, A}, 2),
    Var("addf", Func::kAddf, {}, 0, A),
    Var("subf", Func::kSubf, {A}, 1, A),
    Var("mulf", Func::kMulf, {A}, 1, A),
    Var("divf", Func::kDivf, {A}, 1, A),
    Var("max", Func::kMax, {A}, 1, A),
    Var("min", Func::kMin, {A}, 1, A),
    Var("maxf", Func::kMaxf, {A}, 1, A),
    Var("minf", Func::kMinf, {A}, 1, A),
    Fixed("ceil", Func::kCeil, {A}, 1),
    Fixed("floor", Func::kFloor, {A}, 1),
    Var("round", Func::kRound, {A, I}, 2, F),
    Fixed("fromJson", Func::kFromJson, {S}, 1),
    Fixed("date", Func::kDate, {S, A}, 2),
    Fixed("toDate", Func::kToDate, {S, S}, 2),
    Fixed("now", Func::kNow, {}, 0),
    Fixed("unixEpoch", Func::kUnixEpoch, {T}, 1),
    Var("default", Func::kDefault, {A}, 1, A),
};

}  // namespace

const FuncSig* LookupFunc(std::string_view name) {
  for (const FuncSig& f : kFuncs) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const FuncSig& FuncInfo(Func id) {
  // Indexed by id; built once (thread-safe static initialisation).
  static const std::array<const FuncSig*, 256> kById = [] {
    std::array<const FuncSig*, 256> by_id{};
    for (const FuncSig& f : kFuncs) {
      if (by_id[static_cast<size_t>(f.id)] == nullptr) by_id[static_cast<size_t>(f.id)] = &f;
    }
    return by_id;
  }();
  const FuncSig* f = kById[static_cast<size_t>(id)];
  return f != nullptr ? *f : kFuncs[0];
}

std::string_view ParamTypeName(Param p) {
  switch (p) {
    case Param::kAny:
      return "interface {}";
    case Param::kString:
      return "string";
    case Param::kInt:
      return "int";
    case Param::kFloat:
      return "float64";
    case Param::kBool:
      return "bool";
    case Param::kTime:
      return "time.Time";
  }
  return "?";
}

}  // namespace sluice::gotemplate::internal
