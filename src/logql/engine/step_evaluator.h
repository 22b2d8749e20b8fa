#pragma once

// A StepEvaluator produces one instant vector per evaluation step, in time order: the node of
// the evaluation tree Loki calls the same. Every evaluator of one query steps through the same
// timestamps (start, start+step, ... <= end), so a binary operation can pull its two sides in
// lockstep.
//
//   while (ev->Next(&ts_ms, &vec)) { use(ts_ms, vec); }
//   if (!ev->Error().ok()) ...
//
// Pull-based: a range aggregation reads its log entries only as far as the current step needs.

#include <cstdint>
#include <memory>

#include "common/status.h"
#include "logql/engine/value.h"

namespace sluice::logql::engine {

class StepEvaluator {
 public:
  virtual ~StepEvaluator() = default;
  // The next step's timestamp (Unix ms) and vector (replacing *out). False past the last step or
  // on error (then Error() says which).
  virtual bool Next(int64_t* ts_ms, Vector* out) = 0;
  virtual Status Error() const = 0;
};
using StepEvaluatorPtr = std::unique_ptr<StepEvaluator>;

// The steps of a query: Loki's Params. An instant query has start == end and step 0.
struct StepParams {
  int64_t start_ns = 0;
  int64_t end_ns = 0;  // inclusive
  int64_t step_ns = 0;
};

}  // namespace sluice::logql::engine
