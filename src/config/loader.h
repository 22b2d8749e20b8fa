#pragma once

// The rules by which both binaries (the server and `sluice agent`) read their configuration: one
// YAML walk, one way to parse each kind of value, one flag syntax.
//
// A configuration is described once, by a function that names every key to a visitor:
//
//   template <typename V> void Visit(MyConfig& c, V& v) {
//     v.Field("timeout", DurationField{&c.timeout});
//     v.Section("server", [&] { v.Field("http_listen_port", c.server.port); });
//     v.List("rules", c.rules, [&](Rule& r) { v.Field("name", r.name); });
//   }
//
// and walked by YamlLoader (load, unknown keys are errors naming the key), FlagSetter (flags are
// the key's dotted path) and YamlDumper (print). Null YAML values (`key:` alone) leave the
// default. A list of strings is also a comma-separated flag; lists of mappings and label maps are
// YAML only.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"

namespace sluice::config {

// Durations and sizes are distinct field types so they parse and print as "5m" / "256KB".
struct DurationField {
  int64_t* v;
};
struct BytesField {
  uint64_t* v;
};

// Converts one scalar (a YAML value or a flag value) to a field, naming `key` on failure.
// Booleans are true/false/1/0; integers must be whole (no trailing text, no sign when unsigned).
Status ParseScalar(std::string_view key, const std::string& text, std::string& out);
Status ParseScalar(std::string_view key, const std::string& text, bool& out);
Status ParseScalar(std::string_view key, const std::string& text, double& out);
Status ParseScalar(std::string_view key, const std::string& text, DurationField out);
Status ParseScalar(std::string_view key, const std::string& text, BytesField out);
Status ParseInteger(std::string_view key, const std::string& text, bool is_unsigned,
                    long long& out);
template <typename Int>
requires std::is_integral_v<Int> &&(!std::is_same_v<Int, bool>)Status
    ParseScalar(std::string_view key, const std::string& text, Int& out) {
  long long v = 0;
  SLUICE_RETURN_IF_ERROR(ParseInteger(key, text, std::is_unsigned_v<Int>, v));
  out = static_cast<Int>(v);
  return Status::OK();
}

std::string FormatScalar(const std::string& v);
std::string FormatScalar(bool v);
std::string FormatScalar(double v);
std::string FormatScalar(DurationField f);
std::string FormatScalar(BytesField f);
template <typename Int>
requires std::is_integral_v<Int> &&(!std::is_same_v<Int, bool>)std::string FormatScalar(Int v) {
  return std::to_string(v);
}

// A field that one flag or one YAML scalar sets.
template <typename T>
concept ScalarField = requires(std::string text, T field) {
  ParseScalar("", text, field);
};

// Parses YAML text; a syntax error is an InvalidArgument.
Result<YAML::Node> LoadYaml(std::string_view yaml);

// One key of another program's configuration reference (Loki's, for the server: loki_keys.h).
struct KeyInfo {
  const char* path;  // dotted; a list's elements are "list[].key"
  char kind;         // 'l' a value (whatever is under it), 's' a section, 'L' a list of sections
  const char* flag;  // its command-line flag without the '-', or ""
};

// Looks keys up by path and by flag. `keys` must outlive the catalog.
class KeyCatalog {
 public:
  explicit KeyCatalog(std::span<const KeyInfo> keys);
  // 0 if `path` is not in the catalog.
  char Kind(std::string_view path) const;
  // The key a flag sets, or nullptr.
  const KeyInfo* ByFlag(std::string_view flag) const;
  // The names directly under `section` ("" for the top level, else "server."), for suggestions.
  std::vector<std::string_view> NamesUnder(std::string_view section) const;
  // Every path whose last name is `name` ("http_listen_port" -> "server.http_listen_port").
  std::vector<std::string_view> PathsNamed(std::string_view name) const;
  std::span<const KeyInfo> keys() const { return keys_; }

 private:
  std::span<const KeyInfo> keys_;
  std::map<std::string_view, const KeyInfo*> by_path_;
  std::map<std::string_view, const KeyInfo*> by_flag_;
};

// A foreign key that sets one of ours under another name (Loki's
// storage_config.filesystem.directory is our common.storage.filesystem.chunks_directory).
struct KeyRename {
  std::string_view from;
  std::string_view to;
};

// How a load treats keys its visit does not name: a key in `catalog` is set through `renames`
// or else ignored (its dotted path appended to `ignored`); only a key in neither is an error.
// Without a ForeignKeys every key the visit does not name is an error.
struct ForeignKeys {
  const KeyCatalog* catalog = nullptr;
  std::span<const KeyRename> renames;
  std::vector<std::string>* ignored = nullptr;
};

// The candidate nearest to `word` by edit distance (a transposition counts one), if it is near
// enough to be a typo of it; "" otherwise.
std::string_view ClosestName(std::string_view word, std::span<const std::string_view> candidates);

// Reads a YAML mapping into the fields a visit names; remembers every key it was told about so
// that the rest are errors. The first error wins; later calls do nothing.
class YamlLoader {
 public:
  // `path` prefixes every key in messages ("scrape_configs[0]."). `foreign` (may be null; must
  // outlive the loader) accepts keys the visit does not name.
  explicit YamlLoader(YAML::Node root, std::string path = "", const ForeignKeys* foreign = nullptr);

  // A scalar, a list of strings (a single string is a list of one) or a map of string to string
  // (merged into `field`, so two sections may add to the same labels).
  template <typename T>
  void Field(const char* name, T&& field) {
    std::optional<YAML::Node> n = Child(name);
    if (!n) return;
    std::string key = stack_.back().path + name;
    if constexpr (ScalarField<T>) {
      if (!n->IsScalar()) {
        Fail(key, "expected a single value");
        return;
      }
      status_ = ParseScalar(key, n->Scalar(), field);
    } else {
      status_ = ReadCollection(key, *n, field);
    }
  }

  void Section(const char* name, const std::function<void()>& body);

  // A section that may be absent; present (even as `name:` alone) it sets `out` and reads it.
  template <typename T, typename Fn>
  void OptionalSection(const char* name, std::optional<T>& out, Fn&& body) {
    stack_.back().known.insert(name);
    if (!status_.ok() || !Present(name)) return;
    T& value = out.emplace();
    Section(name, [&] { body(value); });
  }

  // A YAML list of mappings; `item` reads one element (keys named "name[i].key") and may return
  // a Status, reported at that element after its unknown keys.
  template <typename T, typename Fn>
  void List(const char* name, std::vector<T>& items, Fn&& item) {
    std::optional<YAML::Node> n = Child(name);
    if (!n) return;
    std::string key = stack_.back().path + name;
    if (!n->IsSequence()) {
      Fail(key, "expected a list");
      return;
    }
    const YAML::Node& list = *n;
    items.clear();  // a list in the file replaces the default (or the defaults an override copies)
    for (size_t i = 0; i < list.size() && status_.ok(); ++i) {
      std::string element = key + "[" + std::to_string(i) + "]";
      if (!Enter(list[i], element)) return;
      T value;
      Status item_status;
      if constexpr (std::is_void_v<std::invoke_result_t<Fn, T&>>) {
        item(value);
      } else {
        item_status = item(value);
      }
      Leave();
      if (status_.ok() && !item_status.ok()) Fail(element, item_status.message());
      items.push_back(std::move(value));
    }
  }

  // Checks the top level for unknown keys; returns the first error.
  Status Finish();

  // Renamed foreign keys found, to be set with a FlagSetter once the walk is done.
  struct Renamed {
    std::string from;  // the key as written ("storage_config.filesystem.directory")
    std::string to;    // our dotted path
    std::string value;
  };
  const std::vector<Renamed>& renamed() const { return renamed_; }

 private:
  struct Level {
    YAML::Node node;
    std::string path;  // "" or "server." ...
    std::set<std::string> known;
  };

  // Marks `name` known; returns its node, or nothing if absent, null or after an error.
  std::optional<YAML::Node> Child(const char* name);
  bool Present(const char* name) const;
  // Pushes a mapping (null counts as empty) named `path`; false (and an error) if not a mapping.
  bool Enter(const YAML::Node& node, const std::string& path);
  void Leave();
  void CheckUnknown();
  // Accepts the foreign key at `path` (`display` with list indices) and what is under it; false
  // (and an error naming the first unknown key) if it or a key under it is in no catalog.
  bool AcceptForeign(const std::string& path, const std::string& display, const YAML::Node& node);
  void FailUnknown(const std::string& section, const std::string& display_section,
                   const std::string& key, const std::set<std::string>& ours);
  void Fail(std::string_view key, std::string_view message);
  Status ReadCollection(const std::string& key, const YAML::Node& n, std::vector<std::string>& out);
  Status ReadCollection(const std::string& key, const YAML::Node& n,
                        std::map<std::string, std::string>& out);

  std::vector<Level> stack_;
  Status status_;
  const ForeignKeys* foreign_ = nullptr;
  std::vector<Renamed> renamed_;
};

// Prints scalar fields and sections as YAML (the server's GET /config).
class YamlDumper {
 public:
  template <typename T>
  void Field(const char* name, T&& field) {
    if constexpr (ScalarField<T>) {
      out_ << YAML::Key << name << YAML::Value << FormatScalar(field);
    } else {
      out_ << YAML::Key << name << YAML::Value << YAML::Flow << field;
    }
  }
  void Section(const char* name, const std::function<void()>& body);
  // Each element as a mapping of the fields `item` names.
  template <typename T, typename Fn>
  void List(const char* name, std::vector<T>& items, Fn&& item) {
    out_ << YAML::Key << name << YAML::Value << YAML::BeginSeq;
    for (T& value : items) {
      out_ << YAML::BeginMap;
      if constexpr (std::is_void_v<std::invoke_result_t<Fn, T&>>) {
        item(value);
      } else {
        (void)item(value);  // the item's checks are for loading; a dump has nothing to refuse
      }
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }
  YAML::Emitter& out() { return out_; }

 private:
  YAML::Emitter out_;
};

// Sets the one scalar field whose dotted path ("server.http_listen_port") is `path`.
class FlagSetter {
 public:
  FlagSetter(std::string path, std::string value)
      : path_(std::move(path)), value_(std::move(value)) {}

  template <typename T>
  void Field(const char* name, T&& field) {
    if (prefix_ + name != path_) return;
    found_ = true;
    if constexpr (ScalarField<T>) {
      status_ = ParseScalar("-" + path_, value_, field);
    } else if constexpr (std::is_same_v<std::decay_t<T>, std::vector<std::string>>) {
      // A list of strings as one comma-separated flag, as Loki's list flags take it ("" = empty).
      field.clear();
      for (size_t start = 0; start < value_.size();) {
        size_t end = std::min(value_.find(',', start), value_.size());
        if (end > start) field.push_back(value_.substr(start, end - start));
        start = end + 1;
      }
    } else {
      status_ =
          Status::InvalidArgument("-" + path_ + ": a list or mapping; set it in the config file");
    }
  }
  void Section(const char* name, const std::function<void()>& body);
  template <typename T, typename Fn>
  void OptionalSection(const char* name, std::optional<T>& out, Fn&& body) {
    if (out) Section(name, [&] { body(*out); });
  }
  // List elements have no flag.
  template <typename T, typename Fn>
  void List(const char*, std::vector<T>&, Fn&&) {}

  bool found() const { return found_; }
  const Status& status() const { return status_; }

 private:
  std::string path_, value_, prefix_;
  bool found_ = false;
  Status status_;
};

// Lists the dotted path of every scalar field (flag suggestions). Optional sections are listed as
// if present; list elements have no flag and are not listed.
class PathLister {
 public:
  template <typename T>
  void Field(const char* name, T&&) {
    paths_.push_back(prefix_ + name);
  }
  void Section(const char* name, const std::function<void()>& body);
  template <typename T, typename Fn>
  void OptionalSection(const char* name, std::optional<T>&, Fn&& body) {
    T scratch{};
    Section(name, [&] { body(scratch); });
  }
  template <typename T, typename Fn>
  void List(const char*, std::vector<T>&, Fn&&) {}
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  std::string prefix_;
  std::vector<std::string> paths_;
};

// One command-line flag. Accepted forms: `-a.b=v`, `-a.b v` (when the next argument does not
// start with '-'), a bare `-a.b` (= "true", for booleans), each also with `--`.
struct Flag {
  std::string name;
  std::string value;
};
Result<std::vector<Flag>> ParseFlags(const std::vector<std::string>& args);

// Removes every `-name` flag and returns the last one's value ("" if none): `-config.file`.
std::string TakeFlag(std::vector<Flag>& flags, std::string_view name);

// A flag spelled differently from its YAML path (Loki's `-log.level` for server.log_level).
struct FlagAlias {
  std::string_view flag;
  std::string_view path;
};

// The dotted path a flag sets: its alias target, else its name with '-' read as '_'
// (`-server.http-listen-port` sets server.http_listen_port).
std::string FlagPath(std::string_view name, std::span<const FlagAlias> aliases);

// Sets the field at dotted `path` from `value`; false if the visit has no such field.
template <typename Visit>
Result<bool> SetPath(const std::string& path, const std::string& value, Visit&& visit) {
  FlagSetter setter(path, value);
  visit(setter);
  if (!setter.found()) return false;
  SLUICE_RETURN_IF_ERROR(setter.status());
  return true;
}

// "unknown flag -x", with the flag (ours or a foreign one) it probably meant.
std::string UnknownFlagMessage(const std::string& flag, const std::vector<std::string>& ours,
                               const ForeignKeys* foreign);

// Applies `flags` in order to the configuration `visit(visitor)` describes. A flag that is not
// one of ours may be a flag of `foreign`'s catalog (may be null): it sets its key's field when we
// have that key (under our name if `foreign` renames it), else it is ignored and reported.
template <typename Visit>
Status ApplyFlags(const std::vector<Flag>& flags, std::span<const FlagAlias> aliases, Visit&& visit,
                  const ForeignKeys* foreign = nullptr) {
  for (const auto& flag : flags) {
    SLUICE_ASSIGN_OR_RETURN(bool set, SetPath(FlagPath(flag.name, aliases), flag.value, visit));
    if (set) continue;
    const KeyInfo* key =
        foreign && foreign->catalog ? foreign->catalog->ByFlag(flag.name) : nullptr;
    if (key == nullptr || key->kind != 'l') {
      PathLister lister;
      visit(lister);
      return Status::InvalidArgument(UnknownFlagMessage(flag.name, lister.paths(), foreign));
    }
    std::string target = key->path;
    for (const auto& r : foreign->renames) {
      if (r.from == target) target = std::string(r.to);
    }
    SLUICE_ASSIGN_OR_RETURN(set, SetPath(target, flag.value, visit));
    if (!set && foreign->ignored) {
      foreign->ignored->push_back("-" + flag.name + " (" + key->path + ")");
    }
  }
  return Status::OK();
}

// Loads YAML text into the configuration `visit(loader)` describes. Empty text leaves defaults.
// `foreign` (may be null) accepts keys the visit does not name.
template <typename Visit>
Status LoadYamlInto(std::string_view yaml, Visit&& visit, const ForeignKeys* foreign = nullptr) {
  SLUICE_ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(yaml));
  if (root.IsNull()) return Status::OK();
  if (!root.IsMap()) return Status::InvalidArgument("configuration must be a YAML mapping");
  YamlLoader loader(root, "", foreign);
  visit(loader);
  SLUICE_RETURN_IF_ERROR(loader.Finish());
  for (const auto& r : loader.renamed()) {
    auto set = SetPath(r.to, r.value, visit);
    if (!set.ok()) return Status::InvalidArgument(r.from + " (" + set.status().message() + ")");
    if (!*set) return Status::Internal("renamed key " + r.to + " has no field");
  }
  return Status::OK();
}

}  // namespace sluice::config
