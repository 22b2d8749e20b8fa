#include "logql/syntax/parser.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <optional>
#include <set>

#include "logql/syntax/lexer.h"

namespace sluice::logql::syntax {

namespace {

constexpr char kEmptyCompatibleError[] =
    "queries require at least one regexp or equality matcher that does not have an "
    "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
    "app=~\".+\" will";

Status SemanticError(std::string_view msg) {
  return Status::InvalidArgument(fmt::format("parse error : {}", msg));
}

struct NamedOp {
  std::string_view name;
  int op;
};

constexpr NamedOp kRangeOps[] = {
    {"count_over_time", static_cast<int>(RangeOp::kCountOverTime)},
    {"rate", static_cast<int>(RangeOp::kRate)},
    {"rate_counter", static_cast<int>(RangeOp::kRateCounter)},
    {"bytes_over_time", static_cast<int>(RangeOp::kBytesOverTime)},
    {"bytes_rate", static_cast<int>(RangeOp::kBytesRate)},
    {"avg_over_time", static_cast<int>(RangeOp::kAvgOverTime)},
    {"sum_over_time", static_cast<int>(RangeOp::kSumOverTime)},
    {"min_over_time", static_cast<int>(RangeOp::kMinOverTime)},
    {"max_over_time", static_cast<int>(RangeOp::kMaxOverTime)},
    {"stdvar_over_time", static_cast<int>(RangeOp::kStdvarOverTime)},
    {"stddev_over_time", static_cast<int>(RangeOp::kStddevOverTime)},
    {"quantile_over_time", static_cast<int>(RangeOp::kQuantileOverTime)},
    {"first_over_time", static_cast<int>(RangeOp::kFirstOverTime)},
    {"last_over_time", static_cast<int>(RangeOp::kLastOverTime)},
    {"absent_over_time", static_cast<int>(RangeOp::kAbsentOverTime)},
};

constexpr NamedOp kVectorOps[] = {
    {"sum", static_cast<int>(VectorOp::kSum)},
    {"avg", static_cast<int>(VectorOp::kAvg)},
    {"min", static_cast<int>(VectorOp::kMin)},
    {"max", static_cast<int>(VectorOp::kMax)},
    {"count", static_cast<int>(VectorOp::kCount)},
    {"stddev", static_cast<int>(VectorOp::kStddev)},
    {"stdvar", static_cast<int>(VectorOp::kStdvar)},
    {"topk", static_cast<int>(VectorOp::kTopK)},
    {"bottomk", static_cast<int>(VectorOp::kBottomK)},
    {"sort", static_cast<int>(VectorOp::kSort)},
    {"sort_desc", static_cast<int>(VectorOp::kSortDesc)},
    {"approx_topk", static_cast<int>(VectorOp::kApproxTopK)},
};

template <size_t N>
std::optional<int> Lookup(const NamedOp (&table)[N], std::string_view name) {
  for (const auto& e : table) {
    if (e.name == name) return e.op;
  }
  return std::nullopt;
}

std::optional<BinaryOp> BinaryOpFor(Tok t) {
  switch (t) {
    case Tok::kOr:
      return BinaryOp::kOr;
    case Tok::kAnd:
      return BinaryOp::kAnd;
    case Tok::kUnless:
      return BinaryOp::kUnless;
    case Tok::kAdd:
      return BinaryOp::kAdd;
    case Tok::kSub:
      return BinaryOp::kSub;
    case Tok::kMul:
      return BinaryOp::kMul;
    case Tok::kDiv:
      return BinaryOp::kDiv;
    case Tok::kMod:
      return BinaryOp::kMod;
    case Tok::kPow:
      return BinaryOp::kPow;
    case Tok::kCmpEq:
      return BinaryOp::kEq;
    case Tok::kNeq:
      return BinaryOp::kNe;
    case Tok::kGt:
      return BinaryOp::kGt;
    case Tok::kGe:
      return BinaryOp::kGe;
    case Tok::kLt:
      return BinaryOp::kLt;
    case Tok::kLe:
      return BinaryOp::kLe;
    default:
      return std::nullopt;
  }
}

// Loki's (and Prometheus') precedence, lowest first; ^ is right-associative.
int Precedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return 1;
    case BinaryOp::kAnd:
    case BinaryOp::kUnless:
      return 2;
    case BinaryOp::kEq:
    case BinaryOp::kNe:
    case BinaryOp::kGt:
    case BinaryOp::kGe:
    case BinaryOp::kLt:
    case BinaryOp::kLe:
      return 3;
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
      return 4;
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMod:
      return 5;
    case BinaryOp::kPow:
      return 6;
  }
  return 0;
}

// Loki's MergeBinOp on two scalars (division and modulo by zero give NaN).
double Fold(BinaryOp op, double l, double r) {
  switch (op) {
    case BinaryOp::kAdd:
      return l + r;
    case BinaryOp::kSub:
      return l - r;
    case BinaryOp::kMul:
      return l * r;
    case BinaryOp::kDiv:
      return r == 0 ? std::nan("") : l / r;
    case BinaryOp::kMod:
      return r == 0 ? std::nan("") : std::fmod(l, r);
    case BinaryOp::kPow:
      return std::pow(l, r);
    case BinaryOp::kEq:
      return l == r ? 1 : 0;
    case BinaryOp::kNe:
      return l != r ? 1 : 0;
    case BinaryOp::kGt:
      return l > r ? 1 : 0;
    case BinaryOp::kGe:
      return l >= r ? 1 : 0;
    case BinaryOp::kLt:
      return l < r ? 1 : 0;
    case BinaryOp::kLe:
      return l <= r ? 1 : 0;
    case BinaryOp::kOr:
    case BinaryOp::kAnd:
    case BinaryOp::kUnless:
      break;
  }
  return std::nan("");
}

bool IsLineFilterOp(Tok t) {
  return t == Tok::kPipeExact || t == Tok::kNeq || t == Tok::kPipeMatch || t == Tok::kNre ||
         t == Tok::kPipePattern || t == Tok::kNpa;
}

LineFilterOp LineFilterOpFor(Tok t) {
  switch (t) {
    case Tok::kPipeExact:
      return LineFilterOp::kContains;
    case Tok::kNeq:
      return LineFilterOp::kNotContains;
    case Tok::kPipeMatch:
      return LineFilterOp::kMatch;
    case Tok::kNre:
      return LineFilterOp::kNotMatch;
    case Tok::kPipePattern:
      return LineFilterOp::kPattern;
    default:
      return LineFilterOp::kNotPattern;
  }
}

bool IsNegative(LineFilterOp op) {
  return op == LineFilterOp::kNotContains || op == LineFilterOp::kNotMatch ||
         op == LineFilterOp::kNotPattern;
}

std::optional<model::LabelMatcher::Type> MatcherTypeFor(Tok t) {
  switch (t) {
    case Tok::kEq:
      return model::LabelMatcher::Type::kEqual;
    case Tok::kNeq:
      return model::LabelMatcher::Type::kNotEqual;
    case Tok::kRe:
      return model::LabelMatcher::Type::kRegexMatch;
    case Tok::kNre:
      return model::LabelMatcher::Type::kRegexNoMatch;
    default:
      return std::nullopt;
  }
}

std::optional<CompareOp> CompareOpFor(Tok t) {
  switch (t) {
    case Tok::kEq:
    case Tok::kCmpEq:
      return CompareOp::kEq;
    case Tok::kNeq:
      return CompareOp::kNe;
    case Tok::kGt:
      return CompareOp::kGt;
    case Tok::kGe:
      return CompareOp::kGe;
    case Tok::kLt:
      return CompareOp::kLt;
    case Tok::kLe:
      return CompareOp::kLe;
    default:
      return std::nullopt;
  }
}

// Go's regexp/syntax wording for an RE2 compile error: "error parsing regexp: missing closing ):
// `(`", so messages read as Loki's do.
std::string GoRegexError(const RE2& re) {
  const char* what = nullptr;
  switch (re.error_code()) {
    case RE2::ErrorBadEscape:
      what = "invalid escape sequence";
      break;
    case RE2::ErrorBadCharClass:
      what = "invalid character class";
      break;
    case RE2::ErrorBadCharRange:
      what = "invalid character class range";
      break;
    case RE2::ErrorMissingBracket:
      what = "missing closing ]";
      break;
    case RE2::ErrorMissingParen:
      what = "missing closing )";
      break;
    case RE2::ErrorUnexpectedParen:
      what = "unexpected )";
      break;
    case RE2::ErrorTrailingBackslash:
      what = "trailing backslash at end of expression";
      break;
    case RE2::ErrorRepeatArgument:
      what = "missing argument to repetition operator";
      break;
    case RE2::ErrorRepeatSize:
      what = "invalid repeat count";
      break;
    case RE2::ErrorRepeatOp:
      what = "invalid nested repetition operator";
      break;
    case RE2::ErrorBadPerlOp:
      what = "invalid or unsupported Perl syntax";
      break;
    case RE2::ErrorBadUTF8:
      what = "invalid UTF-8";
      break;
    case RE2::ErrorBadNamedCapture:
      what = "invalid named capture";
      break;
    case RE2::ErrorPatternTooLarge:
      what = "expression too large";
      break;
    default:
      return "error parsing regexp: " + re.error();
  }
  return fmt::format("error parsing regexp: {}: `{}`", what, re.error_arg());
}

// Compiles `pattern` as written (so errors point into it); "" when it is valid.
std::string RegexError(const std::string& pattern, bool dot_nl) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_dot_nl(dot_nl);
  RE2 re(pattern, opts);
  return re.ok() ? std::string() : GoRegexError(re);
}

Status CheckRegex(const std::string& pattern) {
  std::string err = RegexError(pattern, false);
  if (!err.empty()) return SemanticError(err);
  return Status::OK();
}

// A label matcher; regex errors read as Loki's (model::LabelMatcher compiles the anchored form).
Result<model::LabelMatcher> MakeMatcher(model::LabelMatcher::Type type, std::string name,
                                        std::string value) {
  if (type == model::LabelMatcher::Type::kRegexMatch ||
      type == model::LabelMatcher::Type::kRegexNoMatch) {
    std::string err = RegexError(value, true);
    if (!err.empty()) return SemanticError(err);
  }
  auto m = model::LabelMatcher::Make(type, std::move(name), std::move(value));
  if (!m.ok()) return SemanticError(m.status().message());
  return m;
}

// Loki's regexp parser needs named captures that are valid, distinct label names.
Status CheckRegexpParser(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  RE2 re(pattern, opts);
  if (!re.ok()) return SemanticError("invalid regexp parser: " + GoRegexError(re));
  const auto& names = re.NamedCapturingGroups();
  if (names.empty()) {
    return SemanticError("invalid regexp parser: at least one named capture must be supplied");
  }
  for (const auto& [name, index] : names) {
    if (!model::IsValidLabelName(name)) {
      return SemanticError(
          fmt::format("invalid regexp parser: invalid extracted label name '{}'", name));
    }
  }
  return Status::OK();
}

// Loki's pattern parser: literals and `<name>` captures; at least one named capture, no two
// captures side by side, no name twice (`<_>` may repeat).
Status CheckPatternParser(std::string_view pattern) {
  std::vector<std::pair<bool, std::string>> nodes;  // (is_capture, name)
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '<') {
      size_t j = i + 1;
      auto word = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               (!first && c >= '0' && c <= '9');
      };
      if (j < pattern.size() && word(pattern[j], true)) {
        ++j;
        while (j < pattern.size() && word(pattern[j], false)) ++j;
        if (j < pattern.size() && pattern[j] == '>') {
          nodes.emplace_back(true, std::string(pattern.substr(i + 1, j - i - 1)));
          i = j + 1;
          continue;
        }
      }
    }
    if (nodes.empty() || nodes.back().first) nodes.emplace_back(false, "");
    ++i;
  }
  bool named = false;
  std::set<std::string> seen;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].first) continue;
    if (i + 1 < nodes.size() && nodes[i + 1].first) {
      return SemanticError(fmt::format(
          "invalid pattern parser: found consecutive capture '<{}><{}>': invalid expression",
          nodes[i].second, nodes[i + 1].second));
    }
    if (nodes[i].second == "_") continue;
    named = true;
    if (!seen.insert(nodes[i].second).second) {
      return SemanticError(
          fmt::format("invalid pattern parser: duplicate capture name ({}): invalid expression",
                      nodes[i].second));
    }
  }
  if (!named) return SemanticError("invalid pattern parser: at least one capture is required");
  return Status::OK();
}

// The Go type Loki names in "unexpected type" errors.
const char* GoTypeName(const Expr& e) {
  if (e.kind() == ExprKind::kLogSelector && e.Cast<LogSelectorExpr>().stages.empty()) {
    return "*syntax.MatchersExpr";
  }
  return "*syntax.PipelineExpr";
}

// Selector argument of a range aggregation while it is being assembled: the range may be
// given inside or after parentheses.
struct PartialRange {
  LogSelectorPtr selector;
  std::optional<Unwrap> unwrap;
  bool has_range = false;
  int64_t range_nanos = 0;
  int64_t offset_nanos = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view input) : lexer_(input) {}

  Result<ExprPtr> ParseQuery() {
    SLUICE_ASSIGN_OR_RETURN(ExprPtr e, ParseExpr(1));
    if (!At(Tok::kEof)) return Unexpected();
    SLUICE_RETURN_IF_ERROR(Validate(*e));
    return e;
  }

  // A bare `{...}` (the first thing of a log query); used alone by ParseMatchers.
  Result<LogSelectorPtr> ParseSelector() {
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kLBrace, "{").status());
    auto sel = std::make_unique<LogSelectorExpr>();
    if (At(Tok::kRBrace)) {
      Take();
      return sel;
    }
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(model::LabelMatcher m, ParseMatcher());
      sel->matchers.push_back(std::move(m));
      if (At(Tok::kComma)) {
        Take();
        continue;
      }
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kRBrace, "} or ,").status());
      return sel;
    }
  }

  bool AtEnd() { return At(Tok::kEof); }

 private:
  // The nesting levels one parsing function has entered; released when it returns.
  class Nesting {
   public:
    explicit Nesting(Parser* p) : p_(p) {}
    ~Nesting() { p_->depth_ -= levels_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    Status Enter() {
      if (p_->depth_ >= kMaxNestingDepth) {
        auto [line, col] = p_->lexer_.Position(p_->Peek().offset);
        return Status::InvalidArgument(
            fmt::format("parse error at line {}, col {}: query nested too deeply (limit {})", line,
                        col, kMaxNestingDepth));
      }
      ++p_->depth_;
      ++levels_;
      return Status::OK();
    }

   private:
    Parser* p_;
    int levels_ = 0;
  };

  // --- Tokens. -------------------------------------------------------------------------------

  const Token& Peek(size_t n = 0) {
    while (ahead_.size() <= n) {
      if (!ahead_.empty() &&
          (ahead_.back().kind == Tok::kEof || ahead_.back().kind == Tok::kError)) {
        ahead_.push_back(ahead_.back());
      } else {
        ahead_.push_back(lexer_.Next());
      }
    }
    return ahead_[n];
  }
  bool At(Tok kind) { return Peek().kind == kind; }
  bool AtFunction(std::string_view name) {
    return Peek().kind == Tok::kFunction && Peek().text == name;
  }
  Token Take() {
    Peek();
    Token t = std::move(ahead_.front());
    ahead_.pop_front();
    return t;
  }

  // The error for the current token: its lexical error, or "syntax error: unexpected X".
  Status Unexpected(std::string_view expecting = {}) {
    const Token& t = Peek();
    auto [line, col] = lexer_.Position(t.offset);
    if (t.kind == Tok::kError) {
      return Status::InvalidArgument(
          fmt::format("parse error at line {}, col {}: {}", line, col, t.text));
    }
    std::string msg = fmt::format("parse error at line {}, col {}: syntax error: unexpected {}",
                                  line, col, TokenDisplay(t));
    if (!expecting.empty()) msg += fmt::format(", expecting {}", expecting);
    return Status::InvalidArgument(std::move(msg));
  }

  Result<Token> Expect(Tok kind, std::string_view expecting) {
    if (!At(kind)) return Unexpected(expecting);
    return Take();
  }

  // --- Expressions. --------------------------------------------------------------------------

  // Precedence climbing over binary operators with precedence >= min_prec.
  Result<ExprPtr> ParseExpr(int min_prec) {
    Nesting nesting(this);
    SLUICE_RETURN_IF_ERROR(nesting.Enter());
    SLUICE_ASSIGN_OR_RETURN(ExprPtr lhs, ParseUnary());
    while (true) {
      std::optional<BinaryOp> op = BinaryOpFor(Peek().kind);
      if (!op || Precedence(*op) < min_prec) break;
      Take();
      auto node = std::make_unique<BinaryOpExpr>();
      node->op = *op;
      SLUICE_RETURN_IF_ERROR(ParseBinaryModifiers(node.get()));
      int next_min = *op == BinaryOp::kPow ? Precedence(*op) : Precedence(*op) + 1;
      SLUICE_ASSIGN_OR_RETURN(ExprPtr rhs, ParseExpr(next_min));
      // A left-deep chain is as deep to print and destroy as nesting is.
      SLUICE_RETURN_IF_ERROR(nesting.Enter());
      node->lhs = std::move(lhs);
      node->rhs = std::move(rhs);
      SLUICE_ASSIGN_OR_RETURN(lhs, MakeBinary(std::move(node)));
    }
    return lhs;
  }

  Status ParseBinaryModifiers(BinaryOpExpr* node) {
    if (At(Tok::kBool)) {
      Take();
      node->return_bool = true;
    }
    if (At(Tok::kOn) || At(Tok::kIgnoring)) {
      node->matching.on = Take().kind == Tok::kOn;
      SLUICE_ASSIGN_OR_RETURN(node->matching.labels, ParseLabelList());
      if (At(Tok::kGroupLeft) || At(Tok::kGroupRight)) {
        node->matching.card = Take().kind == Tok::kGroupLeft ? MatchCardinality::kManyToOne
                                                             : MatchCardinality::kOneToMany;
        if (At(Tok::kLParen)) {
          SLUICE_ASSIGN_OR_RETURN(node->matching.include, ParseLabelList());
        }
      }
    }
    return Status::OK();
  }

  // Type checks and literal folding, as Loki's mustNewBinOpExpr.
  Result<ExprPtr> MakeBinary(std::unique_ptr<BinaryOpExpr> node) {
    const char* name = BinaryOpName(node->op);
    if (!node->lhs->IsSample()) {
      return SemanticError(fmt::format("unexpected type for left leg of binary operation ({}): {}",
                                       name, GoTypeName(*node->lhs)));
    }
    if (!node->rhs->IsSample()) {
      return SemanticError(fmt::format("unexpected type for right leg of binary operation ({}): {}",
                                       name, GoTypeName(*node->rhs)));
    }
    bool lit_l = node->lhs->kind() == ExprKind::kLiteral;
    bool lit_r = node->rhs->kind() == ExprKind::kLiteral;
    if (IsSetOperation(node->op)) {
      if (lit_l) {
        return SemanticError(fmt::format(
            "unexpected literal for left leg of logical/set binary operation ({}): {:f}", name,
            node->lhs->Cast<LiteralExpr>().value));
      }
      if (lit_r) {
        return SemanticError(fmt::format(
            "unexpected literal for right leg of logical/set binary operation ({}): {:f}", name,
            node->rhs->Cast<LiteralExpr>().value));
      }
    }
    if (lit_l && lit_r) {
      return ExprPtr(std::make_unique<LiteralExpr>(Fold(
          node->op, node->lhs->Cast<LiteralExpr>().value, node->rhs->Cast<LiteralExpr>().value)));
    }
    return ExprPtr(std::move(node));
  }

  Result<ExprPtr> ParseUnary() {
    if (At(Tok::kAdd) || At(Tok::kSub)) {
      bool negative = Take().kind == Tok::kSub;
      SLUICE_ASSIGN_OR_RETURN(double v, ParseNumber());
      return ExprPtr(std::make_unique<LiteralExpr>(negative ? -v : v));
    }
    return ParsePrimary();
  }

  Result<double> ParseNumber() {
    SLUICE_ASSIGN_OR_RETURN(Token t, Expect(Tok::kNumber, "NUMBER"));
    double v = std::strtod(t.text.c_str(), nullptr);
    if (std::isinf(v)) {
      return SemanticError(
          fmt::format("unable to parse literal as a float: strconv.ParseFloat: parsing \"{}\": "
                      "value out of range",
                      t.text));
    }
    return v;
  }

  Result<ExprPtr> ParsePrimary() {
    switch (Peek().kind) {
      case Tok::kLBrace: {
        SLUICE_ASSIGN_OR_RETURN(LogSelectorPtr sel, ParseSelector());
        SLUICE_RETURN_IF_ERROR(ParseStages(&sel->stages, nullptr));
        return ExprPtr(std::move(sel));
      }
      case Tok::kLParen: {
        Take();
        SLUICE_ASSIGN_OR_RETURN(ExprPtr inner, ParseExpr(1));
        if (!At(Tok::kRParen)) return Unexpected();
        Take();
        return inner;
      }
      case Tok::kNumber: {
        SLUICE_ASSIGN_OR_RETURN(double v, ParseNumber());
        return ExprPtr(std::make_unique<LiteralExpr>(v));
      }
      case Tok::kFunction: {
        const std::string& name = Peek().text;
        if (auto op = Lookup(kRangeOps, name)) {
          return ParseRangeAggregation(static_cast<RangeOp>(*op));
        }
        if (auto op = Lookup(kVectorOps, name)) {
          return ParseVectorAggregation(static_cast<VectorOp>(*op));
        }
        if (name == "vector") return ParseVector();
        if (name == "label_replace") return ParseLabelReplace();
        return Unexpected();
      }
      default:
        return Unexpected();
    }
  }

  Result<ExprPtr> ParseRangeAggregation(RangeOp op) {
    Take();
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kLParen, "(").status());
    Nesting nesting(this);
    SLUICE_RETURN_IF_ERROR(nesting.Enter());
    auto node = std::make_unique<RangeAggregationExpr>();
    node->op = op;
    std::optional<std::string> param_text;
    if (At(Tok::kNumber)) {
      param_text = Take().text;
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kComma, ",").status());
    }
    if (!At(Tok::kLBrace) && !At(Tok::kLParen)) {
      return Unexpected(param_text ? "{ or (" : "NUMBER or { or (");
    }
    SLUICE_ASSIGN_OR_RETURN(PartialRange r, ParseLogRange());
    if (!r.has_range) return Unexpected("RANGE");
    node->range.selector = std::move(r.selector);
    node->range.range_nanos = r.range_nanos;
    node->range.offset_nanos = r.offset_nanos;
    node->range.unwrap = std::move(r.unwrap);
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ")").status());
    if (At(Tok::kBy) || At(Tok::kWithout)) {
      SLUICE_ASSIGN_OR_RETURN(node->grouping, ParseGrouping());
    }
    SLUICE_RETURN_IF_ERROR(ValidateRangeAggregation(node.get(), param_text));
    return ExprPtr(std::move(node));
  }

  // Loki's newRangeAggregationExpr and RangeAggregationExpr.validate.
  static Status ValidateRangeAggregation(RangeAggregationExpr* node,
                                         const std::optional<std::string>& param_text) {
    const char* name = RangeOpName(node->op);
    if (param_text) {
      if (node->op != RangeOp::kQuantileOverTime) {
        return SemanticError(
            fmt::format("parameter {} not supported for operation {}", *param_text, name));
      }
      node->param = std::strtod(param_text->c_str(), nullptr);
    } else if (node->op == RangeOp::kQuantileOverTime) {
      return SemanticError(fmt::format("parameter required for operation {}", name));
    }
    if (node->grouping) {
      switch (node->op) {
        case RangeOp::kAvgOverTime:
        case RangeOp::kStddevOverTime:
        case RangeOp::kStdvarOverTime:
        case RangeOp::kQuantileOverTime:
        case RangeOp::kMaxOverTime:
        case RangeOp::kMinOverTime:
        case RangeOp::kFirstOverTime:
        case RangeOp::kLastOverTime:
          break;
        default:
          return SemanticError(fmt::format("grouping not allowed for {} aggregation", name));
      }
    }
    if (node->range.unwrap) {
      switch (node->op) {
        case RangeOp::kCountOverTime:
        case RangeOp::kBytesOverTime:
        case RangeOp::kBytesRate:
          return SemanticError(fmt::format("invalid aggregation {} with unwrap", name));
        default:
          return Status::OK();
      }
    }
    switch (node->op) {
      case RangeOp::kBytesOverTime:
      case RangeOp::kBytesRate:
      case RangeOp::kCountOverTime:
      case RangeOp::kRate:
      case RangeOp::kAbsentOverTime:
        return Status::OK();
      default:
        return SemanticError(fmt::format("invalid aggregation {} without unwrap", name));
    }
  }

  // The argument of a range aggregation, in any of Loki's spellings:
  //   {a="b"} |= "x" | unwrap y [5m] offset 1h      {a="b"}[5m] offset 1h |= "x" | unwrap y
  //   ({a="b"} |= "x")[5m]                           (({a="b"}[5m]))
  Result<PartialRange> ParseLogRange() {
    PartialRange r;
    if (At(Tok::kLParen)) {
      Take();
      Nesting nesting(this);
      SLUICE_RETURN_IF_ERROR(nesting.Enter());
      if (!At(Tok::kLBrace) && !At(Tok::kLParen)) return Unexpected("{ or (");
      SLUICE_ASSIGN_OR_RETURN(r, ParseLogRange());
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ")").status());
      if (!r.has_range && At(Tok::kRange)) SLUICE_RETURN_IF_ERROR(ParseRangeAndOffset(&r));
      return r;
    }
    SLUICE_ASSIGN_OR_RETURN(r.selector, ParseSelector());
    if (At(Tok::kRange)) {
      SLUICE_RETURN_IF_ERROR(ParseRangeAndOffset(&r));
      SLUICE_RETURN_IF_ERROR(ParseStages(&r.selector->stages, &r.unwrap));
      return r;
    }
    SLUICE_RETURN_IF_ERROR(ParseStages(&r.selector->stages, &r.unwrap));
    if (At(Tok::kRange)) SLUICE_RETURN_IF_ERROR(ParseRangeAndOffset(&r));
    return r;
  }

  Status ParseRangeAndOffset(PartialRange* r) {
    r->range_nanos = Take().nanos;
    r->has_range = true;
    if (At(Tok::kOffset)) {
      Take();
      SLUICE_ASSIGN_OR_RETURN(Token d, Expect(Tok::kDuration, "DURATION"));
      r->offset_nanos = d.nanos;
    }
    return Status::OK();
  }

  Result<ExprPtr> ParseVectorAggregation(VectorOp op) {
    Take();
    auto node = std::make_unique<VectorAggregationExpr>();
    node->op = op;
    bool grouped = false;
    if (At(Tok::kBy) || At(Tok::kWithout)) {
      SLUICE_ASSIGN_OR_RETURN(node->grouping, ParseGrouping());
      grouped = true;
    }
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kLParen, "(").status());
    Nesting nesting(this);
    SLUICE_RETURN_IF_ERROR(nesting.Enter());
    std::optional<std::string> param_text;
    if (At(Tok::kNumber) && Peek(1).kind == Tok::kComma) {
      param_text = Take().text;
      Take();
    }
    SLUICE_ASSIGN_OR_RETURN(node->inner, ParseExpr(1));
    if (!At(Tok::kRParen)) return Unexpected();
    Take();
    if (!grouped && (At(Tok::kBy) || At(Tok::kWithout))) {
      SLUICE_ASSIGN_OR_RETURN(node->grouping, ParseGrouping());
      grouped = true;
    }
    // Loki's mustNewVectorAggregationExpr.
    const char* name = VectorOpName(op);
    if (op == VectorOp::kTopK || op == VectorOp::kBottomK || op == VectorOp::kApproxTopK) {
      if (!param_text) {
        return SemanticError(fmt::format("parameter required for operation {}", name));
      }
      char* end = nullptr;
      errno = 0;
      long long k = std::strtoll(param_text->c_str(), &end, 10);
      if (end != param_text->c_str() + param_text->size() || errno != 0) {
        return SemanticError(fmt::format("invalid parameter {}({},", name, *param_text));
      }
      if (k <= 0) {
        return SemanticError(
            fmt::format("invalid parameter (must be greater than 0) {}({}", name, *param_text));
      }
      if (op == VectorOp::kApproxTopK && grouped) {
        return SemanticError(fmt::format("grouping not allowed for {} aggregation", name));
      }
      node->param = k;
    } else if (param_text) {
      return SemanticError(
          fmt::format("unsupported parameter for operation {}({},", name, *param_text));
    }
    if ((op == VectorOp::kSort || op == VectorOp::kSortDesc) && !node->grouping.labels.empty()) {
      return SemanticError("sort and sort_desc doesn't allow grouping by ");
    }
    if (!node->inner->IsSample()) {
      // Loki's grammar only accepts metric expressions here.
      return SemanticError(
          fmt::format("unexpected type for {} aggregation: {}", name, GoTypeName(*node->inner)));
    }
    return ExprPtr(std::move(node));
  }

  Result<ExprPtr> ParseVector() {
    Take();
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kLParen, "(").status());
    SLUICE_ASSIGN_OR_RETURN(double v, ParseNumber());
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ")").status());
    return ExprPtr(std::make_unique<VectorExpr>(v));
  }

  Result<ExprPtr> ParseLabelReplace() {
    Take();
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kLParen, "(").status());
    Nesting nesting(this);
    SLUICE_RETURN_IF_ERROR(nesting.Enter());
    auto node = std::make_unique<LabelReplaceExpr>();
    SLUICE_ASSIGN_OR_RETURN(node->inner, ParseExpr(1));
    for (std::string* field : {&node->dst, &node->replacement, &node->src, &node->regex}) {
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kComma, ",").status());
      SLUICE_ASSIGN_OR_RETURN(Token s, Expect(Tok::kString, "STRING"));
      *field = std::move(s.text);
    }
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ")").status());
    if (!node->inner->IsSample()) {
      return SemanticError(
          fmt::format("unexpected type for label_replace: {}", GoTypeName(*node->inner)));
    }
    std::string err = RegexError(node->regex, false);
    if (!err.empty()) return SemanticError("invalid regex in label_replace: " + err);
    return ExprPtr(std::move(node));
  }

  Result<Grouping> ParseGrouping() {
    Grouping g;
    g.without = Take().kind == Tok::kWithout;
    SLUICE_ASSIGN_OR_RETURN(g.labels, ParseLabelList());
    return g;
  }

  // ( [IDENTIFIER {, IDENTIFIER}] )
  Result<std::vector<std::string>> ParseLabelList() {
    SLUICE_RETURN_IF_ERROR(Expect(Tok::kLParen, "(").status());
    std::vector<std::string> labels;
    if (At(Tok::kRParen)) {
      Take();
      return labels;
    }
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(Token t, Expect(Tok::kIdentifier, "IDENTIFIER"));
      labels.push_back(std::move(t.text));
      if (At(Tok::kComma)) {
        Take();
        continue;
      }
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ") or ,").status());
      return labels;
    }
  }

  // --- Selectors and pipelines. ---------------------------------------------------------

  Result<model::LabelMatcher> ParseMatcher() {
    SLUICE_ASSIGN_OR_RETURN(Token name, Expect(Tok::kIdentifier, "IDENTIFIER"));
    std::optional<model::LabelMatcher::Type> type = MatcherTypeFor(Peek().kind);
    if (!type) return Unexpected("= or != or =~ or !~");
    Take();
    SLUICE_ASSIGN_OR_RETURN(Token value, Expect(Tok::kString, "STRING"));
    return MakeMatcher(*type, std::move(name.text), std::move(value.text));
  }

  // Pipeline stages until something else. With `unwrap` non-null (a range aggregation), an
  // `| unwrap` ends the pipeline: only label filters may follow it.
  Status ParseStages(std::vector<StagePtr>* stages, std::optional<Unwrap>* unwrap) {
    while (true) {
      Tok t = Peek().kind;
      if (IsLineFilterOp(t)) {
        SLUICE_RETURN_IF_ERROR(ParseLineFilter(stages));
        continue;
      }
      if (t != Tok::kPipe) return Status::OK();
      Take();
      switch (Peek().kind) {
        case Tok::kJson: {
          Take();
          auto stage = std::make_unique<ParserStage>(ParserKind::kJson);
          if (At(Tok::kIdentifier)) SLUICE_RETURN_IF_ERROR(ParseExtractions(&stage->extractions));
          stages->push_back(std::move(stage));
          break;
        }
        case Tok::kLogfmt: {
          Take();
          auto stage = std::make_unique<ParserStage>(ParserKind::kLogfmt);
          while (At(Tok::kFlag)) {
            Token flag = Take();
            (flag.text == "--strict" ? stage->strict : stage->keep_empty) = true;
          }
          if (At(Tok::kIdentifier)) SLUICE_RETURN_IF_ERROR(ParseExtractions(&stage->extractions));
          stages->push_back(std::move(stage));
          break;
        }
        case Tok::kRegexp:
        case Tok::kPattern: {
          bool regexp = Take().kind == Tok::kRegexp;
          SLUICE_ASSIGN_OR_RETURN(Token s, Expect(Tok::kString, "STRING"));
          SLUICE_RETURN_IF_ERROR(regexp ? CheckRegexpParser(s.text) : CheckPatternParser(s.text));
          auto stage =
              std::make_unique<ParserStage>(regexp ? ParserKind::kRegexp : ParserKind::kPattern);
          stage->param = std::move(s.text);
          stages->push_back(std::move(stage));
          break;
        }
        case Tok::kUnpack:
          Take();
          stages->push_back(std::make_unique<ParserStage>(ParserKind::kUnpack));
          break;
        case Tok::kLineFormat: {
          Take();
          SLUICE_ASSIGN_OR_RETURN(Token s, Expect(Tok::kString, "STRING"));
          stages->push_back(std::make_unique<LineFormatStage>(std::move(s.text)));
          break;
        }
        case Tok::kLabelFormat: {
          Take();
          SLUICE_ASSIGN_OR_RETURN(std::vector<LabelFormat> formats, ParseLabelFormats());
          stages->push_back(std::make_unique<LabelFormatStage>(std::move(formats)));
          break;
        }
        case Tok::kDrop:
        case Tok::kKeep: {
          bool drop = Take().kind == Tok::kDrop;
          SLUICE_ASSIGN_OR_RETURN(std::vector<NamedMatcher> labels, ParseNamedMatchers());
          if (drop) {
            stages->push_back(std::make_unique<DropLabelsStage>(std::move(labels)));
          } else {
            stages->push_back(std::make_unique<KeepLabelsStage>(std::move(labels)));
          }
          break;
        }
        case Tok::kDecolorize:
          Take();
          stages->push_back(std::make_unique<DecolorizeStage>());
          break;
        case Tok::kUnwrap:
          if (unwrap == nullptr) return Unexpected();
          return ParseUnwrap(unwrap);
        case Tok::kIdentifier:
        case Tok::kLParen: {
          SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr f, ParseLabelFilterOr());
          stages->push_back(std::make_unique<LabelFilterStage>(std::move(f)));
          break;
        }
        default:
          return Unexpected();
      }
    }
  }

  Status ParseLineFilter(std::vector<StagePtr>* stages) {
    LineFilterOp op = LineFilterOpFor(Take().kind);
    std::vector<LineFilterValue> values;
    while (true) {
      LineFilterValue v;
      if (At(Tok::kString)) {
        v.value = Take().text;
      } else if (AtFunction("ip")) {
        Take();
        SLUICE_RETURN_IF_ERROR(Expect(Tok::kLParen, "(").status());
        SLUICE_ASSIGN_OR_RETURN(Token s, Expect(Tok::kString, "STRING"));
        SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ")").status());
        v.value = std::move(s.text);
        v.ip = true;
      } else {
        return Unexpected("STRING or ip");
      }
      if (!v.ip && (op == LineFilterOp::kMatch || op == LineFilterOp::kNotMatch)) {
        SLUICE_RETURN_IF_ERROR(CheckRegex(v.value));
      }
      values.push_back(std::move(v));
      if (!At(Tok::kOr)) break;
      Take();
    }
    if (IsNegative(op)) {
      // !(a or b) == !a and !b: one stage per value, as Loki rewrites it.
      for (auto& v : values) {
        stages->push_back(
            std::make_unique<LineFilterStage>(op, std::vector<LineFilterValue>{std::move(v)}));
      }
    } else {
      stages->push_back(std::make_unique<LineFilterStage>(op, std::move(values)));
    }
    return Status::OK();
  }

  // a="path", b   (json and logfmt parameters)
  Status ParseExtractions(std::vector<LabelExtraction>* out) {
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(Token name, Expect(Tok::kIdentifier, "IDENTIFIER"));
      LabelExtraction e;
      e.label = std::move(name.text);
      if (At(Tok::kEq)) {
        Take();
        SLUICE_ASSIGN_OR_RETURN(Token s, Expect(Tok::kString, "STRING"));
        e.expression = std::move(s.text);
      } else {
        e.expression = e.label;
      }
      out->push_back(std::move(e));
      if (!At(Tok::kComma)) return Status::OK();
      Take();
    }
  }

  Result<std::vector<LabelFormat>> ParseLabelFormats() {
    std::vector<LabelFormat> out;
    while (true) {
      LabelFormat f;
      SLUICE_ASSIGN_OR_RETURN(Token name, Expect(Tok::kIdentifier, "IDENTIFIER"));
      f.name = std::move(name.text);
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kEq, "=").status());
      if (At(Tok::kIdentifier)) {
        f.value = Take().text;
        f.rename = true;
      } else {
        SLUICE_ASSIGN_OR_RETURN(Token s, Expect(Tok::kString, "IDENTIFIER or STRING"));
        f.value = std::move(s.text);
      }
      out.push_back(std::move(f));
      if (!At(Tok::kComma)) return out;
      Take();
    }
  }

  Result<std::vector<NamedMatcher>> ParseNamedMatchers() {
    std::vector<NamedMatcher> out;
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(Token name, Expect(Tok::kIdentifier, "IDENTIFIER"));
      NamedMatcher nm;
      if (auto type = MatcherTypeFor(Peek().kind)) {
        Take();
        SLUICE_ASSIGN_OR_RETURN(Token value, Expect(Tok::kString, "STRING"));
        SLUICE_ASSIGN_OR_RETURN(nm.matcher,
                                MakeMatcher(*type, std::move(name.text), std::move(value.text)));
      } else {
        nm.name = std::move(name.text);
      }
      out.push_back(std::move(nm));
      if (!At(Tok::kComma)) return out;
      Take();
    }
  }

  Status ParseUnwrap(std::optional<Unwrap>* out) {
    Take();
    Unwrap u;
    if (At(Tok::kFunction) && (Peek().text == "bytes" || Peek().text == "duration" ||
                               Peek().text == "duration_seconds")) {
      std::string fn = Take().text;
      u.conversion = fn == "bytes"      ? UnwrapConversion::kBytes
                     : fn == "duration" ? UnwrapConversion::kDuration
                                        : UnwrapConversion::kDurationSeconds;
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kLParen, "(").status());
      SLUICE_ASSIGN_OR_RETURN(Token label, Expect(Tok::kIdentifier, "IDENTIFIER"));
      u.label = std::move(label.text);
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ")").status());
    } else {
      SLUICE_ASSIGN_OR_RETURN(Token label, Expect(Tok::kIdentifier, "IDENTIFIER"));
      u.label = std::move(label.text);
    }
    while (At(Tok::kPipe)) {
      Take();
      if (!At(Tok::kIdentifier) && !At(Tok::kLParen)) return Unexpected("IDENTIFIER or (");
      SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr f, ParseLabelFilterOr());
      u.post_filters.push_back(std::move(f));
    }
    *out = std::move(u);
    return Status::OK();
  }

  // Label filter precedence, reproducing Loki's yacc grammar: `and` binds tighter than `or`,
  // both left-associative; `,` and juxtaposition also mean `and` but take everything to their
  // right as the right operand (`a , b or c` is `a and (b or c)`, `a or b , c` is
  // `a or (b and c)`).
  Result<LabelFilterPtr> ParseLabelFilterOr() {
    Nesting nesting(this);
    SLUICE_RETURN_IF_ERROR(nesting.Enter());
    SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr lhs, ParseLabelFilterAnd(&nesting));
    while (At(Tok::kOr)) {
      Take();
      SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr rhs, ParseLabelFilterAnd(&nesting));
      SLUICE_RETURN_IF_ERROR(nesting.Enter());
      lhs = std::make_unique<BinaryLabelFilter>(false, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  Result<LabelFilterPtr> ParseLabelFilterAnd(Nesting* nesting) {
    SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr lhs, ParseLabelFilterUnit());
    while (At(Tok::kAnd)) {
      Take();
      SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr rhs, ParseLabelFilterUnit());
      SLUICE_RETURN_IF_ERROR(nesting->Enter());
      lhs = std::make_unique<BinaryLabelFilter>(true, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  Result<LabelFilterPtr> ParseLabelFilterUnit() {
    SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr first, ParseLabelFilterPrimary());
    if (At(Tok::kComma)) {
      Take();
    } else if (!At(Tok::kIdentifier) && !At(Tok::kLParen)) {
      return first;
    }
    SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr rest, ParseLabelFilterOr());
    return LabelFilterPtr(
        std::make_unique<BinaryLabelFilter>(true, std::move(first), std::move(rest)));
  }

  Result<LabelFilterPtr> ParseLabelFilterPrimary() {
    if (At(Tok::kLParen)) {
      Take();
      SLUICE_ASSIGN_OR_RETURN(LabelFilterPtr f, ParseLabelFilterOr());
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ")").status());
      return f;
    }
    SLUICE_ASSIGN_OR_RETURN(Token name, Expect(Tok::kIdentifier, "IDENTIFIER or ("));
    Tok op = Peek().kind;
    if (op == Tok::kRe || op == Tok::kNre ||
        ((op == Tok::kEq || op == Tok::kNeq) && Peek(1).kind == Tok::kString)) {
      Take();
      SLUICE_ASSIGN_OR_RETURN(Token value, Expect(Tok::kString, "STRING"));
      SLUICE_ASSIGN_OR_RETURN(
          model::LabelMatcher m,
          MakeMatcher(*MatcherTypeFor(op), std::move(name.text), std::move(value.text)));
      return LabelFilterPtr(std::make_unique<StringLabelFilter>(std::move(m)));
    }
    std::optional<CompareOp> cmp = CompareOpFor(op);
    if (!cmp) return Unexpected();
    Take();
    if ((op == Tok::kEq || op == Tok::kNeq) && AtFunction("ip")) {
      Take();
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kLParen, "(").status());
      SLUICE_ASSIGN_OR_RETURN(Token s, Expect(Tok::kString, "STRING"));
      SLUICE_RETURN_IF_ERROR(Expect(Tok::kRParen, ")").status());
      return LabelFilterPtr(std::make_unique<IpLabelFilter>(std::move(name.text), op == Tok::kNeq,
                                                            std::move(s.text)));
    }
    if (At(Tok::kDuration)) {
      return LabelFilterPtr(
          std::make_unique<DurationLabelFilter>(std::move(name.text), *cmp, Take().nanos));
    }
    if (At(Tok::kBytes)) {
      return LabelFilterPtr(
          std::make_unique<BytesLabelFilter>(std::move(name.text), *cmp, Take().bytes));
    }
    if (At(Tok::kNumber) || ((At(Tok::kAdd) || At(Tok::kSub)) && Peek(1).kind == Tok::kNumber)) {
      bool negative = false;
      if (!At(Tok::kNumber)) negative = Take().kind == Tok::kSub;
      SLUICE_ASSIGN_OR_RETURN(double v, ParseNumber());
      return LabelFilterPtr(
          std::make_unique<NumericLabelFilter>(std::move(name.text), *cmp, negative ? -v : v));
    }
    if (op == Tok::kEq || op == Tok::kNeq)
      return Unexpected("STRING or BYTES or NUMBER or DURATION or ip");
    return Unexpected("BYTES or NUMBER or DURATION");
  }

  // --- Validation after the parse (Loki's validateExpr). ------------------------------------

  static Status ValidateSelector(const LogSelectorExpr& sel) {
    for (const auto& m : sel.matchers) {
      if (!m.Matches(std::string_view())) return Status::OK();
    }
    return SemanticError(kEmptyCompatibleError);
  }

  static Status Validate(const Expr& e) {
    for (const LogSelectorExpr* sel : Selectors(e)) {
      SLUICE_RETURN_IF_ERROR(ValidateSelector(*sel));
    }
    return Status::OK();
  }

  Lexer lexer_;
  std::deque<Token> ahead_;
  int depth_ = 0;
};

}  // namespace

Result<ExprPtr> Parse(std::string_view query) { return Parser(query).ParseQuery(); }

Result<std::vector<model::LabelMatcher>> ParseMatchers(std::string_view selector, bool validate) {
  Parser p(selector);
  SLUICE_ASSIGN_OR_RETURN(LogSelectorPtr sel, p.ParseSelector());
  if (!p.AtEnd()) {
    // Loki parses a whole query and then insists on a bare selector.
    auto full = Parse(selector);
    if (!full.ok()) return full.status();
    return Status::InvalidArgument("only label matchers is supported");
  }
  if (validate) {
    bool ok = false;
    for (const auto& m : sel->matchers) ok = ok || !m.Matches(std::string_view());
    if (!ok) return SemanticError(kEmptyCompatibleError);
  }
  return std::move(sel->matchers);
}

bool IsLogQuery(const Expr& e) { return e.kind() == ExprKind::kLogSelector; }

}  // namespace sluice::logql::syntax
