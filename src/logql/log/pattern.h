#pragma once

// Loki's pattern language (pkg/logql/log/pattern), used by the `| pattern "..."` parser and the
// `|> "..."` / `!> "..."` line filters.
//
// A pattern is a sequence of literals and captures. A capture is `<name>` with name matching
// [A-Za-z_][A-Za-z0-9_]*; `<_>` is the unnamed capture; every other byte is literal text.
// Matching is anchored at the start of the line and greedy-free: each capture runs up to the
// first occurrence of the literal after it.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::logql::log {

class PatternMatcher {
 public:
  // The `| pattern` form: at least one named capture, no two captures in a row, no duplicate
  // names. Errors use Loki's texts ("at least one capture is required", "found consecutive
  // capture '<a><b>': invalid expression", "duplicate capture name (a): invalid expression").
  static Result<PatternMatcher> Parse(std::string_view pattern);
  // The line filter form: only `<_>` captures, none in a row. "" matches only the empty line.
  static Result<PatternMatcher> ParseLineFilter(std::string_view pattern);

  // Named captures, in order.
  const std::vector<std::string>& names() const { return names_; }

  // The values of the first names().size() or fewer named captures, as views into `line`
  // (Loki's Matches: stops at the first literal it cannot find, giving that capture the rest of
  // the line). Empty when the line is empty or does not start with a leading literal.
  // *out is cleared first.
  void Matches(std::string_view line, std::vector<std::string_view>* out) const;

  // The line filter test: every literal found in order, no empty capture, and the line ends as
  // the pattern does (on a literal: nothing left; on a capture: something left).
  bool Test(std::string_view line) const;

 private:
  struct Node {
    bool capture = false;
    bool unnamed = false;
    std::string text;  // the literal, or the capture's name
  };
  static Result<std::vector<Node>> Tokenize(std::string_view pattern);

  std::vector<Node> nodes_;
  std::vector<std::string> names_;
};

}  // namespace sluice::logql::log
