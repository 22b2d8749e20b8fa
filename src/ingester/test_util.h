#pragma once

// Helpers shared by tests that push into an ingester (header-only, test code only).

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "model/entry.h"
#include "model/labels.h"
#include "write/pusher.h"

namespace sluice::ingester::testing {

inline constexpr int64_t kSecond = 1'000'000'000;
inline constexpr int64_t kT0 = 1'700'000'000 * kSecond;

// Pushed entries borrow their lines, as they would from a request; this keeps them alive for the
// whole test program. Tests push from several threads.
inline std::string_view KeepLine(std::string line) {
  static std::mutex mu;
  static std::deque<std::string> lines;
  std::lock_guard<std::mutex> lock(mu);
  return lines.emplace_back(std::move(line));
}

// The ingester configuration of query tests, its WAL in `dir`: no background sweeps or
// checkpoints (the test flushes when it wants), small blocks (many of them, and entries left in
// the heads), fsync off, and flushed chunks kept in memory, so a query reads the same entries
// from memory and from the store.
inline config::Config::Ingester QueryTestConfig(const std::string& dir) {
  config::Config::Ingester config;
  config.wal.dir = dir + "/wal";
  config.flush_check_period = 3600 * kSecond;
  config.wal.checkpoint_duration = 3600 * kSecond;
  config.wal.fsync = "never";
  config.chunk_block_size = 600;
  config.chunk_retain_period = 3600 * kSecond;
  return config;
}

// A validated stream as the distributor hands it to the ingester.
inline write::ValidatedStream MakeStream(const std::string& labels_text,
                                         std::vector<std::pair<int64_t, std::string>> lines) {
  write::ValidatedStream vs;
  vs.labels = write::StreamLabels::Make(*model::ParseLabels(labels_text));
  for (auto& [ts, line] : lines) {
    vs.entries.push_back(model::EntryView{ts, KeepLine(std::move(line)), {}});
  }
  return vs;
}

}  // namespace sluice::ingester::testing
