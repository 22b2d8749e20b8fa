#pragma once

// Reading one file: lines out of appended bytes, lines over the size cap split or truncated, and
// the checks that notice rotation (rename: the path names another file now) and copytruncate
// (the file got shorter than what was read).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/positions.h"
#include "common/status.h"

namespace sluice::agent {

// A line (or a piece of one) found in a file. `line` and `cursor` are valid during the callback
// only.
struct LineOut {
  std::string_view line;
  uint64_t start = 0;       // offset of its first byte
  uint64_t end = 0;         // offset after it (after its '\n' for a whole line)
  bool truncated = false;   // bytes past max_line_size were dropped
  bool split = false;       // a piece of a line longer than max_line_size
  int64_t timestamp = 0;    // the source's own (journal); 0 = given when the batch is cut
  std::string_view cursor;  // journal: where to resume once this line is delivered
};
using LineFn = std::function<void(const LineOut&)>;

// The largest cut <= max that does not split a UTF-8 sequence (max itself for bytes that are not
// UTF-8 at all).
size_t Utf8Cut(std::string_view s, size_t max);

// Turns a byte stream into lines. In split mode a line longer than max_line_size comes out as
// pieces of at most max_line_size bytes (each cut on a UTF-8 boundary); in truncate mode as its
// first max_line_size bytes, emitted when its '\n' arrives so that the offset after it is the
// offset after the whole line. A trailing '\r' is dropped. Memory: at most max_line_size plus one
// Feed's bytes. Not thread-safe.
class LineSplitter {
 public:
  LineSplitter(uint64_t max_line_size, bool truncate, uint64_t offset)
      : max_(max_line_size), truncate_(truncate), pending_start_(offset), next_(offset) {}

  void Feed(std::string_view data, const LineFn& emit);
  // Emits a partial last line (the file is finished: rotated away or truncated).
  void Flush(const LineFn& emit);
  // Starts over at `offset`, dropping any partial line.
  void Reset(uint64_t offset);
  // The offset of the next byte Feed expects.
  uint64_t next_offset() const { return next_; }
  size_t pending_bytes() const { return pending_.size(); }

 private:
  void Append(std::string_view piece, const LineFn& emit);
  void EmitPending(const LineFn& emit, uint64_t end);

  const uint64_t max_;
  const bool truncate_;
  std::string pending_;
  uint64_t pending_start_;
  uint64_t next_;
  bool discarding_ = false;  // truncate mode: past max_ in the current line
};

// Timestamps journaled for lines cut into batches before a restart: the line starting at offset o
// inside run [start, end) gets base_ts + (its index among the run's lines). Lines must be asked
// for in file order.
class ReplayTimestamps {
 public:
  explicit ReplayTimestamps(std::vector<TimestampRun> runs) : runs_(std::move(runs)) {}
  // 0 when the line is past every run.
  int64_t For(uint64_t start_offset);
  bool done() const { return index_ >= runs_.size(); }

 private:
  std::vector<TimestampRun> runs_;
  size_t index_ = 0;
  int64_t counter_ = 0;
};

enum class FileChange : uint8_t { kNone, kTruncated, kRotated, kDeleted };

class FileTailer {
 public:
  // Opens `path` and positions at `offset`; an offset past the end (the file was replaced or
  // truncated while we were away) starts at 0 and sets reset_on_open().
  static Result<std::unique_ptr<FileTailer>> Open(const std::string& path, uint64_t offset,
                                                  uint64_t max_line_size, bool truncate);
  ~FileTailer();

  // Reads up to `max_bytes` appended bytes, emitting each complete line. Returns bytes read.
  Result<size_t> Read(size_t max_bytes, const LineFn& emit);
  // Call when Read returns 0. On kTruncated the partial line is flushed and reading restarts at 0.
  FileChange Check(const LineFn& emit);
  void Flush(const LineFn& emit) { splitter_.Flush(emit); }

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  uint64_t dev() const { return dev_; }
  uint64_t ino() const { return ino_; }
  uint64_t offset() const { return splitter_.next_offset(); }
  uint64_t size() const { return size_; }  // as of the last Read or Check
  bool reset_on_open() const { return reset_on_open_; }

 private:
  FileTailer(std::string path, int fd, uint64_t dev, uint64_t ino, uint64_t offset,
             uint64_t max_line_size, bool truncate);

  std::string path_;
  int fd_;
  uint64_t dev_, ino_;
  uint64_t size_ = 0;
  bool reset_on_open_ = false;
  LineSplitter splitter_;
  std::vector<char> buf_;
};

}  // namespace sluice::agent
