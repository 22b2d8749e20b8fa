#include "logql/syntax/ast.h"

namespace sluice::logql::syntax {

const char* RangeOpName(RangeOp op) {
  switch (op) {
    case RangeOp::kCountOverTime:
      return "count_over_time";
    case RangeOp::kRate:
      return "rate";
    case RangeOp::kRateCounter:
      return "rate_counter";
    case RangeOp::kBytesOverTime:
      return "bytes_over_time";
    case RangeOp::kBytesRate:
      return "bytes_rate";
    case RangeOp::kAvgOverTime:
      return "avg_over_time";
    case RangeOp::kSumOverTime:
      return "sum_over_time";
    case RangeOp::kMinOverTime:
      return "min_over_time";
    case RangeOp::kMaxOverTime:
      return "max_over_time";
    case RangeOp::kStdvarOverTime:
      return "stdvar_over_time";
    case RangeOp::kStddevOverTime:
      return "stddev_over_time";
    case RangeOp::kQuantileOverTime:
      return "quantile_over_time";
    case RangeOp::kFirstOverTime:
      return "first_over_time";
    case RangeOp::kLastOverTime:
      return "last_over_time";
    case RangeOp::kAbsentOverTime:
      return "absent_over_time";
  }
  return "";
}

const char* VectorOpName(VectorOp op) {
  switch (op) {
    case VectorOp::kSum:
      return "sum";
    case VectorOp::kAvg:
      return "avg";
    case VectorOp::kMin:
      return "min";
    case VectorOp::kMax:
      return "max";
    case VectorOp::kCount:
      return "count";
    case VectorOp::kStddev:
      return "stddev";
    case VectorOp::kStdvar:
      return "stdvar";
    case VectorOp::kTopK:
      return "topk";
    case VectorOp::kBottomK:
      return "bottomk";
    case VectorOp::kSort:
      return "sort";
    case VectorOp::kSortDesc:
      return "sort_desc";
    case VectorOp::kApproxTopK:
      return "approx_topk";
  }
  return "";
}

const char* BinaryOpName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return "or";
    case BinaryOp::kAnd:
      return "and";
    case BinaryOp::kUnless:
      return "unless";
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "^";
    case BinaryOp::kEq:
      return "==";
    case BinaryOp::kNe:
      return "!=";
    case BinaryOp::kGt:
      return ">";
    case BinaryOp::kGe:
      return ">=";
    case BinaryOp::kLt:
      return "<";
    case BinaryOp::kLe:
      return "<=";
  }
  return "";
}

const char* LineFilterOpName(LineFilterOp op) {
  switch (op) {
    case LineFilterOp::kContains:
      return "|=";
    case LineFilterOp::kNotContains:
      return "!=";
    case LineFilterOp::kMatch:
      return "|~";
    case LineFilterOp::kNotMatch:
      return "!~";
    case LineFilterOp::kPattern:
      return "|>";
    case LineFilterOp::kNotPattern:
      return "!>";
  }
  return "";
}

const char* CompareOpName(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "==";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
  }
  return "";
}

const char* ParserKindName(ParserKind kind) {
  switch (kind) {
    case ParserKind::kJson:
      return "json";
    case ParserKind::kLogfmt:
      return "logfmt";
    case ParserKind::kRegexp:
      return "regexp";
    case ParserKind::kPattern:
      return "pattern";
    case ParserKind::kUnpack:
      return "unpack";
  }
  return "";
}

bool IsComparison(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEq:
    case BinaryOp::kNe:
    case BinaryOp::kGt:
    case BinaryOp::kGe:
    case BinaryOp::kLt:
    case BinaryOp::kLe:
      return true;
    default:
      return false;
  }
}

bool IsSetOperation(BinaryOp op) {
  return op == BinaryOp::kOr || op == BinaryOp::kAnd || op == BinaryOp::kUnless;
}

namespace {

void CollectSelectors(const Expr& e, std::vector<const LogSelectorExpr*>* out) {
  switch (e.kind()) {
    case ExprKind::kLogSelector:
      out->push_back(&e.Cast<LogSelectorExpr>());
      return;
    case ExprKind::kRangeAggregation:
      out->push_back(e.Cast<RangeAggregationExpr>().range.selector.get());
      return;
    case ExprKind::kVectorAggregation:
      CollectSelectors(*e.Cast<VectorAggregationExpr>().inner, out);
      return;
    case ExprKind::kBinaryOp:
      CollectSelectors(*e.Cast<BinaryOpExpr>().lhs, out);
      CollectSelectors(*e.Cast<BinaryOpExpr>().rhs, out);
      return;
    case ExprKind::kLabelReplace:
      CollectSelectors(*e.Cast<LabelReplaceExpr>().inner, out);
      return;
    case ExprKind::kLiteral:
    case ExprKind::kVector:
      return;
  }
}

}  // namespace

std::vector<const LogSelectorExpr*> Selectors(const Expr& e) {
  std::vector<const LogSelectorExpr*> out;
  CollectSelectors(e, &out);
  return out;
}

}  // namespace sluice::logql::syntax
