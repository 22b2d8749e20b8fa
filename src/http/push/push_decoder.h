#pragma once

// Decoding of Loki push request bodies (POST /loki/api/v1/push) into model::PushRequest.
//
// A body is, from the outside in:
//   Content-Encoding  "" | "identity" | "snappy" : as received (for protobuf, "snappy" only
//   restates
//                                                  the block compression every protobuf body has)
//                     "gzip"                      : RFC 1952, concatenated members allowed
//                     "deflate"                   : RFC 1950 zlib stream, or raw RFC 1951 deflate
//                                                   (Go's flate, which Loki uses, expects raw)
//   Content-Type      "application/json"          :
//   {"streams":[{"stream":{..},"values":[[ts,line,{..}]]}]}
//                     anything else, or none      : snappy block format (not framed) around a
//                                                   logproto.PushRequest (proto/push.proto)
// The content type is matched like Go's mime.ParseMediaType: case-insensitively, parameters such
// as "; charset=utf-8" ignored. As in Loki, a missing or unknown type means protobuf.
//
// Error policy: every body is untrusted. A malformed one returns InvalidArgument (HTTP 400) with a
// message that names the stage and the problem; a body that crosses a size cap at any stage returns
// TooLarge (HTTP 413). Memory is bounded by the caps: no decompressor allocates past them.
//
// Thread safety: DecodePush may be called from any number of threads at once. Each thread keeps
// scratch buffers and a JSON parser between calls (released when a request made them large).

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "model/entry.h"

namespace sluice::http {

struct PushDecodeOptions {
  // The body as received (the HTTP layer also caps it).
  uint64_t max_compressed_bytes = 100 << 20;
  // Every decompressed form: after gzip/deflate, and the protobuf after snappy. A bomb stops here.
  uint64_t max_decompressed_bytes = 100 << 20;
};

// `body` is borrowed for the duration of the call only; the result owns all of its bytes (its
// views point into its own storage).
// `content_type` and `content_encoding` are the raw header values ("" when absent).
Result<model::PushRequest> DecodePush(std::string_view body, std::string_view content_type,
                                      std::string_view content_encoding,
                                      const PushDecodeOptions& opts);

}  // namespace sluice::http
