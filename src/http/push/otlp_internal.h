#pragma once

// The stages of DecodeOtlpLogs (otlp.h), split out so each can be tested alone: the body is
// parsed (protobuf or JSON) into the small OTLP model below, then mapped onto Loki's model as
// Loki 3 maps it. Not an API for other subsystems.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/limits.h"
#include "http/push/push_internal.h"
#include "model/entry.h"

namespace sluice::http::otlp_internal {

// Deeper nesting of array/kvlist values than this is refused (it would only exhaust the stack).
constexpr int kMaxValueDepth = 64;

struct KeyValue;

// opentelemetry.proto.common.v1.AnyValue: exactly one of the kinds, or none (kEmpty).
struct AnyValue {
  enum class Kind : uint8_t { kEmpty, kString, kBool, kInt, kDouble, kBytes, kArray, kKvList };
  Kind kind = Kind::kEmpty;
  std::string str;  // kString, kBytes
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::vector<AnyValue> array;
  std::vector<KeyValue> kvlist;
};

struct KeyValue {
  std::string key;
  AnyValue value;
};

struct LogRecord {
  uint64_t time_unix_nano = 0;
  uint64_t observed_time_unix_nano = 0;
  int32_t severity_number = 0;
  std::string severity_text;
  AnyValue body;
  std::vector<KeyValue> attributes;
  uint32_t dropped_attributes_count = 0;
  uint32_t flags = 0;
  std::string trace_id;  // raw bytes: empty or 16
  std::string span_id;   // raw bytes: empty or 8
  std::string event_name;
};

struct Scope {
  std::string name;
  std::string version;
  std::vector<KeyValue> attributes;
  uint32_t dropped_attributes_count = 0;
};

struct ScopeLogs {
  Scope scope;
  std::vector<LogRecord> log_records;
};

struct ResourceLogs {
  std::vector<KeyValue> resource_attributes;
  std::vector<ScopeLogs> scope_logs;
};

struct Logs {
  std::vector<ResourceLogs> resource_logs;
};

// A serialized ExportLogsServiceRequest (after any Content-Encoding).
Result<Logs> ParseOtlpProto(std::string_view body);
// OTLP's JSON encoding of the same. REQUIRES: the buffer's padding is readable (simdjson).
Result<Logs> ParseOtlpJson(const push_internal::ByteBuffer& body);

// pcommon.Value.AsString: how Loki renders a body or attribute value as text.
std::string AnyValueAsString(const AnyValue& v);

// otlptranslator.LabelNamer: an attribute name as a Prometheus-style label name ("http.method" ->
// "http_method", "5xx" -> "key_5xx"); an error for "" or a name that becomes only underscores.
Result<std::string> NormalizeAttributeName(std::string_view name);

// A stream's labels in Loki's text form, `{a="x", b="y"}`, as the distributor parses them.
std::string LabelsText(const std::map<std::string, std::string>& labels);

// Loki 3's mapping (pkg/loghttp/push/otlp.go, otlplabels/): index labels, structured metadata,
// line and timestamp per log record, streams grouped by their labels. `now_ns` stamps records
// with neither timestamp.
Result<model::PushRequest> ToPushRequest(const Logs& logs, const config::Limits& limits,
                                         int64_t now_ns);

}  // namespace sluice::http::otlp_internal
