#include "config/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "common/duration.h"

namespace sluice::config {

Status ParseScalar(std::string_view key, const std::string& text, std::string& out) {
  out = text;
  return Status::OK();
}

Status ParseScalar(std::string_view key, const std::string& text, bool& out) {
  if (text == "true" || text == "1") {
    out = true;
  } else if (text == "false" || text == "0") {
    out = false;
  } else {
    return Status::InvalidArgument(fmt::format("{}: cannot parse \"{}\" as a boolean", key, text));
  }
  return Status::OK();
}

Status ParseInteger(std::string_view key, const std::string& text, bool is_unsigned,
                    long long& out) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used != text.size() || (is_unsigned && v < 0)) throw std::invalid_argument(text);
    out = v;
  } catch (const std::exception&) {
    return Status::InvalidArgument(fmt::format("{}: cannot parse \"{}\" as an integer", key, text));
  }
  return Status::OK();
}

Status ParseScalar(std::string_view key, const std::string& text, double& out) {
  try {
    size_t used = 0;
    out = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    return Status::InvalidArgument(fmt::format("{}: cannot parse \"{}\" as a number", key, text));
  }
  return Status::OK();
}

Status ParseScalar(std::string_view key, const std::string& text, DurationField out) {
  auto d = ParseDuration(text);
  if (!d.ok()) return Status::InvalidArgument(fmt::format("{}: {}", key, d.status().message()));
  *out.v = *d;
  return Status::OK();
}

Status ParseScalar(std::string_view key, const std::string& text, BytesField out) {
  auto b = ParseByteSize(text);
  if (!b.ok()) return Status::InvalidArgument(fmt::format("{}: {}", key, b.status().message()));
  *out.v = *b;
  return Status::OK();
}

std::string FormatScalar(const std::string& v) { return v; }
std::string FormatScalar(bool v) { return v ? "true" : "false"; }
std::string FormatScalar(double v) { return fmt::format("{}", v); }
std::string FormatScalar(DurationField f) { return FormatDuration(*f.v); }
std::string FormatScalar(BytesField f) { return FormatByteSize(*f.v); }

Result<YAML::Node> LoadYaml(std::string_view yaml) {
  try {
    return YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("invalid YAML: {}", e.what()));
  }
}

KeyCatalog::KeyCatalog(std::span<const KeyInfo> keys) : keys_(keys) {
  for (const KeyInfo& k : keys_) {
    by_path_.emplace(k.path, &k);
    if (*k.flag != '\0') by_flag_.emplace(k.flag, &k);  // the first key wins a shared flag
  }
}

char KeyCatalog::Kind(std::string_view path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? '\0' : it->second->kind;
}

const KeyInfo* KeyCatalog::ByFlag(std::string_view flag) const {
  auto it = by_flag_.find(flag);
  return it == by_flag_.end() ? nullptr : it->second;
}

std::vector<std::string_view> KeyCatalog::NamesUnder(std::string_view section) const {
  std::vector<std::string_view> names;
  for (auto it = by_path_.lower_bound(section); it != by_path_.end(); ++it) {
    std::string_view p = it->first;
    if (!p.starts_with(section)) break;
    std::string_view rest = p.substr(section.size());
    if (!rest.empty() && rest.find_first_of(".[") == std::string_view::npos) names.push_back(rest);
  }
  return names;
}

std::vector<std::string_view> KeyCatalog::PathsNamed(std::string_view name) const {
  std::vector<std::string_view> paths;
  for (const KeyInfo& k : keys_) {
    std::string_view p = k.path;
    if (p.ends_with(name) && (p.size() == name.size() || p[p.size() - name.size() - 1] == '.')) {
      paths.push_back(p);
    }
  }
  return paths;
}

namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// "a[3].b[0].c" -> "a[].b[].c": the catalog's spelling of a path inside list elements.
std::string CatalogPath(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    out += path[i];
    if (path[i] == '[') {
      while (i + 1 < path.size() && path[i + 1] != ']') ++i;
    }
  }
  return out;
}

}  // namespace

std::string_view ClosestName(std::string_view word, std::span<const std::string_view> candidates) {
  // A typo changes a few characters; more than a quarter of the word is another word.
  size_t allowed = std::clamp<size_t>(word.size() / 4, 1, 3);
  std::string_view best;
  size_t best_distance = allowed + 1;
  for (std::string_view c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string UnknownFlagMessage(const std::string& flag, const std::vector<std::string>& ours,
                               const ForeignKeys* foreign) {
  // Our flags are spelled as paths with '-' or '_'; compare in the '_' spelling, suggest in '-'.
  std::string want = FlagPath(flag, {});
  std::vector<std::string_view> candidates(ours.begin(), ours.end());
  std::vector<std::string> foreign_flags;
  if (foreign && foreign->catalog) {
    for (const KeyInfo& k : foreign->catalog->keys()) {
      if (*k.flag != '\0') foreign_flags.push_back(FlagPath(k.flag, {}));
    }
  }
  candidates.insert(candidates.end(), foreign_flags.begin(), foreign_flags.end());
  std::string message = "unknown flag -" + flag;
  std::string_view best = ClosestName(want, candidates);
  if (!best.empty()) {
    std::string spelled(best);
    std::replace(spelled.begin(), spelled.end(), '_', '-');
    message += fmt::format(" (did you mean -{}?)", spelled);
  }
  return message;
}

YamlLoader::YamlLoader(YAML::Node root, std::string path, const ForeignKeys* foreign)
    : foreign_(foreign) {
  if (!path.empty()) path += ".";
  stack_.push_back({std::move(root), std::move(path), {}});
}

std::optional<YAML::Node> YamlLoader::Child(const char* name) {
  stack_.back().known.insert(name);
  const YAML::Node& map = stack_.back().node;  // const lookup: a missing key is not inserted
  if (!status_.ok() || !map.IsMap()) return std::nullopt;
  YAML::Node n = map[name];
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  return n;
}

bool YamlLoader::Present(const char* name) const {
  const YAML::Node& map = stack_.back().node;
  return map.IsMap() && map[name].IsDefined();
}

bool YamlLoader::Enter(const YAML::Node& node, const std::string& path) {
  if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
    Fail(path, "expected a mapping");
    return false;
  }
  YAML::Node map = node.IsMap() ? node : YAML::Node(YAML::NodeType::Map);
  stack_.push_back({map, path + ".", {}});
  return true;
}

void YamlLoader::Leave() {
  CheckUnknown();
  stack_.pop_back();
}

void YamlLoader::Section(const char* name, const std::function<void()>& body) {
  std::string path = stack_.back().path + name;
  std::optional<YAML::Node> n = Child(name);
  if (!status_.ok()) return;
  if (!Enter(n ? *n : YAML::Node(), path)) return;
  body();
  Leave();
}

Status YamlLoader::Finish() {
  CheckUnknown();
  return status_;
}

void YamlLoader::CheckUnknown() {
  const Level& top = stack_.back();
  if (!status_.ok() || !top.node.IsMap()) return;
  for (const auto& kv : top.node) {
    auto key = kv.first.as<std::string>();
    if (top.known.contains(key)) continue;
    std::string display = top.path + key;
    if (foreign_ && foreign_->catalog && AcceptForeign(CatalogPath(display), display, kv.second)) {
      continue;
    }
    if (status_.ok()) FailUnknown(CatalogPath(top.path), top.path, key, top.known);
    return;
  }
}

bool YamlLoader::AcceptForeign(const std::string& path, const std::string& display,
                               const YAML::Node& node) {
  for (const KeyRename& r : foreign_->renames) {
    if (r.from == path && node.IsScalar()) {
      renamed_.push_back({display, std::string(r.to), node.Scalar()});
      return true;
    }
  }
  char kind = foreign_->catalog->Kind(path);
  auto ignore = [&] {
    if (foreign_->ignored) foreign_->ignored->push_back(display);
    return true;
  };
  if (kind == '\0') return false;
  if (kind == 'l' || (kind == 's' && !node.IsMap()) || (kind == 'L' && !node.IsSequence())) {
    return ignore();
  }
  auto accept_map = [&](const YAML::Node& map, const std::string& section,
                        const std::string& display_section) {
    if (!map.IsMap()) return ignore();
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>();
      if (!AcceptForeign(section + key, display_section + key, kv.second)) {
        if (status_.ok()) FailUnknown(section, display_section, key, {});
        return false;
      }
    }
    return true;
  };
  if (kind == 's') return accept_map(node, path + ".", display + ".");
  for (size_t i = 0; i < node.size(); ++i) {
    if (!accept_map(node[i], path + "[].", display + "[" + std::to_string(i) + "].")) return false;
  }
  return true;
}

void YamlLoader::FailUnknown(const std::string& section, const std::string& display_section,
                             const std::string& key, const std::set<std::string>& ours) {
  std::string where = display_section.empty()
                          ? "the top level"
                          : "section " + display_section.substr(0, display_section.size() - 1);
  std::string message = fmt::format("unknown configuration key \"{}\" in {}", key, where);
  // Nearest name in the same section (ours first, then the foreign reference's), else the same
  // name in another section.
  std::vector<std::string_view> names(ours.begin(), ours.end());
  if (foreign_ && foreign_->catalog) {
    auto theirs = foreign_->catalog->NamesUnder(section);
    names.insert(names.end(), theirs.begin(), theirs.end());
  }
  std::string_view best = ClosestName(key, names);
  std::string suggestion = best.empty() ? "" : display_section + std::string(best);
  if (suggestion.empty() && foreign_ && foreign_->catalog) {
    auto elsewhere = foreign_->catalog->PathsNamed(key);
    if (!elsewhere.empty()) suggestion = std::string(elsewhere.front());
  }
  if (!suggestion.empty()) message += fmt::format("; did you mean \"{}\"?", suggestion);
  status_ = Status::InvalidArgument(std::move(message));
}

void YamlLoader::Fail(std::string_view key, std::string_view message) {
  if (status_.ok()) status_ = Status::InvalidArgument(fmt::format("{}: {}", key, message));
}

Status YamlLoader::ReadCollection(const std::string& key, const YAML::Node& n,
                                  std::vector<std::string>& out) {
  if (n.IsScalar()) {
    out = {n.Scalar()};
    return Status::OK();
  }
  std::vector<std::string> items;
  if (!n.IsSequence()) return Status::InvalidArgument(key + ": expected a list of strings");
  for (const auto& item : n) {
    if (!item.IsScalar()) return Status::InvalidArgument(key + ": expected a list of strings");
    items.push_back(item.Scalar());
  }
  out = std::move(items);
  return Status::OK();
}

Status YamlLoader::ReadCollection(const std::string& key, const YAML::Node& n,
                                  std::map<std::string, std::string>& out) {
  if (!n.IsMap()) return Status::InvalidArgument(key + ": expected a mapping of names to values");
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) {
      return Status::InvalidArgument(key + ": label values must be strings");
    }
    out[kv.first.as<std::string>()] = kv.second.Scalar();
  }
  return Status::OK();
}

void YamlDumper::Section(const char* name, const std::function<void()>& body) {
  out_ << YAML::Key << name << YAML::Value << YAML::BeginMap;
  body();
  out_ << YAML::EndMap;
}

void PathLister::Section(const char* name, const std::function<void()>& body) {
  std::string saved = prefix_;
  prefix_ += std::string(name) + ".";
  body();
  prefix_ = saved;
}

void FlagSetter::Section(const char* name, const std::function<void()>& body) {
  std::string saved = prefix_;
  prefix_ += std::string(name) + ".";
  body();
  prefix_ = saved;
}

Result<std::vector<Flag>> ParseFlags(const std::vector<std::string>& args) {
  std::vector<Flag> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg.starts_with("--")) arg = arg.substr(1);
    if (arg.size() < 2 || arg[0] != '-') {
      return Status::InvalidArgument(fmt::format("unexpected argument \"{}\"", args[i]));
    }
    arg = arg.substr(1);
    Flag flag;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      flag = {arg.substr(0, eq), arg.substr(eq + 1)};
    } else if (i + 1 < args.size() && !args[i + 1].starts_with('-')) {
      flag = {arg, args[++i]};
    } else {
      flag = {arg, "true"};  // a bare boolean flag
    }
    flags.push_back(std::move(flag));
  }
  return flags;
}

std::string TakeFlag(std::vector<Flag>& flags, std::string_view name) {
  std::string value;
  std::erase_if(flags, [&](const Flag& f) {
    if (f.name != name) return false;
    value = f.value;
    return true;
  });
  return value;
}

std::string FlagPath(std::string_view name, std::span<const FlagAlias> aliases) {
  for (const auto& alias : aliases) {
    if (name == alias.flag) return std::string(alias.path);
  }
  std::string path(name);
  std::replace(path.begin(), path.end(), '-', '_');
  return path;
}

}  // namespace sluice::config
