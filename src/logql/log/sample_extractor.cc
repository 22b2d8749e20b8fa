#include "logql/log/sample_extractor.h"

#include <algorithm>

#include "common/check.h"
#include "logql/log/convert.h"
#include "logql/log/parser_hints.h"

namespace sluice::logql::log {

namespace {

using syntax::RangeOp;

bool HasError(const model::LabelSet& labels) {
  if (labels.Get(kErrorLabel) == nullptr) return false;
  const std::string* preserve = labels.Get(kPreserveErrorLabel);
  return preserve == nullptr || *preserve != "true";
}

syntax::LabelFilterPtr CloneFilter(const syntax::LabelFilter& f) {
  switch (f.kind()) {
    case syntax::LabelFilterKind::kString:
      return std::make_unique<syntax::StringLabelFilter>(
          f.Cast<syntax::StringLabelFilter>().matcher);
    case syntax::LabelFilterKind::kNumeric: {
      const auto& n = f.Cast<syntax::NumericLabelFilter>();
      return std::make_unique<syntax::NumericLabelFilter>(n.name, n.op, n.value);
    }
    case syntax::LabelFilterKind::kDuration: {
      const auto& d = f.Cast<syntax::DurationLabelFilter>();
      return std::make_unique<syntax::DurationLabelFilter>(d.name, d.op, d.nanos);
    }
    case syntax::LabelFilterKind::kBytes: {
      const auto& b = f.Cast<syntax::BytesLabelFilter>();
      return std::make_unique<syntax::BytesLabelFilter>(b.name, b.op, b.bytes);
    }
    case syntax::LabelFilterKind::kIp: {
      const auto& i = f.Cast<syntax::IpLabelFilter>();
      return std::make_unique<syntax::IpLabelFilter>(i.name, i.negated, i.pattern);
    }
    case syntax::LabelFilterKind::kBinary: {
      const auto& b = f.Cast<syntax::BinaryLabelFilter>();
      return std::make_unique<syntax::BinaryLabelFilter>(b.is_and, CloneFilter(*b.left),
                                                         CloneFilter(*b.right));
    }
  }
  SLUICE_CHECK(false);
  return nullptr;
}

class EmptySampleIterator final : public SampleIterator {
 public:
  bool Next() override { return false; }
  const ExtractedSample& At() const override { return sample_; }
  Status Error() const override { return Status::OK(); }
  const SeriesTable& series() const override { return series_; }

 private:
  ExtractedSample sample_;
  SeriesTable series_;
};

}  // namespace

SampleIteratorPtr NewEmptySampleIterator() { return std::make_unique<EmptySampleIterator>(); }

bool NeedsLines(const syntax::RangeAggregationExpr& expr) {
  const bool counts_entries = expr.op == RangeOp::kCountOverTime || expr.op == RangeOp::kRate ||
                              expr.op == RangeOp::kAbsentOverTime;
  return !counts_entries || !expr.range.selector->stages.empty() || expr.range.unwrap;
}

// --- SeriesTable ------------------------------------------------------------------------------

uint32_t SeriesTable::Intern(model::LabelSet labels) {
  uint64_t fp = labels.Fingerprint();
  auto& ids = by_fingerprint_[fp];
  for (uint32_t id : ids) {
    if (*series_[id].labels == labels) return id;
  }
  uint32_t id = static_cast<uint32_t>(series_.size());
  bool error = HasError(labels);
  series_.push_back(Entry{std::make_shared<const model::LabelSet>(std::move(labels)), error});
  ids.push_back(id);
  return id;
}

// --- SampleExtractor --------------------------------------------------------------------------

Result<std::unique_ptr<SampleExtractor>> SampleExtractor::Make(
    const syntax::RangeAggregationExpr& expr, iter::EntryIteratorPtr entries, PipelineStats* stats,
    bool parser_hints) {
  std::unique_ptr<SampleExtractor> x(new SampleExtractor());
  x->entries_ = std::move(entries);
  x->lines_needed_ = NeedsLines(expr);
  if (stats != nullptr) x->stats_ = stats;
  x->bytes_ = expr.op == RangeOp::kBytesOverTime || expr.op == RangeOp::kBytesRate;

  bool without = false, no_labels = false;
  std::vector<std::string> groups;
  if (expr.grouping) {
    groups = expr.grouping->labels;
    without = expr.grouping->without;
    no_labels = groups.empty() && !without;
  }
  // The labels the series and values read once the pipeline ran (parser hints), when known.
  std::vector<std::string> read = no_labels || without ? std::vector<std::string>() : groups;
  if (expr.range.unwrap) {
    const syntax::Unwrap& u = *expr.range.unwrap;
    x->unwrap_label_ = u.label;
    x->conversion_ = u.conversion;
    read.push_back(u.label);
    if (!u.post_filters.empty()) {
      std::vector<syntax::StagePtr> stages;
      for (const auto& f : u.post_filters) {
        AppendLabelFilterNames(*f, &read);
        stages.push_back(std::make_unique<syntax::LabelFilterStage>(CloneFilter(*f)));
      }
      SLUICE_ASSIGN_OR_RETURN(x->post_filters_, Pipeline::Compile(stages));
    }
    // The unwrapped label is not part of the series unless `by` names it.
    if (groups.empty() || without) {
      without = true;
      groups.push_back(u.label);
    }
  }
  if (no_labels) {
    x->mode_ = GroupMode::kNone;
  } else if (without) {
    x->mode_ = GroupMode::kWithout;
  } else if (!groups.empty()) {
    x->mode_ = GroupMode::kBy;
  }
  x->names_ = std::move(groups);

  const auto& selector = *expr.range.selector;
  ParserHints hints;
  if (parser_hints && (x->mode_ == GroupMode::kBy || x->mode_ == GroupMode::kNone)) {
    hints = ParserHints::For(std::move(read), selector.stages);
  }
  SLUICE_ASSIGN_OR_RETURN(x->pipeline_, Pipeline::Compile(selector, hints));
  if (!hints.all()) {
    SLUICE_ASSIGN_OR_RETURN(x->unhinted_pipeline_, Pipeline::Compile(selector));
    x->hinted_ = true;
  }
  return x;
}

model::LabelSet SampleExtractor::Grouped(model::LabelSet labels) const {
  // An entry with an error keeps all its labels, so the error is reported (Loki's
  // GroupedLabels).
  if (mode_ == GroupMode::kAll || labels.Get(kErrorLabel) != nullptr) return labels;
  if (mode_ == GroupMode::kNone) return model::LabelSet();
  std::vector<model::Label> out;
  for (const auto& l : labels.labels()) {
    bool named = std::find(names_.begin(), names_.end(), l.name) != names_.end();
    if (named == (mode_ == GroupMode::kBy)) out.push_back(l);
  }
  return model::LabelSet(std::move(out));
}

uint32_t SampleExtractor::SeriesOf(const model::LabelSet& stream) {
  if (!builder_.changed() && !has_metadata_) {
    if (has_last_ && last_stream_ == stream) return last_series_;
    auto& cached = stream_cache_[stream.Fingerprint()];
    uint32_t id = 0;
    bool found = false;
    for (const auto& [labels, cached_id] : cached) {
      if (labels == stream) {
        id = cached_id;
        found = true;
        break;
      }
    }
    if (!found) {
      id = series_.Intern(Grouped(stream));
      cached.emplace_back(stream, id);
    }
    last_stream_ = stream;
    last_series_ = id;
    has_last_ = true;
    return id;
  }
  if (!builder_.HasErr() && (mode_ == GroupMode::kBy || mode_ == GroupMode::kNone)) {
    // Only the grouping labels are needed: key the series on their values, and build a label
    // set only for a new one.
    group_key_.clear();
    if (mode_ == GroupMode::kBy) {
      for (const auto& name : names_) {
        const std::string* v = builder_.Get(name);
        if (v == nullptr) {
          group_key_.push_back('\0');
          continue;
        }
        group_key_.push_back('\1');
        const auto size = static_cast<uint32_t>(v->size());
        group_key_.append(reinterpret_cast<const char*>(&size), sizeof(size));
        group_key_.append(*v);
      }
    }
    auto it = by_group_.find(std::string_view(group_key_));
    if (it != by_group_.end()) return it->second;
    std::vector<model::Label> kept;
    if (mode_ == GroupMode::kBy) {
      for (const auto& name : names_) {
        if (const std::string* v = builder_.Get(name)) kept.push_back(model::Label{name, *v});
      }
    }
    const uint32_t id = series_.Intern(model::LabelSet(std::move(kept)));
    by_group_.emplace(group_key_, id);
    return id;
  }
  // Every label the entry has now: stream, structured metadata (part of a sample's labels in
  // Loki's metric queries), extracted, and the error labels.
  std::vector<model::Label> all;
  builder_.ForEach([&](std::string_view name, std::string_view value) {
    all.push_back(model::Label{std::string(name), std::string(value)});
  });
  return series_.Intern(Grouped(model::LabelSet(std::move(all))));
}

bool SampleExtractor::Extract(Pipeline* pipeline, const model::Entry& e,
                              const model::LabelSet& stream, double* value) {
  builder_.Reset(&stream, &e.metadata);
  std::string_view line = e.line;
  if (!pipeline->IsNoop()) {
    if (pipeline->OnlyLineFilters()) {
      if (!pipeline->FilterLine(e.timestamp_ns, line)) return false;
    } else if (!pipeline->Process(e.timestamp_ns, &line, &builder_)) {
      return false;
    }
  }
  if (pipeline == &pipeline_) ++stats_->lines_passed;
  *value = 1;
  if (unwrap_label_) {
    const std::string* raw = builder_.Get(*unwrap_label_);
    // A line without the label (or with an empty value) has no sample; not an error.
    if (raw == nullptr || raw->empty()) return false;
    auto converted = ConvertUnwrapped(conversion_, *raw);
    if (converted.ok()) {
      *value = *converted;
    } else {
      *value = 0;
      builder_.SetErr(kErrSampleExtraction);
      builder_.SetErrorDetails(converted.status().message());
    }
    if (!post_filters_.IsNoop() && !post_filters_.Process(e.timestamp_ns, &line, &builder_)) {
      return false;
    }
  } else if (bytes_) {
    *value = static_cast<double>(line.size());
  }
  return true;
}

bool SampleExtractor::Next() {
  while (entries_->Next()) {
    if (lines_needed_ && !entries_->LineLoaded()) {
      load_status_ = entries_->LoadLine();
      if (!load_status_.ok()) return false;
    }
    const model::Entry& e = entries_->At();
    const model::LabelSet& stream = entries_->Labels();
    double value = 1;
    if (!Extract(&pipeline_, e, stream, &value)) continue;
    // A sample with an error keeps every label, so it takes the unhinted extraction's outcome
    // (hinted labels, errors and filtering decisions are the same; the other labels are not).
    if (hinted_ && builder_.HasErr() && !Extract(&unhinted_pipeline_, e, stream, &value)) {
      continue;
    }
    has_metadata_ = !e.metadata.empty();
    sample_ = ExtractedSample{e.timestamp_ns, value, SeriesOf(stream)};
    return true;
  }
  return false;
}

}  // namespace sluice::logql::log
