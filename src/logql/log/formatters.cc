#include "logql/log/formatters.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "logql/log/template_engine.h"

namespace sluice::logql::log {

namespace {

bool IsSpecialLabel(std::string_view name) {
  return name == kErrorLabel || name == kErrorDetailsLabel || name == kPreserveErrorLabel;
}

// --- drop / keep ------------------------------------------------------------------------------

class DropLabels final : public Stage {
 public:
  explicit DropLabels(std::vector<syntax::NamedMatcher> labels) : labels_(std::move(labels)) {}

  bool Process(int64_t, std::string_view*, LabelsBuilder* lbs) override {
    for (const auto& l : labels_) {
      if (l.matcher.has_value()) {
        const model::LabelMatcher& m = *l.matcher;
        if (m.name() == kErrorLabel) {
          if (m.Matches(lbs->GetErr())) lbs->ResetError();
        } else if (m.name() == kErrorDetailsLabel) {
          if (m.Matches(lbs->GetErrorDetails())) lbs->ResetErrorDetails();
        } else {
          const std::string* v = lbs->Get(m.name());
          if (m.Matches(v == nullptr ? std::string_view() : std::string_view(*v))) {
            lbs->Del(m.name());
          }
        }
        continue;
      }
      if (l.name == kErrorLabel) {
        lbs->ResetError();
      } else if (l.name == kErrorDetailsLabel) {
        lbs->ResetErrorDetails();
      } else if (lbs->Get(l.name) != nullptr) {
        lbs->Del(l.name);
      }
    }
    return true;
  }

 private:
  std::vector<syntax::NamedMatcher> labels_;
};

class KeepLabels final : public Stage {
 public:
  explicit KeepLabels(std::vector<syntax::NamedMatcher> labels) : labels_(std::move(labels)) {}

  bool Process(int64_t, std::string_view*, LabelsBuilder* lbs) override {
    if (labels_.empty()) return true;
    // Decide first, delete after: deleting while iterating would move the builder's slots.
    n_drop_ = 0;
    lbs->ForEach([&](const std::string& name, const std::string& value) {
      if (IsSpecialLabel(name) || Kept(name, value)) return;
      if (n_drop_ == drop_.size()) drop_.emplace_back();
      drop_[n_drop_++].assign(name);
    });
    for (size_t i = 0; i < n_drop_; ++i) lbs->Del(drop_[i]);
    return true;
  }

 private:
  bool Kept(const std::string& name, const std::string& value) const {
    for (const auto& k : labels_) {
      if (k.matcher.has_value()) {
        if (k.matcher->name() == name && k.matcher->Matches(value)) return true;
      } else if (k.name == name) {
        return true;
      }
    }
    return false;
  }

  std::vector<syntax::NamedMatcher> labels_;
  std::vector<std::string> drop_;
  size_t n_drop_ = 0;
};

// --- decolorize -------------------------------------------------------------------------------

// Loki's ansiPattern (from github.com/acarl005/stripansi); \x{9b} is the C1 CSI as UTF-8.
constexpr const char* kAnsiPattern =
    R"([\x1b\x{9b}][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x07)|)"
    R"((?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~])))";

class Decolorize final : public Stage {
 public:
  Decolorize() : re_(kAnsiPattern) {}

  bool Process(int64_t, std::string_view* line, LabelsBuilder*) override {
    if (line->find('\x1b') == std::string_view::npos &&
        line->find("\xC2\x9B") == std::string_view::npos) {
      return true;
    }
    out_.assign(*line);
    RE2::GlobalReplace(&out_, re_, "");
    *line = out_;
    return true;
  }

 private:
  RE2 re_;
  std::string out_;
};

// --- line_format / label_format ---------------------------------------------------------------

// The live labels, errors included (Loki's lbs.Map()).
class BuilderLabels final : public TemplateLabels {
 public:
  explicit BuilderLabels(const LabelsBuilder* lbs) : lbs_(lbs) {}
  const std::string* Get(std::string_view name) const override {
    if (name == kErrorLabel) return lbs_->HasErr() ? &lbs_->GetErr() : nullptr;
    if (name == kErrorDetailsLabel) {
      return lbs_->GetErrorDetails().empty() ? nullptr : &lbs_->GetErrorDetails();
    }
    return lbs_->Get(name);
  }

 private:
  const LabelsBuilder* lbs_;
};

// A copy of the labels taken once per label_format stage. Buffers are reused across lines.
class SnapshotLabels final : public TemplateLabels {
 public:
  void Take(const LabelsBuilder& lbs) {
    n_ = 0;
    lbs.ForEach([&](const std::string& name, const std::string& value) {
      if (n_ == pairs_.size()) pairs_.emplace_back();
      pairs_[n_].first.assign(name);
      pairs_[n_].second.assign(value);
      ++n_;
    });
  }
  const std::string* Get(std::string_view name) const override {
    for (size_t i = 0; i < n_; ++i) {
      if (pairs_[i].first == name) return &pairs_[i].second;
    }
    return nullptr;
  }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  size_t n_ = 0;
};

class LineFormat final : public Stage {
 public:
  explicit LineFormat(CompiledTemplatePtr t) : tmpl_(std::move(t)), field_(tmpl_->SimpleField()) {}

  bool Process(int64_t ts, std::string_view* line, LabelsBuilder* lbs) override {
    if (!field_.empty()) {
      // Loki copies the label's value without running the template (and without the error
      // labels, which lbs.Get does not see).
      const std::string* v = lbs->Get(field_);
      out_.assign(v == nullptr ? std::string_view() : std::string_view(*v));
      *line = out_;
      return true;
    }
    out_.clear();
    Status st = tmpl_->Execute(BuilderLabels(lbs), *line, ts, &out_);
    if (!st.ok()) {
      lbs->SetErr(kErrTemplateFormat);
      lbs->SetErrorDetails(st.message());
      return true;
    }
    *line = out_;
    return true;
  }

 private:
  CompiledTemplatePtr tmpl_;
  std::string field_;
  std::string out_;
};

class LabelFormat final : public Stage {
 public:
  struct Format {
    std::string name;
    std::string source;        // rename
    CompiledTemplatePtr tmpl;  // template; null for a rename
  };
  explicit LabelFormat(std::vector<Format> formats) : formats_(std::move(formats)) {}

  bool Process(int64_t ts, std::string_view* line, LabelsBuilder* lbs) override {
    bool snapshot = false;
    for (auto& f : formats_) {
      if (f.tmpl == nullptr) {
        const std::string* v = lbs->Get(f.source);
        if (v != nullptr) {
          value_.assign(*v);
          lbs->Set(f.name, value_);
          lbs->Del(f.source);
        }
        continue;
      }
      if (!snapshot) {
        labels_.Take(*lbs);
        snapshot = true;
      }
      value_.clear();
      Status st = f.tmpl->Execute(labels_, *line, ts, &value_);
      if (!st.ok()) {
        lbs->SetErr(kErrTemplateFormat);
        lbs->SetErrorDetails(st.message());
        continue;
      }
      lbs->Set(f.name, value_);
    }
    return true;
  }

 private:
  std::vector<Format> formats_;
  SnapshotLabels labels_;
  std::string value_;
};

}  // namespace

Result<StagePtr> NewDropLabelsStage(const syntax::DropLabelsStage& stage) {
  return StagePtr(std::make_unique<DropLabels>(stage.labels));
}

Result<StagePtr> NewKeepLabelsStage(const syntax::KeepLabelsStage& stage) {
  return StagePtr(std::make_unique<KeepLabels>(stage.labels));
}

Result<StagePtr> NewDecolorizeStage() { return StagePtr(std::make_unique<Decolorize>()); }

Result<StagePtr> NewLineFormatStage(const syntax::LineFormatStage& stage) {
  if (!TemplateEngineAvailable()) {
    return Status::InvalidArgument("unsupported pipeline stage: line_format");
  }
  auto t = CompileTemplate(stage.tmpl, "line");
  if (!t.ok()) {
    return Status::InvalidArgument(fmt::format("invalid line template: {}", t.status().message()));
  }
  return StagePtr(std::make_unique<LineFormat>(std::move(*t)));
}

Result<StagePtr> NewLabelFormatStage(const syntax::LabelFormatStage& stage) {
  std::vector<std::string_view> seen;
  for (const auto& f : stage.formats) {
    if (f.name == kErrorLabel) {
      return Status::InvalidArgument(fmt::format("{} cannot be formatted", f.name));
    }
    if (std::find(seen.begin(), seen.end(), f.name) != seen.end()) {
      return Status::InvalidArgument(
          fmt::format("multiple label name '{}' not allowed in a single format operation", f.name));
    }
    seen.push_back(f.name);
  }
  std::vector<LabelFormat::Format> formats;
  for (const auto& f : stage.formats) {
    LabelFormat::Format out;
    out.name = f.name;
    if (f.rename) {
      out.source = f.value;
    } else {
      if (!TemplateEngineAvailable()) {
        return Status::InvalidArgument("unsupported pipeline stage: label_format");
      }
      auto t = CompileTemplate(f.value, "label");
      if (!t.ok()) {
        return Status::InvalidArgument(
            fmt::format("invalid template for label '{}': {}", f.name, t.status().message()));
      }
      out.tmpl = std::move(*t);
    }
    formats.push_back(std::move(out));
  }
  return StagePtr(std::make_unique<LabelFormat>(std::move(formats)));
}

}  // namespace sluice::logql::log
