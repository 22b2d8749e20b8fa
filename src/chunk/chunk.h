#pragma once

// A chunk: one stream's consecutive blocks with the stream's labels, the unit flushed to
// object storage. The byte layout is in chunk/format.h (and docs/formats/chunk.md).

#include <cstdint>
#include <string>
#include <vector>

#include "chunk/block.h"
#include "common/status.h"
#include "iter/iterator.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::chunk {

struct ChunkMeta {
  uint64_t fingerprint = 0;        // labels.Fingerprint()
  int64_t min_ts = 0, max_ts = 0;  // unix ns, inclusive; 0, 0 for a chunk without blocks
  uint32_t num_entries = 0;
  uint64_t raw_bytes = 0;  // sum of the blocks' raw_len
};

// Serializes a chunk.
// REQUIRES: blocks non-empty and in time order (blocks[i].max_ts <= blocks[i+1].min_ts), each
// as returned by BlockBuilder::Finish (crcs set); a violation is a bug and aborts.
std::string EncodeChunk(const model::LabelSet& labels, const std::vector<Block>& blocks);

// An immutable, decoded chunk. Thread-safe for concurrent readers.
class Chunk {
 public:
  Chunk() = default;
  // A chunk over blocks already in memory (e.g. an ingester's cut blocks).
  // REQUIRES: as EncodeChunk.
  Chunk(model::LabelSet labels, std::vector<Block> blocks);

  // Verifies magic, version, the footer and the index crc, and that every block lies inside
  // the data section in time order. Each block's crc is verified when the block is read.
  static Result<Chunk> Decode(std::string bytes);

  const model::LabelSet& labels() const { return labels_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  ChunkMeta meta() const;

  // All entries with from_ns <= ts < through_ns in `dir` order, block by block; blocks outside
  // the range are never decompressed. A corrupt block ends iteration with Error() Corruption.
  // `options` as for BlockReader (timestamps-only reads, required literals, stats); the
  // iterator forwards LineLoaded()/LoadLine() to its block reader.
  // REQUIRES: *this outlives the iterator and is not moved meanwhile; so do the pointers in
  // options.
  iter::EntryIteratorPtr Iterator(int64_t from_ns, int64_t through_ns, model::Direction dir,
                                  const ReadOptions& options = {}) const;

 private:
  model::LabelSet labels_;
  std::vector<Block> blocks_;
};

}  // namespace sluice::chunk
