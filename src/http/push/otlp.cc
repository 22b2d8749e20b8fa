#include "http/push/otlp.h"

#include <fmt/format.h>

#include <cctype>

#include "http/push/otlp_internal.h"
#include "model/labels.h"

namespace sluice::http {

namespace {

using push_internal::ByteBuffer;

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Loki's texts (pkg/loghttp/push/otlp.go, pkg/util's size errors).
constexpr std::string_view kUnsupportedEncodingFormat =
    "unsupported content encoding {}: only gzip, lz4 and zstd are supported";
constexpr std::string_view kUnsupportedTypeFormat = "content type: {} is not supported";
constexpr std::string_view kTooLargeFormat = "message size too large than max ({} vs {})";
constexpr std::string_view kDecompressedTooLargeFormat =
    "decompressed message size too large than max ({} vs {})";

}  // namespace

Result<model::PushRequest> DecodeOtlpLogs(std::string_view body, std::string_view content_type,
                                          std::string_view content_encoding,
                                          const PushDecodeOptions& opts,
                                          const config::Limits& limits, int64_t now_ns) {
  if (body.size() > opts.max_compressed_bytes) {
    return Status::TooLarge(fmt::format(kTooLargeFormat, body.size(), opts.max_compressed_bytes));
  }
  const std::string encoding = Lower(TrimSpaces(content_encoding));
  // Loki's OTLP handler decodes these three (pkg/loghttp/push/otlp.go).
  using Decoder = Status (*)(std::string_view, uint64_t, push_internal::ByteBuffer*);
  Decoder decode = nullptr;
  if (encoding == "gzip" || encoding == "x-gzip") {
    decode = push_internal::InflateGzip;
  } else if (encoding == "zstd") {
    decode = push_internal::ZstdUncompress;
  } else if (encoding == "lz4") {
    decode = push_internal::Lz4FrameUncompress;
  } else if (!encoding.empty() && encoding != "identity") {
    return Status::InvalidArgument(
        fmt::format(kUnsupportedEncodingFormat, TrimSpaces(content_encoding)));
  }
  // The media type without parameters ("application/json; charset=utf-8").
  const std::string media = Lower(TrimSpaces(content_type.substr(0, content_type.find(';'))));
  const bool json = media == "application/json";
  if (!json && media != "application/x-protobuf") {
    return Status::InvalidArgument(fmt::format(kUnsupportedTypeFormat, content_type));
  }

  thread_local ByteBuffer scratch;  // the decompressed or padded body; released when large
  struct Release {
    ~Release() {
      if (scratch.capacity() > (8u << 20)) {
        scratch.Release();
      }
    }
  } release;
  if (decode != nullptr) {
    SLUICE_RETURN_IF_ERROR(decode(body, opts.max_decompressed_bytes, &scratch));
  } else if (body.size() > opts.max_decompressed_bytes) {
    return Status::TooLarge(
        fmt::format(kDecompressedTooLargeFormat, body.size(), opts.max_decompressed_bytes));
  } else {
    scratch.Assign(body);  // JSON needs readable padding past the end
  }

  Result<otlp_internal::Logs> logs =
      json ? otlp_internal::ParseOtlpJson(scratch) : otlp_internal::ParseOtlpProto(scratch.view());
  if (!logs.ok()) {
    return logs.status();
  }
  return otlp_internal::ToPushRequest(*logs, limits, now_ns);
}

std::string OtlpErrorBody(std::string_view message) {
  // google.rpc.Status { int32 code = 1; string message = 2; ... }: field 2, length-delimited.
  std::string out;
  out.push_back(static_cast<char>(2 << 3 | 2));
  uint64_t n = message.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out.append(message);
  return out;
}

}  // namespace sluice::http
