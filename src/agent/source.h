#pragma once

// Per-line decisions made while reading: a stream's labels, the level detected in a line, and
// whether load shedding drops it.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "agent/item.h"

namespace re2 {
class RE2;
}

namespace sluice::agent {

// {a="b", c="d"} with names sorted, values escaped as LogQL strings.
StreamLabelsPtr MakeStreamLabels(const std::map<std::string, std::string>& labels);

// The level in a logfmt (`level=warn`, `lvl=warn`) or JSON (`"level":"warn"`) line, lower-cased;
// empty when there is none. Looks at the first 512 bytes only.
std::string DetectLevel(std::string_view line);

// The labels of one file of a source: static labels, client.external_labels, filename, and the
// named groups of path_regex.
class SourceLabeler {
 public:
  SourceLabeler(const SourceConfig& source, const std::map<std::string, std::string>& external);
  ~SourceLabeler();
  std::map<std::string, std::string> ForPath(const std::string& path) const;

 private:
  const SourceConfig& source_;
  std::map<std::string, std::string> base_;
  std::unique_ptr<re2::RE2> path_re_;
};

// Drops low-value lines first once the buffered bytes pass shedding.threshold of the memory limit.
class Shedder {
 public:
  Shedder(double threshold, std::vector<ShedRule> rules)
      : threshold_(threshold), rules_(std::move(rules)) {}
  // Which rule (its index) drops the line at this fill level, or -1 to keep it.
  int Match(double fraction_used, const StreamLabels& labels, std::string_view line) const;
  bool enabled() const { return !rules_.empty(); }

 private:
  double threshold_;
  std::vector<ShedRule> rules_;
};

}  // namespace sluice::agent
