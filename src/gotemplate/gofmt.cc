#include "gotemplate/gofmt.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/utf8.h"
#include "gocompat/quote.h"
#include "gocompat/time.h"

namespace sluice::gotemplate::internal {

std::string_view GoTypeName(const Value& v) {
  switch (v.kind()) {
    case Kind::kNil:
      return "<nil>";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kInt64:
      return "int64";
    case Kind::kFloat:
      return "float64";
    case Kind::kString:
      return "string";
    case Kind::kTime:
      return "time.Time";
    case Kind::kList:
      return "[]interface {}";
    case Kind::kMap:
      return "map[string]interface {}";
    case Kind::kLabels:
      return "map[string]string";
  }
  return "?";
}

namespace {

constexpr char kLowerHex[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

// Shortest decimal digits of a finite non-zero |f| and the decimal point position:
// value = 0.DIGITS * 10^dp.
void ShortestDigits(double f, std::string* digits, int* dp) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(f), std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  size_t e = s.find('e');
  digits->clear();
  for (size_t i = 0; i < e; ++i) {
    if (s[i] != '.') digits->push_back(s[i]);
  }
  int exp = 0;
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  while (digits->size() > 1 && digits->back() == '0') digits->pop_back();
  *dp = exp + 1;
}

// strconv.FormatFloat(f, 'g', -1, 64) without the sign.
void AppendShortestG(double f, bool upper, std::string* out) {
  if (f == 0) {
    out->push_back('0');
    return;
  }
  std::string d;
  int dp;
  ShortestDigits(f, &d, &dp);
  int nd = static_cast<int>(d.size());
  int exp = dp - 1;
  // strconv decides between %e and %f with precision 6 for the shortest repr, so Go's %v
  // of 1e6 is "1e+06" and of 123456.0 "123456".
  bool use_e = exp < -4 || exp >= 6;
  if (use_e) {
    out->push_back(d[0]);
    if (nd > 1) {
      out->push_back('.');
      out->append(d, 1);
    }
    out->push_back(upper ? 'E' : 'e');
    out->push_back(exp < 0 ? '-' : '+');
    int ae = exp < 0 ? -exp : exp;
    if (ae < 10) out->push_back('0');
    out->append(std::to_string(ae));
    return;
  }
  if (dp <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-dp), '0');
    out->append(d);
  } else if (dp >= nd) {
    out->append(d);
    out->append(static_cast<size_t>(dp - nd), '0');
  } else {
    out->append(d, 0, static_cast<size_t>(dp));
    out->push_back('.');
    out->append(d, static_cast<size_t>(dp));
  }
}

// The formatting state of one verb (Go's fmt.fmt flags).
struct Spec {
  bool plus = false, minus = false, sharp = false, space = false, zero = false;
  bool has_width = false, has_prec = false;
  int width = 0, prec = 0;
};

void Pad(const Spec& sp, std::string_view s, std::string* out) {
  if (!sp.has_width) {
    out->append(s);
    return;
  }
  size_t n = RuneCount(s);
  size_t w = sp.width > 0 ? static_cast<size_t>(sp.width) : 0;
  if (n >= w) {
    out->append(s);
    return;
  }
  char c = sp.zero && !sp.minus ? '0' : ' ';
  if (sp.minus) {
    out->append(s);
    out->append(w - n, ' ');
  } else {
    out->append(w - n, c);
    out->append(s);
  }
}

void FmtInteger(const Spec& sp, uint64_t u, bool negative, int base, char verb, std::string* out) {
  const char* digits = verb == 'X' ? kUpperHex : kLowerHex;
  std::string num;
  int prec = 0;
  bool zero_pad_digits = false;
  if (sp.has_prec) {
    prec = sp.prec;
    if (prec == 0 && u == 0) {
      Spec s2 = sp;
      s2.zero = false;
      Pad(s2, "", out);
      return;
    }
  } else if (sp.zero && sp.has_width && !sp.minus) {
    prec = sp.width;
    if (negative || sp.plus || sp.space) --prec;
    zero_pad_digits = true;
  }
  char buf[80];
  int i = 0;
  do {
    buf[i++] = digits[u % static_cast<uint64_t>(base)];
    u /= static_cast<uint64_t>(base);
  } while (u > 0);
  int ndig = i;
  std::string prefix;
  if (sp.sharp) {
    if (base == 2) prefix = "0b";
    if (base == 8 && buf[ndig - 1] != '0') prefix = "0";
    if (base == 16) prefix = verb == 'X' ? "0X" : "0x";
  }
  if (verb == 'O') prefix = "0o";
  if (zero_pad_digits) prec -= static_cast<int>(prefix.size());
  if (negative) {
    num.push_back('-');
  } else if (sp.plus) {
    num.push_back('+');
  } else if (sp.space) {
    num.push_back(' ');
  }
  num.append(prefix);
  for (int k = ndig; k < prec; ++k) num.push_back('0');
  while (i > 0) num.push_back(buf[--i]);
  Spec s2 = sp;
  s2.zero = false;
  Pad(s2, num, out);
}

void FmtFloat(const Spec& sp, double v, char verb, int prec, std::string* out) {
  std::string num;
  bool neg = std::signbit(v);
  if (std::isnan(v) || std::isinf(v)) {
    if (std::isnan(v)) {
      num = sp.plus ? "+NaN" : sp.space ? " NaN" : "NaN";
    } else if (neg) {
      num = "-Inf";
    } else {
      num = sp.space && !sp.plus ? " Inf" : "+Inf";
    }
    Spec s2 = sp;
    s2.zero = false;
    Pad(s2, num, out);
    return;
  }
  std::string body;
  if ((verb == 'g' || verb == 'G') && prec < 0) {
    AppendShortestG(v, verb == 'G', &body);
  } else {
    char fmtbuf[16];
    char cverb = verb == 'F'                    ? 'f'
                 : (verb == 'x' || verb == 'X') ? (verb == 'x' ? 'a' : 'A')
                                                : verb;
    if (prec < 0) {
      std::snprintf(fmtbuf, sizeof(fmtbuf), "%%%s%c", sp.sharp ? "#" : "", cverb);
    } else {
      std::snprintf(fmtbuf, sizeof(fmtbuf), "%%%s.%d%c", sp.sharp ? "#" : "",
                    prec > 1000 ? 1000 : prec, cverb);
    }
    char buf[1400];
    int n = std::snprintf(buf, sizeof(buf), fmtbuf, std::fabs(v));
    body.assign(buf, static_cast<size_t>(n > 0 ? std::min<int>(n, sizeof(buf) - 1) : 0));
  }
  char sign = neg ? '-' : (sp.plus ? '+' : (sp.space ? ' ' : 0));
  if (sign != 0 && sp.zero && !sp.minus && sp.has_width &&
      static_cast<size_t>(sp.width) > body.size() + 1) {
    out->push_back(sign);
    out->append(static_cast<size_t>(sp.width) - body.size() - 1, '0');
    out->append(body);
    return;
  }
  if (sign != 0) num.push_back(sign);
  num.append(body);
  Pad(sp, num, out);
}

void BadVerb(char verb, const Value& v, std::string* out) {
  out->append("%!");
  AppendUtf8(out, static_cast<unsigned char>(verb));
  out->push_back('(');
  if (v.is_nil()) {
    out->append("<nil>");
  } else {
    out->append(GoTypeName(v));
    out->push_back('=');
    AppendValue(v, out);
  }
  out->push_back(')');
}

void FmtString(const Spec& sp, std::string_view s, char verb, std::string* out) {
  switch (verb) {
    case 'v':
    case 's': {
      if (sp.has_prec) {
        size_t i = 0, n = 0;
        for (size_t w = 0; i < s.size() && n < static_cast<size_t>(sp.prec); i += w, ++n) {
          DecodeRune(s, i, &w);
        }
        s = s.substr(0, i);
      }
      Pad(sp, s, out);
      return;
    }
    case 'q': {
      std::string q;
      if (sp.sharp && s.find('`') == std::string_view::npos) {
        bool ok = true;
        for (size_t i = 0, w = 0; i < s.size(); i += w) {
          char32_t r = DecodeRune(s, i, &w);
          if ((r < ' ' && r != '\t') || r == 0x7F || r == 0xFEFF || (r == kRuneError && w == 1)) {
            ok = false;
            break;
          }
        }
        if (ok) {
          q.push_back('`');
          q.append(s);
          q.push_back('`');
          Pad(sp, q, out);
          return;
        }
      }
      gocompat::AppendQuoted(s, sp.plus, &q);
      Pad(sp, q, out);
      return;
    }
    case 'x':
    case 'X': {
      const char* digits = verb == 'X' ? kUpperHex : kLowerHex;
      size_t len = s.size();
      if (sp.has_prec && static_cast<size_t>(sp.prec) < len) len = static_cast<size_t>(sp.prec);
      std::string h;
      for (size_t i = 0; i < len; ++i) {
        if (sp.space && i > 0) h.push_back(' ');
        if (sp.sharp && (sp.space || i == 0)) h.append(verb == 'X' ? "0X" : "0x");
        auto c = static_cast<unsigned char>(s[i]);
        h.push_back(digits[c >> 4]);
        h.push_back(digits[c & 0xF]);
      }
      Pad(sp, h, out);
      return;
    }
    default:
      BadVerb(verb, Value::View(s), out);
  }
}

void FmtValue(const Spec& sp, const Value& v, char verb, std::string* out);

void FmtInt(const Spec& sp, int64_t i, char verb, const Value& v, std::string* out) {
  uint64_t u = static_cast<uint64_t>(i);
  bool neg = i < 0;
  if (neg) u = 0 - u;
  switch (verb) {
    case 'v':
    case 'd':
      FmtInteger(sp, u, neg, 10, 'd', out);
      return;
    case 'b':
      FmtInteger(sp, u, neg, 2, verb, out);
      return;
    case 'o':
    case 'O':
      FmtInteger(sp, u, neg, 8, verb, out);
      return;
    case 'x':
    case 'X':
      FmtInteger(sp, u, neg, 16, verb, out);
      return;
    case 'c': {
      std::string s;
      AppendUtf8(&s, i < 0 || i > 0x10FFFF ? kRuneError : static_cast<char32_t>(i));
      Pad(sp, s, out);
      return;
    }
    case 'q': {
      std::string s = "'";
      char32_t r = i < 0 || i > 0x10FFFF || (i >= 0xD800 && i <= 0xDFFF) ? kRuneError
                                                                         : static_cast<char32_t>(i);
      gocompat::AppendEscapedRune(r, '\'', sp.plus, &s);
      s.push_back('\'');
      Pad(sp, s, out);
      return;
    }
    case 'U': {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "U+%04llX", static_cast<unsigned long long>(u));
      std::string s = buf;
      if (sp.sharp && i >= 0 && i <= 0x10FFFF) {
        s.append(" '");
        AppendUtf8(&s, static_cast<char32_t>(i));
        s.push_back('\'');
      }
      Pad(sp, s, out);
      return;
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
    default:
      BadVerb(verb, v, out);
  }
}

void FmtValue(const Spec& sp, const Value& v, char verb, std::string* out) {
  if (verb == 'T') {
    Pad(sp, GoTypeName(v), out);
    return;
  }
  switch (v.kind()) {
    case Kind::kNil:
      if (verb == 'v') {
        Pad(sp, "<nil>", out);
      } else {
        BadVerb(verb, v, out);
      }
      return;
    case Kind::kBool:
      if (verb == 'v' || verb == 't') {
        Pad(sp, v.b() ? "true" : "false", out);
      } else {
        BadVerb(verb, v, out);
      }
      return;
    case Kind::kInt:
    case Kind::kInt64:
      FmtInt(sp, v.i(), verb, v, out);
      return;
    case Kind::kFloat:
      switch (verb) {
        case 'v':
          FmtFloat(sp, v.f(), 'g', -1, out);
          return;
        case 'b':
        case 'g':
        case 'G':
        case 'x':
        case 'X':
          FmtFloat(sp, v.f(), verb == 'b' ? 'g' : verb, sp.has_prec ? sp.prec : -1, out);
          return;
        case 'e':
        case 'E':
        case 'f':
        case 'F':
          FmtFloat(sp, v.f(), verb, sp.has_prec ? sp.prec : 6, out);
          return;
        default:
          BadVerb(verb, v, out);
          return;
      }
    case Kind::kString:
      FmtString(sp, v.str(), verb, out);
      return;
    case Kind::kTime: {
      if (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' || verb == 'X') {
        std::string s;
        gocompat::AppendTimeString(v.time(), &s);
        FmtString(sp, s, verb, out);
      } else {
        BadVerb(verb, v, out);
      }
      return;
    }
    case Kind::kList: {
      out->push_back('[');
      bool first = true;
      for (const Value& e : v.list()) {
        if (!first) out->push_back(' ');
        first = false;
        FmtValue(sp, e, verb, out);
      }
      out->push_back(']');
      return;
    }
    case Kind::kMap: {
      out->append("map[");
      bool first = true;
      for (const auto& [k, e] : v.map()) {
        if (!first) out->push_back(' ');
        first = false;
        FmtString(sp, k, verb, out);
        out->push_back(':');
        FmtValue(sp, e, verb, out);
      }
      out->push_back(']');
      return;
    }
    case Kind::kLabels:
      // Callers reject the label map before formatting (it cannot be enumerated).
      out->append("map[]");
      return;
  }
}

bool IntArg(const Value& v, int* out) {
  if (v.kind() != Kind::kInt && v.kind() != Kind::kInt64) return false;
  int64_t i = v.i();
  if (i > 1000000 || i < -1000000) return false;  // Go: tooLarge
  *out = static_cast<int>(i);
  return true;
}

}  // namespace

void AppendFloat(double f, std::string* out) {
  if (std::isnan(f)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(f)) {
    out->append(f < 0 ? "-Inf" : "+Inf");
    return;
  }
  if (std::signbit(f)) out->push_back('-');
  AppendShortestG(f, false, out);
}

void AppendValue(const Value& v, std::string* out) {
  switch (v.kind()) {
    case Kind::kString:
      out->append(v.str());
      return;
    case Kind::kInt:
    case Kind::kInt64: {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof(buf), v.i());
      out->append(buf, static_cast<size_t>(res.ptr - buf));
      return;
    }
    case Kind::kFloat:
      AppendFloat(v.f(), out);
      return;
    default:
      FmtValue(Spec{}, v, 'v', out);
  }
}

void Sprintf(std::string_view format, std::span<const Value> args, std::string* out) {
  size_t arg = 0;
  bool reordered = false;
  size_t end = format.size();
  for (size_t i = 0; i < end;) {
    size_t start = i;
    while (i < end && format[i] != '%') ++i;
    out->append(format.substr(start, i - start));
    if (i >= end) break;
    ++i;  // skip '%'
    Spec sp;
    // Flags.
    for (; i < end; ++i) {
      char c = format[i];
      if (c == '#') {
        sp.sharp = true;
      } else if (c == '0') {
        sp.zero = !sp.minus;
      } else if (c == '+') {
        sp.plus = true;
      } else if (c == '-') {
        sp.minus = true;
        sp.zero = false;
      } else if (c == ' ') {
        sp.space = true;
      } else {
        break;
      }
    }
    bool good_argnum = true;
    // An explicit argument index: [n].
    auto arg_number = [&]() {
      if (i >= end || format[i] != '[') return;
      reordered = true;
      size_t close = format.find(']', i);
      if (close == std::string_view::npos) {
        good_argnum = false;
        return;
      }
      int n = 0;
      bool ok = close > i + 1;
      for (size_t k = i + 1; k < close; ++k) {
        if (format[k] < '0' || format[k] > '9' || n > 100000) {
          ok = false;
          break;
        }
        n = n * 10 + (format[k] - '0');
      }
      i = close + 1;
      if (!ok || n < 1 || static_cast<size_t>(n) > args.size()) {
        good_argnum = false;
        return;
      }
      arg = static_cast<size_t>(n - 1);
    };
    arg_number();
    // Width.
    if (i < end && format[i] == '*') {
      ++i;
      if (arg < args.size() && IntArg(args[arg], &sp.width)) {
        sp.has_width = true;
        if (sp.width < 0) {
          sp.minus = true;
          sp.zero = false;
          sp.width = -sp.width;
        }
      } else {
        out->append("%!(BADWIDTH)");
      }
      ++arg;
      arg_number();
    } else {
      int w = 0;
      bool any = false;
      while (i < end && format[i] >= '0' && format[i] <= '9') {
        if (w < 1000000) w = w * 10 + (format[i] - '0');
        ++i;
        any = true;
      }
      if (any) {
        sp.has_width = true;
        sp.width = w;
      }
    }
    // Precision.
    if (i < end && format[i] == '.') {
      ++i;
      arg_number();
      if (i < end && format[i] == '*') {
        ++i;
        if (arg < args.size() && IntArg(args[arg], &sp.prec)) {
          sp.has_prec = sp.prec >= 0;
          if (sp.prec < 0) sp.prec = 0;
        } else {
          out->append("%!(BADPREC)");
        }
        ++arg;
        arg_number();
      } else {
        int p = 0;
        while (i < end && format[i] >= '0' && format[i] <= '9') {
          if (p < 1000000) p = p * 10 + (format[i] - '0');
          ++i;
        }
        sp.has_prec = true;
        sp.prec = p;
      }
    }
    if (!sp.has_width) arg_number();
    if (i >= end) {
      out->append("%!(NOVERB)");
      break;
    }
    size_t w = 1;
    char32_t verb_rune = DecodeRune(format, i, &w);
    i += w;
    if (verb_rune == '%') {
      out->push_back('%');
      continue;
    }
    char verb = verb_rune < 0x80 ? static_cast<char>(verb_rune) : '?';
    if (!good_argnum) {
      out->append("%!");
      AppendUtf8(out, verb_rune);
      out->append("(BADINDEX)");
      continue;
    }
    if (arg >= args.size()) {
      out->append("%!");
      AppendUtf8(out, verb_rune);
      out->append("(MISSING)");
      continue;
    }
    if (verb_rune >= 0x80) {
      out->append("%!");
      AppendUtf8(out, verb_rune);
      out->push_back('(');
      out->append(GoTypeName(args[arg]));
      out->push_back('=');
      AppendValue(args[arg], out);
      out->push_back(')');
      ++arg;
      continue;
    }
    if (verb == 'v' && sp.sharp) sp.sharp = false;  // %#v (Go syntax) is printed as %v
    FmtValue(sp, args[arg], verb, out);
    ++arg;
  }
  if (!reordered && arg < args.size()) {
    out->append("%!(EXTRA ");
    for (size_t k = arg; k < args.size(); ++k) {
      if (k > arg) out->append(", ");
      if (args[k].is_nil()) {
        out->append("<nil>");
      } else {
        out->append(GoTypeName(args[k]));
        out->push_back('=');
        AppendValue(args[k], out);
      }
    }
    out->push_back(')');
  }
}

void Sprint(std::span<const Value> args, std::string* out) {
  bool prev_string = false;
  for (size_t k = 0; k < args.size(); ++k) {
    bool is_string = args[k].kind() == Kind::kString;
    if (k > 0 && !is_string && !prev_string) out->push_back(' ');
    AppendValue(args[k], out);
    prev_string = is_string;
  }
}

void Sprintln(std::span<const Value> args, std::string* out) {
  for (size_t k = 0; k < args.size(); ++k) {
    if (k > 0) out->push_back(' ');
    AppendValue(args[k], out);
  }
  out->push_back('\n');
}

}  // namespace sluice::gotemplate::internal
