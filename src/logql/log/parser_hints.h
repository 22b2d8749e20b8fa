#pragma once

// Parser hints: which extracted labels a metric query can observe, so that `json` and `logfmt`
// set only those (Loki's pkg/logql/log/parser_hints.go). In
//
//   quantile_over_time(0.99, {job="api"} | json | unwrap duration_ms [5m]) by (job)
//
// only `duration_ms` (and `job`) can reach the result: every other key of the line is still
// scanned, but not named, unescaped or stored.
//
// Unlike Loki, hints never change a result. Loki stops parsing once every hinted label is
// found, so an error later in the line goes unreported and a later duplicate key is ignored,
// and a query with no hinted label skips the parser (and its errors) altogether. Here a hinted
// parser still reads the whole line, with the same error detection and the same "last
// duplicate wins", and only skips the label work for keys nobody reads. An entry that ends up
// with `__error__` keeps all its labels in a metric query, so the engine re-runs such entries
// through an unhinted pipeline (SampleExtractor).

#include <string>
#include <string_view>
#include <vector>

#include "logql/syntax/ast.h"

namespace sluice::logql::log {

class ParserHints {
 public:
  // No hints: parsers extract every label (log queries; metric queries keeping all labels).
  ParserHints() = default;

  // Hints for a pipeline whose labels are read only through `names` (grouping, unwrap, post
  // filters) after `stages` ran. Adds the labels the stages themselves read (label filters,
  // label_format renames, drop/keep). Returns no hints when a stage may read any label:
  // line_format and label_format templates.
  static ParserHints For(std::vector<std::string> names,
                         const std::vector<syntax::StagePtr>& stages);

  // True when every label must be extracted.
  bool all() const { return all_; }
  // Whether a parser must set the label it names `name` (sanitized, before the
  // `_extracted` suffix a collision with a stream label adds).
  bool ShouldExtract(std::string_view name) const;
  // Whether some hinted label is nested under `prefix` (a json object's flattened name): a
  // label named `prefix` + "_" + something.
  bool ShouldExtractPrefix(std::string_view prefix) const;

 private:
  bool all_ = true;
  // The names, plus each name ending in `_extracted` without that suffix (the parser decides
  // on the name before the suffix is added).
  std::vector<std::string> names_;
};

// Appends the names of the labels `filter` reads.
void AppendLabelFilterNames(const syntax::LabelFilter& filter, std::vector<std::string>* out);

}  // namespace sluice::logql::log
