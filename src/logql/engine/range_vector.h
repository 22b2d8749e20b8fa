#pragma once

// Range aggregations: `count_over_time({app="x"} | logfmt [5m] offset 1h)`.
//
//   read::Querier::SelectSamples ──> samples ──> RangeVectorEvaluator ──> vectors
//     (log/sample_extractor.h: pipeline,          one sliding window per series; at each step t
//      unwrap, series labels and grouping)        the window holds the samples in (t - range, t]
//
// Loki's semantics (pkg/logql/range_vector.go): with offset o, the step at t aggregates the
// samples in (t - o - range, t - o] and is reported at (t - o)/1e6 + o/1e6 ms. A series whose
// window is empty is absent from that step's vector. Memory is about 24 bytes per sample that
// falls in a window of the query (the samples are read once, up front, see
// RangeVectorEvaluator); entries the pipeline drops cost nothing.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "logql/engine/step_evaluator.h"
#include "logql/engine/value.h"
#include "logql/log/sample_extractor.h"
#include "logql/syntax/ast.h"

namespace sluice::logql::engine {

// One point of a window: nanosecond timestamp, value.
struct RangePoint {
  int64_t ts_ns = 0;
  double value = 0;
};

// The value of `op` over one window's points (in time order, at least one), as Loki computes
// it. `range_ns` is the selector's range; `unwrapped` tells rate() to sum values rather than
// count lines.
double AggregateOverTime(syntax::RangeOp op, std::optional<double> param, int64_t range_ns,
                         bool unwrapped, std::span<const RangePoint> points);

// Loki's pipeline error for a series that carries __error__ in a metric query.
Status PipelineError(const model::LabelSet& series);

// Steps a range aggregation through [start, end]. Fails the query (Error()) with Loki's
// pipeline error when a step's vector holds a series with __error__.
//
// The samples need not arrive in global time order: only each series' own samples must be in
// time order, or the input must be a concatenation of streams each in time order (what
// iter::StreamOrderedIterator yields). On the first Next() every sample in the query's windows
// is read and kept per series (16 bytes plus a sequence number a sample), then each step slides
// one window per series. Samples of one series at equal timestamps, and series that become
// active at one step, are ordered by (timestamp, arrival), which is the global merge's order
// (timestamp, stream labels, read order) for either input: results are the same bit for bit.
class RangeVectorEvaluator final : public StepEvaluator {
 public:
  RangeVectorEvaluator(const syntax::RangeAggregationExpr& expr, log::SampleIteratorPtr samples,
                       const StepParams& params);

  bool Next(int64_t* ts_ms, Vector* out) override;
  Status Error() const override;

 private:
  struct Series {
    std::vector<RangePoint> points;  // by (timestamp, arrival)
    std::vector<uint64_t> arrival;   // arrival order of points[i]
    size_t lo = 0, hi = 0;           // points[lo, hi) are in the current window
    bool active = false;
  };

  // Reads every sample that can fall in a window; false on error.
  bool Load();

  syntax::RangeOp op_;
  std::optional<double> param_;
  bool unwrapped_;
  log::SampleIteratorPtr samples_;
  bool loaded_ = false;
  int64_t range_ns_, offset_ns_, step_ns_, end_ns_, current_ns_;
  std::vector<Series> series_;       // by series id
  std::vector<uint32_t> active_;     // series with a non-empty window, in order of activation
  std::vector<uint32_t> activated_;  // scratch: series activated at this step
  LabelsRef absent_labels_;          // absent_over_time only
  Status status_;
};

// The labels absent_over_time reports: the selector's equality matchers, minus names matched
// more than once or by other matcher types (Loki's absentLabels).
model::LabelSet AbsentLabels(const syntax::LogSelectorExpr& selector);

}  // namespace sluice::logql::engine
