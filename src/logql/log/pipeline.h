#pragma once

// The log pipeline: the stages after a stream selector (`{app="x"} |= "err" | json | ...`),
// compiled once per query from the syntax tree and applied to every entry the selector reads.
//
// A Stage sees the line and the entry's labels and either drops the entry or passes it on,
// possibly with a rewritten line or changed labels. As in Loki, a stage never mutates the line
// it is given: a stage that rewrites it points `*line` at a buffer of its own.
//
// This milestone compiles line filters (|= != |~ !~, with `or`); parsers, label filters and
// formatters are rejected with InvalidArgument "unsupported pipeline stage: <name>" until
// their Stage implementations land here.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "iter/iterator.h"
#include "logql/log/line_filter.h"
#include "logql/syntax/ast.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::logql::log {

// The labels of one entry as stages see and change them: the stream's labels, overridden by
// labels the stages set (parsers, label_format) and minus the ones they delete (drop).
// Structured metadata is readable through Get() but is not part of Labels().
// Not thread-safe; one per pipeline iterator.
class LabelsBuilder {
 public:
  // REQUIRES: *stream and *metadata outlive the builder's use until the next Reset().
  void Reset(const model::LabelSet* stream, const std::vector<model::Label>* metadata);

  // A label's current value: set by a stage, else the stream's, else structured metadata.
  // nullptr when absent or deleted.
  const std::string* Get(std::string_view name) const;
  void Set(std::string_view name, std::string_view value);
  void Del(std::string_view name);

  // True when a stage changed the labels since Reset().
  bool changed() const { return !added_.empty() || !deleted_.empty(); }
  // The stream labels with the changes applied.
  model::LabelSet Labels() const;

 private:
  const model::LabelSet* stream_ = nullptr;
  const std::vector<model::Label>* metadata_ = nullptr;
  std::vector<model::Label> added_;
  std::vector<std::string> deleted_;
};

// One compiled pipeline step.
class Stage {
 public:
  virtual ~Stage() = default;
  // False drops the entry. *line may be pointed at storage owned by the stage, valid until the
  // stage's next Process() call; the bytes it pointed at before are never written.
  virtual bool Process(int64_t ts, std::string_view* line, LabelsBuilder* labels) = 0;
  // True when the stage only reads the line (a filter): such pipelines take a fast path.
  virtual bool IsLineFilter() const { return false; }
};
using StagePtr = std::unique_ptr<Stage>;

// Lines and bytes read into and kept by pipelines, for the query statistics.
struct PipelineStats {
  uint64_t lines_processed = 0;
  uint64_t bytes_processed = 0;           // line bytes
  uint64_t metadata_bytes_processed = 0;  // structured metadata names and values
  uint64_t lines_passed = 0;              // after filtering
};

// A compiled pipeline. Not thread-safe (stages may keep scratch buffers): one per query, used
// by the thread that pulls the query's iterators.
class Pipeline {
 public:
  // The empty pipeline: passes every entry unchanged.
  Pipeline() = default;
  Pipeline(Pipeline&&) = default;
  Pipeline& operator=(Pipeline&&) = default;

  // InvalidArgument for stages not supported yet and for invalid regexes.
  static Result<Pipeline> Compile(const syntax::LogSelectorExpr& selector);
  static Result<Pipeline> Compile(const std::vector<syntax::StagePtr>& stages);
  // A pipeline of already compiled stages (tests, and callers composing their own).
  static Pipeline FromStages(std::vector<StagePtr> stages);

  bool IsNoop() const { return stages_.empty(); }
  bool OnlyLineFilters() const { return only_line_filters_; }

  // Runs every stage in order; false when one drops the entry.
  bool Process(int64_t ts, std::string_view* line, LabelsBuilder* labels);
  // The fast path when OnlyLineFilters(): no label work at all.
  bool FilterLine(int64_t ts, std::string_view line);

 private:
  std::vector<StagePtr> stages_;
  bool only_line_filters_ = true;
};

// Applies `pipeline` to every entry of `it`, dropping filtered entries. Entries that pass
// unchanged are served from `it` without a copy. `stats` (nullable) is updated as entries are
// read. REQUIRES: *pipeline and *stats outlive the iterator.
iter::EntryIteratorPtr NewPipelineIterator(iter::EntryIteratorPtr it, Pipeline* pipeline,
                                           PipelineStats* stats);

}  // namespace sluice::logql::log
