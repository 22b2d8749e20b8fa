#include "gotemplate/cast.h"

#include <cmath>
#include <string_view>

#include "gocompat/number.h"

namespace sluice::gotemplate::internal {

namespace {

using gocompat::NumError;
using gocompat::ParseFloat;
using gocompat::ParseInt;

int64_t FloatToInt64(double f) {
  if (std::isnan(f)) return INT64_MIN;
  if (f >= 9.2233720368547758e18 || f < -9.2233720368547758e18) return INT64_MIN;
  return static_cast<int64_t>(f);
}

// spf13/cast trims a zero fraction ("3.00" -> "3") before parsing integers.
std::string_view TrimZeroDecimal(std::string_view s) {
  bool found_zero = false;
  for (size_t i = s.size(); i > 0; --i) {
    char c = s[i - 1];
    if (c == '.') {
      if (found_zero) return s.substr(0, i - 1);
      return s;
    }
    if (c != '0') return s;
    found_zero = true;
  }
  return s;
}

}  // namespace

int64_t CastToInt64(const Value& v) {
  switch (v.kind()) {
    case Kind::kBool:
      return v.b() ? 1 : 0;
    case Kind::kInt:
    case Kind::kInt64:
      return v.i();
    case Kind::kFloat:
      return FloatToInt64(v.f());
    case Kind::kString: {
      int64_t i;
      return ParseInt(TrimZeroDecimal(v.str()), 0, &i) == NumError::kNone ? i : 0;
    }
    default:
      return 0;
  }
}

double CastToFloat64(const Value& v) {
  switch (v.kind()) {
    case Kind::kBool:
      return v.b() ? 1 : 0;
    case Kind::kInt:
    case Kind::kInt64:
      return static_cast<double>(v.i());
    case Kind::kFloat:
      return v.f();
    case Kind::kString: {
      double f;
      return ParseFloat(v.str(), &f) == NumError::kNone ? f : 0;
    }
    default:
      return 0;
  }
}

bool IsEmpty(const Value& v) {
  switch (v.kind()) {
    case Kind::kNil:
      return true;
    case Kind::kBool:
      return !v.b();
    case Kind::kInt:
    case Kind::kInt64:
      return v.i() == 0;
    case Kind::kFloat:
      return v.f() == 0;
    case Kind::kString:
      return v.str().empty();
    case Kind::kList:
      return v.list().empty();
    case Kind::kMap:
      return v.map().empty();
    case Kind::kTime:
    case Kind::kLabels:
      return false;
  }
  return false;
}

}  // namespace sluice::gotemplate::internal
