// gzip, deflate, snappy, zstd and lz4 decoding of push bodies, each bounded by an output cap so
// that a small body cannot make the server allocate or inflate more than the cap (a "zip bomb").

#include <fmt/format.h>
#include <libdeflate.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "http/push/push_internal.h"

namespace sluice::http::push_internal {

void ByteBuffer::Reserve(size_t n) {
  if (n <= capacity_) {
    return;
  }
  auto grown = std::make_unique_for_overwrite<char[]>(n + kPadding);
  if (size_ > 0) {
    std::memcpy(grown.get(), data_.get(), size_);
  }
  // simdjson may read the padding; defined bytes keep sanitizers quiet.
  std::memset(grown.get() + n, 0, kPadding);
  data_ = std::move(grown);
  capacity_ = n;
}

void ByteBuffer::Assign(std::string_view bytes) {
  size_ = 0;
  Reserve(bytes.size());
  if (!bytes.empty()) {
    std::memcpy(data_.get(), bytes.data(), bytes.size());
  }
  size_ = bytes.size();
}

namespace {

// Deflate cannot expand data more than 1032:1 (a 258-byte match costs at least 2 bits), so no
// valid stream needs a bigger buffer than this; it keeps a tiny body from reserving the whole cap.
uint64_t DeflateOutputBound(size_t in_size) { return static_cast<uint64_t>(in_size) * 1032 + 1024; }

// Snappy's densest element is a 3-byte copy of 64 bytes (21.3:1); 32:1 leaves margin.
uint64_t SnappyOutputBound(size_t in_size) { return static_cast<uint64_t>(in_size) * 32 + 64; }

constexpr std::string_view kDecompressedTooLargeFormat =
    "{} body decompresses to more than the limit of {} bytes";

Status TooLargeDecompressed(const char* format, uint64_t max_out) {
  return Status::TooLarge(fmt::format(kDecompressedTooLargeFormat, format, max_out));
}

class ZStream {
 public:
  ZStream() = default;
  ZStream(const ZStream&) = delete;
  ZStream& operator=(const ZStream&) = delete;
  ~ZStream() {
    if (initialized_) {
      inflateEnd(&zs_);
    }
  }
  bool Init(int window_bits) {
    initialized_ = inflateInit2(&zs_, window_bits) == Z_OK;
    return initialized_;
  }
  z_stream* get() { return &zs_; }

 private:
  z_stream zs_{};
  bool initialized_ = false;
};

bool IsGzipMagic(std::string_view in) {
  return in.size() >= 2 && static_cast<uint8_t>(in[0]) == 0x1f &&
         static_cast<uint8_t>(in[1]) == 0x8b;
}

// The errors of a zlib stream; the first {} is the format ("gzip", "deflate").
constexpr std::string_view kInflateInitFailedMessage = "inflateInit2 failed";
constexpr std::string_view kInflateResetFailedMessage = "inflateReset failed";
constexpr std::string_view kCorruptInputFormat = "invalid {} body: corrupt input";
constexpr std::string_view kTrailingGarbageFormat =
    "invalid {} body: {} bytes of trailing garbage after the stream";
constexpr std::string_view kUnexpectedEndFormat = "invalid {} body: unexpected end of input";
constexpr std::string_view kNeedsDictionaryFormat =
    "invalid {} body: stream needs a preset dictionary";
constexpr std::string_view kOutOfMemoryFormat = "{}: out of memory";
// The second {} is the decoder library's own message.
constexpr std::string_view kDecoderErrorFormat = "invalid {} body: {}";

// Streams `in` through zlib into *out, growing it geometrically up to max_out. `format` names the
// format in error messages. With multi_member, input left after the end of a stream must be
// another gzip member (Go's gzip.Reader rejects anything else); otherwise trailing input is
// ignored, as Go's flate and zlib readers do.
Status InflateStream(std::string_view in, int window_bits, bool multi_member, const char* format,
                     uint64_t max_out, ByteBuffer* out) {
  ZStream stream;
  if (!stream.Init(window_bits)) {
    return Status::Internal(std::string(kInflateInitFailedMessage));
  }
  z_stream* zs = stream.get();
  const uint64_t limit = std::min<uint64_t>(max_out, DeflateOutputBound(in.size()));
  out->set_size(0);
  out->Reserve(
      static_cast<size_t>(std::min<uint64_t>(limit, std::max<uint64_t>(in.size() * 4, 64 << 10))));

  size_t in_pos = 0;
  size_t produced = 0;
  unsigned char probe;
  while (true) {
    // A reused buffer may be larger than the limit; only the first `limit` bytes are used.
    const size_t room = static_cast<size_t>(std::min<uint64_t>(out->capacity(), limit));
    bool probing = false;
    if (produced == room) {
      if (produced >= limit) {
        // Full at the cap: any further byte of output means the body is over it.
        probing = true;
      } else {
        out->set_size(produced);
        out->Reserve(
            static_cast<size_t>(std::min<uint64_t>(limit, static_cast<uint64_t>(produced) * 2)));
      }
    }
    if (probing) {
      zs->next_out = &probe;
      zs->avail_out = 1;
    } else {
      zs->next_out = reinterpret_cast<Bytef*>(out->data() + produced);
      zs->avail_out = static_cast<uInt>(std::min<size_t>(
          static_cast<size_t>(std::min<uint64_t>(out->capacity(), limit)) - produced, UINT_MAX));
    }
    const uInt out_before = zs->avail_out;
    const size_t in_chunk = std::min<size_t>(in.size() - in_pos, UINT_MAX);
    zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
    zs->avail_in = static_cast<uInt>(in_chunk);

    int rc = inflate(zs, Z_NO_FLUSH);

    in_pos += in_chunk - zs->avail_in;
    const size_t wrote = out_before - zs->avail_out;
    if (probing && wrote > 0) {
      // Past DeflateOutputBound no bit stream can go, so hitting it below max_out means garbage.
      return limit == max_out ? TooLargeDecompressed(format, max_out)
                              : Status::InvalidArgument(fmt::format(kCorruptInputFormat, format));
    }
    produced += wrote;

    switch (rc) {
      case Z_OK:
        break;
      case Z_STREAM_END: {
        std::string_view rest = in.substr(in_pos);
        if (!multi_member || rest.empty()) {
          out->set_size(produced);
          return Status::OK();
        }
        if (!IsGzipMagic(rest)) {
          return Status::InvalidArgument(fmt::format(kTrailingGarbageFormat, format, rest.size()));
        }
        if (inflateReset(zs) != Z_OK) {
          return Status::Internal(std::string(kInflateResetFailedMessage));
        }
        break;
      }
      case Z_BUF_ERROR:
        // No progress: either the output is full (grow or probe on the next turn) or the input ran
        // out before the end of the stream.
        if (zs->avail_out == 0) {
          break;
        }
        return Status::InvalidArgument(fmt::format(kUnexpectedEndFormat, format));
      case Z_NEED_DICT:
        return Status::InvalidArgument(fmt::format(kNeedsDictionaryFormat, format));
      case Z_MEM_ERROR:
        return Status::Internal(fmt::format(kOutOfMemoryFormat, format));
      default:
        return Status::InvalidArgument(fmt::format(kDecoderErrorFormat, format,
                                                   zs->msg != nullptr ? zs->msg : "corrupt input"));
    }
    if (rc == Z_OK && in_pos == in.size() && zs->avail_out > 0) {
      // zlib consumed everything and still has room: the stream is cut short.
      return Status::InvalidArgument(fmt::format(kUnexpectedEndFormat, format));
    }
  }
}

// One call of a streaming decoder: consume from `*in`, write at most `room` bytes at `dst`.
struct StreamStep {
  size_t wrote = 0;
  bool frame_done = false;  // the decoder ended a frame with this call
  bool progressed = false;  // input consumed or output written
};

// Runs a streaming decoder (zstd, lz4 frames) over `in` into *out, growing it geometrically up
// to max_out; concatenated frames decode one after another. `step` returns an InvalidArgument on
// corrupt input. Neither format bounds its expansion ratio, so only max_out limits the output.
template <typename Step>
Status DecodeFrames(std::string_view in, const char* format, uint64_t max_out, ByteBuffer* out,
                    Step step) {
  out->set_size(0);
  out->Reserve(static_cast<size_t>(
      std::min<uint64_t>(max_out, std::max<uint64_t>(in.size() * 4, 64 << 10))));
  size_t produced = 0;
  bool frame_open = false;
  char probe;
  while (!in.empty() || frame_open) {
    const size_t room = static_cast<size_t>(std::min<uint64_t>(out->capacity(), max_out));
    bool probing = false;
    if (produced == room) {
      if (produced >= max_out) {
        probing = true;  // full at the cap: one more byte of output means over it
      } else {
        out->set_size(produced);
        out->Reserve(
            static_cast<size_t>(std::min<uint64_t>(max_out, static_cast<uint64_t>(produced) * 2)));
      }
    }
    char* dst = probing ? &probe : out->data() + produced;
    size_t dst_room = probing ? 1 : std::min<uint64_t>(out->capacity(), max_out) - produced;
    Result<StreamStep> r = step(&in, dst, dst_room);
    if (!r.ok()) return r.status();
    if (probing && r->wrote > 0) return TooLargeDecompressed(format, max_out);
    produced += r->wrote;
    frame_open = !r->frame_done;
    if (!r->progressed && frame_open && dst_room > r->wrote) {
      return Status::InvalidArgument(fmt::format(kUnexpectedEndFormat, format));
    }
  }
  out->set_size(produced);
  return Status::OK();
}

struct ZstdDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
struct Lz4Deleter {
  void operator()(LZ4F_dctx* d) const { LZ4F_freeDecompressionContext(d); }
};

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

libdeflate_decompressor* ThreadDecompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(
      libdeflate_alloc_decompressor());
  return d.get();
}

}  // namespace

Status InflateGzip(std::string_view in, uint64_t max_out, ByteBuffer* out) {
  // Fast path: libdeflate decodes a whole member about twice as fast as zlib, but needs the output
  // size up front. The trailer's ISIZE (size mod 2^32) gives it for the usual single-member body;
  // when it lies, the body has several members or it is corrupt, zlib below decides.
  if (in.size() >= 18 && IsGzipMagic(in)) {
    uint32_t isize;
    std::memcpy(&isize, in.data() + in.size() - 4, 4);
    if (isize > 0 && isize <= max_out && isize <= DeflateOutputBound(in.size())) {
      out->set_size(0);
      out->Reserve(isize);
      size_t in_used = 0;
      size_t out_used = 0;
      libdeflate_result r = libdeflate_gzip_decompress_ex(
          ThreadDecompressor(), in.data(), in.size(), out->data(), isize, &in_used, &out_used);
      if (r == LIBDEFLATE_SUCCESS && in_used == in.size() && out_used == isize) {
        out->set_size(out_used);
        return Status::OK();
      }
    }
  }
  return InflateStream(in, 15 + 16, /*multi_member=*/true, "gzip", max_out, out);
}

Status InflateDeflate(std::string_view in, uint64_t max_out, ByteBuffer* out) {
  // RFC 1950 header: CM=8 (deflate), CINFO<=7, and the 16-bit header is a multiple of 31. A raw
  // stream can pass this check by chance, so a zlib failure is retried as raw deflate.
  bool zlib_header = false;
  if (in.size() >= 2) {
    auto cmf = static_cast<uint8_t>(in[0]);
    auto flg = static_cast<uint8_t>(in[1]);
    zlib_header = (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
  }
  if (zlib_header) {
    Status st = InflateStream(in, 15, /*multi_member=*/false, "deflate", max_out, out);
    if (st.ok() || st.code() != StatusCode::kInvalidArgument) {
      return st;
    }
    Status raw = InflateStream(in, -15, /*multi_member=*/false, "deflate", max_out, out);
    return raw.ok() || raw.code() != StatusCode::kInvalidArgument ? raw : st;
  }
  return InflateStream(in, -15, /*multi_member=*/false, "deflate", max_out, out);
}

constexpr std::string_view kSnappyBadLengthMessage = "invalid snappy body: corrupt length header";
constexpr std::string_view kSnappyTooLargeFormat =
    "snappy body decompresses to {} bytes, over the limit of {} bytes";
constexpr std::string_view kSnappyImpossibleLengthFormat =
    "invalid snappy body: header claims {} bytes, impossible from {} compressed bytes";
constexpr std::string_view kSnappyCorruptMessage = "invalid snappy body: corrupt input";

Status SnappyUncompress(std::string_view in, uint64_t max_out, ByteBuffer* out) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &length)) {
    return Status::InvalidArgument(std::string(kSnappyBadLengthMessage));
  }
  if (length > max_out) {
    return Status::TooLarge(fmt::format(kSnappyTooLargeFormat, length, max_out));
  }
  if (length > SnappyOutputBound(in.size())) {
    return Status::InvalidArgument(fmt::format(kSnappyImpossibleLengthFormat, length, in.size()));
  }
  out->set_size(0);
  // With some slack (within the cap): the buffer is kept for the thread's next request, and one
  // a little larger should not cost a fresh allocation whose pages all fault in again.
  out->Reserve(std::min<uint64_t>(max_out, length + length / 4));
  if (!snappy::RawUncompress(in.data(), in.size(), out->data())) {
    return Status::InvalidArgument(std::string(kSnappyCorruptMessage));
  }
  out->set_size(length);
  return Status::OK();
}

Status ZstdUncompress(std::string_view in, uint64_t max_out, ByteBuffer* out) {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDeleter> ctx(ZSTD_createDCtx());
  ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_only);
  return DecodeFrames(in, "zstd", max_out, out,
                      [&](std::string_view* rest, char* dst, size_t room) -> Result<StreamStep> {
                        ZSTD_inBuffer src{rest->data(), rest->size(), 0};
                        ZSTD_outBuffer dst_buf{dst, room, 0};
                        size_t rc = ZSTD_decompressStream(ctx.get(), &dst_buf, &src);
                        if (ZSTD_isError(rc)) {
                          return Status::InvalidArgument(
                              fmt::format(kDecoderErrorFormat, "zstd", ZSTD_getErrorName(rc)));
                        }
                        rest->remove_prefix(src.pos);
                        return StreamStep{dst_buf.pos, rc == 0, src.pos > 0 || dst_buf.pos > 0};
                      });
}

Status Lz4FrameUncompress(std::string_view in, uint64_t max_out, ByteBuffer* out) {
  thread_local std::unique_ptr<LZ4F_dctx, Lz4Deleter> ctx([] {
    LZ4F_dctx* d = nullptr;
    return LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)) ? nullptr : d;
  }());
  if (ctx == nullptr) return Status::Internal("lz4: cannot create a decompression context");
  LZ4F_resetDecompressionContext(ctx.get());
  return DecodeFrames(in, "lz4", max_out, out,
                      [&](std::string_view* rest, char* dst, size_t room) -> Result<StreamStep> {
                        size_t dst_size = room;
                        size_t src_size = rest->size();
                        size_t rc = LZ4F_decompress(ctx.get(), dst, &dst_size, rest->data(),
                                                    &src_size, nullptr);
                        if (LZ4F_isError(rc)) {
                          LZ4F_resetDecompressionContext(ctx.get());
                          return Status::InvalidArgument(
                              fmt::format(kDecoderErrorFormat, "lz4", LZ4F_getErrorName(rc)));
                        }
                        rest->remove_prefix(src_size);
                        return StreamStep{dst_size, rc == 0, src_size > 0 || dst_size > 0};
                      });
}

}  // namespace sluice::http::push_internal
