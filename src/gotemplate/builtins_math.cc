#include "gotemplate/builtins.h"

#include <cmath>

#include "gocompat/number.h"
#include "gotemplate/cast.h"
#include "gotemplate/decimal.h"

namespace sluice::gotemplate::internal {

namespace {

// Go's math.Max and math.Min: +Inf and -Inf win over NaN, and -0 is less than +0.
double GoMax(double x, double y) {
  if (std::isinf(x) && x > 0) return x;
  if (std::isinf(y) && y > 0) return y;
  if (std::isnan(x) || std::isnan(y)) return std::nan("");
  if (x == 0 && x == y) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}
double GoMin(double x, double y) {
  if (std::isinf(x) && x < 0) return x;
  if (std::isinf(y) && y < 0) return y;
  if (std::isnan(x) || std::isnan(y)) return std::nan("");
  if (x == 0 && x == y) return std::signbit(x) ? x : y;
  return x < y ? x : y;
}

}  // namespace

bool ApplyMathFunc(Func id, std::span<const Value> a, const CallEnv& env, Value* out,
                   std::string* err) {
  auto str = [&](size_t k) { return a[k].str(); };
  switch (id) {
    case Func::kBytes: {
      uint64_t v;
      if (!gocompat::ParseHumanizeBytes(str(0), &v, err)) return false;
      *out = Value::Float(static_cast<double>(v));
      return true;
    }
    case Func::kInt:
      *out = Value::Int(CastToInt64(a[0]));
      return true;
    case Func::kFloat64:
      *out = Value::Float(CastToFloat64(a[0]));
      return true;
    case Func::kAdd: {
      int64_t s = 0;
      for (const Value& v : a) s = WrapAdd(s, CastToInt64(v));
      *out = Value::Int64(s);
      return true;
    }
    case Func::kSub:
      *out = Value::Int64(WrapAdd(
          CastToInt64(a[0]), static_cast<int64_t>(0 - static_cast<uint64_t>(CastToInt64(a[1])))));
      return true;
    case Func::kMul: {
      int64_t p = CastToInt64(a[0]);
      for (size_t k = 1; k < a.size(); ++k) p = WrapMul(p, CastToInt64(a[k]));
      *out = Value::Int64(p);
      return true;
    }
    case Func::kDiv:
    case Func::kMod: {
      int64_t x = CastToInt64(a[0]), y = CastToInt64(a[1]);
      if (y == 0) {
        *err = "runtime error: integer divide by zero";
        return false;
      }
      if (y == -1) {
        *out = Value::Int64(id == Func::kDiv ? WrapMul(x, -1) : 0);
        return true;
      }
      *out = Value::Int64(id == Func::kDiv ? x / y : x % y);
      return true;
    }
    case Func::kAddf:
    case Func::kSubf:
    case Func::kMulf:
    case Func::kDivf: {
      size_t first = id == Func::kAddf ? 0 : 1;
      double acc = id == Func::kAddf ? 0 : CastToFloat64(a[0]);
      DecOp op = id == Func::kAddf   ? DecOp::kAdd
                 : id == Func::kSubf ? DecOp::kSub
                 : id == Func::kMulf ? DecOp::kMul
                                     : DecOp::kDiv;
      for (size_t k = first; k < a.size(); ++k) {
        if (!DecimalOp(acc, CastToFloat64(a[k]), op, &acc)) {
          *err = "decimal division by 0";
          return false;
        }
      }
      *out = Value::Float(acc);
      return true;
    }
    case Func::kMax:
    case Func::kMin: {
      int64_t r = CastToInt64(a[0]);
      for (size_t k = 1; k < a.size(); ++k) {
        int64_t v = CastToInt64(a[k]);
        r = id == Func::kMax ? std::max(r, v) : std::min(r, v);
      }
      *out = Value::Int64(r);
      return true;
    }
    case Func::kMaxf:
    case Func::kMinf: {
      double r = CastToFloat64(a[0]);
      for (size_t k = 1; k < a.size(); ++k) {
        double v = CastToFloat64(a[k]);
        r = id == Func::kMaxf ? GoMax(r, v) : GoMin(r, v);
      }
      *out = Value::Float(r);
      return true;
    }
    case Func::kCeil:
      *out = Value::Float(std::ceil(CastToFloat64(a[0])));
      return true;
    case Func::kFloor:
      *out = Value::Float(std::floor(CastToFloat64(a[0])));
      return true;
    case Func::kRound: {
      double round_on = a.size() > 2 ? a[2].f() : 0.5;
      double val = CastToFloat64(a[0]);
      double pow = std::pow(10.0, static_cast<double>(a[1].i()));
      double digit = pow * val;
      double int_part;
      double frac = std::modf(digit, &int_part);
      double r = frac >= round_on ? std::ceil(digit) : std::floor(digit);
      *out = Value::Float(r / pow);
      return true;
    }
    default:
      break;
  }
  *err = "not a math function";
  return false;
}

}  // namespace sluice::gotemplate::internal
