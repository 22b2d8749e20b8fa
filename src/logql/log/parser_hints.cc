#include "logql/log/parser_hints.h"

#include <algorithm>

#include "logql/log/labels_builder.h"

namespace sluice::logql::log {

namespace {

void AddMatcherNames(const std::vector<syntax::NamedMatcher>& labels,
                     std::vector<std::string>* out) {
  for (const auto& l : labels) out->push_back(l.matcher ? l.matcher->name() : l.name);
}

}  // namespace

void AppendLabelFilterNames(const syntax::LabelFilter& f, std::vector<std::string>* out) {
  switch (f.kind()) {
    case syntax::LabelFilterKind::kString:
      out->push_back(f.Cast<syntax::StringLabelFilter>().matcher.name());
      return;
    case syntax::LabelFilterKind::kNumeric:
      out->push_back(f.Cast<syntax::NumericLabelFilter>().name);
      return;
    case syntax::LabelFilterKind::kDuration:
      out->push_back(f.Cast<syntax::DurationLabelFilter>().name);
      return;
    case syntax::LabelFilterKind::kBytes:
      out->push_back(f.Cast<syntax::BytesLabelFilter>().name);
      return;
    case syntax::LabelFilterKind::kIp:
      out->push_back(f.Cast<syntax::IpLabelFilter>().name);
      return;
    case syntax::LabelFilterKind::kBinary: {
      const auto& b = f.Cast<syntax::BinaryLabelFilter>();
      AppendLabelFilterNames(*b.left, out);
      AppendLabelFilterNames(*b.right, out);
      return;
    }
  }
}

ParserHints ParserHints::For(std::vector<std::string> names,
                             const std::vector<syntax::StagePtr>& stages) {
  for (const auto& s : stages) {
    switch (s->kind()) {
      case syntax::StageKind::kLabelFilter:
        AppendLabelFilterNames(*s->Cast<syntax::LabelFilterStage>().filter, &names);
        break;
      case syntax::StageKind::kLabelFormat:
        for (const auto& f : s->Cast<syntax::LabelFormatStage>().formats) {
          if (!f.rename) return ParserHints();  // a template may read any label
          names.push_back(f.name);
          names.push_back(f.value);
        }
        break;
      case syntax::StageKind::kLineFormat:
        return ParserHints();
      case syntax::StageKind::kDropLabels:
        AddMatcherNames(s->Cast<syntax::DropLabelsStage>().labels, &names);
        break;
      case syntax::StageKind::kKeepLabels:
        AddMatcherNames(s->Cast<syntax::KeepLabelsStage>().labels, &names);
        break;
      case syntax::StageKind::kLineFilter:
      case syntax::StageKind::kParser:
      case syntax::StageKind::kDecolorize:
        break;
    }
  }
  ParserHints h;
  h.all_ = false;
  for (const auto& n : names) {
    h.names_.push_back(n);
    if (n.size() > kDuplicateSuffix.size() && n.ends_with(kDuplicateSuffix)) {
      h.names_.push_back(n.substr(0, n.size() - kDuplicateSuffix.size()));
    }
  }
  std::sort(h.names_.begin(), h.names_.end());
  h.names_.erase(std::unique(h.names_.begin(), h.names_.end()), h.names_.end());
  return h;
}

bool ParserHints::ShouldExtract(std::string_view name) const {
  if (all_) return true;
  for (const auto& n : names_) {
    if (n == name) return true;
  }
  return false;
}

bool ParserHints::ShouldExtractPrefix(std::string_view prefix) const {
  if (all_) return true;
  for (const auto& n : names_) {
    if (n.size() > prefix.size() && n[prefix.size()] == '_' && n.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace sluice::logql::log
