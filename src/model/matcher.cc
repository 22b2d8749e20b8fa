#include "model/matcher.h"

#include <fmt/format.h>
#include <re2/re2.h>

namespace sluice::model {

Result<LabelMatcher> LabelMatcher::Make(Type type, std::string name, std::string value) {
  LabelMatcher m(type, std::move(name), std::move(value));
  if (type == Type::kRegexMatch || type == Type::kRegexNoMatch) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_dot_nl(true);  // Prometheus compiles matchers with (?s).
    auto re = std::make_shared<RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) {
      return Status::InvalidArgument(
          fmt::format("error parsing regexp: {}: `{}`", re->error(), m.value_));
    }
    m.regex_ = std::move(re);
  }
  return m;
}

bool LabelMatcher::Matches(std::string_view value) const {
  switch (type_) {
    case Type::kEqual:
      return value == value_;
    case Type::kNotEqual:
      return value != value_;
    case Type::kRegexMatch:
      return RE2::FullMatch(value, *regex_);
    case Type::kRegexNoMatch:
      return !RE2::FullMatch(value, *regex_);
  }
  return false;
}

bool LabelMatcher::Matches(const LabelSet& labels) const {
  const std::string* v = labels.Get(name_);
  return Matches(v == nullptr ? std::string_view() : std::string_view(*v));
}

std::string LabelMatcher::ToString() const {
  const char* op = "=";
  switch (type_) {
    case Type::kEqual:
      op = "=";
      break;
    case Type::kNotEqual:
      op = "!=";
      break;
    case Type::kRegexMatch:
      op = "=~";
      break;
    case Type::kRegexNoMatch:
      op = "!~";
      break;
  }
  return name_ + op + QuoteString(value_);
}

bool MatchesAll(const std::vector<LabelMatcher>& matchers, const LabelSet& labels) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels)) return false;
  }
  return true;
}

}  // namespace sluice::model
