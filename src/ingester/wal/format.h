#pragma once

// The write-ahead log's on-disk format (mirrored in docs/formats/wal.md).
//
// A WAL directory holds numbered segment files and at most one live checkpoint:
//
//   <dir>/00000000, <dir>/00000001, ...   segments, "%08d" (more digits past 99999999)
//   <dir>/checkpoint.00000007             snapshot of everything in segments < 7
//   <dir>/checkpoint.00000007.tmp         a checkpoint being written (deleted on replay)
//
// Segments and checkpoints are both plain sequences of records, with no file header:
//
//   record  := crc (4 bytes) | length (4 bytes) | type (1 byte) | payload (length bytes)
//
//   crc     = CRC-32 (IEEE) of type and payload, little-endian
//   length  = payload length, little-endian, at most kMaxRecordSize
//   type    = RecordType below
//
// Payloads use the varints and length-prefixed strings of common/coding.h ("lp" below):
//
//   kSeries  := lp(tenant) { ref (fixed64) lp(labels) }+
//   kEntries := lp(tenant) { ref (fixed64) count (varint) entry{count} }+
//   entry    := ts_delta (zig-zag varint, from the previous entry of the group; the first
//               from 0) lp(line) n_metadata (varint) { lp(name) lp(value) }{n_metadata}
//
// A `ref` is the stream's 64-bit label fingerprint; `labels` the stream's `{a="b"}` text.
// Every segment is replayable on its own: a kSeries record for (tenant, ref) precedes the
// first kEntries record naming it in that segment. A checkpoint follows the same rule.
//
// A record that fails its CRC or is cut short ends its file: replay truncates the segment to
// the last good record. No record is split across files.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/entry.h"

namespace sluice::wal {

inline constexpr size_t kHeaderSize = 4 + 4 + 1;
// A sanity cap, so that a corrupt length can never cause a huge allocation. The encoders
// split batches that would exceed it (one push is tens of MB at most).
inline constexpr uint32_t kMaxRecordSize = 256u << 20;

enum class RecordType : uint8_t {
  // 0 is reserved: zero-filled tails (possible after power loss) must never parse.
  kSeries = 1,
  kEntries = 2,
};

// What a Writer waits for before Log() returns. See docs/formats/wal.md for what each
// survives: kBatch survives power loss, kInterval and kNever survive a process crash (kill -9)
// but may lose the last interval (kInterval) or everything not yet written back by the kernel
// (kNever) when the machine itself goes down.
enum class FsyncPolicy : uint8_t { kBatch, kInterval, kNever };

// "batch" | "interval" | "never".
Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text);
std::string_view FsyncPolicyName(FsyncPolicy policy);

// The entries of one stream inside a batch. Everything is borrowed and must stay live during
// the call it is passed to.
struct StreamEntries {
  uint64_t ref;             // the stream's fingerprint
  std::string_view labels;  // `{a="b"}`
  std::span<const model::EntryView> entries;
};

struct SeriesRef {
  uint64_t ref;
  std::string_view labels;
};

// File names.
std::string SegmentFileName(uint64_t n);        // "00000007"
std::string CheckpointFileName(uint64_t n);     // "checkpoint.00000007"
std::string CheckpointTmpFileName(uint64_t n);  // "checkpoint.00000007.tmp"

enum class FileKind : uint8_t { kOther, kSegment, kCheckpoint, kCheckpointTmp };
struct ParsedFileName {
  FileKind kind = FileKind::kOther;
  uint64_t number = 0;
};
ParsedFileName ParseFileName(std::string_view name);

// --- Encoding. Each Append* appends complete, framed records to *dst. ---

// One record of `type` around the payload appended between the constructor and Finish().
// "*dst" must remain live, and not be appended to by anyone else, until Finish().
class RecordBuilder {
 public:
  RecordBuilder(std::string* dst, RecordType type);
  std::string* payload() { return dst_; }
  size_t payload_size() const { return dst_->size() - start_ - kHeaderSize; }
  // Fills in the header. REQUIRES: payload_size() <= kMaxRecordSize.
  void Finish();

 private:
  std::string* dst_;
  size_t start_;
};

// kSeries records for `series` (split if they would pass max_record_size). Returns the number
// of records appended.
size_t AppendSeriesRecords(std::string* dst, std::string_view tenant,
                           std::span<const SeriesRef> series,
                           size_t max_record_size = kMaxRecordSize);

// kEntries records for the entries of `streams` (streams without entries are skipped), split
// between entries so that no record passes max_record_size. Returns the number of records
// appended, or TooLarge if one entry alone does not fit (then *dst is left unchanged).
Result<size_t> AppendEntriesRecords(std::string* dst, std::string_view tenant,
                                    std::span<const StreamEntries> streams,
                                    size_t max_record_size = kMaxRecordSize);

// --- Decoding. Payloads come from disk: every failure is Corruption, never a crash. ---

// Decodes a kSeries payload. The views borrow from the payload.
class SeriesDecoder {
 public:
  Status Decode(std::string_view payload);
  std::string_view tenant() const { return tenant_; }
  std::span<const SeriesRef> series() const { return series_; }

 private:
  std::string_view tenant_;
  std::vector<SeriesRef> series_;
};

// Decodes a kEntries payload into entries it owns; reused across records so the lines'
// buffers are recycled. The spans stay valid until the next Decode().
class EntriesDecoder {
 public:
  struct Group {
    uint64_t ref;
    std::span<const model::Entry> entries;
  };
  Status Decode(std::string_view payload);
  std::string_view tenant() const { return tenant_; }
  std::span<const Group> groups() const { return groups_; }
  size_t num_entries() const { return used_; }

 private:
  std::string_view tenant_;
  std::vector<model::Entry> entries_;  // entries_[0, used_) are live
  size_t used_ = 0;
  std::vector<Group> groups_;
};

}  // namespace sluice::wal
