#pragma once

// Line filters (`|= "x"`, `!= "x"`, `|~ "re"`, `!~ "re"`, `|> "<_> pattern"`, `!> ...`,
// `|= ip("10.0.0.0/8")`, with `or` alternatives), compiled once per query and then run on every
// line, so the hot path is a memmem, an RE2 search or a pattern scan with no allocation.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "logql/log/ip.h"
#include "logql/log/pattern.h"
#include "logql/syntax/ast.h"

namespace re2 {
class RE2;
}

namespace sluice::logql::log {

// One compiled line filter stage. Immutable once built; Matches() is thread-safe.
class LineFilter {
 public:
  // InvalidArgument for an invalid regex, pattern or ip() pattern.
  static Result<LineFilter> Compile(const syntax::LineFilterStage& stage);

  // Literal filters, for tests and callers that build filters without parsing a query.
  static LineFilter Contains(std::vector<std::string> any_of);
  static LineFilter NotContains(std::string literal);

  bool Matches(std::string_view line) const;

 private:
  // One alternative: a literal searched with memmem, a regex searched unanchored, a pattern
  // tested against the whole line, or addresses found in the line tested against ip().
  struct Matcher {
    std::string literal;
    std::shared_ptr<const re2::RE2> regex;  // null for literals; immutable, shared by copies
    std::shared_ptr<const PatternMatcher> pattern;
    std::shared_ptr<const IpMatcher> ip;
    bool Matches(std::string_view line) const;
  };

  bool negated_ = false;
  // The line matches when any alternative does (before negation). Empty: matches everything.
  std::vector<Matcher> alternatives_;
  bool always_ = false;  // an alternative matches every line ("" or a regex like ".*")
};

}  // namespace sluice::logql::log
