#include "logql/log/pipeline.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::logql::log {

// --- LabelsBuilder ----------------------------------------------------------------------------

void LabelsBuilder::Reset(const model::LabelSet* stream,
                          const std::vector<model::Label>* metadata) {
  stream_ = stream;
  metadata_ = metadata;
  added_.clear();
  deleted_.clear();
}

const std::string* LabelsBuilder::Get(std::string_view name) const {
  for (const auto& l : added_) {
    if (l.name == name) return &l.value;
  }
  if (std::find(deleted_.begin(), deleted_.end(), name) != deleted_.end()) return nullptr;
  if (stream_ != nullptr) {
    if (const std::string* v = stream_->Get(name)) return v;
  }
  if (metadata_ != nullptr) {
    for (const auto& l : *metadata_) {
      if (l.name == name) return &l.value;
    }
  }
  return nullptr;
}

void LabelsBuilder::Set(std::string_view name, std::string_view value) {
  auto del = std::find(deleted_.begin(), deleted_.end(), name);
  if (del != deleted_.end()) deleted_.erase(del);
  for (auto& l : added_) {
    if (l.name == name) {
      l.value.assign(value);
      return;
    }
  }
  added_.push_back(model::Label{std::string(name), std::string(value)});
}

void LabelsBuilder::Del(std::string_view name) {
  added_.erase(std::remove_if(added_.begin(), added_.end(),
                              [&](const model::Label& l) { return l.name == name; }),
               added_.end());
  if (std::find(deleted_.begin(), deleted_.end(), name) == deleted_.end())
    deleted_.emplace_back(name);
}

model::LabelSet LabelsBuilder::Labels() const {
  std::vector<model::Label> out;
  if (stream_ != nullptr) {
    for (const auto& l : stream_->labels()) {
      if (std::find(deleted_.begin(), deleted_.end(), l.name) != deleted_.end()) continue;
      bool overridden = std::any_of(added_.begin(), added_.end(),
                                    [&](const model::Label& a) { return a.name == l.name; });
      if (!overridden) out.push_back(l);
    }
  }
  out.insert(out.end(), added_.begin(), added_.end());
  return model::LabelSet(std::move(out));
}

// --- Stages -----------------------------------------------------------------------------------

namespace {

class LineFilterStage final : public Stage {
 public:
  explicit LineFilterStage(LineFilter filter) : filter_(std::move(filter)) {}
  bool Process(int64_t, std::string_view* line, LabelsBuilder*) override {
    return filter_.Matches(*line);
  }
  bool IsLineFilter() const override { return true; }
  const LineFilter& filter() const { return filter_; }

 private:
  LineFilter filter_;
};

const char* StageName(const syntax::Stage& stage) {
  switch (stage.kind()) {
    case syntax::StageKind::kLineFilter:
      return "line filter";
    case syntax::StageKind::kParser:
      return syntax::ParserKindName(stage.Cast<syntax::ParserStage>().parser);
    case syntax::StageKind::kLabelFilter:
      return "label filter";
    case syntax::StageKind::kLineFormat:
      return "line_format";
    case syntax::StageKind::kLabelFormat:
      return "label_format";
    case syntax::StageKind::kDropLabels:
      return "drop";
    case syntax::StageKind::kKeepLabels:
      return "keep";
    case syntax::StageKind::kDecolorize:
      return "decolorize";
  }
  return "unknown";
}

}  // namespace

// --- Pipeline ---------------------------------------------------------------------------------

Result<Pipeline> Pipeline::Compile(const syntax::LogSelectorExpr& selector) {
  return Compile(selector.stages);
}

Result<Pipeline> Pipeline::Compile(const std::vector<syntax::StagePtr>& stages) {
  std::vector<StagePtr> compiled;
  for (const auto& s : stages) {
    switch (s->kind()) {
      case syntax::StageKind::kLineFilter: {
        SLUICE_ASSIGN_OR_RETURN(LineFilter f,
                                LineFilter::Compile(s->Cast<syntax::LineFilterStage>()));
        compiled.push_back(std::make_unique<LineFilterStage>(std::move(f)));
        break;
      }
      default:
        return Status::InvalidArgument(
            fmt::format("unsupported pipeline stage: {}", StageName(*s)));
    }
  }
  return FromStages(std::move(compiled));
}

Pipeline Pipeline::FromStages(std::vector<StagePtr> stages) {
  Pipeline p;
  p.stages_ = std::move(stages);
  p.only_line_filters_ = std::all_of(p.stages_.begin(), p.stages_.end(),
                                     [](const StagePtr& s) { return s->IsLineFilter(); });
  return p;
}

bool Pipeline::Process(int64_t ts, std::string_view* line, LabelsBuilder* labels) {
  for (auto& s : stages_) {
    if (!s->Process(ts, line, labels)) return false;
  }
  return true;
}

bool Pipeline::FilterLine(int64_t ts, std::string_view line) {
  for (auto& s : stages_) {
    if (!s->Process(ts, &line, nullptr)) return false;
  }
  return true;
}

// --- PipelineIterator -------------------------------------------------------------------------

namespace {

class PipelineIterator final : public iter::EntryIterator {
 public:
  PipelineIterator(iter::EntryIteratorPtr it, Pipeline* pipeline, PipelineStats* stats)
      : it_(std::move(it)), pipeline_(pipeline), stats_(stats != nullptr ? stats : &own_stats_) {}

  bool Next() override {
    while (it_->Next()) {
      const model::Entry& e = it_->At();
      ++stats_->lines_processed;
      stats_->bytes_processed += e.line.size();
      for (const auto& m : e.metadata)
        stats_->metadata_bytes_processed += m.name.size() + m.value.size();
      own_entry_ = false;
      own_labels_ = false;
      if (pipeline_->IsNoop()) {
        ++stats_->lines_passed;
        return true;
      }
      if (pipeline_->OnlyLineFilters()) {
        if (!pipeline_->FilterLine(e.timestamp_ns, e.line)) continue;
        ++stats_->lines_passed;
        return true;
      }
      builder_.Reset(&it_->Labels(), &e.metadata);
      std::string_view line = e.line;
      if (!pipeline_->Process(e.timestamp_ns, &line, &builder_)) continue;
      if (line.data() != e.line.data() || line.size() != e.line.size()) {
        entry_.timestamp_ns = e.timestamp_ns;
        entry_.line.assign(line);
        entry_.metadata = e.metadata;
        own_entry_ = true;
      }
      if (builder_.changed()) {
        labels_ = builder_.Labels();
        own_labels_ = true;
      }
      ++stats_->lines_passed;
      return true;
    }
    return false;
  }
  const model::Entry& At() const override { return own_entry_ ? entry_ : it_->At(); }
  const model::LabelSet& Labels() const override { return own_labels_ ? labels_ : it_->Labels(); }
  Status Error() const override { return it_->Error(); }

 private:
  iter::EntryIteratorPtr it_;
  Pipeline* pipeline_;
  PipelineStats own_stats_;
  PipelineStats* stats_;
  LabelsBuilder builder_;
  bool own_entry_ = false;
  bool own_labels_ = false;
  model::Entry entry_;
  model::LabelSet labels_;
};

}  // namespace

iter::EntryIteratorPtr NewPipelineIterator(iter::EntryIteratorPtr it, Pipeline* pipeline,
                                           PipelineStats* stats) {
  return std::make_unique<PipelineIterator>(std::move(it), pipeline, stats);
}

}  // namespace sluice::logql::log
