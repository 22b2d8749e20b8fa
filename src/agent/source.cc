#include "agent/source.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>

namespace sluice::agent {

StreamLabelsPtr MakeStreamLabels(const std::map<std::string, std::string>& labels) {
  auto out = std::make_shared<StreamLabels>();
  out->text = "{";
  for (const auto& [k, v] : labels) {
    if (out->text.size() > 1) out->text += ", ";
    out->text += k;
    out->text += "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\') {
        out->text.push_back('\\');
        out->text.push_back(c);
      } else if (c == '\n') {
        out->text += "\\n";
      } else {
        out->text.push_back(c);
      }
    }
    out->text += "\"";
    out->pairs.emplace_back(k, v);
  }
  out->text += "}";
  return out;
}

namespace {

std::string LevelValue(std::string_view rest) {
  size_t n = 0;
  while (n < rest.size() && n < 16 && std::isalpha(static_cast<unsigned char>(rest[n]))) ++n;
  std::string v(rest.substr(0, n));
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "warning") v = "warn";
  if (v == "err") v = "error";
  if (v == "dbg") v = "debug";
  return v;
}

}  // namespace

std::string DetectLevel(std::string_view line) {
  line = line.substr(0, std::min<size_t>(line.size(), 512));
  for (std::string_view key : {"level=", "lvl="}) {
    size_t pos = 0;
    while ((pos = line.find(key, pos)) != std::string_view::npos) {
      if (pos == 0 || line[pos - 1] == ' ' || line[pos - 1] == '\t') {
        std::string_view rest = line.substr(pos + key.size());
        if (!rest.empty() && rest[0] == '"') rest.remove_prefix(1);
        return LevelValue(rest);
      }
      pos += key.size();
    }
  }
  size_t pos = line.find("\"level\"");
  if (pos != std::string_view::npos) {
    std::string_view rest = line.substr(pos + 7);
    size_t i = 0;
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == ':')) ++i;
    if (i < rest.size() && rest[i] == '"') return LevelValue(rest.substr(i + 1));
  }
  return "";
}

SourceLabeler::SourceLabeler(const SourceConfig& source,
                             const std::map<std::string, std::string>& external)
    : source_(source), base_(external) {
  for (const auto& [k, v] : source.labels) base_[k] = v;
  if (!source.path_regex.empty())
    path_re_ = std::make_unique<re2::RE2>(source.path_regex, RE2::Quiet);
}

SourceLabeler::~SourceLabeler() = default;

std::map<std::string, std::string> SourceLabeler::ForPath(const std::string& path) const {
  std::map<std::string, std::string> out = base_;
  if (source_.filename_label && !path.empty()) out["filename"] = path;
  if (path_re_ && path_re_->ok()) {
    int groups = path_re_->NumberOfCapturingGroups();
    std::vector<re2::StringPiece> pieces(groups + 1);
    if (path_re_->Match(path, 0, path.size(), RE2::UNANCHORED, pieces.data(), groups + 1)) {
      for (const auto& [name, index] : path_re_->NamedCapturingGroups()) {
        if (!pieces[index].empty()) out[name] = std::string(pieces[index]);
      }
    }
  }
  return out;
}

int Shedder::Match(double fraction_used, const StreamLabels& labels, std::string_view line) const {
  if (rules_.empty() || fraction_used < threshold_) return -1;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const ShedRule& r = rules_[i];
    bool ok = true;
    // Not a structured binding: clang 14 cannot capture one in the lambda.
    for (const auto& want : r.labels) {
      auto it = std::find_if(labels.pairs.begin(), labels.pairs.end(),
                             [&](const auto& p) { return p.first == want.first; });
      if (it == labels.pairs.end() || it->second != want.second) {
        ok = false;
        break;
      }
    }
    if (ok && !r.line_contains.empty() && line.find(r.line_contains) == std::string_view::npos)
      ok = false;
    if (ok) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace sluice::agent
