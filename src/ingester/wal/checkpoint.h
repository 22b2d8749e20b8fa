#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "ingester/wal/file_util.h"
#include "model/entry.h"

namespace sluice::wal {

// Writes a checkpoint: a snapshot of all in-memory (unflushed) stream data, taken at segment
// boundary n (the number Writer::CutSegment returned), so that it stands in for every segment
// < n. It is written to <dir>/checkpoint.<n:08d>.tmp and, on Commit(), fsync'd and renamed to
// checkpoint.<n:08d>: a checkpoint either exists whole or not at all. Same record framing as
// segments (format.h).
//
// Unless the snapshot is taken atomically with the cut, entries logged after the cut are both
// in the snapshot and in segment >= n, and replay delivers them twice: the replay handler must
// drop entries it already holds (same timestamp and line), as Loki's ingester does on replay.
//
// Not thread-safe: one thread writes a checkpoint.
class CheckpointWriter {
 public:
  static Result<std::unique_ptr<CheckpointWriter>> Create(const std::string& dir, uint64_t segment);
  // Deletes the .tmp file if Commit() did not succeed.
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Adds entries of a stream; may be called many times per stream (chunks of its entries, in
  // order). The series record is written before the stream's first entries. Arguments are
  // borrowed for the call.
  Status AddStream(std::string_view tenant, uint64_t ref, std::string_view labels,
                   std::span<const model::Entry> entries);

  // Flushes, fsyncs, renames to checkpoint.<n>, fsyncs the directory, then deletes older
  // checkpoints. After an error the checkpoint is abandoned (every later call fails).
  Status Commit();

  uint64_t bytes_written() const { return bytes_written_; }

 private:
  CheckpointWriter(std::string dir, uint64_t segment, UniqueFd fd);
  Status Flush();
  Status Fail(Status st);

  const std::string dir_;
  const uint64_t segment_;
  const std::string tmp_path_;
  UniqueFd fd_;
  std::string buf_;
  std::vector<model::EntryView> views_;  // AddStream's entries, reused across calls
  uint64_t bytes_written_ = 0;
  Status error_;  // sticky
  bool committed_ = false;
  // Streams whose series record is written, per tenant.
  std::unordered_map<std::string, std::unordered_set<uint64_t>> seen_;
};

using CheckpointWriterPtr = std::unique_ptr<CheckpointWriter>;

}  // namespace sluice::wal
