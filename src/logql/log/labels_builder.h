#pragma once

// The labels of one entry as pipeline stages see and change them, with Loki's LabelsBuilder
// semantics (pkg/logql/log/labels.go):
//
//   - the base is the stream's labels; structured metadata is readable through Get() (parsed
//     labels win over metadata, metadata over stream labels) but, by sluice's design, is not part
//     of Labels(): metadata travels with the entry, not in the stream's identity;
//   - parsers, label_format and friends Set() labels and Del() them;
//   - the error (`__error__`) and its details (`__error_details__`) are kept apart from the other
//     labels, as in Loki: Get("__error__") does not see them (use GetErr()), only string label
//     filters, `drop` and templates do, and Labels() appends them last.
//
// Built for the per-line hot path: Reset() keeps every buffer, so a steady stream of entries
// sets labels without allocating once the slots have grown to the line's size.
// Not thread-safe; one per pipeline iterator.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "model/entry.h"
#include "model/labels.h"

namespace sluice::logql::log {

inline constexpr std::string_view kErrorLabel = "__error__";
inline constexpr std::string_view kErrorDetailsLabel = "__error_details__";
inline constexpr std::string_view kPreserveErrorLabel = "__preserve_error__";

// Loki's values of `__error__` (pkg/logql/log/error.go).
inline constexpr std::string_view kErrJson = "JSONParserErr";
inline constexpr std::string_view kErrLogfmt = "LogfmtParserErr";
inline constexpr std::string_view kErrSampleExtraction = "SampleExtractionErr";
inline constexpr std::string_view kErrLabelFilter = "LabelFilterErr";
inline constexpr std::string_view kErrTemplateFormat = "TemplateFormatErr";

// A parsed label that collides with a stream label gets this suffix (`level` -> `level_extracted`).
inline constexpr std::string_view kDuplicateSuffix = "_extracted";

class LabelsBuilder {
 public:
  // REQUIRES: *stream and *metadata (nullable) outlive the builder's use until the next Reset().
  void Reset(const model::LabelSet* stream, const std::vector<model::Label>* metadata);

  // A label's current value: set by a stage, else structured metadata, else the stream's.
  // nullptr when absent or deleted. Never the error labels. The pointer is valid until the next
  // Set/Del/Reset.
  const std::string* Get(std::string_view name) const;
  // Whether the stream labels (not metadata, not parsed labels) have `name`: parsers rename
  // such keys with kDuplicateSuffix.
  bool BaseHas(std::string_view name) const;
  void Set(std::string_view name, std::string_view value);
  void Del(std::string_view name);

  void SetErr(std::string_view err) { err_.value.assign(err); }
  void SetErrorDetails(std::string_view details) { details_.value.assign(details); }
  void ResetError() { err_.value.clear(); }
  void ResetErrorDetails() { details_.value.clear(); }
  bool HasErr() const { return !err_.value.empty(); }
  const std::string& GetErr() const { return err_.value; }
  const std::string& GetErrorDetails() const { return details_.value; }

  // True when a stage changed the labels (or set an error) since Reset().
  bool changed() const {
    return n_added_ != 0 || n_deleted_ != 0 || !err_.value.empty() || !details_.value.empty();
  }

  // The final labels: the stream's with the changes applied, then `__error__` and
  // `__error_details__` when set. This is what a log query groups entries by, and what a metric
  // query's `by`/`without` and `unwrap` read after Pipeline::Process().
  model::LabelSet Labels() const;
  // Labels() == other, without building a LabelSet (no allocation in steady state).
  bool LabelsEqual(const model::LabelSet& other) const;

  // Loki's label categories after the stages ran (pkg/logql/log LabelsResult): into *metadata
  // the structured metadata still visible (not dropped, not overridden by a set label), into
  // *parsed the labels stages set followed by the error labels; each sorted by name. Labels()
  // is the stream's labels and the parsed ones, without the metadata.
  void Categorize(std::vector<model::Label>* metadata, std::vector<model::Label>* parsed) const;

  // Calls fn(name, value) for every visible label: stream labels, structured metadata and set
  // labels (each name once, with its current value), then the error labels when set. Order is
  // unspecified. This is the data `line_format`/`label_format` templates and `keep` see.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < n_added_; ++i) fn(added_[i].name, added_[i].value);
    if (metadata_ != nullptr) {
      for (const auto& l : *metadata_) {
        if (Added(l.name) || Deleted(l.name)) continue;
        fn(l.name, l.value);
      }
    }
    if (stream_ != nullptr) {
      for (const auto& l : stream_->labels()) {
        if (Added(l.name) || Deleted(l.name) || InMetadata(l.name)) continue;
        fn(l.name, l.value);
      }
    }
    if (!err_.value.empty()) fn(err_.name, err_.value);
    if (!details_.value.empty()) fn(details_.name, details_.value);
  }

 private:
  bool Added(std::string_view name) const;
  bool Deleted(std::string_view name) const;
  bool InMetadata(std::string_view name) const;
  // Fills scratch_ with the final labels sorted by name.
  void SortedView() const;

  const model::LabelSet* stream_ = nullptr;
  const std::vector<model::Label>* metadata_ = nullptr;
  // Slots [0, n_added_) are live; the rest keep their buffers for reuse.
  std::vector<model::Label> added_;
  size_t n_added_ = 0;
  std::vector<std::string> deleted_;
  size_t n_deleted_ = 0;
  model::Label err_{std::string(kErrorLabel), {}};
  model::Label details_{std::string(kErrorDetailsLabel), {}};
  mutable std::vector<const model::Label*> scratch_;
};

// The labels a log query's result gives an entry, as Loki's (pkg/logql/engine.go readStreams,
// pkg/iter NewCategorizeLabelsIterator). `labels` is what the pipeline iterator reported with
// `*entry` (stream labels with the stages' changes and the error labels, never the metadata):
//   - a metadata name that is also a stream label is renamed with kDuplicateSuffix in *entry,
//     as Loki's LabelsBuilder.Add does when it folds structured metadata in;
//   - categorize == false: the stream's labels, the structured metadata and the parsed labels
//     together, which is what Loki 2.9 and 3.x group streams by without encoding flags;
//   - categorize == true (`categorize-labels`): the stream's own labels only; the entry keeps
//     its metadata and parsed labels for the response's third value element.
model::LabelSet ResultLabels(const model::LabelSet& labels, model::Entry* entry, bool categorize);

// Loki's sanitizeLabelKey(key, true): trims spaces, prefixes a leading digit with `_` and
// replaces every rune outside [a-zA-Z0-9_] with one `_`. Appends to *out.
void AppendSanitizedLabelName(std::string_view key, bool prefix_digit, std::string* out);

}  // namespace sluice::logql::log
