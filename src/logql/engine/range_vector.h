#pragma once

// Range aggregations: `count_over_time({app="x"} | logfmt [5m] offset 1h)`.
//
//   entries (forward, from the querier) ──> SampleExtractor ──> RangeVectorEvaluator ──> vectors
//             pipeline, unwrap + conversion, post filters,       one sliding window per series;
//             series labels (stream + structured metadata         at each step t the window holds
//             + extracted + __error__, then the grouping)         the samples in (t - range, t]
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
#include "common/string_hash.h"
#include "iter/iterator.h"
#include "logql/engine/step_evaluator.h"
#include "logql/engine/value.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/ast.h"

namespace sluice::logql::engine {

// One point of a window: nanosecond timestamp, value.
struct RangePoint {
  int64_t ts_ns = 0;
  double value = 0;
};

// What a range aggregation reads of each entry besides its timestamp and stream, so sources
// can skip work it does not need (LogReader::SelectLogs, engine.h).
struct ReadHints {
  // False when the values do not depend on line content (count_over_time, rate and
  // absent_over_time over a selector without stages or unwrap): sources may then return
  // entries whose lines are not loaded (see iter::EntryIterator::LineLoaded) and skip
  // decompressing them.
  // Structured metadata is part of a sample's labels, so it comes with every entry either way.
  bool lines_needed = true;
};

// The hints for reading `expr`'s selector.
ReadHints ReadHintsFor(const syntax::RangeAggregationExpr& expr);

// The value of `op` over one window's points (in time order, at least one), as Loki computes
// it. `range_ns` is the selector's range; `unwrapped` tells rate() to sum values rather than
// count lines.
double AggregateOverTime(syntax::RangeOp op, std::optional<double> param, int64_t range_ns,
                         bool unwrapped, std::span<const RangePoint> points);

// Loki's pipeline error for a series that carries __error__ in a metric query.
Status PipelineError(const model::LabelSet& series);

// Label sets of one query's series, interned: equal label sets get the same dense id.
class SeriesTable {
 public:
  uint32_t Intern(model::LabelSet labels);
  const LabelsRef& labels(uint32_t id) const { return series_[id].labels; }
  // True when the series carries __error__ (and not __preserve_error__="true").
  bool has_error(uint32_t id) const { return series_[id].error; }
  size_t size() const { return series_.size(); }

 private:
  struct Entry {
    LabelsRef labels;
    bool error = false;
  };
  std::vector<Entry> series_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_fingerprint_;
};

// Turns log entries into samples: runs the selector's pipeline, then the unwrap (value,
// conversion, post filters) or the line extractor (1 per line, or its bytes), and computes the
// sample's series labels. Pull-based; one per range aggregation.
class SampleExtractor {
 public:
  struct Sample {
    int64_t ts_ns = 0;
    double value = 0;
    uint32_t series = 0;  // in series()
  };

  // InvalidArgument when a pipeline stage cannot be compiled. `stats` (nullable) counts the
  // lines that pass the pipeline and must outlive the extractor. With `parser_hints`, json and
  // logfmt extract only the labels the series and values read (same results, less work).
  static Result<std::unique_ptr<SampleExtractor>> Make(const syntax::RangeAggregationExpr& expr,
                                                       iter::EntryIteratorPtr entries,
                                                       log::PipelineStats* stats,
                                                       bool parser_hints = true);

  bool Next();
  // REQUIRES: the last Next() returned true.
  const Sample& At() const { return sample_; }
  Status Error() const { return load_status_.ok() ? entries_->Error() : load_status_; }
  const SeriesTable& series() const { return series_; }

 private:
  SampleExtractor() = default;
  // Runs `pipeline`, then the unwrap or the line extractor, on one entry; false when the entry
  // gives no sample. Leaves the entry's labels in builder_.
  bool Extract(log::Pipeline* pipeline, const model::Entry& e, const model::LabelSet& stream,
               double* value);
  uint32_t SeriesOf(const model::LabelSet& stream);
  model::LabelSet Grouped(model::LabelSet labels) const;

  iter::EntryIteratorPtr entries_;
  log::Pipeline pipeline_;
  // With parser hints (log/parser_hints.h), pipeline_ extracts only the labels the series and
  // values read; entries with an error run again through this one to keep all their labels.
  log::Pipeline unhinted_pipeline_;
  bool hinted_ = false;
  log::Pipeline post_filters_;  // after unwrap
  log::LabelsBuilder builder_;
  log::PipelineStats own_stats_;
  log::PipelineStats* stats_ = &own_stats_;
  bool bytes_ = false;  // bytes_over_time, bytes_rate: the value is the line's length
  std::optional<std::string> unwrap_label_;
  syntax::UnwrapConversion conversion_ = syntax::UnwrapConversion::kNone;
  // Loki's label grouping at extraction: keep all, keep `names_` (by), drop `names_` (without),
  // keep none (`by ()`). An unwrapped label is dropped unless named in `by`.
  enum class GroupMode : uint8_t { kAll, kBy, kWithout, kNone };
  GroupMode mode_ = GroupMode::kAll;
  std::vector<std::string> names_;
  bool has_metadata_ = false;  // the current entry has structured metadata
  ReadHints needs_;            // what Next() reads of an entry: it loads unloaded ones that lack it
  Status load_status_;
  // Streams whose labels the pipeline left unchanged map straight to a series.
  std::unordered_map<uint64_t, std::vector<std::pair<model::LabelSet, uint32_t>>> stream_cache_;
  // The last stream looked up in stream_cache_: consecutive entries mostly share a stream.
  model::LabelSet last_stream_;
  uint32_t last_series_ = 0;
  bool has_last_ = false;
  // kBy/kNone series by the values of the grouping labels (each present flag, length, value).
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> by_group_;
  std::string group_key_;
  SeriesTable series_;
  Sample sample_;
};

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
  RangeVectorEvaluator(const syntax::RangeAggregationExpr& expr,
                       std::unique_ptr<SampleExtractor> samples, const StepParams& params);

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
  std::unique_ptr<SampleExtractor> samples_;
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
