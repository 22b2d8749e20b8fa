#include "logql/syntax/lexer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>

#include "common/duration.h"
#include "common/utf8.h"
#include "model/labels.h"

namespace sluice::logql::syntax {

namespace {

struct Keyword {
  std::string_view name;
  Tok kind;
};

constexpr std::array<Keyword, 22> kKeywords = {{
    {"by", Tok::kBy},
    {"without", Tok::kWithout},
    {"bool", Tok::kBool},
    {"offset", Tok::kOffset},
    {"on", Tok::kOn},
    {"ignoring", Tok::kIgnoring},
    {"group_left", Tok::kGroupLeft},
    {"group_right", Tok::kGroupRight},
    {"or", Tok::kOr},
    {"and", Tok::kAnd},
    {"unless", Tok::kUnless},
    {"json", Tok::kJson},
    {"regexp", Tok::kRegexp},
    {"logfmt", Tok::kLogfmt},
    {"unpack", Tok::kUnpack},
    {"pattern", Tok::kPattern},
    {"label_format", Tok::kLabelFormat},
    {"line_format", Tok::kLineFormat},
    {"decolorize", Tok::kDecolorize},
    {"drop", Tok::kDrop},
    {"keep", Tok::kKeep},
    {"unwrap", Tok::kUnwrap},
}};

// Words that are function tokens when followed by `(` (or `by (` / `without (`), and the name
// Loki's grammar gives them in error messages.
struct Function {
  std::string_view name;
  std::string_view display;
};

constexpr std::array<Function, 33> kFunctions = {{
    {"rate", "RATE"},
    {"rate_counter", "RATE_COUNTER"},
    {"count_over_time", "COUNT_OVER_TIME"},
    {"bytes_rate", "BYTES_RATE"},
    {"bytes_over_time", "BYTES_OVER_TIME"},
    {"avg_over_time", "AVG_OVER_TIME"},
    {"sum_over_time", "SUM_OVER_TIME"},
    {"min_over_time", "MIN_OVER_TIME"},
    {"max_over_time", "MAX_OVER_TIME"},
    {"stdvar_over_time", "STDVAR_OVER_TIME"},
    {"stddev_over_time", "STDDEV_OVER_TIME"},
    {"quantile_over_time", "QUANTILE_OVER_TIME"},
    {"first_over_time", "FIRST_OVER_TIME"},
    {"last_over_time", "LAST_OVER_TIME"},
    {"absent_over_time", "ABSENT_OVER_TIME"},
    {"vector", "VECTOR"},
    {"sum", "SUM"},
    {"avg", "AVG"},
    {"max", "MAX"},
    {"min", "MIN"},
    {"count", "COUNT"},
    {"stddev", "STDDEV"},
    {"stdvar", "STDVAR"},
    {"bottomk", "BOTTOMK"},
    {"topk", "TOPK"},
    {"sort", "SORT"},
    {"sort_desc", "SORT_DESC"},
    {"approx_topk", "APPROX_TOPK"},
    {"label_replace", "label_replace"},
    {"bytes", "BYTES_CONV"},
    {"duration", "DURATION_CONV"},
    {"duration_seconds", "DURATION_SECONDS_CONV"},
    {"ip", "ip"},
}};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsWordChar(char c) { return IsWordStart(c) || IsDigit(c); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Length of the run at s[pos] made of digits, '.', and the bytes of `units` (µ is two bytes).
size_t UnitRun(std::string_view s, size_t pos, std::string_view units) {
  size_t i = pos;
  while (i < s.size()) {
    char c = s[i];
    if (IsDigit(c) || c == '.' || units.find(c) != std::string_view::npos) {
      ++i;
    } else if (c == '\xc2' && i + 1 < s.size() && s[i + 1] == '\xb5' &&
               units.find('u') != std::string_view::npos) {
      i += 2;  // µ
    } else {
      break;
    }
  }
  return i - pos;
}

// go-humanize's ParseBytes: a decimal number, then a case-insensitive SI (kB = 1000) or IEC
// (KiB = 1024) unit.
bool ParseHumanBytes(std::string_view s, uint64_t* out) {
  size_t i = 0;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == '.')) ++i;
  if (i == 0) return false;
  char* end = nullptr;
  std::string num(s.substr(0, i));
  double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size()) return false;
  std::string unit = Lower(s.substr(i));
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"b", 1},        {"k", 1e3},      {"kb", 1e3},       {"ki", 1024.0},     {"kib", 1024.0},
      {"m", 1e6},      {"mb", 1e6},     {"mi", 1048576.0}, {"mib", 1048576.0}, {"g", 1e9},
      {"gb", 1e9},     {"gi", 0x1p30},  {"gib", 0x1p30},   {"t", 1e12},        {"tb", 1e12},
      {"ti", 0x1p40},  {"tib", 0x1p40}, {"p", 1e15},       {"pb", 1e15},       {"pi", 0x1p50},
      {"pib", 0x1p50},
  };
  for (const auto& [name, mult] : kUnits) {
    if (unit == name) {
      double bytes = v * mult;
      if (!(bytes < 18446744073709551616.0)) return false;
      *out = static_cast<uint64_t>(bytes);
      return true;
    }
  }
  return false;
}

Token Make(Tok kind, size_t offset, std::string text = {}) {
  Token t;
  t.kind = kind;
  t.offset = offset;
  t.text = std::move(text);
  return t;
}

}  // namespace

std::pair<int, int> Lexer::Position(size_t offset) const {
  offset = std::min(offset, in_.size());
  int line = 1;
  int col = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (in_[i] == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(in_[i]) & 0xc0) != 0x80) {
      ++col;
    }
  }
  return {line, col};
}

bool Lexer::SkipSpaceAndComments(Token* error) {
  while (pos_ < in_.size()) {
    char c = in_[pos_];
    if (IsSpace(c)) {
      ++pos_;
    } else if (c == '#' || (c == '/' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '/')) {
      while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
    } else if (c == '/' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '*') {
      size_t end = in_.find("*/", pos_ + 2);
      if (end == std::string_view::npos) {
        *error = Make(Tok::kError, pos_, "comment not terminated");
        pos_ = in_.size();
        return false;
      }
      pos_ = end + 2;
    } else {
      break;
    }
  }
  return true;
}

Token Lexer::Next() {
  Token err;
  if (!SkipSpaceAndComments(&err)) return err;
  size_t start = pos_;
  if (pos_ >= in_.size()) return Make(Tok::kEof, start);
  char c = in_[pos_];
  char next = pos_ + 1 < in_.size() ? in_[pos_ + 1] : '\0';

  if (IsDigit(c) || (c == '.' && IsDigit(next))) return LexNumber(start);
  if (IsWordStart(c)) return LexWord(start);
  if (c == '"' || c == '`') return LexString(start);
  if (c == '[') return LexRange(start);

  auto two = [&](Tok kind) {
    pos_ += 2;
    return Make(kind, start);
  };
  auto one = [&](Tok kind) {
    pos_ += 1;
    return Make(kind, start);
  };
  switch (c) {
    case '{':
      return one(Tok::kLBrace);
    case '}':
      return one(Tok::kRBrace);
    case '(':
      return one(Tok::kLParen);
    case ')':
      return one(Tok::kRParen);
    case ',':
      return one(Tok::kComma);
    case '.':
      return one(Tok::kDot);
    case '+':
      return one(Tok::kAdd);
    case '*':
      return one(Tok::kMul);
    case '/':
      return one(Tok::kDiv);
    case '%':
      return one(Tok::kMod);
    case '^':
      return one(Tok::kPow);
    case '=':
      if (next == '~') return two(Tok::kRe);
      if (next == '=') return two(Tok::kCmpEq);
      return one(Tok::kEq);
    case '!':
      if (next == '=') return two(Tok::kNeq);
      if (next == '~') return two(Tok::kNre);
      if (next == '>') return two(Tok::kNpa);
      return one(Tok::kUnknown);
    case '|':
      if (next == '=') return two(Tok::kPipeExact);
      if (next == '~') return two(Tok::kPipeMatch);
      if (next == '>') return two(Tok::kPipePattern);
      return one(Tok::kPipe);
    case '>':
      if (next == '=') return two(Tok::kGe);
      return one(Tok::kGt);
    case '<':
      if (next == '=') return two(Tok::kLe);
      return one(Tok::kLt);
    case '-': {
      if (next == '-') {
        // A parser flag: "--" then letters and dashes.
        size_t i = pos_ + 2;
        while (i < in_.size() && (IsWordStart(in_[i]) || in_[i] == '-') && in_[i] != '_') ++i;
        std::string flag(in_.substr(pos_, i - pos_));
        if (flag == "--strict" || flag == "--keep-empty") {
          pos_ = i;
          return Make(Tok::kFlag, start, std::move(flag));
        }
      }
      // A negative duration ("offset -5m"); otherwise a minus.
      size_t run = UnitRun(in_, pos_ + 1, "numsmhdwy");
      if (run > 0) {
        auto d = ParseDuration(in_.substr(pos_, run + 1));
        if (d.ok()) {
          pos_ += run + 1;
          Token t = Make(Tok::kDuration, start);
          t.nanos = *d;
          return t;
        }
      }
      return one(Tok::kSub);
    }
    default:
      break;
  }
  // Consume a whole UTF-8 character so the error names it.
  ++pos_;
  while (pos_ < in_.size() && (static_cast<unsigned char>(in_[pos_]) & 0xc0) == 0x80) ++pos_;
  return Make(Tok::kUnknown, start, std::string(in_.substr(start, pos_ - start)));
}

Token Lexer::LexNumber(size_t start) {
  size_t i = pos_;
  while (i < in_.size() && IsDigit(in_[i])) ++i;
  if (i < in_.size() && in_[i] == '.') {
    ++i;
    while (i < in_.size() && IsDigit(in_[i])) ++i;
  }
  if (i < in_.size() && (in_[i] == 'e' || in_[i] == 'E')) {
    size_t j = i + 1;
    if (j < in_.size() && (in_[j] == '+' || in_[j] == '-')) ++j;
    if (j < in_.size() && IsDigit(in_[j])) {
      while (j < in_.size() && IsDigit(in_[j])) ++j;
      i = j;
    }
  }
  std::string_view number = in_.substr(start, i - start);

  // As Loki: the longest run of unit characters after the number makes a duration if it
  // parses as one, else a byte size if it parses as one, else the number stands alone.
  size_t run = UnitRun(in_, i, "numsmhdwy");
  if (run > 0) {
    auto d = ParseDuration(in_.substr(start, i - start + run));
    if (d.ok()) {
      pos_ = i + run;
      Token t = Make(Tok::kDuration, start, std::string(in_.substr(start, pos_ - start)));
      t.nanos = *d;
      return t;
    }
  }
  run = UnitRun(in_, i, "BikKMGTP");
  if (run > 0) {
    uint64_t bytes = 0;
    if (ParseHumanBytes(in_.substr(start, i - start + run), &bytes)) {
      pos_ = i + run;
      Token t = Make(Tok::kBytes, start, std::string(in_.substr(start, pos_ - start)));
      t.bytes = bytes;
      return t;
    }
  }
  pos_ = i;
  return Make(Tok::kNumber, start, std::string(number));
}

bool Lexer::FollowedByCall(size_t pos) const {
  auto skip = [&](size_t p) {
    while (p < in_.size() && IsSpace(in_[p])) ++p;
    return p;
  };
  pos = skip(pos);
  if (pos < in_.size() && in_[pos] == '(') return true;
  for (std::string_view kw : {std::string_view("by"), std::string_view("without")}) {
    if (pos + kw.size() <= in_.size() && Lower(in_.substr(pos, kw.size())) == kw) {
      size_t p = skip(pos + kw.size());
      return p < in_.size() && in_[p] == '(';
    }
  }
  return false;
}

Token Lexer::LexWord(size_t start) {
  size_t i = pos_;
  while (i < in_.size() && IsWordChar(in_[i])) ++i;
  pos_ = i;
  std::string_view word = in_.substr(start, i - start);
  std::string lower = Lower(word);
  for (const auto& f : kFunctions) {
    if (lower == f.name) {
      if (FollowedByCall(pos_)) return Make(Tok::kFunction, start, std::move(lower));
      return Make(Tok::kIdentifier, start, std::string(word));
    }
  }
  for (const auto& k : kKeywords) {
    if (lower == k.name) return Make(k.kind, start, std::move(lower));
  }
  return Make(Tok::kIdentifier, start, std::string(word));
}

Token Lexer::LexString(size_t start) {
  char quote = in_[pos_];
  size_t i = pos_ + 1;
  if (quote == '`') {
    while (i < in_.size() && in_[i] != '`') ++i;
  } else {
    while (i < in_.size() && in_[i] != '"' && in_[i] != '\n') {
      i += in_[i] == '\\' ? 2 : 1;
    }
  }
  if (i >= in_.size() || in_[i] != quote) {
    pos_ = in_.size();
    return Make(Tok::kError, start, "literal not terminated");
  }
  pos_ = i + 1;
  std::string_view raw = in_.substr(start, pos_ - start);
  if (!IsValidUtf8(raw)) return Make(Tok::kError, start, "invalid UTF-8 rune");
  std::string value;
  size_t p = 0;
  if (!model::UnquoteString(raw, &p, &value) || p != raw.size()) {
    return Make(Tok::kError, start, "invalid char escape");
  }
  return Make(Tok::kString, start, std::move(value));
}

Token Lexer::LexRange(size_t start) {
  size_t end = in_.find(']', pos_ + 1);
  if (end == std::string_view::npos) {
    pos_ = in_.size();
    return Make(Tok::kError, start, "missing closing ']' in duration");
  }
  std::string_view text = in_.substr(pos_ + 1, end - pos_ - 1);
  pos_ = end + 1;
  // Prometheus durations: no sign.
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    return Make(Tok::kError, start, "not a valid duration string: \"" + std::string(text) + "\"");
  }
  auto d = ParseDuration(text);
  if (!d.ok()) return Make(Tok::kError, start, d.status().message());
  Token t = Make(Tok::kRange, start, std::string(text));
  t.nanos = *d;
  return t;
}

std::string_view TokName(Tok kind) {
  switch (kind) {
    case Tok::kEof:
      return "$end";
    case Tok::kError:
      return "error";
    case Tok::kUnknown:
      return "IDENTIFIER";
    case Tok::kIdentifier:
      return "IDENTIFIER";
    case Tok::kString:
      return "STRING";
    case Tok::kNumber:
      return "NUMBER";
    case Tok::kDuration:
      return "DURATION";
    case Tok::kBytes:
      return "BYTES";
    case Tok::kRange:
      return "RANGE";
    case Tok::kFlag:
      return "PARSER_FLAG";
    case Tok::kFunction:
      return "FUNCTION";
    case Tok::kLBrace:
      return "{";
    case Tok::kRBrace:
      return "}";
    case Tok::kLParen:
      return "(";
    case Tok::kRParen:
      return ")";
    case Tok::kComma:
      return ",";
    case Tok::kDot:
      return ".";
    case Tok::kEq:
      return "=";
    case Tok::kNeq:
      return "!=";
    case Tok::kRe:
      return "=~";
    case Tok::kNre:
      return "!~";
    case Tok::kPipeExact:
      return "|=";
    case Tok::kPipeMatch:
      return "|~";
    case Tok::kPipePattern:
      return "|>";
    case Tok::kNpa:
      return "!>";
    case Tok::kPipe:
      return "|";
    case Tok::kCmpEq:
      return "==";
    case Tok::kGt:
      return ">";
    case Tok::kGe:
      return ">=";
    case Tok::kLt:
      return "<";
    case Tok::kLe:
      return "<=";
    case Tok::kAdd:
      return "+";
    case Tok::kSub:
      return "-";
    case Tok::kMul:
      return "*";
    case Tok::kDiv:
      return "/";
    case Tok::kMod:
      return "%";
    case Tok::kPow:
      return "^";
    case Tok::kBy:
      return "by";
    case Tok::kWithout:
      return "without";
    case Tok::kBool:
      return "bool";
    case Tok::kOffset:
      return "offset";
    case Tok::kOn:
      return "on";
    case Tok::kIgnoring:
      return "ignoring";
    case Tok::kGroupLeft:
      return "group_left";
    case Tok::kGroupRight:
      return "group_right";
    case Tok::kOr:
      return "or";
    case Tok::kAnd:
      return "and";
    case Tok::kUnless:
      return "unless";
    case Tok::kJson:
      return "json";
    case Tok::kRegexp:
      return "regexp";
    case Tok::kLogfmt:
      return "logfmt";
    case Tok::kUnpack:
      return "unpack";
    case Tok::kPattern:
      return "pattern";
    case Tok::kLabelFormat:
      return "label_format";
    case Tok::kLineFormat:
      return "line_format";
    case Tok::kDecolorize:
      return "decolorize";
    case Tok::kDrop:
      return "drop";
    case Tok::kKeep:
      return "keep";
    case Tok::kUnwrap:
      return "unwrap";
  }
  return "?";
}

std::string TokenDisplay(const Token& t) {
  if (t.kind == Tok::kFunction) {
    for (const auto& f : kFunctions) {
      if (t.text == f.name) return std::string(f.display);
    }
  }
  return std::string(TokName(t.kind));
}

}  // namespace sluice::logql::syntax
