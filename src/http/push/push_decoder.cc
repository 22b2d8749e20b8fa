#include "http/push/push_decoder.h"

#include <fmt/format.h>

#include <cctype>
#include <memory>

#include "http/push/push_internal.h"
#include "model/labels.h"

namespace sluice::http {

namespace {

using push_internal::ByteBuffer;

enum class Encoding : uint8_t { kIdentity, kGzip, kDeflate };

// Scratch buffers kept per thread between requests, so the common body size costs no page faults
// after warm-up; a buffer that grew past kRetainBytes is released once the request is done.
constexpr size_t kRetainBytes = 8 << 20;

struct Scratch {
  ByteBuffer inflated;  // after gzip/deflate; also the padded copy JSON is parsed from
};

class ScratchLease {
 public:
  ScratchLease() = default;
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  ~ScratchLease() {
    if (scratch().inflated.capacity() > kRetainBytes) {
      scratch().inflated.Release();
    }
  }
  static Scratch& scratch() {
    thread_local Scratch s;
    return s;
  }
};

// The protobuf after snappy. The decoded request's views point into it, so it goes with the
// request (PushRequest::storage) and returns to its thread's spare slot when the request is
// destroyed (on that thread, in the server): the next request of a similar size then neither
// allocates nor touches fresh pages. One that grew past kRetainBytes is freed instead.
std::shared_ptr<ByteBuffer> LeaseProtoBuffer() {
  thread_local std::unique_ptr<ByteBuffer> spare;
  ByteBuffer* buffer = spare ? spare.release() : new ByteBuffer();
  return std::shared_ptr<ByteBuffer>(buffer, [](ByteBuffer* b) {
    if (!spare && b->capacity() <= kRetainBytes) {
      spare.reset(b);
    } else {
      delete b;
    }
  });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The media type without parameters: "Application/JSON; charset=utf-8" -> "Application/JSON".
std::string_view MediaType(std::string_view content_type) {
  return Trim(content_type.substr(0, content_type.find(';')));
}

constexpr std::string_view kUnsupportedEncodingFormat =
    "Content-Encoding {} not supported (supported: gzip, deflate, snappy)";

Result<Encoding> ParseEncoding(std::string_view header) {
  std::string_view e = Trim(header);
  if (e.empty() || EqualsIgnoreCase(e, "identity") || EqualsIgnoreCase(e, "snappy")) {
    // "snappy" restates the block compression every protobuf body has (Loki accepts the header and
    // decodes the body as if it were absent, for JSON too).
    return Encoding::kIdentity;
  }
  if (EqualsIgnoreCase(e, "gzip") || EqualsIgnoreCase(e, "x-gzip")) {
    return Encoding::kGzip;
  }
  if (EqualsIgnoreCase(e, "deflate")) {
    return Encoding::kDeflate;
  }
  return Status::InvalidArgument(
      fmt::format(kUnsupportedEncodingFormat, model::QuoteString(header)));
}

constexpr std::string_view kProtobufNoteFormat =
    "{} (Content-Type {} is decoded as snappy-compressed protobuf; use application/json for JSON)";

// Appends to an error about the protobuf path a note on why a body was read as protobuf, when the
// client said something else.
Status ExplainProtobuf(Status st, std::string_view media_type) {
  if (st.code() != StatusCode::kInvalidArgument || media_type.empty() ||
      EqualsIgnoreCase(media_type, "application/x-protobuf")) {
    return st;
  }
  return Status::InvalidArgument(
      fmt::format(kProtobufNoteFormat, st.message(), model::QuoteString(media_type)));
}

}  // namespace

constexpr std::string_view kBodyTooLargeFormat =
    "push body of {} bytes exceeds the limit of {} bytes";
constexpr std::string_view kDecompressedTooLargeFormat =
    "push body of {} bytes exceeds the decompressed limit of {} bytes";

Result<model::PushRequest> DecodePush(std::string_view body, std::string_view content_type,
                                      std::string_view content_encoding,
                                      const PushDecodeOptions& opts) {
  if (body.size() > opts.max_compressed_bytes) {
    return Status::TooLarge(
        fmt::format(kBodyTooLargeFormat, body.size(), opts.max_compressed_bytes));
  }
  SLUICE_ASSIGN_OR_RETURN(Encoding encoding, ParseEncoding(content_encoding));
  const std::string_view media_type = MediaType(content_type);
  const bool json = EqualsIgnoreCase(media_type, "application/json");

  ScratchLease lease;
  Scratch& scratch = ScratchLease::scratch();
  const bool inflated = encoding != Encoding::kIdentity;
  switch (encoding) {
    case Encoding::kGzip:
      SLUICE_RETURN_IF_ERROR(
          push_internal::InflateGzip(body, opts.max_decompressed_bytes, &scratch.inflated));
      break;
    case Encoding::kDeflate:
      SLUICE_RETURN_IF_ERROR(
          push_internal::InflateDeflate(body, opts.max_decompressed_bytes, &scratch.inflated));
      break;
    case Encoding::kIdentity:
      if (json && body.size() > opts.max_decompressed_bytes) {
        return Status::TooLarge(
            fmt::format(kDecompressedTooLargeFormat, body.size(), opts.max_decompressed_bytes));
      }
      break;
  }

  if (json) {
    if (!inflated) {
      // simdjson needs readable padding past the end, which a borrowed body may not have.
      scratch.inflated.Assign(body);
    }
    return push_internal::ParseJsonPush(scratch.inflated, opts.max_decompressed_bytes);
  }

  const std::string_view compressed = inflated ? scratch.inflated.view() : body;
  std::shared_ptr<ByteBuffer> proto = LeaseProtoBuffer();
  Status st = push_internal::SnappyUncompress(compressed, opts.max_decompressed_bytes, proto.get());
  if (!st.ok()) {
    return ExplainProtobuf(std::move(st), media_type);
  }
  Result<model::PushRequest> req = push_internal::ParseProtoPush(proto->view());
  if (!req.ok()) {
    return ExplainProtobuf(req.status(), media_type);
  }
  req->storage = std::move(proto);
  return req;
}

}  // namespace sluice::http
