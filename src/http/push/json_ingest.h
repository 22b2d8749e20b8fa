#pragma once

// Ingestion of JSON documents from agents that do not speak Loki's push protocol, at the paths
// and with the parameters VictoriaLogs gives them:
//   POST /insert/jsonline              one JSON object per line (ndjson)
//   POST /insert/elasticsearch/_bulk   Elasticsearch's bulk format: an action line
//                                      ({"create":{..}} or {"index":{..}}), then the document
// A body is, from the outside in:
//   Content-Encoding  "" | "identity" | "gzip" | "deflate"
//   lines             separated by '\n' ('\r\n' too); empty lines are skipped
//   a document        a JSON object; nested objects are flattened with '.' ({"host":{"name":"a"}}
//                     is the field host.name); strings as they are, numbers and booleans as their
//                     text, arrays as JSON text; null and "" are absent fields
// Each document becomes one entry, as JsonIngestParams say:
//   the first non-empty message field   -> the line (no message field: the document's JSON text)
//   the first time field present        -> the timestamp: RFC3339 (a space for the 'T' and a
//                                          missing zone, read as UTC, are accepted), a date
//                                          YYYY-MM-DD, or a Unix time in seconds, milliseconds,
//                                          microseconds or nanoseconds, told apart by magnitude as
//                                          VictoriaLogs does ("0", "" or "-": now). None: now.
//   the stream fields                   -> the stream's labels
//   ignored fields                      -> dropped ("prefix*" drops every field that starts so)
//   every other field                   -> structured metadata
// Field names become label names as OTLP attribute names do (otlp_internal::
// NormalizeAttributeName: host.name -> host_name). A document with no stream field gets
// service_name="unknown_service" when discover_service_name is on (Loki needs a label per stream);
// with it off, it is refused.
//
// The result is the model::PushRequest the Loki push produces, so the distributor validates,
// rate-limits and counts discards the same way. Error policy as for DecodePush: InvalidArgument
// (400) naming the line number and the problem; TooLarge (413) past a size cap.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/limits.h"
#include "http/push/push_decoder.h"
#include "http/server.h"
#include "model/entry.h"

namespace sluice::http {

// VictoriaLogs' common ingestion parameters, each a comma-separated list given as a query
// parameter or, when the query has none, as the VL-* header.
struct JsonIngestParams {
  std::vector<std::string> msg_fields = {"_msg"};    // _msg_field, VL-Msg-Field
  std::vector<std::string> time_fields = {"_time"};  // _time_field, VL-Time-Field
  std::vector<std::string> stream_fields;            // _stream_fields, VL-Stream-Fields
  std::vector<std::string> ignore_fields;            // ignore_fields, VL-Ignore-Fields
};
JsonIngestParams JsonIngestParamsFrom(const Request& request);

enum class JsonIngestFormat : uint8_t { kJsonLines, kElasticsearchBulk };

struct JsonIngestResult {
  model::PushRequest request;
  // Elasticsearch bulk only: per document, the action named by its action line ("create" or
  // "index") and the action's _index ("" when absent), for the bulk response's items.
  struct BulkItem {
    std::string action;
    std::string index;
  };
  std::vector<BulkItem> bulk_items;
};

// `body` is borrowed for the call only. `now_ns` stamps documents without a time field.
Result<JsonIngestResult> DecodeJsonIngest(JsonIngestFormat format, std::string_view body,
                                          std::string_view content_encoding,
                                          const JsonIngestParams& params,
                                          const PushDecodeOptions& opts,
                                          const config::Limits& limits, int64_t now_ns);

// What an Elasticsearch client reads back.
// The bulk response: {"took":ms,"errors":false,"items":[{"create":{"_index":..,"status":201}}..]}.
std::string ElasticsearchBulkResponse(const JsonIngestResult& result, int64_t took_ms);
// Elasticsearch's error shape: {"error":{"root_cause":[..],"type":..,"reason":..},"status":..}.
std::string ElasticsearchErrorBody(const Status& status);
// The cluster information GET / answers (the client checks the version's major).
std::string ElasticsearchInfoBody();

}  // namespace sluice::http
