#include "chunk/codec.h"

#include <libdeflate.h>
#include <lz4.h>
#include <snappy.h>
#include <zstd.h>

#include <climits>
#include <memory>

#include "common/check.h"
#include "common/coding.h"

namespace sluice::chunk {

namespace {

// Each codec's worst-case expansion (output bytes per input byte) plus slack, used to reject
// a raw_len that the input cannot possibly produce before allocating for it.
// deflate: 258-byte matches in ~2 bits -> 1032:1. lz4: one 255 extension byte per 255 bytes.
// snappy: a 3-byte copy yields at most 64 bytes. zstd: a 4-byte RLE block yields 128KB.
constexpr size_t kMaxRatioGzip = 1032;
constexpr size_t kMaxRatioLz4 = 256;
constexpr size_t kMaxRatioSnappy = 32;
constexpr size_t kMaxRatioZstd = 32768;
constexpr size_t kRatioSlack = 64;

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};
struct DeflateCompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};
struct DeflateDecompressorDeleter {
  void operator()(libdeflate_decompressor* c) const { libdeflate_free_decompressor(c); }
};

ZSTD_CCtx* ThreadZstdCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> ctx(ZSTD_createCCtx());
  SLUICE_CHECK(ctx != nullptr);
  return ctx.get();
}
ZSTD_DCtx* ThreadZstdDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> ctx(ZSTD_createDCtx());
  SLUICE_CHECK(ctx != nullptr);
  return ctx.get();
}
libdeflate_compressor* ThreadDeflateCompressor() {
  thread_local std::unique_ptr<libdeflate_compressor, DeflateCompressorDeleter> c(
      libdeflate_alloc_compressor(kGzipLevel));
  SLUICE_CHECK(c != nullptr);
  return c.get();
}
libdeflate_decompressor* ThreadDeflateDecompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DeflateDecompressorDeleter> d(
      libdeflate_alloc_decompressor());
  SLUICE_CHECK(d != nullptr);
  return d.get();
}

Status Corrupt(Codec c, std::string_view what) {
  std::string msg(CodecName(c));
  msg += " block: ";
  msg += what;
  return Status::Corruption(std::move(msg));
}

bool RatioPossible(size_t in_len, size_t raw_len, size_t max_ratio) {
  // in_len <= 4GB in practice, so in_len * max_ratio cannot overflow 64 bits.
  return raw_len <= in_len * max_ratio + kRatioSlack;
}

}  // namespace

Result<Codec> ParseCodec(std::string_view name) {
  if (name == "none") return Codec::kNone;
  if (name == "gzip" || name == "flate") return Codec::kGzip;
  if (name == "lz4" || name == "lz4-64k" || name == "lz4-256k" || name == "lz4-1M" ||
      name == "lz4-4M") {
    return Codec::kLz4;
  }
  if (name == "snappy") return Codec::kSnappy;
  if (name == "zstd") return Codec::kZstd;
  std::string msg = "unknown chunk encoding \"";
  msg += name;
  msg +=
      "\": valid encodings are none, gzip, lz4, snappy, zstd (and Loki's lz4-64k, lz4-256k, "
      "lz4-1M, lz4-4M, flate)";
  return Status::InvalidArgument(std::move(msg));
}

std::string_view CodecName(Codec c) {
  switch (c) {
    case Codec::kNone:
      return "none";
    case Codec::kGzip:
      return "gzip";
    case Codec::kLz4:
      return "lz4";
    case Codec::kSnappy:
      return "snappy";
    case Codec::kZstd:
      return "zstd";
  }
  return "unknown";
}

bool IsValidCodec(uint8_t c) { return c <= kMaxCodec; }

Status Compress(Codec c, std::string_view in, std::string* out, int level) {
  switch (c) {
    case Codec::kNone:
      out->assign(in);
      return Status::OK();
    case Codec::kGzip: {
      libdeflate_compressor* comp = ThreadDeflateCompressor();
      // A non-default level is a flush-time choice: a compressor per call is cheap there.
      std::unique_ptr<libdeflate_compressor, DeflateCompressorDeleter> own;
      if (level != 0 && level != kGzipLevel) {
        own.reset(libdeflate_alloc_compressor(level));
        if (own == nullptr) {
          return Status::InvalidArgument("gzip: bad level " + std::to_string(level));
        }
        comp = own.get();
      }
      out->resize(libdeflate_gzip_compress_bound(comp, in.size()));
      size_t n = libdeflate_gzip_compress(comp, in.data(), in.size(), out->data(), out->size());
      if (n == 0) return Status::Internal("gzip compression failed");
      out->resize(n);
      return Status::OK();
    }
    case Codec::kLz4: {
      if (in.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
        return Status::InvalidArgument("lz4: block too large to compress");
      }
      int src_len = static_cast<int>(in.size());
      out->resize(static_cast<size_t>(LZ4_compressBound(src_len)));
      int n = LZ4_compress_default(in.data(), out->data(), src_len, static_cast<int>(out->size()));
      if (n <= 0) return Status::Internal("lz4 compression failed");
      out->resize(static_cast<size_t>(n));
      return Status::OK();
    }
    case Codec::kSnappy:
      snappy::Compress(in.data(), in.size(), out);
      return Status::OK();
    case Codec::kZstd: {
      out->resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compressCCtx(ThreadZstdCCtx(), out->data(), out->size(), in.data(), in.size(),
                                   level == 0 ? kZstdLevel : level);
      if (ZSTD_isError(n)) {
        return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
      }
      out->resize(n);
      return Status::OK();
    }
  }
  return Status::InvalidArgument("unknown codec " + std::to_string(static_cast<int>(c)));
}

Status Decompress(Codec c, std::string_view in, size_t raw_len, std::string* out) {
  if (!IsValidCodec(static_cast<uint8_t>(c))) {
    return Status::Corruption("unknown codec " + std::to_string(static_cast<int>(c)));
  }
  if (raw_len > kMaxDecompressedLen) {
    return Corrupt(c, "raw length " + std::to_string(raw_len) + " over the limit");
  }
  switch (c) {
    case Codec::kNone:
      if (in.size() != raw_len) return Corrupt(c, "length mismatch");
      out->assign(in);
      return Status::OK();
    case Codec::kGzip: {
      // The gzip trailer's ISIZE (raw length mod 2^32) lets us reject a lie before allocating.
      if (in.size() < 18) return Corrupt(c, "truncated");
      uint32_t isize = coding::DecodeFixed32(in.data() + in.size() - 4);
      if (isize != static_cast<uint32_t>(raw_len) ||
          !RatioPossible(in.size(), raw_len, kMaxRatioGzip)) {
        return Corrupt(c, "raw length mismatch");
      }
      out->resize(raw_len);
      size_t actual_in = 0, actual_out = 0;
      libdeflate_result r =
          libdeflate_gzip_decompress_ex(ThreadDeflateDecompressor(), in.data(), in.size(),
                                        out->data(), raw_len, &actual_in, &actual_out);
      if (r != LIBDEFLATE_SUCCESS || actual_in != in.size() || actual_out != raw_len) {
        return Corrupt(c, r == LIBDEFLATE_INSUFFICIENT_SPACE ? "output longer than raw length"
                                                             : "malformed data");
      }
      return Status::OK();
    }
    case Codec::kLz4: {
      if (in.size() > static_cast<size_t>(INT_MAX) ||
          !RatioPossible(in.size(), raw_len, kMaxRatioLz4)) {
        return Corrupt(c, "raw length mismatch");
      }
      out->resize(raw_len);
      int n = LZ4_decompress_safe(in.data(), out->data(), static_cast<int>(in.size()),
                                  static_cast<int>(raw_len));
      if (n < 0 || static_cast<size_t>(n) != raw_len) return Corrupt(c, "malformed data");
      return Status::OK();
    }
    case Codec::kSnappy: {
      size_t len = 0;
      if (!snappy::GetUncompressedLength(in.data(), in.size(), &len) || len != raw_len ||
          !RatioPossible(in.size(), raw_len, kMaxRatioSnappy)) {
        return Corrupt(c, "raw length mismatch");
      }
      out->resize(raw_len);
      if (!snappy::RawUncompress(in.data(), in.size(), out->data())) {
        return Corrupt(c, "malformed data");
      }
      return Status::OK();
    }
    case Codec::kZstd: {
      unsigned long long frame_len = ZSTD_getFrameContentSize(in.data(), in.size());
      if (frame_len == ZSTD_CONTENTSIZE_ERROR) return Corrupt(c, "malformed frame header");
      if ((frame_len != ZSTD_CONTENTSIZE_UNKNOWN && frame_len != raw_len) ||
          !RatioPossible(in.size(), raw_len, kMaxRatioZstd)) {
        return Corrupt(c, "raw length mismatch");
      }
      out->resize(raw_len);
      size_t n = ZSTD_decompressDCtx(ThreadZstdDCtx(), out->data(), raw_len, in.data(), in.size());
      if (ZSTD_isError(n)) return Corrupt(c, ZSTD_getErrorName(n));
      if (n != raw_len) return Corrupt(c, "output shorter than raw length");
      return Status::OK();
    }
  }
  return Status::Corruption("unknown codec");
}

}  // namespace sluice::chunk
