#include "logql/log/line_filter.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <string.h>

namespace sluice::logql::log {

namespace {

// A regex without metacharacters matches exactly the lines containing it literally, and
// memmem is several times faster than RE2 on that.
bool IsPlainLiteral(std::string_view re) {
  for (char c : re) {
    switch (c) {
      case '\\':
      case '.':
      case '+':
      case '*':
      case '?':
      case '(':
      case ')':
      case '|':
      case '[':
      case ']':
      case '{':
      case '}':
      case '^':
      case '$':
        return false;
      default:
        break;
    }
  }
  return true;
}

}  // namespace

bool LineFilter::Matcher::Matches(std::string_view line) const {
  if (regex) return RE2::PartialMatch(line, *regex);
  if (pattern) return pattern->Test(line);
  if (ip) return ip->MatchesIn(line);
  if (literal.empty()) return true;
  if (line.size() < literal.size()) return false;
  return memmem(line.data(), line.size(), literal.data(), literal.size()) != nullptr;
}

Result<LineFilter> LineFilter::Compile(const syntax::LineFilterStage& stage) {
  LineFilter f;
  bool regex = false;
  bool pattern = false;
  switch (stage.op) {
    case syntax::LineFilterOp::kContains:
      break;
    case syntax::LineFilterOp::kNotContains:
      f.negated_ = true;
      break;
    case syntax::LineFilterOp::kMatch:
      regex = true;
      break;
    case syntax::LineFilterOp::kNotMatch:
      regex = true;
      f.negated_ = true;
      break;
    case syntax::LineFilterOp::kPattern:
      pattern = true;
      break;
    case syntax::LineFilterOp::kNotPattern:
      pattern = true;
      f.negated_ = true;
      break;
  }
  for (const auto& v : stage.values) {
    Matcher m;
    if (v.ip) {
      // Loki's NewIPLineFilter: only |= and != take ip().
      if (regex || pattern) return Status::InvalidArgument("ip: invalid operation");
      SLUICE_ASSIGN_OR_RETURN(IpMatcher ip, IpMatcher::Parse(v.value));
      m.ip = std::make_shared<const IpMatcher>(std::move(ip));
    } else if (pattern) {
      SLUICE_ASSIGN_OR_RETURN(PatternMatcher pm, PatternMatcher::ParseLineFilter(v.value));
      m.pattern = std::make_shared<const PatternMatcher>(std::move(pm));
    } else if (regex && !IsPlainLiteral(v.value)) {
      RE2::Options opts;
      opts.set_log_errors(false);
      auto re = std::make_shared<RE2>(v.value, opts);
      if (!re->ok()) {
        return Status::InvalidArgument(
            fmt::format("error parsing regexp: {}: `{}`", re->error(), v.value));
      }
      m.regex = std::move(re);
    } else {
      m.literal = v.value;
      if (m.literal.empty()) f.always_ = true;
    }
    f.alternatives_.push_back(std::move(m));
  }
  return f;
}

LineFilter LineFilter::Contains(std::vector<std::string> any_of) {
  LineFilter f;
  for (auto& s : any_of) {
    if (s.empty()) f.always_ = true;
    Matcher m;
    m.literal = std::move(s);
    f.alternatives_.push_back(std::move(m));
  }
  return f;
}

LineFilter LineFilter::NotContains(std::string literal) {
  LineFilter f = Contains({std::move(literal)});
  f.negated_ = true;
  return f;
}

bool LineFilter::Matches(std::string_view line) const {
  bool any = always_ || alternatives_.empty();
  for (size_t i = 0; !any && i < alternatives_.size(); ++i) any = alternatives_[i].Matches(line);
  return any != negated_;
}

}  // namespace sluice::logql::log
