#pragma once

// Internal to src/tracing: the finished span as queued for export, and its OTLP encoding
// (split out so the encoding is tested without a receiver).

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tracing/tracing.h"

namespace sluice::tracing {

struct Span::Data {
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  std::array<uint8_t, 8> parent_span_id{};  // all zero for a root
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
  bool error = false;
  std::string error_message;
};

struct FinishedSpan {
  SpanContext context;
  Span::Data data;
};

// An ExportTraceServiceRequest (opentelemetry-proto's trace service, proto/otlp_trace.proto)
// holding `spans` under one resource with service.name and the other resource attributes.
std::string EncodeExportRequest(const Options& options, const std::vector<FinishedSpan>& spans);

}  // namespace sluice::tracing
