#pragma once

// Label filter stages (`| status >= 500 and level =~ "err.*"`), with Loki's semantics
// (pkg/logql/log/label_filter.go):
//
//   - string filters (= != =~ !~; regexes fully anchored) compare a missing label as "";
//     `__error__` reads the pipeline's error, so `| __error__=""` drops lines that failed;
//   - numeric, duration and bytes filters drop a line without the label; a value that does not
//     convert keeps the line and sets `__error__=LabelFilterErr` with Go's conversion message in
//     `__error_details__` (unless an error is already set);
//   - ip("...") filters keep every line that already has an error, drop lines without the
//     label, and match when an address found in the value is in the pattern;
//   - `and` evaluates both sides (so both may set errors), `or` stops at the first true side.

#include "common/status.h"
#include "logql/log/stage.h"
#include "logql/syntax/ast.h"

namespace sluice::logql::log {

// A compiled label filter tree. Immutable conversion targets; no allocation per line except
// for error texts.
class LabelFilterNode {
 public:
  virtual ~LabelFilterNode() = default;
  virtual bool Matches(LabelsBuilder* lbs) = 0;
};
using LabelFilterNodePtr = std::unique_ptr<LabelFilterNode>;

// InvalidArgument for an invalid ip() pattern.
Result<LabelFilterNodePtr> CompileLabelFilter(const syntax::LabelFilter& filter);

// The `| <label filter>` stage.
Result<StagePtr> NewLabelFilterStage(const syntax::LabelFilter& filter);

}  // namespace sluice::logql::log
