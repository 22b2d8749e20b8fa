#pragma once

// The sluice chunk format: one stream's blocks, the unit flushed to object storage.
// Mirrored in docs/formats/chunk.md. All fixed-width integers are little-endian; varint is
// LEB128, zigzag-varint is a zigzag-encoded LEB128, lp(x) is varint(len(x)) followed by x.
//
//   chunk  := header index data footer
//
//   header := magic     fixed32  0x4B434C53 (the bytes "SLCK")
//             version   u8       1
//             flags     u8       0; reserved for chunk-wide options, readers ignore unknown bits
//             index_len fixed32  length of `index`
//
//   index  := num_labels varint, { name lp, value lp } * num_labels   (sorted by name)
//             num_blocks varint, block_meta * num_blocks             (in time order)
//
//   block_meta := offset      varint        of the block's bytes, from the start of `data`
//                 data_len    varint        compressed length
//                 raw_len     varint        uncompressed (encoded entries) length
//                 min_ts      zigzag-varint unix ns of the first entry
//                 ts_span     varint        max_ts - min_ts (max_ts: unix ns of the last entry)
//                 num_entries varint
//                 codec       u8            chunk::Codec: 0 none, 1 gzip, 2 lz4, 3 snappy, 4 zstd
//                 flags       u8            which optional sections `ext` holds (see below)
//                 ext         lp            optional per-block sections; empty in version 1
//                 crc         fixed32       Crc32 of the block's compressed bytes
//
//   data   := the compressed blocks. Blocks lie at increasing offsets and do not overlap;
//             bytes between blocks are allowed (room for future sections) and ignored.
//
//   footer := index_crc fixed32  Crc32 of header and index
//             magic     fixed32  0x4B434C53 again, so truncation is caught before parsing
//
// Blocks are in time order: block[i].max_ts <= block[i+1].min_ts (equal timestamps may
// straddle a cut). A block, once decompressed, is num_entries entries back to back:
//
//   entry  := ts_delta   varint  ts - previous entry's ts (the first entry: ts - min_ts, so 0)
//             line       lp
//             num_meta   varint  structured metadata pairs
//             { name lp, value lp } * num_meta
//
// Entries keep the order they were appended in; timestamps never decrease and may repeat.
// The last entry's ts equals max_ts.
//
// Extensibility: block_meta.flags announces optional sections stored, in flag-bit order, as
// lp(...) items inside `ext`. Bit 0 (kBlockFlagBloom) is reserved for a token bloom filter
// over the block's lines, so a query can skip a block without decompressing it. A reader
// skips `ext` content it does not understand; version changes only for breaking changes.

#include <cstddef>
#include <cstdint>

namespace sluice::chunk::format {

inline constexpr uint32_t kMagic = 0x4B434C53;  // "SLCK" as little-endian bytes
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 4 + 1 + 1 + 4;
inline constexpr size_t kFooterSize = 4 + 4;

// block_meta.flags bits.
inline constexpr uint8_t kBlockFlagBloom = 1 << 0;  // reserved: ext holds lp(bloom filter)

// Smallest possible encodings, used to bound counts read from untrusted bytes before any
// reserve(): a label is two empty lps; a block_meta is six 1-byte varints, codec, flags,
// an empty ext and the crc.
inline constexpr size_t kMinLabelSize = 2;
inline constexpr size_t kMinBlockMetaSize = 6 + 1 + 1 + 1 + 4;

}  // namespace sluice::chunk::format
