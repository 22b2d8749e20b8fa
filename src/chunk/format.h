#pragma once

// The sluice chunk format: one stream's blocks, the unit flushed to object storage.
// Mirrored in docs/formats/chunk.md. All fixed-width integers are little-endian; varint is
// LEB128, zigzag-varint is a zigzag-encoded LEB128, lp(x) is varint(len(x)) followed by x.
//
//   chunk  := header index data footer
//
//   header := magic     fixed32  0x4B434C53 (the bytes "SLCK")
//             version   u8       2 (version 1, one section per block, is no longer read)
//             flags     u8       0; reserved for chunk-wide options, readers ignore unknown bits
//             index_len fixed32  length of `index`
//
//   index  := num_labels varint, { name lp, value lp } * num_labels   (sorted by name)
//             num_blocks varint, block_meta * num_blocks             (in time order)
//
//   block_meta := offset        varint        of the block's bytes, from the start of `data`
//                 heads_len     varint        compressed length of the heads section
//                 lines_len     varint        compressed length of the lines section
//                 heads_raw_len varint        uncompressed length of the heads section
//                 lines_raw_len varint        uncompressed length of the lines section
//                 min_ts        zigzag-varint unix ns of the first entry
//                 ts_span       varint        max_ts - min_ts (max_ts: unix ns of the last entry)
//                 num_entries   varint
//                 codec         u8            chunk::Codec: 0 none, 1 gzip, 2 lz4, 3 snappy, 4 zstd
//                 flags         u8            which optional sections `ext` holds (see below)
//                 ext           lp            optional per-block sections
//                 heads_crc     fixed32       Crc32 of the compressed heads section
//                 lines_crc     fixed32       Crc32 of the compressed lines section
//
//   data   := the blocks. A block is its compressed heads section immediately followed by its
//             compressed lines section, each one codec frame. Blocks lie at increasing offsets
//             and do not overlap; bytes between blocks are allowed and ignored.
//
//   footer := index_crc fixed32  Crc32 of header and index
//             magic     fixed32  0x4B434C53 again, so truncation is caught before parsing
//
// Blocks are in time order: block[i].max_ts <= block[i+1].min_ts (equal timestamps may
// straddle a cut). A block holds num_entries entries, split over two sections so that a
// timestamps-only read decompresses only the small first one:
//
//   heads  := ts_unit varint (>= 1), ts_delta varint * num_entries,
//             line_len varint * num_entries, meta_len varint * num_entries   (column by column)
//   lines  := { line (line_len bytes), meta (meta_len bytes) } * num_entries
//   meta   := empty (no metadata), or num_meta varint, { name lp, value lp } * num_meta
//
// ts_delta * ts_unit is ts - previous entry's ts (the first entry's ts_delta is 0: its ts is
// min_ts). Writers pick ts_unit as the gcd of the block's deltas, so ms-precision timestamps
// cost a byte or two each rather than five. Entries keep the order they were appended in;
// timestamps never decrease and may repeat. The last entry's ts equals max_ts; the entries'
// line_len + meta_len add up to lines_raw_len exactly.
//
// Extensibility: block_meta.flags announces optional sections stored, in flag-bit order, as
// lp(...) items inside `ext`. Bit 0 (kBlockFlagBloom): an n-gram bloom filter over the
// block's lines (layout in chunk/bloom.h), so a `|=` query can skip the block from the index
// alone. A reader skips `ext` content it does not understand; version changes only for
// breaking changes.

#include <cstddef>
#include <cstdint>

namespace sluice::chunk::format {

inline constexpr uint32_t kMagic = 0x4B434C53;  // "SLCK" as little-endian bytes
inline constexpr uint8_t kVersion = 2;
inline constexpr size_t kHeaderSize = 4 + 1 + 1 + 4;
inline constexpr size_t kFooterSize = 4 + 4;

// block_meta.flags bits.
inline constexpr uint8_t kBlockFlagBloom = 1 << 0;  // ext holds lp(bloom filter)

// Smallest possible encodings, used to bound counts read from untrusted bytes before any
// reserve(): a label is two empty lps; a block_meta is eight 1-byte varints, codec, flags,
// an empty ext and the two crcs.
inline constexpr size_t kMinLabelSize = 2;
inline constexpr size_t kMinBlockMetaSize = 8 + 1 + 1 + 1 + 4 + 4;

}  // namespace sluice::chunk::format
