#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chunk/block.h"
#include "chunk/codec.h"
#include "common/token_bucket.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::ingester {

// One entry of a head: its line is head_lines[offset, offset + size).
struct HeadEntry {
  static constexpr uint32_t kNoMetadata = UINT32_MAX;
  int64_t timestamp_ns = 0;
  uint64_t offset = 0;
  uint32_t size = 0;
  uint32_t metadata = kNoMetadata;  // index into MemChunk::head_metadata
};

// One chunk being built or waiting for its flush: compressed blocks plus an uncompressed head.
// Blocks are immutable and shared with queries and flushes, so neither copies them.
//
// The head keeps its lines back to back in one buffer with a 24-byte index entry per line: no
// allocation per line, and about the raw bytes in memory. Structured metadata, rare, lives
// beside it.
struct MemChunk {
  uint64_t id = 0;  // unique in the process; names the chunk between a flush and its outcome
  std::vector<std::shared_ptr<const chunk::Block>> blocks;
  std::vector<HeadEntry> head;  // not yet cut into a block, in arrival order
  std::string head_lines;
  std::vector<std::vector<model::Label>> head_metadata;
  uint64_t head_bytes = 0;
  bool head_sorted = true;
  uint64_t compressed_bytes = 0;
  uint64_t raw_bytes = 0;  // line bytes, for the replay memory ceiling and stats
  uint32_t num_entries = 0;
  int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
  int64_t first_append_ns = 0, last_append_ns = 0;  // wall clock, for idle and max age

  bool closed = false;    // takes no more entries
  bool flushing = false;  // a flush has it
  bool flushed = false;   // in the object store and the index
  int64_t flushed_at_ns = 0;
  const char* close_reason = "";

  // The line of a head entry. Valid until the head is next appended to or cut.
  std::string_view HeadLine(const HeadEntry& e) const {
    return {head_lines.data() + e.offset, e.size};
  }
  const std::vector<model::Label>& HeadMetadata(const HeadEntry& e) const;
  model::Entry HeadToEntry(const HeadEntry& e) const;
  // Appends copies of the head's entries, in arrival order.
  void AppendHeadEntries(std::vector<model::Entry>* out) const;
};

struct StreamOptions {
  uint64_t block_size = 262144;
  uint64_t target_size = 1572864;
  chunk::Codec codec = chunk::Codec::kZstd;
};

enum class AppendOutcome : uint8_t { kAppended, kDuplicate, kOutOfOrder, kTooFarBehind };

// A stream's in-memory state. Not thread-safe: the ingester's shard lock guards it.
class Stream {
 public:
  Stream(std::shared_ptr<const model::LabelSet> labels, std::string labels_text,
         uint64_t fingerprint, const StreamOptions* options);

  // Appends one entry. `unordered`: accept entries back to highest_ts - window (Loki's unordered
  // writes); otherwise only non-decreasing timestamps. Exact duplicates (same timestamp and line
  // as an entry still in the head) are dropped, which makes client retries and WAL replays
  // harmless.
  AppendOutcome Append(const model::EntryView& entry, int64_t now_ns, bool unordered,
                       int64_t window_ns);

  // Cuts the head into a block and closes the open chunk (flush by age, idle or force).
  void CloseOpenChunk(const char* reason);
  // Cuts the head into a block before it reaches the block size (the ingester's head memory
  // budget); closes the chunk when that fills it.
  void CutHead();
  // What the open chunk's head holds (HeadEntry::size plus index overhead), 0 without one.
  uint64_t head_bytes() const;
  // Compressed bytes of every block cut so far (never decreases).
  uint64_t cut_bytes() const { return cut_bytes_; }

  const std::shared_ptr<const model::LabelSet>& labels() const { return labels_; }
  const std::string& labels_text() const { return labels_text_; }
  uint64_t fingerprint() const { return fingerprint_; }
  int64_t highest_ts() const { return highest_ts_; }
  std::vector<MemChunk>& chunks() { return chunks_; }
  const std::vector<MemChunk>& chunks() const { return chunks_; }
  TokenBucket* rate_limiter() { return rate_limiter_.get(); }
  void set_rate_limiter(std::unique_ptr<TokenBucket> b) { rate_limiter_ = std::move(b); }
  int64_t last_append_ns() const { return last_append_ns_; }

  // Every unflushed entry, sorted by time (for checkpoints). Decodes blocks.
  Status CollectUnflushed(std::vector<model::Entry>* out) const;

 private:
  MemChunk& OpenChunk(int64_t now_ns);
  void CutBlock(MemChunk& c);

  std::shared_ptr<const model::LabelSet> labels_;
  std::string labels_text_;
  uint64_t fingerprint_;
  const StreamOptions* options_;
  std::vector<MemChunk> chunks_;  // oldest first; at most the last one is open
  int64_t highest_ts_ = INT64_MIN;
  int64_t last_append_ns_ = 0;
  // What the last head held when it was cut, to size the next one.
  uint64_t last_head_lines_ = 0;
  size_t last_head_entries_ = 0;
  uint64_t cut_bytes_ = 0;
  std::unique_ptr<TokenBucket> rate_limiter_;
};

// Sorts by timestamp, keeping arrival order among equal timestamps.
void SortEntries(std::vector<model::Entry>* entries);

// The head entries of `c` with from_ns <= ts < through_ns, as an uncompressed block (entries
// in time order, equal timestamps in arrival order), so a query reads the head with the same
// block iterator as every cut block. nullptr when none is in range. REQUIRES: the stream's lock
// held (the copy is then the query's own).
std::shared_ptr<const chunk::Block> SnapshotHead(const MemChunk& c, int64_t from_ns,
                                                 int64_t through_ns);

}  // namespace sluice::ingester
