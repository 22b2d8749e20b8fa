#include "logql/log/pipeline.h"

#include <fmt/format.h>

#include <algorithm>

#include "logql/log/formatters.h"
#include "logql/log/label_filter.h"
#include "logql/log/parsers.h"

namespace sluice::logql::log {

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

}  // namespace

// --- Pipeline ---------------------------------------------------------------------------------

Result<Pipeline> Pipeline::Compile(const syntax::LogSelectorExpr& selector,
                                   const ParserHints& hints) {
  return Compile(selector.stages, hints);
}

Result<Pipeline> Pipeline::Compile(const std::vector<syntax::StagePtr>& stages,
                                   const ParserHints& hints) {
  std::vector<StagePtr> compiled;
  for (const auto& s : stages) {
    switch (s->kind()) {
      case syntax::StageKind::kLineFilter: {
        SLUICE_ASSIGN_OR_RETURN(LineFilter f,
                                LineFilter::Compile(s->Cast<syntax::LineFilterStage>()));
        compiled.push_back(std::make_unique<LineFilterStage>(std::move(f)));
        break;
      }
      case syntax::StageKind::kParser: {
        SLUICE_ASSIGN_OR_RETURN(StagePtr p, NewParserStage(s->Cast<syntax::ParserStage>(), hints));
        compiled.push_back(std::move(p));
        break;
      }
      case syntax::StageKind::kLabelFilter: {
        SLUICE_ASSIGN_OR_RETURN(StagePtr p,
                                NewLabelFilterStage(*s->Cast<syntax::LabelFilterStage>().filter));
        compiled.push_back(std::move(p));
        break;
      }
      case syntax::StageKind::kLineFormat: {
        SLUICE_ASSIGN_OR_RETURN(StagePtr p, NewLineFormatStage(s->Cast<syntax::LineFormatStage>()));
        compiled.push_back(std::move(p));
        break;
      }
      case syntax::StageKind::kLabelFormat: {
        SLUICE_ASSIGN_OR_RETURN(StagePtr p,
                                NewLabelFormatStage(s->Cast<syntax::LabelFormatStage>()));
        compiled.push_back(std::move(p));
        break;
      }
      case syntax::StageKind::kDropLabels: {
        SLUICE_ASSIGN_OR_RETURN(StagePtr p, NewDropLabelsStage(s->Cast<syntax::DropLabelsStage>()));
        compiled.push_back(std::move(p));
        break;
      }
      case syntax::StageKind::kKeepLabels: {
        SLUICE_ASSIGN_OR_RETURN(StagePtr p, NewKeepLabelsStage(s->Cast<syntax::KeepLabelsStage>()));
        compiled.push_back(std::move(p));
        break;
      }
      case syntax::StageKind::kDecolorize: {
        SLUICE_ASSIGN_OR_RETURN(StagePtr p, NewDecolorizeStage());
        compiled.push_back(std::move(p));
        break;
      }
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
      // Stages read the line; a no-op pipeline passes entries on as they are, loaded or not.
      if (!pipeline_->IsNoop() && !it_->LineLoaded()) {
        load_status_ = it_->LoadLine();
        if (!load_status_.ok()) return false;
      }
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
      const bool line_changed = line.data() != e.line.data() || line.size() != e.line.size();
      if (line_changed || builder_.changed()) {
        // The entry carries its labels' categories (what is left of its metadata, the labels
        // stages set), which a log query's response needs; an unchanged entry is served as is.
        entry_.timestamp_ns = e.timestamp_ns;
        entry_.line.assign(line);
        if (builder_.changed()) {
          builder_.Categorize(&entry_.metadata, &entry_.parsed);
        } else {
          entry_.metadata = e.metadata;
          entry_.parsed.clear();
        }
        own_entry_ = true;
      }
      if (builder_.changed()) {
        // Consecutive entries of a stream often end with the same labels: keep the last set
        // rather than building a new one per entry.
        if (!have_labels_ || !builder_.LabelsEqual(labels_)) {
          labels_ = builder_.Labels();
          have_labels_ = true;
        }
        own_labels_ = true;
      }
      ++stats_->lines_passed;
      return true;
    }
    return false;
  }
  const model::Entry& At() const override { return own_entry_ ? entry_ : it_->At(); }
  const model::LabelSet& Labels() const override { return own_labels_ ? labels_ : it_->Labels(); }
  Status Error() const override { return load_status_.ok() ? it_->Error() : load_status_; }
  bool LineLoaded() const override { return own_entry_ || it_->LineLoaded(); }
  Status LoadLine() override { return own_entry_ ? Status::OK() : it_->LoadLine(); }

 private:
  iter::EntryIteratorPtr it_;
  Pipeline* pipeline_;
  PipelineStats own_stats_;
  PipelineStats* stats_;
  LabelsBuilder builder_;
  bool own_entry_ = false;
  bool own_labels_ = false;
  bool have_labels_ = false;  // labels_ holds a set built for an earlier entry
  Status load_status_;
  model::Entry entry_;
  model::LabelSet labels_;
};

}  // namespace

iter::EntryIteratorPtr NewPipelineIterator(iter::EntryIteratorPtr it, Pipeline* pipeline,
                                           PipelineStats* stats) {
  return std::make_unique<PipelineIterator>(std::move(it), pipeline, stats);
}

}  // namespace sluice::logql::log
