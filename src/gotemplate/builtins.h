#pragma once

// Internal to the template engine: the functions Loki's templates can call beyond text/template's
// own (those are in exec.cc), grouped by topic. They are Loki's (pkg/logql/log/fmt.go) and the
// sprig functions it registers; funcs.cc lists their Go signatures, which exec.cc has already
// checked the arguments against.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "gotemplate/funcs.h"
#include "gotemplate/parse.h"
#include "gotemplate/template.h"
#include "gotemplate/value.h"

namespace sluice::gotemplate::internal {

// What a function may see of the execution besides its arguments.
struct CallEnv {
  const Context& ctx;  // __line__, __timestamp__, the clock for now
  const Command* cmd;  // the call site; holds a literal regex compiled at parse time
};

// Each runs function `id` of its group. False with the message in *err (Go: the error the
// function returned, or the panic it raised).
bool ApplyStringFunc(Func id, std::span<const Value> a, const CallEnv& env, Value* out,
                     std::string* err);
bool ApplyEncodingFunc(Func id, std::span<const Value> a, const CallEnv& env, Value* out,
                       std::string* err);
bool ApplyMathFunc(Func id, std::span<const Value> a, const CallEnv& env, Value* out,
                   std::string* err);
bool ApplyTimeFunc(Func id, std::span<const Value> a, const CallEnv& env, Value* out,
                   std::string* err);

// A substring of a string value: a view when `base` borrows stable bytes, else a copy.
inline Value SubValue(const Value& base, std::string_view part) {
  if (base.owned()) return Value::Owned(std::string(part));
  return Value::View(part);
}

// Go's int64 arithmetic, which wraps.
inline int64_t WrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
inline int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// True, with the message in *err, when a result of n bytes would exceed the output bound.
inline bool TooLarge(uint64_t n, std::string* err) {
  if (n > Template::kMaxOutputBytes) {
    *err = "result exceeds " + std::to_string(Template::kMaxOutputBytes) + " bytes";
    return true;
  }
  return false;
}

}  // namespace sluice::gotemplate::internal
