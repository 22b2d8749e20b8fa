#pragma once

// Helpers shared by the rpc tests: addresses of servers on 127.0.0.1, and reads and query
// results rendered as text, so two answers compare with one EXPECT_EQ that shows the difference.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "iter/iterator.h"
#include "querier/querier.h"

namespace sluice::rpc::test {

inline std::string Address(int port) { return "127.0.0.1:" + std::to_string(port); }

// Every entry of a read, one line each: labels, timestamp, line, metadata.
inline std::string RenderRead(iter::EntryIterator* it) {
  std::string out;
  while (it->Next()) {
    out +=
        it->Labels().ToString() + " " + std::to_string(it->At().timestamp_ns) + " " + it->At().line;
    for (const auto& m : it->At().metadata) out += " " + m.name + "=" + m.value;
    out += "\n";
  }
  if (!it->Error().ok()) out += "ERROR " + it->Error().ToString();
  return out;
}

// A query result's streams (labels, then entries) and series (labels, then points).
inline std::string Render(const querier::QueryResult& r) {
  std::string out;
  for (const auto& s : r.streams) {
    out += s.labels.ToString() + "\n";
    for (const auto& e : s.entries) {
      out += std::to_string(e.timestamp_ns) + " " + e.line;
      for (const auto& m : e.metadata) out += " " + m.name + "=" + m.value;
      out += "\n";
    }
  }
  for (const auto& s : r.series) {
    out += s.labels.ToString() + "\n";
    for (const auto& p : s.points)
      out += std::to_string(p.ts_ms) + " " + std::to_string(p.value) + "\n";
  }
  return out;
}

// Runs every query of `queries` in both directions and at two limits on both queriers, over
// [t0 - 1s, t0 + 20s) with a 1 s step, and expects the same rendered answer. Returns how many
// answers were not empty, for the caller to check the comparison was not vacuous.
inline size_t ExpectSameAnswers(querier::Querier& want_querier, querier::Querier& got_querier,
                                const std::vector<const char*>& queries, int64_t t0) {
  constexpr int64_t kSecond = 1'000'000'000;
  size_t nonempty = 0;
  for (const char* q : queries) {
    for (auto dir : {model::Direction::kForward, model::Direction::kBackward}) {
      for (uint32_t limit : {5000u, 7u}) {
        querier::QueryRequest req;
        req.query = q;
        req.start_ns = t0 - kSecond;
        req.end_ns = t0 + 20 * kSecond;
        req.step_ns = kSecond;
        req.limit = limit;
        req.direction = dir;
        auto want = want_querier.Exec({"t"}, req);
        auto got = got_querier.Exec({"t"}, req);
        EXPECT_TRUE(want.ok()) << q << ": " << want.status().ToString();
        EXPECT_TRUE(got.ok()) << q << ": " << got.status().ToString();
        if (!want.ok() || !got.ok()) continue;
        EXPECT_EQ(Render(*got), Render(*want)) << q;
        if (!Render(*want).empty()) ++nonempty;
      }
    }
  }
  return nonempty;
}

}  // namespace sluice::rpc::test
