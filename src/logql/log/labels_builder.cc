#include "logql/log/labels_builder.h"

#include <algorithm>

#include "common/utf8.h"

namespace sluice::logql::log {

void LabelsBuilder::Reset(const model::LabelSet* stream,
                          const std::vector<model::Label>* metadata) {
  stream_ = stream;
  metadata_ = metadata;
  n_added_ = 0;
  n_deleted_ = 0;
  err_.value.clear();
  details_.value.clear();
}

bool LabelsBuilder::Added(std::string_view name) const {
  for (size_t i = 0; i < n_added_; ++i) {
    if (added_[i].name == name) return true;
  }
  return false;
}

bool LabelsBuilder::Deleted(std::string_view name) const {
  for (size_t i = 0; i < n_deleted_; ++i) {
    if (deleted_[i] == name) return true;
  }
  return false;
}

bool LabelsBuilder::InMetadata(std::string_view name) const {
  if (metadata_ == nullptr) return false;
  for (const auto& l : *metadata_) {
    if (l.name == name) return true;
  }
  return false;
}

const std::string* LabelsBuilder::Get(std::string_view name) const {
  for (size_t i = 0; i < n_added_; ++i) {
    if (added_[i].name == name) return &added_[i].value;
  }
  if (Deleted(name)) return nullptr;
  if (metadata_ != nullptr) {
    for (const auto& l : *metadata_) {
      if (l.name == name) return &l.value;
    }
  }
  if (stream_ != nullptr) return stream_->Get(name);
  return nullptr;
}

bool LabelsBuilder::BaseHas(std::string_view name) const {
  return stream_ != nullptr && stream_->Get(name) != nullptr;
}

void LabelsBuilder::Set(std::string_view name, std::string_view value) {
  for (size_t i = 0; i < n_deleted_; ++i) {
    if (deleted_[i] == name) {
      std::swap(deleted_[i], deleted_[n_deleted_ - 1]);
      --n_deleted_;
      break;
    }
  }
  for (size_t i = 0; i < n_added_; ++i) {
    if (added_[i].name == name) {
      added_[i].value.assign(value);
      return;
    }
  }
  if (n_added_ == added_.size()) added_.emplace_back();
  model::Label& slot = added_[n_added_++];
  slot.name.assign(name);
  slot.value.assign(value);
}

void LabelsBuilder::Del(std::string_view name) {
  for (size_t i = 0; i < n_added_; ++i) {
    if (added_[i].name == name) {
      std::swap(added_[i], added_[n_added_ - 1]);
      --n_added_;
      break;
    }
  }
  if (Deleted(name)) return;
  if (n_deleted_ == deleted_.size()) deleted_.emplace_back();
  deleted_[n_deleted_++].assign(name);
}

void LabelsBuilder::SortedView() const {
  scratch_.clear();
  if (stream_ != nullptr) {
    for (const auto& l : stream_->labels()) {
      if (!Deleted(l.name) && !Added(l.name)) scratch_.push_back(&l);
    }
  }
  for (size_t i = 0; i < n_added_; ++i) {
    // A stage may not name a label like the error labels; those are kept apart.
    if (added_[i].name == kErrorLabel && !err_.value.empty()) continue;
    if (added_[i].name == kErrorDetailsLabel && !details_.value.empty()) continue;
    scratch_.push_back(&added_[i]);
  }
  if (!err_.value.empty()) scratch_.push_back(&err_);
  if (!details_.value.empty()) scratch_.push_back(&details_);
  std::sort(scratch_.begin(), scratch_.end(),
            [](const model::Label* a, const model::Label* b) { return a->name < b->name; });
}

model::LabelSet LabelsBuilder::Labels() const {
  SortedView();
  std::vector<model::Label> out;
  out.reserve(scratch_.size());
  for (const model::Label* l : scratch_) out.push_back(*l);
  return model::LabelSet(std::move(out));
}

bool LabelsBuilder::LabelsEqual(const model::LabelSet& other) const {
  SortedView();
  const auto& theirs = other.labels();
  if (theirs.size() != scratch_.size()) return false;
  for (size_t i = 0; i < theirs.size(); ++i) {
    if (theirs[i].name != scratch_[i]->name || theirs[i].value != scratch_[i]->value) return false;
  }
  return true;
}

void LabelsBuilder::Categorize(std::vector<model::Label>* metadata,
                               std::vector<model::Label>* parsed) const {
  metadata->clear();
  parsed->clear();
  if (metadata_ != nullptr) {
    for (const auto& l : *metadata_) {
      if (!Added(l.name) && !Deleted(l.name)) metadata->push_back(l);
    }
  }
  for (size_t i = 0; i < n_added_; ++i) {
    if (added_[i].name == kErrorLabel && !err_.value.empty()) continue;
    if (added_[i].name == kErrorDetailsLabel && !details_.value.empty()) continue;
    parsed->push_back(added_[i]);
  }
  auto by_name = [](const model::Label& a, const model::Label& b) { return a.name < b.name; };
  std::sort(metadata->begin(), metadata->end(), by_name);
  std::sort(parsed->begin(), parsed->end(), by_name);
  // Loki lists the error labels with the parsed ones, after them.
  if (!err_.value.empty()) parsed->push_back(err_);
  if (!details_.value.empty()) parsed->push_back(details_);
}

namespace {

bool HasName(const std::vector<model::Label>& labels, std::string_view name) {
  for (const auto& l : labels) {
    if (l.name == name) return true;
  }
  return false;
}

}  // namespace

model::LabelSet ResultLabels(const model::LabelSet& labels, model::Entry* entry, bool categorize) {
  if (entry->metadata.empty() && entry->parsed.empty()) return labels;
  for (auto& m : entry->metadata) {
    // A name in `labels` that no stage set is a stream label's.
    if (labels.Get(m.name) != nullptr && !HasName(entry->parsed, m.name)) {
      m.name.append(kDuplicateSuffix);
    }
  }
  std::vector<model::Label> out;
  out.reserve(labels.labels().size() + entry->metadata.size());
  for (const auto& l : labels.labels()) {
    if (categorize && HasName(entry->parsed, l.name)) continue;
    out.push_back(l);
  }
  if (!categorize) {
    for (const auto& m : entry->metadata) {
      // A renamed name taken as well: the parsed (or stream) label wins.
      if (labels.Get(m.name) == nullptr) out.push_back(m);
    }
  }
  return model::LabelSet(std::move(out));
}

void AppendSanitizedLabelName(std::string_view key, bool prefix_digit, std::string* out) {
  // strings.TrimSpace: ASCII and Unicode white space; ASCII covers what log keys carry.
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!key.empty() && is_space(key.front())) key.remove_prefix(1);
  while (!key.empty() && is_space(key.back())) key.remove_suffix(1);
  if (key.empty()) return;
  if (prefix_digit && key[0] >= '0' && key[0] <= '9') out->push_back('_');
  auto valid = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  // Most keys are already valid names: append them in one go.
  if (std::all_of(key.begin(), key.end(), valid)) {
    out->append(key);
    return;
  }
  for (size_t i = 0; i < key.size();) {
    char c = key[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
      out->push_back(c);
      ++i;
      continue;
    }
    out->push_back('_');
    size_t n = static_cast<unsigned char>(c) < 0x80 ? 1 : Utf8SequenceLength(key, i);
    i += n == 0 ? 1 : n;  // an invalid byte is one rune (RuneError) in Go
  }
}

}  // namespace sluice::logql::log
