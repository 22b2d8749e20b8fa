#pragma once

// The interface every compiled pipeline step implements (line filters, parsers, label filters,
// formatters). See pipeline.h for how they are chained.

#include <cstdint>
#include <memory>
#include <string_view>

#include "logql/log/labels_builder.h"

namespace sluice::logql::log {

class Stage {
 public:
  virtual ~Stage() = default;
  // False drops the entry. *line may be pointed at storage owned by the stage, valid until the
  // stage's next Process() call; the bytes it pointed at before are never written. `labels` is
  // null only on the line-filter fast path (IsLineFilter() stages).
  virtual bool Process(int64_t ts, std::string_view* line, LabelsBuilder* labels) = 0;
  // True when the stage only reads the line (a filter): such pipelines take a fast path.
  virtual bool IsLineFilter() const { return false; }
};
using StagePtr = std::unique_ptr<Stage>;

}  // namespace sluice::logql::log
