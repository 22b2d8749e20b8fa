#pragma once

// The index object format: one immutable object per (tenant, period, flush), holding every series
// that batch touched in that period and the series' chunk refs. Mirrored in docs/formats/index.md.
//
//   object    := header body footer
//   header    := magic "SLIX" (4 bytes) | version (1 byte, = 1)
//   body      := tenant (string) | period (svarint, day number)
//                symbols: count (varint) | count x string       -- distinct label names and values,
//                                                                 sorted ascending, unique
//                series:  count (varint) | count x series        -- sorted by labels, unique
//   series    := fingerprint (fixed64) | num_labels (varint)
//                | num_labels x (name symbol id (varint), value symbol id (varint))  -- sorted by
//                name | num_chunks (varint) | num_chunks x chunk      -- sorted by (from, through,
//                key)
//   chunk     := from delta (svarint) | through - from (varint) | num_entries (varint)
//                | raw_bytes (varint) | stored_bytes (varint)
//                | key shared (varint) | key rest (string)
//   footer    := crc32 (fixed32, IEEE, sluice::Crc32) of header and body
//
//   string  = varint length, then the bytes     varint  = LEB128 (common/coding.h)
//   svarint = zig-zag LEB128                    fixed*  = little-endian
//
// "from delta" is from_ns minus the previous chunk's from_ns in the same series, or minus the
// period's start (period * 86400e9) for a series' first chunk; deltas use wrapping 64-bit
// arithmetic. Chunk keys are prefix-compressed against the previous chunk key in the object (across
// series): "key shared" bytes of the previous key, then "key rest".
//
// Postings (label name/value -> series) are not stored: readers build them when they load an
// object, which costs one pass over the series they have to decode anyway and keeps the format
// free of a second structure that could disagree with the first.
//
// Readers reject an object whose crc, magic, version, counts, symbol ids or trailing bytes are
// wrong; the fingerprints in the file fill ChunkRef::fingerprint of every chunk of the series.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/index/chunk_ref.h"

namespace sluice::storage::index {

inline constexpr std::string_view kIndexMagic = "SLIX";
inline constexpr uint8_t kIndexVersion = 1;
inline constexpr std::string_view kIndexSuffix = ".idx";

struct IndexFile {
  std::string tenant;
  int64_t period = 0;
  std::vector<SeriesChunks> series;
};

// Encodes `file`, sorting and de-duplicating (by labels, then chunk key) a copy on the way, so the
// input need not be in format order. Every chunk's fingerprint is replaced by its series'.
std::string EncodeIndexFile(IndexFile file);

// Decodes an object written by EncodeIndexFile. Corruption on any format violation; `data` may be
// arbitrary bytes.
Result<IndexFile> DecodeIndexFile(std::string_view data);

}  // namespace sluice::storage::index
