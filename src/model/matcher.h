#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/labels.h"

namespace re2 {
class RE2;
}

namespace sluice::model {

// A label matcher from a stream selector: name op value, with op one of = != =~ !~.
// Regexes are fully anchored, as in Prometheus and Loki.
class LabelMatcher {
 public:
  enum class Type : uint8_t { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

  static Result<LabelMatcher> Make(Type type, std::string name, std::string value);

  Type type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }

  // A missing label matches as the empty string.
  bool Matches(std::string_view value) const;
  bool Matches(const LabelSet& labels) const;
  // `name="value"`, `name=~"re"` ...
  std::string ToString() const;

 private:
  LabelMatcher(Type type, std::string name, std::string value)
      : type_(type), name_(std::move(name)), value_(std::move(value)) {}

  Type type_;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> regex_;  // Immutable once built; shared by copies.
};

bool MatchesAll(const std::vector<LabelMatcher>& matchers, const LabelSet& labels);

}  // namespace sluice::model
