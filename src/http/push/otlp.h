#pragma once

// OTLP/HTTP logs ingestion (POST /otlp/v1/logs), as Loki 3 serves it.
//
// A body is, from the outside in:
//   Content-Encoding  "" | "identity"         : as received
//                     "gzip"                  : RFC 1952
//                     "zstd" | "lz4"          : Zstandard / LZ4 frames
//   Content-Type      "application/x-protobuf" : an ExportLogsServiceRequest (otlp_proto.cc)
//                     "application/json"       : OTLP's JSON encoding of it (otlp_json.cc)
//                     anything else            : 400, as Loki answers
// It is decoded into the same model::PushRequest the Loki push produces, so the distributor
// validates, rate-limits and counts discards the same way; otlp_mapping.cc says how resource,
// scope and log attributes become labels and structured metadata (per tenant: otlp_config,
// discover_service_name).
//
// Error policy as for DecodePush: InvalidArgument (400) naming the problem, TooLarge (413) past a
// size cap. Errors reach the client as Loki's OTLP handler writes them (OtlpErrorBody).

#include <string>
#include <string_view>

#include "common/status.h"
#include "config/limits.h"
#include "http/push/push_decoder.h"
#include "model/entry.h"

namespace sluice::http {

// `body` is borrowed for the call only; the result owns its bytes. `now_ns` stamps records that
// carry neither a timestamp nor an observed timestamp.
Result<model::PushRequest> DecodeOtlpLogs(std::string_view body, std::string_view content_type,
                                          std::string_view content_encoding,
                                          const PushDecodeOptions& opts,
                                          const config::Limits& limits, int64_t now_ns);

// The body of an OTLP error response as Loki writes it (push.OTLPError): a serialized
// google.rpc.Status whose only field is `message` (code 0 is omitted), served as
// application/octet-stream. OTLP clients print the message.
std::string OtlpErrorBody(std::string_view message);

}  // namespace sluice::http
