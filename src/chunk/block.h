#pragma once

// A block: entries of one stream in timestamp order, encoded (see chunk/format.h for the
// entry encoding) and then compressed as one unit of ~256KB raw. Blocks are the unit of
// decompression: a query decompresses only the blocks its time range touches.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunk/codec.h"
#include "common/status.h"
#include "iter/iterator.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::chunk {

// The raw size at which writers should cut a block.
inline constexpr size_t kTargetBlockRawSize = 256 * 1024;

struct Block {
  int64_t min_ts = 0, max_ts = 0;  // unix ns, inclusive: the first and the last entry's ts
  uint32_t num_entries = 0;
  uint32_t raw_len = 0;  // uncompressed encoded length
  Codec codec = Codec::kZstd;
  std::string data;  // compressed payload
  // Crc32(data): set by BlockBuilder::Finish and Chunk::Decode, checked when the block is read.
  uint32_t crc32 = 0;
};

// Accumulates entries into the raw (uncompressed) encoding of one block.
// Not thread-safe; one builder per stream head.
class BlockBuilder {
 public:
  // REQUIRES: ts not below the previous Append's ts since the last Finish (the caller sorts;
  // a violation is a bug and aborts). Equal timestamps keep their append order.
  void Append(int64_t ts, std::string_view line, const std::vector<model::Label>& metadata);

  // Size of the encoded entries so far; cut the block when this reaches kTargetBlockRawSize.
  size_t raw_bytes() const { return raw_.size(); }
  size_t num_entries() const { return num_entries_; }
  bool empty() const { return num_entries_ == 0; }

  // Compresses the entries into a block and resets the builder (keeping its buffer's
  // capacity, so a builder reused for the next block does not reallocate).
  // REQUIRES: raw_bytes() < 4GB.
  Block Finish(Codec codec);

 private:
  std::string raw_;
  int64_t min_ts_ = 0;
  int64_t last_ts_ = 0;
  size_t num_entries_ = 0;
};

// Decodes every entry of a block, appending to *out. Verifies the crc, the lengths, the entry
// count and the timestamps against the block's metadata: garbage -> Corruption.
Status DecodeBlock(const Block& block, std::vector<model::Entry>* out);

// Iterator over one block's entries with from_ns <= ts < through_ns, in `dir` order (backward
// is the exact reverse of append order). Labels() returns *labels. Decompression (and the crc
// check) happens on the first Next(); a corrupt block ends iteration with Error() Corruption.
// REQUIRES: *block and *labels outlive the iterator.
iter::EntryIteratorPtr NewBlockIterator(const Block* block, const model::LabelSet* labels,
                                        int64_t from_ns, int64_t through_ns, model::Direction dir);

// The engine behind block and chunk iterators: reads one block at a time, decoding into one
// reusable Entry, and can be Reset() onto the next block keeping its buffers, so iterating a
// chunk allocates only when a line or a metadata list is longer than any seen before.
// Not thread-safe.
class BlockReader {
 public:
  // Points the reader at a block; nothing is read until Next().
  // REQUIRES: *block outlives the reader or the next Reset().
  void Reset(const Block* block, int64_t from_ns, int64_t through_ns, model::Direction dir);

  // Advances to the next entry in range; false at the end or on error (see status()).
  bool Next();
  // REQUIRES: the last Next() returned true. Valid until the next Next() or Reset().
  const model::Entry& entry() const { return entry_; }
  const Status& status() const { return status_; }

 private:
  // Checks the crc and decompresses; for backward iteration also indexes the entries in range.
  bool Load();
  bool NextForward();
  bool NextBackward();
  bool Fail(std::string msg);

  const Block* block_ = nullptr;
  int64_t from_ = 0, through_ = 0;
  model::Direction dir_ = model::Direction::kForward;
  bool loaded_ = false;
  bool done_ = false;
  Status status_;

  std::string buf_;       // decompressed bytes (unused for Codec::kNone)
  std::string_view raw_;  // the encoded entries: buf_ or the block's own data
  // Forward: the cursor into raw_, the previous ts and how many entries were decoded.
  size_t pos_ = 0;
  int64_t prev_ts_ = 0;
  uint32_t decoded_ = 0;
  // Backward: (offset just past ts_delta, ts) of each entry in range, in append order.
  std::vector<std::pair<uint32_t, int64_t>> index_;
  size_t next_back_ = 0;  // entries of index_ not yet returned

  model::Entry entry_;
};

}  // namespace sluice::chunk
