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

Engine::Engine(read::Querier* querier, read::SelectRequest base, EngineParams params)
    : querier_(querier), base_(std::move(base)), params_(params) {
  steps_.start_ns = params.start_ns;
  steps_.end_ns = params.instant ? params.start_ns : params.end_ns;
  steps_.step_ns = params.instant ? 0 : params.step_ns;
}

bool Engine::Request(const syntax::Expr& target, int64_t from_ns, int64_t through_ns,
                     read::SelectRequest* out) {
  from_ns = std::max(from_ns, params_.oldest_ns);
  if (through_ns <= from_ns) return false;
  read::SelectRequest req =
      read::MakeSelectRequest(base_.tenants, base_.plan, target, from_ns, through_ns);
  if (req.tenants.empty()) return false;
  req.deadline = base_.deadline;
  req.parser_hints = params_.parser_hints;
  reads_.push_back(std::make_unique<read::ReadStats>());
  req.stats = reads_.back().get();
  *out = std::move(req);
  return true;
}

Result<QueryValue> Engine::Exec(const syntax::Expr& expr) {
  auto result =
      expr.IsSample() ? ExecSamples(expr) : ExecLogs(expr.Cast<syntax::LogSelectorExpr>());
  // Every iterator is gone by now: each read has published its statistics.
  for (const auto& r : reads_) stats_.Add(*r);
  reads_.clear();
  return result;
}

// Loki's readStreams: at most `limit` entries, at most one per `interval`, grouped by stream.
Result<QueryValue> Engine::ExecLogs(const syntax::LogSelectorExpr& selector) {
  QueryValue out;
  out.type = ValueType::kStreams;
  read::SelectRequest req;
  if (Request(selector, params_.start_ns, params_.end_ns, &req)) {
    req.direction = params_.direction;
    req.limit = params_.limit;
    SLUICE_ASSIGN_OR_RETURN(iter::EntryIteratorPtr it, querier_->SelectLogs(req));
    const bool forward = params_.direction == model::Direction::kForward;
    std::unordered_map<uint64_t, std::vector<size_t>> by_fingerprint;
    uint32_t taken = 0;
    bool first = true;
    int64_t last = 0;
    while (taken < params_.limit && it->Next()) {
      const model::Entry& e = it->At();
      if (params_.interval_ns > 0 && !first) {
        bool later = forward ? e.timestamp_ns >= last + params_.interval_ns
                             : e.timestamp_ns <= last - params_.interval_ns;
        if (!later) continue;
      }
      model::Entry entry = e;
      model::LabelSet folded;
      const model::LabelSet* labels = &it->Labels();
      if (!entry.metadata.empty() || !entry.parsed.empty()) {
        folded = log::ResultLabels(*labels, &entry, params_.categorize_labels);
        labels = &folded;
      }
      auto& slots = by_fingerprint[labels->Fingerprint()];
      model::Stream* stream = nullptr;
      for (size_t i : slots) {
        if (out.streams[i].labels == *labels) stream = &out.streams[i];
      }
      if (stream == nullptr) {
        slots.push_back(out.streams.size());
        out.streams.push_back(model::Stream{*labels, {}});
        stream = &out.streams.back();
      }
      stream->entries.push_back(std::move(entry));
      ++taken;
      first = false;
      last = e.timestamp_ns;
    }
    SLUICE_RETURN_IF_ERROR(it->Error());
  }
  std::vector<std::pair<std::string, size_t>> order;
  order.reserve(out.streams.size());
  for (size_t i = 0; i < out.streams.size(); ++i)
    order.emplace_back(out.streams[i].labels.ToString(), i);
  std::sort(order.begin(), order.end());
  std::vector<model::Stream> sorted;
  sorted.reserve(order.size());
  for (auto& [key, i] : order) sorted.push_back(std::move(out.streams[i]));
  out.streams = std::move(sorted);
  return out;
}

Result<QueryValue> Engine::ExecSamples(const syntax::Expr& expr) {
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
      read::SelectRequest req;
      log::SampleIteratorPtr samples;
      if (Request(r, from, through, &req)) {
        SLUICE_ASSIGN_OR_RETURN(samples, querier_->SelectSamples(req));
      } else {
        samples = log::NewEmptySampleIterator();
      }
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
