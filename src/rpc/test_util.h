#pragma once

// Helpers shared by the rpc tests: addresses of servers on 127.0.0.1, and reads and query
// results rendered as text, so two answers compare with one EXPECT_EQ that shows the difference.

#include <string>

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

}  // namespace sluice::rpc::test
