#pragma once

// The positions file: how far each file has been delivered, and the timestamps given to lines
// cut into batches that are not yet acknowledged, so a restart resumes exactly where delivery was
// acknowledged and re-sends the in-flight lines with the same timestamps (the server drops exact
// duplicates: same stream, timestamp and line).
//
// File layout (text, one record a line, fields separated by one space):
//
//   sluice-agent-positions 2
//   file <dev> <ino> <acked_offset> <last_ts> <path>     one per tracked file
//   run <start> <end> <base_ts>                          0..n after their file, in offset order
//   journal <key> <cursor>                               one per journal source with a cursor
//   end <crc32 of every byte before this line, 8 hex digits>
//
// Version 1 is version 2 without journal records; both are read, 2 is written.
// A journal record's <key> is "journal-<job_name>" (Promtail's key) and <cursor> the sd-journal
// cursor of the last entry whose delivery was acknowledged; the source resumes after it. Journal
// entries keep their own timestamps, so they need no runs.
//
// <path>, <key> and <cursor> are percent-escaped (bytes <= 0x20, '%' and 0x7f). A run says: the
// lines starting in [start, end) were cut into batches and got timestamps base_ts, base_ts+1, ...
// in order. Runs cover the offsets from acked_offset on without gaps. <last_ts> is the largest
// timestamp ever given to a line of the file, so lines read after a restart get later ones.
//
// Written atomically: the whole file goes to "<filename>.tmp", is fsynced (when configured) and
// renamed over <filename>, and the directory is fsynced. A reader sees the old or the new file,
// never a mix. A file that fails the check is set aside as "<filename>.corrupt" and the agent
// starts from the beginning of each file: duplicates rather than loss.
//
// Thread-safe.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/item.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace sluice::agent {

struct TimestampRun {
  uint64_t start = 0;
  uint64_t end = 0;
  int64_t base_ts = 0;
  bool operator==(const TimestampRun&) const = default;
};

struct FileRecord {
  std::string path;
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t acked_offset = 0;
  int64_t last_ts = 0;
  std::vector<TimestampRun> runs;
  // A journal source: `path` is its key, `cursor` the last acknowledged entry; the rest is unused.
  bool journal = false;
  std::string cursor;
  bool operator==(const FileRecord&) const = default;
};

std::string EncodePositions(const std::vector<FileRecord>& records);
Result<std::vector<FileRecord>> DecodePositions(std::string_view text);

class Positions {
 public:
  Positions(std::string filename, bool fsync);

  // Reads the file when it exists. Returns a non-OK status only for I/O errors other than a
  // missing file; corruption is handled as described above (and reported by corrupted()).
  Status Load();
  bool corrupted() const { return corrupted_; }

  // The record loaded for this file identity, if any (a file rotated by rename while the agent
  // was down is found under its new name by its inode).
  std::optional<FileRecord> Find(uint64_t dev, uint64_t ino) const;
  // Forgets loaded file records no reader claimed (their files are gone). Journal records stay.
  void DropUnclaimed();

  // The cursor saved for the journal source `key` (empty when none).
  std::string JournalCursor(const std::string& key) const;

  // Starts tracking a file from `acked_offset`, or a journal source (f.journal, f.path = its key)
  // from the cursor it resumed after (its offsets are then entry positions within this run).
  void Track(const TrackedFile& f, uint64_t acked_offset, int64_t last_ts, std::string cursor = "");
  // Journals that batch `batch_id` holds the lines of `file_id` in `runs` (in offset order);
  // `cursor`, for a journal source, is where it resumes once this segment and all before it are
  // acknowledged (empty: no change). Segments of one file must be added in read order.
  void AddSegment(uint64_t file_id, uint64_t batch_id, std::vector<TimestampRun> runs,
                  int64_t last_ts, std::string cursor = "");
  // The batch was delivered or deliberately dropped: each file's acknowledged offset (a journal's
  // cursor) moves over the longest prefix of its segments that are all acknowledged.
  void Ack(uint64_t batch_id);
  // True when every segment of the file is acknowledged.
  bool FullyAcked(uint64_t file_id) const;
  uint64_t AckedOffset(uint64_t file_id) const;
  // Stops tracking (a rotated file read to its end and fully acknowledged).
  void Untrack(uint64_t file_id);

  // Writes the file atomically when anything changed since the last write.
  Status Save() EXCLUDES(save_mu_, mu_);
  const std::string& filename() const { return filename_; }

 private:
  struct Segment {
    uint64_t batch_id;
    std::vector<TimestampRun> runs;
    std::string cursor;
    bool acked = false;
  };
  struct State {
    FileRecord record;  // acked_offset and last_ts are current; runs are rebuilt on save
    std::deque<Segment> segments;
  };
  std::vector<FileRecord> Snapshot() const REQUIRES(mu_);

  const std::string filename_;
  const bool fsync_;
  bool corrupted_ = false;
  mutable Mutex mu_;
  std::map<uint64_t, State> files_ GUARDED_BY(mu_);                        // by file id
  std::map<uint64_t, std::vector<uint64_t>> batch_files_ GUARDED_BY(mu_);  // batch -> file ids
  std::vector<FileRecord> loaded_ GUARDED_BY(mu_);                         // unclaimed
  bool dirty_ GUARDED_BY(mu_) = false;
  Mutex save_mu_;  // one writer of the file at a time
};

// Writes `data` to `path` atomically (temp file + rename), fsyncing file and directory when asked.
Status WriteFileAtomic(const std::string& path, std::string_view data, bool fsync);

}  // namespace sluice::agent
