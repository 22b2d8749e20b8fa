#pragma once

// Promtail's `multiline` stage for one file (or stdin): a line matching `firstline` starts a
// block, the lines after it that do not match join it with "\n" (a Java stack trace under its
// exception line), and the block goes out as one entry when
//   - the next first line arrives,
//   - it has max_lines lines,
//   - no line arrived for max_wait_time (FlushIfIdle, called from the reader's poll loop), or
//   - the file is finished (Flush).
// Lines before the first first line pass through alone. As in Promtail, a block already sent for
// max_lines or max_wait_time is continued by the next lines that do not match.
//
// A block never grows past max_line_size: a line that would take it past starts a new block, so
// joining cannot build an entry the server rejects or the memory budget did not plan for. A joined
// entry spans the offsets of its first to its last line, so positions and the timestamp journal
// treat it like one line. Not thread-safe: owned by the file's reader.

#include <cstdint>
#include <memory>
#include <string>

#include "agent/config.h"
#include "agent/tailer.h"

namespace re2 {
class RE2;
}

namespace sluice::agent {

class MultilineJoiner {
 public:
  // REQUIRES: config passed AgentConfig::Finalize (firstline compiles).
  MultilineJoiner(const MultilineConfig& config, uint64_t max_line_size);
  ~MultilineJoiner();

  // Takes one line read at `now_ns` (any monotonic clock); emits the entries it completes.
  void Add(const LineOut& line, int64_t now_ns, const LineFn& emit);
  // Emits the pending block when its last line came max_wait_time or more before `now_ns`.
  void FlushIfIdle(int64_t now_ns, const LineFn& emit);
  // Emits the pending block, if any.
  void Flush(const LineFn& emit);
  bool pending() const { return lines_ > 0; }

 private:
  void Start(const LineOut& line);

  const MultilineConfig config_;
  const uint64_t max_line_size_;
  std::unique_ptr<re2::RE2> firstline_;
  bool seen_first_ = false;
  std::string block_;
  uint64_t start_ = 0;
  uint64_t end_ = 0;
  int lines_ = 0;
  bool truncated_ = false;
  bool split_ = false;
  int64_t last_add_ns_ = 0;
};

}  // namespace sluice::agent
