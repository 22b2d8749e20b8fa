#pragma once

// The values a metric query produces, as Loki's engine returns them (promql.Matrix, Vector,
// Scalar), and the sample type the step evaluators pass between each other.
//
// Timestamps of points are Unix milliseconds, as in Loki (promql.FPoint.T): a step at
// t nanoseconds is reported at t / 1e6 (truncated).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/entry.h"
#include "model/labels.h"

namespace sluice::logql::engine {

// A series' labels, shared (immutable) between the samples of consecutive steps.
using LabelsRef = std::shared_ptr<const model::LabelSet>;  // as log::LabelsRef

// One element of an instant vector inside the evaluator.
struct Sample {
  LabelsRef labels;
  double value = 0;
};
using Vector = std::vector<Sample>;

struct Point {
  int64_t ts_ms = 0;
  double value = 0;
  bool operator==(const Point&) const = default;
};

// A series of a result: a matrix row, or a vector element (one point).
struct Series {
  model::LabelSet labels;
  std::vector<Point> points;
};

enum class ValueType : uint8_t { kStreams, kMatrix, kVector, kScalar };

struct QueryValue {
  ValueType type = ValueType::kMatrix;
  // kMatrix: sorted by labels. kVector: one point per series, sorted by labels unless the query
  // sorts by value (sort, sort_desc).
  std::vector<Series> series;
  Point scalar;  // kScalar
  // kStreams (a log query): grouped by labels, sorted by the labels' string form; entries in
  // the query's direction.
  std::vector<model::Stream> streams;
};

// Go's strconv.FormatFloat(v, 'f', -1, 64) ("0.1", "1500", "+Inf", "-Inf", "NaN"): how Loki
// (Prometheus' model.SampleValue) prints sample values.
std::string FormatSampleValue(double v);
// Prometheus' model.Time.String(): float seconds with millisecond precision ("1700000000.25").
std::string FormatTimestampMs(int64_t ts_ms);

}  // namespace sluice::logql::engine
