#include "gotemplate/decimal.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

namespace sluice::gotemplate::internal {

namespace {

struct Dec {
  __int128 c = 0;
  int e = 0;
};

Dec DecFromDouble(double f) {
  Dec d;
  if (f == 0) return d;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  size_t epos = s.find('e');
  bool neg = s[0] == '-';
  int nd = 0;
  for (size_t k = neg ? 1 : 0; k < epos; ++k) {
    if (s[k] == '.') continue;
    d.c = d.c * 10 + (s[k] - '0');
    ++nd;
  }
  int exp = 0;
  std::from_chars(s.data() + epos + (s[epos + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  d.e = exp - (nd - 1);
  if (neg) d.c = -d.c;
  return d;
}

bool Pow10(int n, __int128* out) {
  __int128 p = 1;
  for (int k = 0; k < n; ++k) {
    if (__builtin_mul_overflow(p, 10, &p)) return false;
  }
  *out = p;
  return true;
}

double DecToDouble(const Dec& d) {
  if (d.c == 0) return 0;
  __int128 c = d.c;
  bool neg = c < 0;
  if (neg) c = -c;
  char digits[64];
  int n = 0;
  while (c > 0) {
    digits[n++] = static_cast<char>('0' + static_cast<int>(c % 10));
    c /= 10;
  }
  std::string s = neg ? "-" : "";
  while (n > 0) s.push_back(digits[--n]);
  s += "e" + std::to_string(d.e);
  return std::strtod(s.c_str(), nullptr);
}

}  // namespace

bool DecimalOp(double a, double b, DecOp op, double* out) {
  Dec x = DecFromDouble(a), y = DecFromDouble(b);
  if (op == DecOp::kDiv && y.c == 0) return false;
  Dec r;
  bool ok = true;
  switch (op) {
    case DecOp::kAdd:
    case DecOp::kSub: {
      if (op == DecOp::kSub) y.c = -y.c;
      if (x.c == 0) {
        r = y;
        break;
      }
      if (y.c == 0) {
        r = x;
        break;
      }
      Dec& hi = x.e > y.e ? x : y;
      Dec& lo = x.e > y.e ? y : x;
      __int128 p;
      ok = Pow10(hi.e - lo.e, &p) && !__builtin_mul_overflow(hi.c, p, &hi.c);
      ok = ok && !__builtin_add_overflow(hi.c, lo.c, &r.c);
      r.e = lo.e;
      break;
    }
    case DecOp::kMul:
      ok = !__builtin_mul_overflow(x.c, y.c, &r.c);
      r.e = x.e + y.e;
      break;
    case DecOp::kDiv: {
      // shopspring's Div rounds the quotient to 16 decimal places, half away from zero.
      constexpr int kPrecision = 16;
      int k = x.e - y.e + kPrecision;
      __int128 num = x.c, den = y.c, p;
      if (k >= 0) {
        ok = Pow10(k, &p) && !__builtin_mul_overflow(num, p, &num);
      } else {
        ok = Pow10(-k, &p) && !__builtin_mul_overflow(den, p, &den);
      }
      if (ok) {
        __int128 q = num / den, rem = num % den;
        __int128 arem = rem < 0 ? -rem : rem, aden = den < 0 ? -den : den;
        if (2 * arem >= aden) q += ((num < 0) != (den < 0)) ? -1 : 1;
        r.c = q;
        r.e = -kPrecision;
      }
      break;
    }
  }
  if (!ok) {
    // Beyond 38 digits: plain float64 arithmetic.
    switch (op) {
      case DecOp::kAdd:
        *out = a + b;
        break;
      case DecOp::kSub:
        *out = a - b;
        break;
      case DecOp::kMul:
        *out = a * b;
        break;
      case DecOp::kDiv:
        *out = a / b;
        break;
    }
    return true;
  }
  *out = DecToDouble(r);
  return true;
}

}  // namespace sluice::gotemplate::internal
