#pragma once

// The log pipeline: the stages after a stream selector (`{app="x"} |= "err" | json | ...`),
// compiled once per query from the syntax tree and applied to every entry the selector reads.
//
// A Stage (stage.h) sees the line and the entry's labels (a LabelsBuilder, labels_builder.h)
// and either drops the entry or passes it on, possibly with a rewritten line or changed labels.
// As in Loki, a stage never mutates the line it is given: a stage that rewrites it points
// `*line` at a buffer of its own.
//
// Every LogQL stage compiles:
//   line filters      line_filter.h   |= != |~ !~ |> !>, ip("..."), `or`
//   parsers           parsers.h       json, logfmt, regexp, pattern, unpack
//   label filters     label_filter.h  string, numeric, duration, bytes, ip(), and/or
//   formatters        formatters.h    line_format, label_format, drop, keep, decolorize
// line_format and label_format run Go text/templates through template_engine.h, which adapts
// the engine in template/.
//
// For the metric engine: after Process() returns true, the LabelsBuilder holds the entry's
// final labels. builder.Labels() is the set to group by (`by`/`without`) and to key series on,
// `__error__`/`__error_details__` included when a stage failed; builder.Get(name) reads the
// label to `unwrap` (the error labels through GetErr()/GetErrorDetails()). The builder and the
// line are only valid until the next Process() on the same pipeline.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "iter/iterator.h"
#include "logql/log/labels_builder.h"
#include "logql/log/line_filter.h"
#include "logql/log/parser_hints.h"
#include "logql/log/stage.h"
#include "logql/syntax/ast.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::logql::log {

// Lines and bytes read into and kept by pipelines, for the query statistics.
struct PipelineStats {
  uint64_t lines_processed = 0;
  uint64_t bytes_processed = 0;           // line bytes
  uint64_t metadata_bytes_processed = 0;  // structured metadata names and values
  uint64_t lines_passed = 0;              // after filtering

  void Add(const PipelineStats& o) {
    lines_processed += o.lines_processed;
    bytes_processed += o.bytes_processed;
    metadata_bytes_processed += o.metadata_bytes_processed;
    lines_passed += o.lines_passed;
  }
};

// A compiled pipeline. Not thread-safe (stages may keep scratch buffers): one per query, used
// by the thread that pulls the query's iterators.
class Pipeline {
 public:
  // The empty pipeline: passes every entry unchanged.
  Pipeline() = default;
  Pipeline(Pipeline&&) = default;
  Pipeline& operator=(Pipeline&&) = default;

  // InvalidArgument with Loki's texts for what Loki rejects when building a pipeline (regexes
  // and patterns that do not compile, bad ip() patterns, bad JSON paths, invalid templates).
  // `hints` (parser_hints.h) let json and logfmt set only the labels a metric query reads.
  static Result<Pipeline> Compile(const syntax::LogSelectorExpr& selector,
                                  const ParserHints& hints = ParserHints());
  static Result<Pipeline> Compile(const std::vector<syntax::StagePtr>& stages,
                                  const ParserHints& hints = ParserHints());
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
// read. An entry `it` serves without its line (iter::EntryIterator::LineLoaded) is loaded
// before a non-empty pipeline runs; a no-op pipeline passes it on unloaded, forwarding
// LineLoaded()/LoadLine(). REQUIRES: *pipeline and *stats outlive the iterator.
iter::EntryIteratorPtr NewPipelineIterator(iter::EntryIteratorPtr it, Pipeline* pipeline,
                                           PipelineStats* stats);

}  // namespace sluice::logql::log
