#pragma once

// The LogQL engine: evaluates a log query (a selector and its stages, up to `limit` entries) or
// a sample expression (range and vector aggregations, binary operations, literals, vector(),
// label_replace) over a time range, against the query interface (read::Querier), as Loki's
// pkg/logql/engine.go does.
//
//   Engine::Exec(log selector)
//     -> read::Querier::SelectLogs (stages applied by the readers) -> `limit` entries, at most
//        one per `interval`, grouped by stream
//   Engine::Exec(sample expression)
//     -> builds a StepEvaluator tree (evaluators.h, range_vector.h), each range aggregation
//        reading its samples through read::Querier::SelectSamples
//     -> pulls one vector per step: an instant query returns the vector (or a scalar for a
//        literal), a range query joins the steps into a matrix, sorted by labels
//     -> enforces max_query_series the way Loki does (per step and on the union of series)
//
// Not thread-safe: one Engine per query, used by one thread.

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "common/status.h"
#include "iter/iterator.h"
#include "logql/engine/range_vector.h"
#include "logql/engine/step_evaluator.h"
#include "logql/engine/value.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/ast.h"
#include "read/read.h"

namespace sluice::logql::engine {

struct EngineParams {
  int64_t start_ns = 0;
  // Metric queries: inclusive; equal to start_ns for an instant query. Log queries: exclusive.
  int64_t end_ns = 0;
  int64_t step_ns = 0;      // 0 for an instant query
  bool instant = false;     // /query: a vector (or scalar) rather than a matrix
  uint64_t max_series = 0;  // 0: unlimited
  // Parsers extract only the labels a range aggregation reads (log/parser_hints.h). Results
  // are the same without; false is for comparing the two.
  bool parser_hints = true;
  // Reads never reach before this (max_query_lookback).
  int64_t oldest_ns = std::numeric_limits<int64_t>::min();
  // Log queries: at most `limit` entries, at most one per `interval_ns` (0: every entry).
  uint32_t limit = 100;
  int64_t interval_ns = 0;
  model::Direction direction = model::Direction::kBackward;
  // Log queries: group entries by their stream labels only, as Loki does for the
  // `categorize-labels` encoding flag; otherwise by all their labels, structured metadata and
  // parsed labels included (log::ResultLabels).
  bool categorize_labels = false;
};

// Loki's text when a query returns more than max_query_series series.
std::string SeriesLimitMessage(uint64_t limit);

class Engine {
 public:
  // Every read is `base` (tenants, plan, deadline) with the selector and range of the
  // expression evaluated. REQUIRES: *querier outlives the engine; expressions passed to Exec
  // live in *base.plan.
  Engine(read::Querier* querier, read::SelectRequest base, EngineParams params);

  // InvalidArgument for what Loki answers 400 (pipeline errors, series limit, matching errors,
  // unsupported stages); errors of the reader are passed on.
  Result<QueryValue> Exec(const syntax::Expr& expr);

  // What the query's reads did, summed once each read has ended (Exec returns after that).
  const read::ReadStats& stats() const { return stats_; }

 private:
  Result<QueryValue> ExecLogs(const syntax::LogSelectorExpr& selector);
  Result<QueryValue> ExecSamples(const syntax::Expr& expr);
  Result<StepEvaluatorPtr> Build(const syntax::Expr& expr);
  Result<QueryValue> Join(StepEvaluator* ev, bool sort_by_value);
  // The base request for reading `target` over [from, through), clamped to oldest_ns; false
  // when nothing of the range is left.
  bool Request(const syntax::Expr& target, int64_t from_ns, int64_t through_ns,
               read::SelectRequest* out);

  read::Querier* querier_;
  read::SelectRequest base_;
  EngineParams params_;
  StepParams steps_;
  // One per read, summed into stats_ once the reads are done.
  std::vector<std::unique_ptr<read::ReadStats>> reads_;
  read::ReadStats stats_;
};

}  // namespace sluice::logql::engine
