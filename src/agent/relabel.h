#pragma once

// Prometheus relabeling for journal entries: Promtail exposes every journal field as a
// `__journal_<field>` label and users pick stream labels out of them with relabel_configs. Labels
// starting with "__" are dropped after relabeling, as in Promtail.
//
// Semantics follow Prometheus: a rule joins its source_labels' values with `separator` (a missing
// label is ""), matches the result against `regex` anchored at both ends, and
//   replace    sets target_label to `replacement` with $1 / ${1} / ${name} expanded (an empty
//              result deletes target_label); no match leaves the labels alone
//   keep/drop  drops the entry unless / when the value matches
//   labelmap   copies each label whose name matches to the name `replacement` expands to
//   labeldrop  deletes each label whose name matches

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"

namespace re2 {
class RE2;
}

namespace sluice::agent {

class Relabeler {
 public:
  // REQUIRES: the rules passed AgentConfig::Finalize (known actions, regexes that compile).
  explicit Relabeler(const std::vector<RelabelRule>& rules);
  ~Relabeler();
  // Applies the rules in order; false when a keep or drop rule drops the entry.
  bool Apply(std::map<std::string, std::string>* labels) const;
  bool empty() const { return rules_.empty(); }

 private:
  struct Compiled {
    RelabelRule rule;
    std::unique_ptr<re2::RE2> re;
  };
  std::vector<Compiled> rules_;
};

// Go's regexp.Expand template syntax over the groups of one match: $1, ${1}, $name, ${name}, $$.
// A name is the longest run of letters, digits and '_' ($1x is the group named "1x": empty).
std::string ExpandTemplate(const re2::RE2& re, std::string_view tmpl,
                           const std::vector<std::string_view>& groups);

}  // namespace sluice::agent
