#pragma once

// Samples from log entries, for metric queries: a range aggregation's selector stages, then its
// unwrap (value, conversion, post filters) or the line extractor (1 per line, or its bytes),
// then its grouping. Loki runs this in the ingesters and the queriers alike
// (pkg/logql/log/metrics_extraction.go); here it sits below the query interface for the same
// reason: any reader may extract samples where its entries are.
//
//   entries ──> SampleExtractor ──> (ts, value, series id) ──> the engine's range windows

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/string_hash.h"
#include "iter/iterator.h"
#include "logql/log/labels_builder.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/ast.h"
#include "model/labels.h"

namespace sluice::logql::log {

// A series' labels, shared (immutable) between the samples and steps that carry them.
using LabelsRef = std::shared_ptr<const model::LabelSet>;

// False when the values of `expr` do not depend on line content (count_over_time, rate and
// absent_over_time over a selector without stages or unwrap): readers may then return entries
// whose lines are not loaded (see iter::EntryIterator::LineLoaded) and skip decompressing them
// (read::SelectRequest::lines_needed). Structured metadata is part of a sample's labels, so it
// comes with every entry either way.
bool NeedsLines(const syntax::RangeAggregationExpr& expr);

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

// One sample: a timestamp, a value, and its series (an id in SampleIterator::series()).
struct ExtractedSample {
  int64_t ts_ns = 0;
  double value = 0;
  uint32_t series = 0;
};

// Pull-based, like iter::EntryIterator: each series' samples come in time order.
class SampleIterator {
 public:
  virtual ~SampleIterator() = default;
  virtual bool Next() = 0;
  // REQUIRES: the last Next() returned true.
  virtual const ExtractedSample& At() const = 0;
  virtual Status Error() const = 0;
  // The series seen so far (grows as Next() finds new ones).
  virtual const SeriesTable& series() const = 0;
};
using SampleIteratorPtr = std::unique_ptr<SampleIterator>;

// No samples (a read whose range or tenants came out empty).
SampleIteratorPtr NewEmptySampleIterator();

// Turns log entries into samples: runs the selector's pipeline, then the unwrap (value,
// conversion, post filters) or the line extractor (1 per line, or its bytes), and computes the
// sample's series labels. Pull-based; one per range aggregation.
class SampleExtractor final : public SampleIterator {
 public:
  // InvalidArgument when a pipeline stage cannot be compiled. `stats` (nullable) counts the
  // lines that pass the pipeline and must outlive the extractor. With `parser_hints`, json and
  // logfmt extract only the labels the series and values read (same results, less work).
  static Result<std::unique_ptr<SampleExtractor>> Make(const syntax::RangeAggregationExpr& expr,
                                                       iter::EntryIteratorPtr entries,
                                                       PipelineStats* stats,
                                                       bool parser_hints = true);

  bool Next() override;
  const ExtractedSample& At() const override { return sample_; }
  Status Error() const override { return load_status_.ok() ? entries_->Error() : load_status_; }
  const SeriesTable& series() const override { return series_; }

 private:
  SampleExtractor() = default;
  // Runs `pipeline`, then the unwrap or the line extractor, on one entry; false when the entry
  // gives no sample. Leaves the entry's labels in builder_.
  bool Extract(Pipeline* pipeline, const model::Entry& e, const model::LabelSet& stream,
               double* value);
  uint32_t SeriesOf(const model::LabelSet& stream);
  model::LabelSet Grouped(model::LabelSet labels) const;

  iter::EntryIteratorPtr entries_;
  Pipeline pipeline_;
  // With parser hints (log/parser_hints.h), pipeline_ extracts only the labels the series and
  // values read; entries with an error run again through this one to keep all their labels.
  Pipeline unhinted_pipeline_;
  bool hinted_ = false;
  Pipeline post_filters_;  // after unwrap
  LabelsBuilder builder_;
  PipelineStats own_stats_;
  PipelineStats* stats_ = &own_stats_;
  bool bytes_ = false;  // bytes_over_time, bytes_rate: the value is the line's length
  std::optional<std::string> unwrap_label_;
  syntax::UnwrapConversion conversion_ = syntax::UnwrapConversion::kNone;
  // Loki's label grouping at extraction: keep all, keep `names_` (by), drop `names_` (without),
  // keep none (`by ()`). An unwrapped label is dropped unless named in `by`.
  enum class GroupMode : uint8_t { kAll, kBy, kWithout, kNone };
  GroupMode mode_ = GroupMode::kAll;
  std::vector<std::string> names_;
  bool has_metadata_ = false;  // the current entry has structured metadata
  bool lines_needed_ = true;   // Next() loads the lines of entries that come without
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
  ExtractedSample sample_;
};

}  // namespace sluice::logql::log
