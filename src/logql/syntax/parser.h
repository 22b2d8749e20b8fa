#pragma once

// LogQL parsing: a hand-written recursive-descent parser over the tokens of lexer.h, producing
// the AST of ast.h. The accepted language is Loki's (v3 pkg/logql/syntax/syntax.y, without the
// experimental `variants(...) of (...)`); error messages follow Loki's wording:
//
//   parse error at line 1, col 20: syntax error: unexpected IDENTIFIER, expecting NUMBER or { or (
//   parse error : grouping not allowed for sum_over_time aggregation
//
// Syntax and lexical errors carry a position; semantic errors (checked while building a node or
// after the parse, as Loki does) do not. Every error is Status::InvalidArgument.
//
// Untrusted input is safe: nesting deeper than kMaxNestingDepth is an error rather than a stack
// overflow. Capping the query length is the caller's job (Loki: 5120 bytes).

#include <string_view>
#include <vector>

#include "common/status.h"
#include "logql/syntax/ast.h"
#include "model/matcher.h"

namespace sluice::logql::syntax {

// Parenthesis/function nesting, and the length of a left-associative operator chain, each count
// one level.
inline constexpr int kMaxNestingDepth = 128;

// Parses a log query (`{app="foo"} |= "x" | json`) or a metric query (`sum(rate(...[5m]))`),
// then validates it as Loki does: every selector needs a matcher that does not match the empty
// string, aggregations get the parameters and grouping they allow.
Result<ExprPtr> Parse(std::string_view query);

// Parses a bare stream selector `{a="b", c=~"d"}` (the match[] of /series, the query of the
// label APIs). With `validate`, an all-empty-compatible selector (`{}`, `{a=~".*"}`) is rejected
// as in Parse.
Result<std::vector<model::LabelMatcher>> ParseMatchers(std::string_view selector,
                                                       bool validate = true);

// True for a log query (a selector with its pipeline), false for a metric query.
bool IsLogQuery(const Expr& e);

}  // namespace sluice::logql::syntax
