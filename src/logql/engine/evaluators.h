#pragma once

// The step evaluators above range aggregations, following Loki's pkg/logql/evaluator.go:
// vector aggregations, binary operations (vector-vector with matching, vector-literal), the
// set operations, label_replace and vector(). Each wraps its inputs' evaluators and consumes
// them step by step.

#include <memory>
#include <string>
#include <vector>

#include "logql/engine/step_evaluator.h"
#include "logql/syntax/ast.h"

namespace sluice::logql::engine {

// sum/avg/min/max/count/stddev/stdvar/topk/bottomk/sort/sort_desc by/without (...).
StepEvaluatorPtr NewVectorAggregation(const syntax::VectorAggregationExpr& expr,
                                      StepEvaluatorPtr inner);

// lhs op rhs with both sides vectors.
StepEvaluatorPtr NewVectorBinaryOp(const syntax::BinaryOpExpr& expr, StepEvaluatorPtr lhs,
                                   StepEvaluatorPtr rhs);

// vector op literal (literal_on_left = false) or literal op vector.
StepEvaluatorPtr NewLiteralBinaryOp(syntax::BinaryOp op, bool return_bool, double literal,
                                    bool literal_on_left, StepEvaluatorPtr vector);

// label_replace(inner, dst, replacement, src, regex). InvalidArgument for a bad regex.
Result<StepEvaluatorPtr> NewLabelReplace(const syntax::LabelReplaceExpr& expr,
                                         StepEvaluatorPtr inner);

// vector(v): one sample without labels at every step.
StepEvaluatorPtr NewConstantVector(double value, const StepParams& params);

// Loki's binary operation on two values (`filter` drops false comparisons: returns false).
// Division and modulo by zero give NaN, as in Loki (Prometheus gives ±Inf).
bool ApplyBinaryOp(syntax::BinaryOp op, double lhs, double rhs, bool filter, double* out);

}  // namespace sluice::logql::engine
