#pragma once

// Distributed tracing: W3C trace context in, spans out as OTLP/HTTP (protobuf).
//
//   HTTP request ── traceparent? ──> Span::Server("POST /loki/api/v1/push", remote parent)
//        │                             ├─ StartSpan("push.decode")        (the handler's thread)
//        │                             ├─ StartSpan("push.validate")
//        │                             └─ Span::Child("push.replicate", ctx, kClient)  (send pool)
//        │                                    └─ gRPC metadata "traceparent" ──> ingester:
//        │                                        Span::Server("ingester.Push") └─ "ingester.wal"
//        └─ the request's log line carries traceID=<32 hex>
//
// A span is recorded only when its trace is sampled. The decision is made once, at the root:
// a remote parent's sampled flag is followed (W3C "parent-based"); otherwise the trace id is
// sampled with probability `sampling_ratio`. An unsampled trace still has ids, which are
// propagated (flags 00) so the processes downstream make the same decision, but none of its
// spans costs more than the ids.
//
// The active span of a thread: ScopedActive makes a span the parent of StartSpan on the current
// thread (a request handler sets it once); work handed to another thread carries the
// SpanContext explicitly (Span::Child).
//
// Finished spans are queued (bounded: spans past max_queued_spans are dropped and counted in
// sluice_tracing_spans_dropped_total) and a background thread posts them in batches to the
// OTLP endpoint; an export that fails is logged and counted, never retried into memory growth.
//
// Thread safety: Start/Stop once per process (main); everything else from any thread. A Span
// object belongs to one thread at a time.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "common/status.h"

namespace sluice::tracing {

struct SpanContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  bool sampled = false;

  // All-zero ids are invalid (W3C): the context of "no trace".
  bool valid() const;
  std::string TraceIdHex() const;
  std::string SpanIdHex() const;
};

// W3C traceparent "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>". nullopt when
// malformed (then the request starts a new trace, as the W3C spec asks). Later versions are read
// by their first four fields.
std::optional<SpanContext> ParseTraceparent(std::string_view header);
std::string FormatTraceparent(const SpanContext& context);

struct Options {
  bool enabled = false;
  // Where spans are posted: an OTLP/HTTP traces URL ("http://collector:4318/v1/traces").
  std::string endpoint;
  double sampling_ratio = 1.0;  // for traces started here; 0..1
  std::string service_name = "sluice";
  std::map<std::string, std::string> resource_attributes;  // e.g. service.instance.id
  int64_t export_interval_ns = 1'000'000'000;
  int64_t export_timeout_ns = 5'000'000'000;
  size_t max_queued_spans = 8192;
  size_t max_batch_spans = 512;
};

// Starts tracing for the process (spans are dropped until then). InvalidArgument names a bad
// option. Stop exports what is queued and ends the exporter thread.
Status Start(const Options& options);
void Stop();
bool Enabled();

enum class SpanKind : uint8_t { kInternal, kServer, kClient };

using AttributeValue = std::variant<std::string, int64_t, double, bool>;

class Span {
 public:
  Span();  // no trace: ids invalid, nothing recorded
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span();

  // The root of this process's part of a trace: a child of `remote_parent` when the caller sent
  // one, else a new trace (sampled by the ratio). No trace at all while tracing is off.
  static Span Server(std::string_view name, const std::optional<SpanContext>& remote_parent);
  // A child of `parent` (no trace when the parent is invalid).
  static Span Child(std::string_view name, const SpanContext& parent,
                    SpanKind kind = SpanKind::kInternal);

  const SpanContext& context() const { return context_; }
  bool recording() const { return data_ != nullptr; }

  // Moves the start back by `ns`: a span for a wait measured after the fact (a queued job).
  void SetStartAgo(int64_t ns);
  void SetAttribute(std::string_view key, std::string_view value) { Set(key, std::string(value)); }
  void SetAttribute(std::string_view key, const char* value) { Set(key, std::string(value)); }
  void SetAttribute(std::string_view key, double value) { Set(key, value); }
  void SetAttribute(std::string_view key, bool value) { Set(key, value); }
  template <typename Int>
  requires std::is_integral_v<Int> &&
      (!std::is_same_v<Int, bool>)void SetAttribute(std::string_view key, Int value) {
    Set(key, static_cast<int64_t>(value));
  }
  // Marks the span failed (OTLP status ERROR) with `message`.
  void SetError(std::string_view message);
  // Records the span (once; later calls do nothing). The destructor ends it too.
  void End();

  struct Data;

 private:
  Span(std::string_view name, const SpanContext& parent, SpanKind kind);
  void Set(std::string_view key, AttributeValue value);

  SpanContext context_;
  std::unique_ptr<Data> data_;  // null when not recording
};

// The active span's context on this thread, or an invalid context.
const SpanContext& ActiveContext();

// Makes `span` this thread's active span until destroyed (restoring the previous one).
class ScopedActive {
 public:
  explicit ScopedActive(const Span& span);
  explicit ScopedActive(const SpanContext& context);
  ~ScopedActive();
  ScopedActive(const ScopedActive&) = delete;
  ScopedActive& operator=(const ScopedActive&) = delete;

 private:
  SpanContext previous_;
};

// A child of this thread's active span (no trace when there is none).
Span StartSpan(std::string_view name, SpanKind kind = SpanKind::kInternal);

}  // namespace sluice::tracing
