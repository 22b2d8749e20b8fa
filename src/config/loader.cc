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

YamlLoader::YamlLoader(YAML::Node root, std::string path) {
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
    if (!top.known.contains(key)) {
      std::string section =
          top.path.empty() ? "the top level" : "section " + top.path.substr(0, top.path.size() - 1);
      status_ = Status::InvalidArgument(
          fmt::format("unknown configuration key \"{}\" in {}", key, section));
      return;
    }
  }
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
