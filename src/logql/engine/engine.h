#pragma once

// The metric query engine: evaluates a sample expression (range and vector aggregations,
// binary operations, literals, vector(), label_replace) over a time range, as Loki's
// pkg/logql/engine.go does.
//
//   Engine::Exec(expr)
//     -> builds a StepEvaluator tree (evaluators.h, range_vector.h), each range aggregation
//        reading its selector's entries through LogReader::SelectLogs
//     -> pulls one vector per step: an instant query returns the vector (or a scalar for a
//        literal), a range query joins the steps into a matrix, sorted by labels
//     -> enforces max_query_series the way Loki does (per step and on the union of series)
//
// Not thread-safe: one Engine per query, used by one thread.

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "iter/iterator.h"
#include "logql/engine/range_vector.h"  // ReadHints
#include "logql/engine/step_evaluator.h"
#include "logql/engine/value.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/ast.h"

namespace sluice::logql::engine {

// Where the engine reads logs: the raw entries of the streams matching a selector's matchers
// (the engine applies the selector's pipeline itself), in [from, through), oldest first.
class LogReader {
 public:
  virtual ~LogReader() = default;
  virtual Result<iter::EntryIteratorPtr> SelectLogs(const syntax::LogSelectorExpr& selector,
                                                    int64_t from_ns, int64_t through_ns,
                                                    const ReadHints& hints) = 0;
};

struct EngineParams {
  int64_t start_ns = 0;
  int64_t end_ns = 0;       // inclusive; equal to start_ns for an instant query
  int64_t step_ns = 0;      // 0 for an instant query
  bool instant = false;     // /query: a vector (or scalar) rather than a matrix
  uint64_t max_series = 0;  // 0: unlimited
  // Parsers extract only the labels a range aggregation reads (log/parser_hints.h). Results
  // are the same without; false is for comparing the two.
  bool parser_hints = true;
};

// Loki's text when a query returns more than max_query_series series.
std::string SeriesLimitMessage(uint64_t limit);

class Engine {
 public:
  // REQUIRES: *reader outlives the engine.
  Engine(LogReader* reader, EngineParams params);

  // InvalidArgument for what Loki answers 400 (pipeline errors, series limit, matching errors,
  // unsupported stages); errors of the reader are passed on. REQUIRES: expr.IsSample().
  Result<QueryValue> Exec(const syntax::Expr& expr);

  // Lines that passed the pipelines of the query's selectors.
  const log::PipelineStats& stats() const { return stats_; }

 private:
  Result<StepEvaluatorPtr> Build(const syntax::Expr& expr);
  Result<QueryValue> Join(StepEvaluator* ev, bool sort_by_value);

  LogReader* reader_;
  EngineParams params_;
  StepParams steps_;
  log::PipelineStats stats_;
};

}  // namespace sluice::logql::engine
