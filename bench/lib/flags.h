#pragma once

// Command-line flags for the bench tools: `--name=value`, `--name value`, or `--name` alone
// for a boolean. Repeated flags keep every value. Unknown flags are the caller's to reject.

#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::bench {

class Flags {
 public:
  // `booleans` are the flags that take no value.
  Flags(int argc, char** argv, std::set<std::string> booleans) {
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if (!a.starts_with("--")) {
        positional_.emplace_back(a);
        continue;
      }
      a.remove_prefix(2);
      size_t eq = a.find('=');
      std::string name(a.substr(0, eq));
      if (eq != std::string_view::npos) {
        values_[name].emplace_back(a.substr(eq + 1));
      } else if (booleans.count(name) > 0 || i + 1 >= argc) {
        values_[name].emplace_back("true");
      } else {
        values_[name].emplace_back(argv[++i]);
      }
    }
  }

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, std::string def = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? def : it->second.back();
  }
  std::vector<std::string> GetAll(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  int64_t GetInt(const std::string& name, int64_t def) const {
    return Has(name) ? std::strtoll(Get(name).c_str(), nullptr, 10) : def;
  }
  double GetDouble(const std::string& name, double def) const {
    return Has(name) ? std::strtod(Get(name).c_str(), nullptr) : def;
  }
  bool GetBool(const std::string& name) const { return Has(name) && Get(name) != "false"; }
  // Names given that are not in `known` (to report typos).
  std::vector<std::string> Unknown(const std::set<std::string>& known) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_) {
      if (known.count(k) == 0) out.push_back(k);
    }
    return out;
  }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

}  // namespace sluice::bench
