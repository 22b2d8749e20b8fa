#include "agent/relabel.h"

#include <re2/re2.h>

#include <cctype>

namespace sluice::agent {

namespace {

// Anchored match; fills `groups` (group 0 = the whole input) on success.
bool FullMatch(const re2::RE2& re, std::string_view input, std::vector<std::string_view>* groups) {
  int n = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> pieces(n);
  if (!re.Match(re2::StringPiece(input.data(), input.size()), 0, input.size(),
                re2::RE2::ANCHOR_BOTH, pieces.data(), n)) {
    return false;
  }
  groups->assign(n, std::string_view());
  for (int i = 0; i < n; ++i) {
    if (pieces[i].data() != nullptr) {
      (*groups)[i] = std::string_view(pieces[i].data(), pieces[i].size());
    }
  }
  return true;
}

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::string ExpandTemplate(const re2::RE2& re, std::string_view tmpl,
                           const std::vector<std::string_view>& groups) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$' || i + 1 >= tmpl.size()) {
      out.push_back(tmpl[i]);
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string_view name;
    size_t next;
    if (tmpl[i + 1] == '{') {
      size_t close = tmpl.find('}', i + 2);
      if (close == std::string_view::npos) {  // not a reference: kept as written, as Go does
        out.push_back('$');
        continue;
      }
      name = tmpl.substr(i + 2, close - i - 2);
      next = close + 1;
    } else {
      size_t end = i + 1;
      while (end < tmpl.size() && IsNameChar(tmpl[end])) ++end;
      name = tmpl.substr(i + 1, end - i - 1);
      next = end;
    }
    if (name.empty()) {
      out.push_back('$');
      continue;
    }
    bool numeric = true;
    for (char c : name) numeric &= std::isdigit(static_cast<unsigned char>(c)) != 0;
    int index = -1;
    if (numeric) {
      if (name.size() < 6) index = std::stoi(std::string(name));
    } else {
      auto it = re.NamedCapturingGroups().find(std::string(name));
      if (it != re.NamedCapturingGroups().end()) index = it->second;
    }
    if (index >= 0 && static_cast<size_t>(index) < groups.size()) out.append(groups[index]);
    i = next - 1;
  }
  return out;
}

Relabeler::Relabeler(const std::vector<RelabelRule>& rules) {
  for (const auto& r : rules) {
    rules_.push_back(Compiled{r, std::make_unique<re2::RE2>(r.regex, re2::RE2::Quiet)});
  }
}

Relabeler::~Relabeler() = default;

bool Relabeler::Apply(std::map<std::string, std::string>* labels) const {
  std::vector<std::string_view> groups;
  for (const auto& [rule, re] : rules_) {
    const std::string& action = rule.action;
    if (action == "labelmap" || action == "labeldrop") {
      std::map<std::string, std::string> out;
      for (const auto& [name, value] : *labels) {
        bool match = FullMatch(*re, name, &groups);
        if (action == "labeldrop") {
          if (!match) out[name] = value;
          continue;
        }
        out[name] = value;
        if (match) {
          std::string mapped = ExpandTemplate(*re, rule.replacement, groups);
          if (!mapped.empty()) out[mapped] = value;
        }
      }
      *labels = std::move(out);
      continue;
    }
    std::string value;
    for (size_t i = 0; i < rule.source_labels.size(); ++i) {
      if (i > 0) value += rule.separator;
      auto it = labels->find(rule.source_labels[i]);
      if (it != labels->end()) value += it->second;
    }
    bool match = FullMatch(*re, value, &groups);
    if (action == "keep" && !match) return false;
    if (action == "drop" && match) return false;
    if (action != "replace" || !match) continue;
    std::string target = ExpandTemplate(*re, rule.target_label, groups);
    std::string result = ExpandTemplate(*re, rule.replacement, groups);
    if (target.empty()) continue;
    if (result.empty()) {
      labels->erase(target);
    } else {
      (*labels)[target] = std::move(result);
    }
  }
  return true;
}

}  // namespace sluice::agent
