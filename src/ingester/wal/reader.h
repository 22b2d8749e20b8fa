#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "ingester/wal/file_util.h"
#include "ingester/wal/format.h"
#include "model/entry.h"

namespace sluice::wal {

struct ReplayStats {
  uint64_t records = 0, entries = 0, bytes = 0, segments = 0, corrupt_truncations = 0;
};

// Receives what Replay() reads. For every (tenant, ref), OnSeries comes before the first
// OnEntries of each file, but it may come again (once per segment): it must be idempotent.
// Entries may be delivered twice when a checkpoint overlaps the segments after it (see
// checkpoint.h); the handler drops duplicates.
class ReplayHandler {
 public:
  virtual ~ReplayHandler() = default;
  // The views are valid only during the call.
  virtual void OnSeries(std::string_view tenant, uint64_t ref, std::string_view labels) = 0;
  // The entries are valid only during the call.
  virtual void OnEntries(std::string_view tenant, uint64_t ref,
                         std::span<const model::Entry> entries) = 0;
};

// Replays the newest complete checkpoint, then every segment numbered >= that checkpoint's
// number, in order. A torn or corrupt record (bad CRC, truncated length, undecodable payload)
// ends its segment: the file is truncated at the last good record with a warning (counted in
// corrupt_truncations), and replay continues with the next segment. A corrupt checkpoint is
// read up to the damage but never modified. Incomplete checkpoint.*.tmp files are deleted.
// A missing directory is an empty WAL.
//
// Fails only on I/O errors, never for corrupt data. Must run before Writer::Open on `dir`.
// `progress`, if set, is called now and then with (bytes done, bytes total).
Result<ReplayStats> Replay(const std::string& dir, ReplayHandler* handler,
                           std::function<void(uint64_t done, uint64_t total)> progress = {});

// Reads the records of one segment or checkpoint file in order (for Replay and tools).
class RecordReader {
 public:
  static Result<std::unique_ptr<RecordReader>> Open(const std::string& path);

  enum class Outcome : uint8_t {
    kRecord,   // type() and payload() are set
    kEof,      // clean end of file
    kCorrupt,  // a torn or corrupt record starts at good_offset(); corruption() says why
  };
  // Errors only for I/O failures.
  Result<Outcome> Next();

  // REQUIRES: the last Next() returned kRecord. Valid until the next call to Next().
  uint8_t type() const { return type_; }
  std::string_view payload() const { return payload_; }
  // Where the last record returned starts.
  uint64_t record_offset() const { return record_offset_; }
  // The end of the last good record.
  uint64_t good_offset() const { return good_offset_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& corruption() const { return corruption_; }

 private:
  RecordReader(std::string path, UniqueFd fd, uint64_t file_size);
  // Makes n bytes available at buf_[begin_]; false if the file ends first.
  Result<bool> Fill(size_t n);
  Outcome Corrupt(std::string why);

  const std::string path_;
  UniqueFd fd_;
  const uint64_t file_size_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0, begin_ = 0, end_ = 0;
  uint8_t type_ = 0;
  std::string_view payload_;
  uint64_t record_offset_ = 0, good_offset_ = 0;
  std::string corruption_;
};

}  // namespace sluice::wal
