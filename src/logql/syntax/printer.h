#pragma once

// Prints an AST back as canonical LogQL, following Loki's String() methods so that queries
// print as Loki prints them (in logs, cache keys, the query-frontend's split queries):
//
//   {app="foo"} |= "bar" | json | level="error"
//   sum by (host)(rate({job="mysql"} |= "error" | json | ( duration>10s , code>=500 )[1m]))
//   (sum(count_over_time({a="b"}[5m])) / 2)
//
// Binary operations and compound label filters are fully parenthesised; floats print as Go's
// %v (`1e+06`), offsets and duration filters as Go durations (`5m0s`), ranges as Prometheus
// durations (`[5m]`). Where Loki's output would not parse back or would lose information, this
// printer deviates: byte sizes print exactly (`1500B`, `20MB`, `1KiB`, Loki rounds them),
// `ip()` label filters print with `=`, and `ignoring () group_left` is kept.
//
// For every successfully parsed query q: Parse(Print(*q)) succeeds and prints identically.

#include <cstdint>
#include <string>

#include "logql/syntax/ast.h"

namespace sluice::logql::syntax {

std::string Print(const Expr& e);
std::string PrintStage(const Stage& s);
std::string PrintLabelFilter(const LabelFilter& f);

// Go's fmt.Sprint(float64): shortest round-trip digits, exponent form outside [1e-4, 1e6).
std::string FormatGoFloat(double v);

}  // namespace sluice::logql::syntax
