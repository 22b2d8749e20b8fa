#include "logql/syntax/printer.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "common/duration.h"
#include "gocompat/duration.h"
#include "model/labels.h"

namespace sluice::logql::syntax {

namespace {

using model::QuoteString;

// Go's strconv.FormatFloat(v, 'f', -1, 64).
std::string FormatFloatFixed(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

std::string FormatBytesExact(uint64_t b) {
  std::string best = fmt::format("{}B", b);
  if (b == 0) return best;
  struct Unit {
    const char* name;
    uint64_t size;
  };
  static constexpr Unit kUnits[] = {
      {"PB", 1000ULL * 1000 * 1000 * 1000 * 1000},
      {"TB", 1000ULL * 1000 * 1000 * 1000},
      {"GB", 1000ULL * 1000 * 1000},
      {"MB", 1000ULL * 1000},
      {"kB", 1000ULL},
      {"PiB", 1ULL << 50},
      {"TiB", 1ULL << 40},
      {"GiB", 1ULL << 30},
      {"MiB", 1ULL << 20},
      {"KiB", 1ULL << 10},
  };
  for (const auto& u : kUnits) {
    if (b % u.size == 0) {
      std::string s = fmt::format("{}{}", b / u.size, u.name);
      if (s.size() < best.size()) best = std::move(s);
    }
  }
  return best;
}

void AppendLabelList(std::string* out, const std::vector<std::string>& labels) {
  *out += '(';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) *out += ',';
    *out += labels[i];
  }
  *out += ')';
}

void AppendGrouping(std::string* out, const Grouping& g) {
  *out += g.without ? " without " : " by ";
  AppendLabelList(out, g.labels);
}

void AppendLabelFilter(std::string* out, const LabelFilter& f) {
  switch (f.kind()) {
    case LabelFilterKind::kString:
      *out += f.Cast<StringLabelFilter>().matcher.ToString();
      return;
    case LabelFilterKind::kNumeric: {
      const auto& n = f.Cast<NumericLabelFilter>();
      *out += n.name + CompareOpName(n.op) + FormatFloatFixed(n.value);
      return;
    }
    case LabelFilterKind::kDuration: {
      const auto& d = f.Cast<DurationLabelFilter>();
      *out += d.name + CompareOpName(d.op) + gocompat::FormatDuration(d.nanos);
      return;
    }
    case LabelFilterKind::kBytes: {
      const auto& b = f.Cast<BytesLabelFilter>();
      *out += b.name + CompareOpName(b.op) + FormatBytesExact(b.bytes);
      return;
    }
    case LabelFilterKind::kIp: {
      const auto& ip = f.Cast<IpLabelFilter>();
      *out += ip.name + (ip.negated ? "!=" : "=") + "ip(" + QuoteString(ip.pattern) + ")";
      return;
    }
    case LabelFilterKind::kBinary: {
      const auto& b = f.Cast<BinaryLabelFilter>();
      *out += "( ";
      AppendLabelFilter(out, *b.left);
      *out += b.is_and ? " , " : " or ";
      AppendLabelFilter(out, *b.right);
      *out += " )";
      return;
    }
  }
}

void AppendExtractions(std::string* out, const std::vector<LabelExtraction>& extractions) {
  for (size_t i = 0; i < extractions.size(); ++i) {
    *out += i == 0 ? " " : ",";
    *out += extractions[i].label + "=" + QuoteString(extractions[i].expression);
  }
}

void AppendNamedMatchers(std::string* out, const std::vector<NamedMatcher>& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    *out += i == 0 ? " " : ",";
    *out += labels[i].matcher ? labels[i].matcher->ToString() : labels[i].name;
  }
}

void AppendStage(std::string* out, const Stage& s) {
  switch (s.kind()) {
    case StageKind::kLineFilter: {
      const auto& lf = s.Cast<LineFilterStage>();
      *out += LineFilterOpName(lf.op);
      for (size_t i = 0; i < lf.values.size(); ++i) {
        *out += i == 0 ? " " : " or ";
        const auto& v = lf.values[i];
        *out += v.ip ? "ip(" + QuoteString(v.value) + ")" : QuoteString(v.value);
      }
      return;
    }
    case StageKind::kParser: {
      const auto& p = s.Cast<ParserStage>();
      *out += "| ";
      *out += ParserKindName(p.parser);
      switch (p.parser) {
        case ParserKind::kJson:
          AppendExtractions(out, p.extractions);
          break;
        case ParserKind::kLogfmt:
          if (p.strict) *out += " --strict";
          if (p.keep_empty) *out += " --keep-empty";
          AppendExtractions(out, p.extractions);
          break;
        case ParserKind::kRegexp:
        case ParserKind::kPattern:
          *out += " " + QuoteString(p.param);
          break;
        case ParserKind::kUnpack:
          break;
      }
      return;
    }
    case StageKind::kLabelFilter:
      *out += "| ";
      AppendLabelFilter(out, *s.Cast<LabelFilterStage>().filter);
      return;
    case StageKind::kLineFormat:
      *out += "| line_format " + QuoteString(s.Cast<LineFormatStage>().tmpl);
      return;
    case StageKind::kLabelFormat: {
      const auto& formats = s.Cast<LabelFormatStage>().formats;
      *out += "| label_format";
      for (size_t i = 0; i < formats.size(); ++i) {
        *out += i == 0 ? " " : ",";
        *out += formats[i].name + "=" +
                (formats[i].rename ? formats[i].value : QuoteString(formats[i].value));
      }
      return;
    }
    case StageKind::kDropLabels:
      *out += "| drop";
      AppendNamedMatchers(out, s.Cast<DropLabelsStage>().labels);
      return;
    case StageKind::kKeepLabels:
      *out += "| keep";
      AppendNamedMatchers(out, s.Cast<KeepLabelsStage>().labels);
      return;
    case StageKind::kDecolorize:
      *out += "| decolorize";
      return;
  }
}

void AppendSelector(std::string* out, const LogSelectorExpr& sel) {
  *out += '{';
  for (size_t i = 0; i < sel.matchers.size(); ++i) {
    if (i > 0) *out += ", ";
    *out += sel.matchers[i].ToString();
  }
  *out += '}';
  for (const auto& stage : sel.stages) {
    *out += ' ';
    AppendStage(out, *stage);
  }
}

const char* ConversionName(UnwrapConversion c) {
  switch (c) {
    case UnwrapConversion::kBytes:
      return "bytes";
    case UnwrapConversion::kDuration:
      return "duration";
    case UnwrapConversion::kDurationSeconds:
      return "duration_seconds";
    case UnwrapConversion::kNone:
      break;
  }
  return "";
}

void AppendExpr(std::string* out, const Expr& e) {
  switch (e.kind()) {
    case ExprKind::kLogSelector:
      AppendSelector(out, e.Cast<LogSelectorExpr>());
      return;
    case ExprKind::kRangeAggregation: {
      const auto& r = e.Cast<RangeAggregationExpr>();
      *out += RangeOpName(r.op);
      *out += '(';
      if (r.param) *out += FormatFloatFixed(*r.param) + ",";
      AppendSelector(out, *r.range.selector);
      if (r.range.unwrap) {
        const Unwrap& u = *r.range.unwrap;
        *out += " | unwrap ";
        if (u.conversion == UnwrapConversion::kNone) {
          *out += u.label;
        } else {
          *out += std::string(ConversionName(u.conversion)) + "(" + u.label + ")";
        }
        for (const auto& f : u.post_filters) {
          *out += " | ";
          AppendLabelFilter(out, *f);
        }
      }
      *out += "[" + FormatDuration(r.range.range_nanos) + "]";
      if (r.range.offset_nanos != 0) {
        *out += " offset " + gocompat::FormatDuration(r.range.offset_nanos);
      }
      *out += ')';
      if (r.grouping) AppendGrouping(out, *r.grouping);
      return;
    }
    case ExprKind::kVectorAggregation: {
      const auto& v = e.Cast<VectorAggregationExpr>();
      *out += VectorOpName(v.op);
      // `by ()` is the default and is left out.
      if (v.grouping.without || !v.grouping.labels.empty()) AppendGrouping(out, v.grouping);
      *out += '(';
      if (v.param) *out += fmt::format("{},", *v.param);
      AppendExpr(out, *v.inner);
      *out += ')';
      return;
    }
    case ExprKind::kBinaryOp: {
      const auto& b = e.Cast<BinaryOpExpr>();
      *out += '(';
      AppendExpr(out, *b.lhs);
      *out += ' ';
      *out += BinaryOpName(b.op);
      if (b.return_bool) *out += " bool";
      const VectorMatching& m = b.matching;
      if (m.on || !m.labels.empty() || m.card != MatchCardinality::kOneToOne) {
        *out += m.on ? " on " : " ignoring ";
        AppendLabelList(out, m.labels);
        if (m.card != MatchCardinality::kOneToOne) {
          *out += m.card == MatchCardinality::kManyToOne ? " group_left" : " group_right";
          if (!m.include.empty()) {
            *out += ' ';
            AppendLabelList(out, m.include);
          }
        }
      }
      *out += ' ';
      AppendExpr(out, *b.rhs);
      *out += ')';
      return;
    }
    case ExprKind::kLiteral:
      *out += FormatGoFloat(e.Cast<LiteralExpr>().value);
      return;
    case ExprKind::kVector:
      *out += fmt::format("vector({:f})", e.Cast<VectorExpr>().value);
      return;
    case ExprKind::kLabelReplace: {
      const auto& l = e.Cast<LabelReplaceExpr>();
      *out += "label_replace(";
      AppendExpr(out, *l.inner);
      for (const std::string* s : {&l.dst, &l.replacement, &l.src, &l.regex}) {
        *out += ',';
        *out += QuoteString(*s);
      }
      *out += ')';
      return;
    }
  }
}

}  // namespace

std::string FormatGoFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // shortest round-trip digits: "-1.2345e+06"
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  int exp = std::atoi(sci.c_str() + e + 1);
  if (exp < -4 || exp >= 6) return sign + sci;  // Go's %g with shortest precision
  std::string digits;
  for (size_t i = 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  int point = exp + 1;  // digits before the decimal point
  if (point <= 0) return sign + "0." + std::string(static_cast<size_t>(-point), '0') + digits;
  if (static_cast<size_t>(point) >= digits.size()) {
    return sign + digits + std::string(static_cast<size_t>(point) - digits.size(), '0');
  }
  return sign + digits.substr(0, static_cast<size_t>(point)) + "." +
         digits.substr(static_cast<size_t>(point));
}

std::string Print(const Expr& e) {
  std::string out;
  AppendExpr(&out, e);
  return out;
}

std::string PrintStage(const Stage& s) {
  std::string out;
  AppendStage(&out, s);
  return out;
}

std::string PrintLabelFilter(const LabelFilter& f) {
  std::string out;
  AppendLabelFilter(&out, f);
  return out;
}

}  // namespace sluice::logql::syntax
