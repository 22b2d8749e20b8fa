#pragma once

// Block compression codecs. Every codec compresses one block (~256KB raw) as a single unit;
// the raw length is stored beside the payload (in the chunk index), so Decompress knows the
// exact size to expect and can reject garbage and decompression bombs before allocating.
//
// Thread safety: all functions are safe to call from any thread. Compression and
// decompression contexts are cached per thread (thread_local), so the hot path allocates
// nothing beyond the output buffer.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::chunk {

// Serialized in the chunk format: values must never change.
enum class Codec : uint8_t { kNone = 0, kGzip = 1, kLz4 = 2, kSnappy = 3, kZstd = 4 };
inline constexpr uint8_t kMaxCodec = 4;

// Levels chosen for the write path: zstd 1 is faster than Loki's snappy default at a much
// better ratio; gzip keeps Go's default level (6), as users pick gzip for ratio.
inline constexpr int kZstdLevel = 1;
inline constexpr int kGzipLevel = 6;

// Decompress refuses to produce more than this, whatever raw_len says: a corrupt or hostile
// length must not turn into an unbounded allocation. Blocks are ~256KB; a block holding one
// huge line is the only legitimate way to get near this.
inline constexpr size_t kMaxDecompressedLen = size_t{256} << 20;

// Accepts "none", "gzip", "lz4", "snappy", "zstd" and Loki's "lz4-64k", "lz4-256k",
// "lz4-1M", "lz4-4M" (-> kLz4) and "flate" (-> kGzip). InvalidArgument names the bad value.
Result<Codec> ParseCodec(std::string_view name);
std::string_view CodecName(Codec c);
// False for values not in the enum (e.g. a byte read from a corrupt file).
bool IsValidCodec(uint8_t c);

// Overwrites *out with the compressed form of `in`. `level` is the codec's level (zstd,
// gzip); 0 picks the write-path default above, and lz4, snappy and none ignore it. Fails
// only for inputs over 2GB (lz4's limit) or an invalid codec value.
Status Compress(Codec c, std::string_view in, std::string* out, int level = 0);

// Overwrites *out with exactly raw_len bytes decompressed from `in`. Anything else — garbage,
// trailing bytes, output shorter or longer than raw_len, raw_len over kMaxDecompressedLen or
// beyond the codec's maximum ratio — returns Corruption. Never crashes on untrusted input.
// Reuses *out's capacity, so callers decoding many blocks should keep one buffer.
Status Decompress(Codec c, std::string_view in, size_t raw_len, std::string* out);

}  // namespace sluice::chunk
