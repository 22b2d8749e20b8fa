#include "logql/engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "logql/engine/evaluators.h"
#include "logql/engine/range_vector.h"

namespace sluice::logql::engine {

namespace {

using syntax::ExprKind;

// Loki keeps an instant vector in evaluation order when the query sorts by value.
bool SortsByValue(const syntax::Expr& e) {
  switch (e.kind()) {
    case ExprKind::kVectorAggregation: {
      const auto& v = e.Cast<syntax::VectorAggregationExpr>();
      if (v.op == syntax::VectorOp::kSort || v.op == syntax::VectorOp::kSortDesc) return true;
      return SortsByValue(*v.inner);
    }
    case ExprKind::kBinaryOp: {
      const auto& b = e.Cast<syntax::BinaryOpExpr>();
      return SortsByValue(*b.lhs) || SortsByValue(*b.rhs);
    }
    case ExprKind::kLabelReplace:
      return SortsByValue(*e.Cast<syntax::LabelReplaceExpr>().inner);
    default:
      return false;
  }
}

bool LabelsLess(const Series& a, const Series& b) { return a.labels < b.labels; }

}  // namespace

std::string SeriesLimitMessage(uint64_t limit) {
  return fmt::format(
      "maximum number of series ({}) reached for a single query; consider reducing query "
      "cardinality by adding more specific stream selectors, reducing the time range, or "
      "aggregating results with functions like sum(), count() or topk()",
      limit);
}

Engine::Engine(LogReader* reader, EngineParams params) : reader_(reader), params_(params) {
  steps_.start_ns = params.start_ns;
  steps_.end_ns = params.instant ? params.start_ns : params.end_ns;
  steps_.step_ns = params.instant ? 0 : params.step_ns;
}

Result<QueryValue> Engine::Exec(const syntax::Expr& expr) {
  SLUICE_CHECK(expr.IsSample());
  // A literal or vector() alone: Loki answers without stepping an evaluator.
  if (expr.kind() == ExprKind::kLiteral || expr.kind() == ExprKind::kVector) {
    double v = expr.kind() == ExprKind::kLiteral ? expr.Cast<syntax::LiteralExpr>().value
                                                 : expr.Cast<syntax::VectorExpr>().value;
    QueryValue out;
    const int64_t start_ms = steps_.start_ns / 1'000'000;
    if (params_.instant) {
      if (expr.kind() == ExprKind::kLiteral) {
        out.type = ValueType::kScalar;
        out.scalar = Point{start_ms, v};
      } else {
        out.type = ValueType::kVector;
        out.series.push_back(Series{model::LabelSet(), {Point{start_ms, v}}});
      }
      return out;
    }
    out.type = ValueType::kMatrix;
    Series s;
    if (steps_.step_ns > 0) {
      for (int64_t t = steps_.start_ns; t <= steps_.end_ns; t += steps_.step_ns) {
        s.points.push_back(Point{t / 1'000'000, v});
      }
    }
    out.series.push_back(std::move(s));
    return out;
  }
  SLUICE_ASSIGN_OR_RETURN(StepEvaluatorPtr ev, Build(expr));
  return Join(ev.get(), SortsByValue(expr));
}

Result<StepEvaluatorPtr> Engine::Build(const syntax::Expr& expr) {
  switch (expr.kind()) {
    case ExprKind::kRangeAggregation: {
      const auto& r = expr.Cast<syntax::RangeAggregationExpr>();
      // The windows reach back one range before the first step; the end is closed.
      int64_t from = steps_.start_ns - r.range.range_nanos - r.range.offset_nanos;
      int64_t through = steps_.end_ns - r.range.offset_nanos + 1;
      SLUICE_ASSIGN_OR_RETURN(
          iter::EntryIteratorPtr entries,
          reader_->SelectLogs(*r.range.selector, from, through, ReadHintsFor(r)));
      SLUICE_ASSIGN_OR_RETURN(
          std::unique_ptr<SampleExtractor> samples,
          SampleExtractor::Make(r, std::move(entries), &stats_, params_.parser_hints));
      return StepEvaluatorPtr(
          std::make_unique<RangeVectorEvaluator>(r, std::move(samples), steps_));
    }
    case ExprKind::kVectorAggregation: {
      const auto& v = expr.Cast<syntax::VectorAggregationExpr>();
      SLUICE_ASSIGN_OR_RETURN(StepEvaluatorPtr inner, Build(*v.inner));
      return NewVectorAggregation(v, std::move(inner));
    }
    case ExprKind::kBinaryOp: {
      const auto& b = expr.Cast<syntax::BinaryOpExpr>();
      if (b.lhs->kind() == ExprKind::kLiteral) {
        SLUICE_ASSIGN_OR_RETURN(StepEvaluatorPtr rhs, Build(*b.rhs));
        return NewLiteralBinaryOp(b.op, b.return_bool, b.lhs->Cast<syntax::LiteralExpr>().value,
                                  true, std::move(rhs));
      }
      if (b.rhs->kind() == ExprKind::kLiteral) {
        SLUICE_ASSIGN_OR_RETURN(StepEvaluatorPtr lhs, Build(*b.lhs));
        return NewLiteralBinaryOp(b.op, b.return_bool, b.rhs->Cast<syntax::LiteralExpr>().value,
                                  false, std::move(lhs));
      }
      SLUICE_ASSIGN_OR_RETURN(StepEvaluatorPtr lhs, Build(*b.lhs));
      SLUICE_ASSIGN_OR_RETURN(StepEvaluatorPtr rhs, Build(*b.rhs));
      return NewVectorBinaryOp(b, std::move(lhs), std::move(rhs));
    }
    case ExprKind::kVector:
      return NewConstantVector(expr.Cast<syntax::VectorExpr>().value, steps_);
    case ExprKind::kLabelReplace: {
      const auto& l = expr.Cast<syntax::LabelReplaceExpr>();
      SLUICE_ASSIGN_OR_RETURN(StepEvaluatorPtr inner, Build(*l.inner));
      return NewLabelReplace(l, std::move(inner));
    }
    case ExprKind::kLiteral:
      return Status::InvalidArgument("unexpected literal: a literal cannot be evaluated here");
    case ExprKind::kLogSelector:
      break;
  }
  return Status::InvalidArgument("unexpected log selector in a metric query");
}

Result<QueryValue> Engine::Join(StepEvaluator* ev, bool sort_by_value) {
  const uint64_t max = params_.max_series;
  QueryValue out;
  int64_t ts = 0;
  Vector vec;
  if (params_.instant) {
    out.type = ValueType::kVector;
    bool next = ev->Next(&ts, &vec);
    SLUICE_RETURN_IF_ERROR(ev->Error());
    if (!next) return Status::Internal("unexpected empty result");
    if (max > 0 && vec.size() > max) return Status::InvalidArgument(SeriesLimitMessage(max));
    out.series.reserve(vec.size());
    for (const Sample& s : vec) out.series.push_back(Series{*s.labels, {Point{ts, s.value}}});
    if (!sort_by_value) std::stable_sort(out.series.begin(), out.series.end(), LabelsLess);
    return out;
  }
  out.type = ValueType::kMatrix;
  // Series by their labels; the same label set at two steps is one series.
  std::unordered_map<const model::LabelSet*, size_t> by_ref;
  std::unordered_map<uint64_t, std::vector<size_t>> by_fingerprint;
  bool first = true;
  while (ev->Next(&ts, &vec)) {
    if (first && max > 0 && vec.size() > max) {
      return Status::InvalidArgument(SeriesLimitMessage(max));
    }
    first = false;
    for (const Sample& s : vec) {
      size_t index = SIZE_MAX;
      auto ref = by_ref.find(s.labels.get());
      if (ref != by_ref.end() && out.series[ref->second].labels == *s.labels) {
        index = ref->second;
      } else {
        auto& slots = by_fingerprint[s.labels->Fingerprint()];
        for (size_t i : slots) {
          if (out.series[i].labels == *s.labels) index = i;
        }
        if (index == SIZE_MAX) {
          index = out.series.size();
          slots.push_back(index);
          out.series.push_back(Series{*s.labels, {}});
        }
        by_ref[s.labels.get()] = index;
      }
      out.series[index].points.push_back(Point{ts, s.value});
    }
    if (max > 0 && out.series.size() > max) {
      return Status::InvalidArgument(SeriesLimitMessage(max));
    }
  }
  SLUICE_RETURN_IF_ERROR(ev->Error());
  std::sort(out.series.begin(), out.series.end(), LabelsLess);
  return out;
}

}  // namespace sluice::logql::engine
