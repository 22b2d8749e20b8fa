#pragma once

// A block: entries of one stream in timestamp order, encoded (see chunk/format.h) into two sections
// — the entries' fixed parts (timestamps and lengths), then their lines and metadata — and each
// section compressed as its own frame, ~256KB raw together. Blocks are the unit of decompression: a
// query decompresses only the blocks its time range touches, and a timestamps-only read
// decompresses only their small first section.

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
  int64_t min_ts = 0,
          max_ts = 0;  // unix ns, inclusive: the first and the last entry's ts
  uint32_t num_entries = 0;
  uint32_t raw_len = 0;        // uncompressed length of both sections
  uint32_t heads_raw_len = 0;  // uncompressed length of the first (heads) section
  uint32_t heads_len = 0;      // compressed length of the heads section: data[0, heads_len)
  Codec codec = Codec::kZstd;
  std::string data;  // the compressed heads section, then the compressed lines section
  // Crc32 of each compressed section: set by BlockBuilder::Finish and Chunk::Decode, checked when
  // the section is read.
  uint32_t heads_crc32 = 0, lines_crc32 = 0;
  std::string bloom;  // n-gram filter over the lines (chunk/bloom.h); empty: none

  std::string_view heads_data() const { return std::string_view(data).substr(0, heads_len); }
  std::string_view lines_data() const { return std::string_view(data).substr(heads_len); }
  uint32_t lines_raw_len() const { return raw_len - heads_raw_len; }
};

// Flush-time recompaction: a chunk's blocks are cut small and fast while they are written (zstd 1,
// one block per kTargetBlockRawSize); once the chunk is complete they can be re-cut to a larger
// size, recompressed at a stronger level and given blooms.
struct RecompactOptions {
  Codec codec = Codec::kZstd;
  int level = 1;  // as ingester.chunk_flush_compression_level (docs/formats/chunk.md)
  size_t target_block_raw_size = 1024 * 1024;
  bool bloom = true;
};

// How BlockBuilder::Finish compresses.
struct FinishOptions {
  int level = 0;       // codec level (see Compress); 0: the write-path default
  bool bloom = false;  // build the n-gram bloom (costs CPU: done at flush, not at ingest)
};

// Accumulates entries into the raw (uncompressed) encoding of one block. Not thread-safe; one
// builder per stream head.
class BlockBuilder {
 public:
  // REQUIRES: ts not below the previous Append's ts since the last Finish (the caller sorts; a
  // violation is a bug and aborts). Equal timestamps keep their append order.
  void Append(int64_t ts, std::string_view line, const std::vector<model::Label>& metadata);

  // Size of the encoded entries so far; cut the block when this reaches kTargetBlockRawSize. (The
  // heads part is an estimate: Finish picks the timestamp unit, which only shrinks it.)
  size_t raw_bytes() const { return heads_bytes_ + lines_.size(); }
  size_t num_entries() const { return heads_.size(); }
  bool empty() const { return heads_.empty(); }

  // Compresses the entries into a block and resets the builder (keeping its buffers' capacity, so a
  // builder reused for the next block does not reallocate).
  // REQUIRES: raw_bytes() < 4GB.
  Block Finish(Codec codec) { return Finish(codec, FinishOptions{}); }
  Block Finish(Codec codec, const FinishOptions& options);

 private:
  friend Result<std::vector<Block>> Recompact(const std::vector<Block>& blocks,
                                              const RecompactOptions& options);
  // Append with the metadata already encoded (num_meta, pairs), as stored in a block.
  void AppendEncoded(int64_t ts, std::string_view line, std::string_view encoded_metadata);

  void AddHead(uint64_t delta, size_t line_len, size_t meta_len);

  struct PendingHead {
    uint64_t delta;  // ts - previous ts, in ns
    uint32_t line_len, meta_len;
  };
  std::vector<PendingHead> heads_;
  std::string lines_;          // per entry: the line, then its encoded metadata
  std::string encoded_heads_;  // the heads section, encoded by Finish
  std::string scratch_;        // the compressed lines section, before it joins the heads'
  uint64_t ts_unit_ = 0;       // gcd of the deltas so far (0: all deltas 0)
  size_t heads_bytes_ = 0;     // the heads section's size with a unit of 1 ns
  int64_t min_ts_ = 0;
  int64_t last_ts_ = 0;
};

// Re-encodes the entries of `blocks` (in time order, as for EncodeChunk) into new blocks cut at
// options.target_block_raw_size. The entries, their order and the time order of the blocks are
// unchanged. Corruption when an input block does not decode.
Result<std::vector<Block>> Recompact(const std::vector<Block>& blocks,
                                     const RecompactOptions& options);

// Decodes every entry of a block, appending to *out. Verifies the crc, the lengths, the entry count
// and the timestamps against the block's metadata: garbage -> Corruption.
Status DecodeBlock(const Block& block, std::vector<model::Entry>* out);

// What block readers counted, for per-query statistics ("blocks touched / skipped"). Plain
// counters: one BlockStats per thread (or per iterator), summed with Add() afterwards.
struct BlockStats {
  uint64_t blocks = 0;            // blocks overlapping the time range that a reader started on
  uint64_t skipped_by_bloom = 0;  // ruled out by the bloom in the index: nothing decompressed
  uint64_t skipped_by_scan = 0;   // lines decompressed and searched, no line holds every literal
  uint64_t decompressed = 0;      // blocks whose heads section was decompressed
  uint64_t lines_sections_decompressed = 0;  // blocks whose line section was decompressed
  uint64_t entries_skipped_by_literal = 0;   // entries in range never returned: a literal missing
  uint64_t compressed_bytes_read = 0;        // compressed bytes decompressed (both sections)
  uint64_t raw_bytes_decompressed = 0;       // bytes those sections decompressed to

  void Add(const BlockStats& o);
};

// How a reader may cut work. The defaults read every entry in range with its line.
struct ReadOptions {
  // False: entries come back with timestamp_ns set and an empty line (line_loaded() false) until
  // LoadLine(); a block's line section is decompressed only on the first LoadLine() in it, or
  // for the first entry that has structured metadata (which is always returned, loaded).
  // For timestamps-only consumers (label-only metric queries).
  bool lines_needed = true;
  // Literals (case-sensitive substrings) that every line the consumer keeps contains. The reader
  // may skip a whole block (its bloom rules a literal out, or no line holds them all) and may skip
  // entries whose line lacks one; what it returns is exactly the entries of the unfiltered read
  // whose line contains every literal. Empty strings are ignored. Entries returned under
  // lines_needed=false are pre-filtered the same way (the line section is then decompressed to
  // search it).
  // REQUIRES: *required_literals outlives the reader or the next Reset().
  const std::vector<std::string>* required_literals = nullptr;
  // Counters to add to; not synchronised (see BlockStats). May be null.
  BlockStats* stats = nullptr;
};

// True unless the block's bloom proves `literal` occurs in none of its lines. Cheap: no
// decompression, a few hash probes. Always true for blocks without a bloom and for literals shorter
// than BloomGuaranteedLen of the block's bloom (their absence cannot be proven).
bool BlockMayContain(const Block& block, std::string_view literal);

// The engine behind block and chunk iterators: reads one block at a time, decoding into one
// reusable Entry, and can be Reset() onto the next block keeping its buffers, so iterating a chunk
// allocates only when a line or a metadata list is longer than any seen before. Not thread-safe.
class BlockReader {
 public:
  // One entry of a parsed heads section: its timestamp and where its line and metadata lie in the
  // lines section.
  struct Head {
    int64_t ts;
    uint32_t line_offset, line_len, meta_len;
  };

  // Points the reader at a block; nothing is read until Next() (the bloom check too).
  // REQUIRES: *block outlives the reader or the next Reset(); so do the pointers in options.
  void Reset(const Block* block, int64_t from_ns, int64_t through_ns, model::Direction dir,
             const ReadOptions& options = {});

  // Advances to the next entry in range; false at the end or on error (see status()).
  bool Next();
  // REQUIRES: the last Next() returned true. Valid until the next Next() or Reset().
  const model::Entry& entry() const { return entry_; }
  const Status& status() const { return status_; }

  // False when ReadOptions::lines_needed is false and LoadLine() has not been called for the
  // current entry. An entry with structured metadata is always returned loaded.
  // REQUIRES: the last Next() returned true.
  bool line_loaded() const { return line_loaded_; }
  // Fills entry().line and entry().metadata, decompressing the block's line section the first time;
  // a no-op when already loaded. A corrupt line section returns Corruption and ends iteration
  // (status() reports it too).
  // REQUIRES: the last Next() returned true.
  Status LoadLine();

 private:
  // Checks the bloom, decompresses and parses the heads section, finds the entries in range and,
  // with literals, searches the lines section for them.
  bool Load();
  bool LoadLines();
  // Fills selected_ with the in-range entries whose line holds every literal.
  void SearchLiterals();
  bool FillEntry(const Head& h);
  bool Fail(Status s);

  const Block* block_ = nullptr;
  int64_t from_ = 0, through_ = 0;
  model::Direction dir_ = model::Direction::kForward;
  ReadOptions options_;
  bool loaded_ = false;
  bool lines_loaded_ = false;
  bool done_ = false;
  bool line_loaded_ = false;
  Status status_;

  std::string heads_buf_,
      lines_buf_;                           // decompressed sections (unused for Codec::kNone)
  std::string_view lines_;                  // the lines section: lines_buf_ or the block's own data
  std::vector<std::string_view> literals_;  // non-empty required literals, longest first
  std::vector<Head> heads_;
  // Entries to return, as indexes into heads_ in append order: [begin_, end_) without literals,
  // else selected_. next_ counts those returned so far.
  uint32_t begin_ = 0, end_ = 0;
  std::vector<uint32_t> selected_;
  bool use_selected_ = false;
  size_t next_ = 0;
  size_t current_ = 0;  // index into heads_ of entry_

  model::Entry entry_;
};

}  // namespace sluice::chunk
