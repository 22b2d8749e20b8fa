#pragma once

// The query frontend's results cache (Loki's query_range.results_cache): what a split of a metric
// range query returned, by what was asked. Used by frontend.cc; apart so the key and the encoding
// are tested on their own.
//
// Key (hashed by the memcached cache; any length is fine):
//   "mr1|" tenants sorted and joined by '|' "|" normalized query "|" start "|" end "|" step
// The query is the parsed plan printed back (logql/syntax/printer.h), so spacing and quoting
// variants of one query share entries. start and end are the split's first and last step (Unix
// ns), step in ns: a split is one fixed set of step evaluations.
//
// Value: a versioned binary encoding of the split's matrix, little-endian varints:
//
//   byte version (1)
//   varint series count
//   per series:  varint label count, per label: lp name, lp value   (lp: varint length + bytes)
//                varint point count, per point: zigzag varint ts_ms delta from the previous
//                point (the first from 0), fixed64 IEEE-754 bits of the value
//
// Why not JSON or protobuf: points dominate, and a step delta is one or two bytes where JSON
// spends ~14 on the timestamp; the value's exact bits survive (NaN payloads, -0), which keeps
// a merged cached answer identical to an uncached one; and the querier layer has no generated
// protobuf of its own to add a message to. The version byte makes a future format change a miss
// (an entry that does not decode is ignored), never a wrong answer.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "logql/engine/value.h"
#include "logql/syntax/ast.h"

namespace sluice::querier {

std::string ResultsCacheKey(std::vector<std::string> tenants, const logql::syntax::Expr& plan,
                            int64_t start_ns, int64_t end_ns, int64_t step_ns);

std::string EncodeMatrix(const std::vector<logql::engine::Series>& series);
// Corruption for anything but a complete value of a known version.
Result<std::vector<logql::engine::Series>> DecodeMatrix(std::string_view data);

}  // namespace sluice::querier
