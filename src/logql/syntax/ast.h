#pragma once

// The parsed form of a LogQL query. Produced by Parse() (parser.h), printed back by Print()
// (printer.h), consumed by the log pipeline builder and the engine. Nodes are immutable after
// parsing; ownership is by unique_ptr from the root down.
//
// Shape:
//   Expr
//   ├── LogSelectorExpr        {a="b"} |= "x" | json | level="error"     (a log query)
//   └── sample expressions (metric queries)
//       ├── RangeAggregationExpr   rate({a="b"} | unwrap x [5m] offset 1h) by (c)
//       ├── VectorAggregationExpr  sum by (a) (...), topk(10, ...)
//       ├── BinaryOpExpr           lhs + on (a) group_left (b) rhs
//       ├── LiteralExpr            1.5
//       ├── VectorExpr             vector(1)
//       └── LabelReplaceExpr       label_replace(expr, "dst", "repl", "src", "re")
//
//   Stage (one step of a log pipeline, in query order)
//   ├── LineFilterStage   |= != |~ !~ |> !>, with `or` alternatives and ip("...")
//   ├── ParserStage       json, logfmt, regexp, pattern, unpack
//   ├── LabelFilterStage  a tree of LabelFilter (string, numeric, duration, bytes, ip, and/or)
//   ├── LineFormatStage, LabelFormatStage, DropLabelsStage, KeepLabelsStage, DecolorizeStage
//
// Dispatch on kind() and use Cast<T>() (checked: a wrong cast is a bug and aborts).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/check.h"
#include "model/matcher.h"

namespace sluice::logql::syntax {

// ---------------------------------------------------------------------------------------------
// Label filters (`| status >= 500 and level="error"`), also used after `| unwrap`.

enum class LabelFilterKind : uint8_t { kString, kNumeric, kDuration, kBytes, kIp, kBinary };

// Comparison of a label value converted to a number, a duration or a byte size.
enum class CompareOp : uint8_t { kEq, kNe, kGt, kGe, kLt, kLe };

class LabelFilter {
 public:
  virtual ~LabelFilter() = default;
  LabelFilterKind kind() const { return kind_; }

  template <typename T>
  const T& Cast() const {
    SLUICE_CHECK(kind_ == T::kKind);
    return static_cast<const T&>(*this);
  }

 protected:
  explicit LabelFilter(LabelFilterKind kind) : kind_(kind) {}

 private:
  LabelFilterKind kind_;
};
using LabelFilterPtr = std::unique_ptr<LabelFilter>;

// name = "v", name != "v", name =~ "re", name !~ "re". A missing label compares as "".
class StringLabelFilter final : public LabelFilter {
 public:
  static constexpr LabelFilterKind kKind = LabelFilterKind::kString;
  explicit StringLabelFilter(model::LabelMatcher m) : LabelFilter(kKind), matcher(std::move(m)) {}
  model::LabelMatcher matcher;
};

// name > 1.5 (also == != >= < <=); `name = 5` is numeric equality too.
class NumericLabelFilter final : public LabelFilter {
 public:
  static constexpr LabelFilterKind kKind = LabelFilterKind::kNumeric;
  NumericLabelFilter(std::string n, CompareOp o, double v)
      : LabelFilter(kKind), name(std::move(n)), op(o), value(v) {}
  std::string name;
  CompareOp op;
  double value;
};

// name > 250ms: the label value is parsed as a Go duration.
class DurationLabelFilter final : public LabelFilter {
 public:
  static constexpr LabelFilterKind kKind = LabelFilterKind::kDuration;
  DurationLabelFilter(std::string n, CompareOp o, int64_t v)
      : LabelFilter(kKind), name(std::move(n)), op(o), nanos(v) {}
  std::string name;
  CompareOp op;
  int64_t nanos;
};

// name > 20MB: the label value is parsed as a humanized byte size (kB = 1000, KiB = 1024).
class BytesLabelFilter final : public LabelFilter {
 public:
  static constexpr LabelFilterKind kKind = LabelFilterKind::kBytes;
  BytesLabelFilter(std::string n, CompareOp o, uint64_t v)
      : LabelFilter(kKind), name(std::move(n)), op(o), bytes(v) {}
  std::string name;
  CompareOp op;
  uint64_t bytes;
};

// name = ip("10.0.0.0/8"), name != ip("..."). The pattern (address, CIDR or range) is checked
// by the log pipeline, not here.
class IpLabelFilter final : public LabelFilter {
 public:
  static constexpr LabelFilterKind kKind = LabelFilterKind::kIp;
  IpLabelFilter(std::string n, bool neg, std::string p)
      : LabelFilter(kKind), name(std::move(n)), negated(neg), pattern(std::move(p)) {}
  std::string name;
  bool negated;  // `!=`
  std::string pattern;
};

// `and` (also spelled `,` or juxtaposition) / `or`.
class BinaryLabelFilter final : public LabelFilter {
 public:
  static constexpr LabelFilterKind kKind = LabelFilterKind::kBinary;
  BinaryLabelFilter(bool a, LabelFilterPtr l, LabelFilterPtr r)
      : LabelFilter(kKind), is_and(a), left(std::move(l)), right(std::move(r)) {}
  bool is_and;  // false: or
  LabelFilterPtr left;
  LabelFilterPtr right;
};

// ---------------------------------------------------------------------------------------------
// Pipeline stages.

enum class StageKind : uint8_t {
  kLineFilter,
  kParser,
  kLabelFilter,
  kLineFormat,
  kLabelFormat,
  kDropLabels,
  kKeepLabels,
  kDecolorize,
};

class Stage {
 public:
  virtual ~Stage() = default;
  StageKind kind() const { return kind_; }

  template <typename T>
  const T& Cast() const {
    SLUICE_CHECK(kind_ == T::kKind);
    return static_cast<const T&>(*this);
  }

 protected:
  explicit Stage(StageKind kind) : kind_(kind) {}

 private:
  StageKind kind_;
};
using StagePtr = std::unique_ptr<Stage>;

enum class LineFilterOp : uint8_t {
  kContains,     // |=
  kNotContains,  // !=
  kMatch,        // |~  (RE2, unanchored)
  kNotMatch,     // !~
  kPattern,      // |>  (pattern syntax, `<_>` wildcards)
  kNotPattern,   // !>
};

struct LineFilterValue {
  std::string value;
  bool ip = false;  // ip("...") rather than a literal/regex/pattern
  bool operator==(const LineFilterValue&) const = default;
};

// One line filter. `values` holds the `or` alternatives: the line passes a positive filter
// (|= |~ |>) when any value matches. A negative filter with `or` (`!= "a" or "b"`) means
// "contains neither", and is split by the parser into one stage per value, as Loki does, so
// a negative stage always has exactly one value.
class LineFilterStage final : public Stage {
 public:
  static constexpr StageKind kKind = StageKind::kLineFilter;
  LineFilterStage(LineFilterOp o, std::vector<LineFilterValue> v)
      : Stage(kKind), op(o), values(std::move(v)) {}
  LineFilterOp op;
  std::vector<LineFilterValue> values;  // never empty
};

enum class ParserKind : uint8_t { kJson, kLogfmt, kRegexp, kPattern, kUnpack };

// `json a="x.y"`: extract the JSON path (or logfmt key) `expression` into label `label`.
// A bare identifier `json a` is stored as {a, a}.
struct LabelExtraction {
  std::string label;
  std::string expression;
  bool operator==(const LabelExtraction&) const = default;
};

class ParserStage final : public Stage {
 public:
  static constexpr StageKind kKind = StageKind::kParser;
  explicit ParserStage(ParserKind p) : Stage(kKind), parser(p) {}
  ParserKind parser;
  std::string param;                         // regexp: the regex; pattern: the pattern
  std::vector<LabelExtraction> extractions;  // json / logfmt with parameters
  bool strict = false;                       // logfmt --strict
  bool keep_empty = false;                   // logfmt --keep-empty
};

class LabelFilterStage final : public Stage {
 public:
  static constexpr StageKind kKind = StageKind::kLabelFilter;
  explicit LabelFilterStage(LabelFilterPtr f) : Stage(kKind), filter(std::move(f)) {}
  LabelFilterPtr filter;
};

class LineFormatStage final : public Stage {
 public:
  static constexpr StageKind kKind = StageKind::kLineFormat;
  explicit LineFormatStage(std::string t) : Stage(kKind), tmpl(std::move(t)) {}
  std::string tmpl;  // Go text/template source
};

// label_format dst=src (rename) or dst="{{template}}".
struct LabelFormat {
  std::string name;
  std::string value;  // source label name when rename, template otherwise
  bool rename = false;
  bool operator==(const LabelFormat&) const = default;
};

class LabelFormatStage final : public Stage {
 public:
  static constexpr StageKind kKind = StageKind::kLabelFormat;
  explicit LabelFormatStage(std::vector<LabelFormat> f) : Stage(kKind), formats(std::move(f)) {}
  std::vector<LabelFormat> formats;
};

// A `drop`/`keep` argument: a bare label name, or a matcher on name and value.
struct NamedMatcher {
  std::string name;                            // set when a bare name
  std::optional<model::LabelMatcher> matcher;  // set otherwise
};

class DropLabelsStage final : public Stage {
 public:
  static constexpr StageKind kKind = StageKind::kDropLabels;
  explicit DropLabelsStage(std::vector<NamedMatcher> l) : Stage(kKind), labels(std::move(l)) {}
  std::vector<NamedMatcher> labels;
};

class KeepLabelsStage final : public Stage {
 public:
  static constexpr StageKind kKind = StageKind::kKeepLabels;
  explicit KeepLabelsStage(std::vector<NamedMatcher> l) : Stage(kKind), labels(std::move(l)) {}
  std::vector<NamedMatcher> labels;
};

class DecolorizeStage final : public Stage {
 public:
  static constexpr StageKind kKind = StageKind::kDecolorize;
  DecolorizeStage() : Stage(kKind) {}
};

// ---------------------------------------------------------------------------------------------
// Expressions.

enum class ExprKind : uint8_t {
  kLogSelector,
  kRangeAggregation,
  kVectorAggregation,
  kBinaryOp,
  kLiteral,
  kVector,
  kLabelReplace,
};

class Expr {
 public:
  virtual ~Expr() = default;
  ExprKind kind() const { return kind_; }
  // True for everything but a log selector: the query returns samples.
  bool IsSample() const { return kind_ != ExprKind::kLogSelector; }

  template <typename T>
  const T& Cast() const {
    SLUICE_CHECK(kind_ == T::kKind);
    return static_cast<const T&>(*this);
  }
  template <typename T>
  T& Cast() {
    SLUICE_CHECK(kind_ == T::kKind);
    return static_cast<T&>(*this);
  }

 protected:
  explicit Expr(ExprKind kind) : kind_(kind) {}

 private:
  ExprKind kind_;
};
using ExprPtr = std::unique_ptr<Expr>;

// {matchers} followed by zero or more pipeline stages.
class LogSelectorExpr final : public Expr {
 public:
  static constexpr ExprKind kKind = ExprKind::kLogSelector;
  LogSelectorExpr() : Expr(kKind) {}
  std::vector<model::LabelMatcher> matchers;
  std::vector<StagePtr> stages;
};
using LogSelectorPtr = std::unique_ptr<LogSelectorExpr>;

enum class UnwrapConversion : uint8_t { kNone, kBytes, kDuration, kDurationSeconds };

// `| unwrap label`, `| unwrap duration(label)`, followed by label filters applied to the
// unwrapped samples (typically `| __error__=""`).
struct Unwrap {
  std::string label;
  UnwrapConversion conversion = UnwrapConversion::kNone;
  std::vector<LabelFilterPtr> post_filters;
};

// The argument of a range aggregation: a selector with pipeline, a range and an offset.
struct LogRange {
  LogSelectorPtr selector;
  int64_t range_nanos = 0;
  int64_t offset_nanos = 0;
  std::optional<Unwrap> unwrap;
};

// by (a, b) / without (a, b). `labels` may be empty: `by ()` aggregates everything.
struct Grouping {
  bool without = false;
  std::vector<std::string> labels;
};

enum class RangeOp : uint8_t {
  kCountOverTime,
  kRate,
  kRateCounter,
  kBytesOverTime,
  kBytesRate,
  kAvgOverTime,
  kSumOverTime,
  kMinOverTime,
  kMaxOverTime,
  kStdvarOverTime,
  kStddevOverTime,
  kQuantileOverTime,
  kFirstOverTime,
  kLastOverTime,
  kAbsentOverTime,
};

class RangeAggregationExpr final : public Expr {
 public:
  static constexpr ExprKind kKind = ExprKind::kRangeAggregation;
  RangeAggregationExpr() : Expr(kKind) {}
  RangeOp op = RangeOp::kCountOverTime;
  std::optional<double> param;  // quantile_over_time's φ
  LogRange range;
  std::optional<Grouping> grouping;  // only for the ops that allow it (validated)
};

enum class VectorOp : uint8_t {
  kSum,
  kAvg,
  kMin,
  kMax,
  kCount,
  kStddev,
  kStdvar,
  kTopK,
  kBottomK,
  kSort,
  kSortDesc,
  kApproxTopK,
};

class VectorAggregationExpr final : public Expr {
 public:
  static constexpr ExprKind kKind = ExprKind::kVectorAggregation;
  VectorAggregationExpr() : Expr(kKind) {}
  VectorOp op = VectorOp::kSum;
  std::optional<int64_t> param;  // k for topk / bottomk / approx_topk
  Grouping grouping;             // `by ()` when none was written
  ExprPtr inner;
};

enum class BinaryOp : uint8_t {
  kOr,
  kAnd,
  kUnless,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEq,
  kNe,
  kGt,
  kGe,
  kLt,
  kLe,
};

enum class MatchCardinality : uint8_t { kOneToOne, kManyToOne, kOneToMany };

// on (labels) / ignoring (labels) and group_left / group_right (include).
struct VectorMatching {
  MatchCardinality card = MatchCardinality::kOneToOne;
  bool on = false;                   // on(...) rather than ignoring(...)
  std::vector<std::string> labels;   // the on/ignoring list
  std::vector<std::string> include;  // the group_left/group_right list
};

class BinaryOpExpr final : public Expr {
 public:
  static constexpr ExprKind kKind = ExprKind::kBinaryOp;
  BinaryOpExpr() : Expr(kKind) {}
  BinaryOp op = BinaryOp::kAdd;
  bool return_bool = false;  // `bool` modifier on a comparison
  VectorMatching matching;
  ExprPtr lhs;
  ExprPtr rhs;
};

// A scalar. Binary operations between two literals are folded by the parser, as Loki does.
class LiteralExpr final : public Expr {
 public:
  static constexpr ExprKind kKind = ExprKind::kLiteral;
  explicit LiteralExpr(double v) : Expr(kKind), value(v) {}
  double value;
};

// vector(1): the scalar as a one-element vector with no labels.
class VectorExpr final : public Expr {
 public:
  static constexpr ExprKind kKind = ExprKind::kVector;
  explicit VectorExpr(double v) : Expr(kKind), value(v) {}
  double value;
};

class LabelReplaceExpr final : public Expr {
 public:
  static constexpr ExprKind kKind = ExprKind::kLabelReplace;
  LabelReplaceExpr() : Expr(kKind) {}
  ExprPtr inner;
  std::string dst;
  std::string replacement;
  std::string src;
  std::string regex;  // anchored by the engine, as in Prometheus
};

// ---------------------------------------------------------------------------------------------
// Names, as written in queries.

const char* RangeOpName(RangeOp op);
const char* VectorOpName(VectorOp op);
const char* BinaryOpName(BinaryOp op);
const char* LineFilterOpName(LineFilterOp op);
const char* CompareOpName(CompareOp op);
const char* ParserKindName(ParserKind kind);
bool IsComparison(BinaryOp op);
bool IsSetOperation(BinaryOp op);  // and, or, unless

// Every log selector in the query, in order of appearance (the selectors a querier must
// fetch). The pointers live as long as `e`.
std::vector<const LogSelectorExpr*> Selectors(const Expr& e);

}  // namespace sluice::logql::syntax
