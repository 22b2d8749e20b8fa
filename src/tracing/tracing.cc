#include "tracing/tracing.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "common/curl.h"
#include "common/mutex.h"
#include "metrics/metrics.h"
#include "otlp_trace.pb.h"
#include "tracing/exporter.h"

namespace sluice::tracing {

namespace {

int64_t NowUnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Ids need to be unique, not secret: a per-thread generator seeded once from the OS.
uint64_t RandomU64() {
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  return rng();
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

template <size_t N>
void FillRandom(std::array<uint8_t, N>& bytes) {
  for (size_t i = 0; i < N; i += 8) {
    uint64_t v = RandomU64();
    std::memcpy(bytes.data() + i, &v, std::min<size_t>(8, N - i));
  }
  if (AllZero(bytes)) bytes[N - 1] = 1;  // all-zero ids are invalid
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // W3C allows lower-case hex only
}

template <size_t N>
bool ParseHex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    int hi = HexDigit(text[2 * i]), lo = HexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

struct TracingMetrics {
  metrics::Registry& r = metrics::DefaultRegistry();
  metrics::Counter* exported =
      r.NewCounter("sluice_tracing_spans_exported_total", "Spans posted to the OTLP endpoint.")
          ->WithLabels({});
  metrics::Counter* dropped =
      r.NewCounter("sluice_tracing_spans_dropped_total",
                   "Finished spans dropped: the export queue was full or an export failed.")
          ->WithLabels({});
  metrics::Counter* export_failures =
      r.NewCounter("sluice_tracing_export_failures_total",
                   "Exports to the OTLP endpoint that failed (their spans are dropped).")
          ->WithLabels({});
};

TracingMetrics& Metrics() {
  static TracingMetrics m;  // once per process: an exporter started again counts on
  return m;
}

// The process's exporter: a bounded queue and the thread that empties it.
class Exporter {
 public:
  explicit Exporter(Options options) : options_(std::move(options)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Exporter() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    wake_.SignalAll();
    thread_.join();
  }

  const Options& options() const { return options_; }

  void Enqueue(FinishedSpan span) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (queue_.size() >= options_.max_queued_spans) {
      metrics_.dropped->Inc();
      return;
    }
    queue_.push_back(std::move(span));
    if (queue_.size() >= options_.max_batch_spans) wake_.Signal();
  }

 private:
  void Run() EXCLUDES(mu_) {
    CurlGlobalInitOnce();
    CURL* curl = curl_easy_init();
    MutexLock lock(&mu_);
    while (true) {
      wake_.WaitFor(
          &mu_, std::chrono::nanoseconds(options_.export_interval_ns),
          [this]() REQUIRES(mu_) { return stop_ || queue_.size() >= options_.max_batch_spans; });
      bool stopping = stop_;
      while (!queue_.empty()) {
        size_t n = std::min(queue_.size(), options_.max_batch_spans);
        std::vector<FinishedSpan> batch(std::make_move_iterator(queue_.begin()),
                                        std::make_move_iterator(queue_.begin() + n));
        queue_.erase(queue_.begin(), queue_.begin() + n);
        lock.Unlock();
        const bool posted = Post(curl, batch);
        lock.Lock();
        if (!stopping) break;  // one batch per wake-up; Stop drains the rest
        if (!posted) {
          // The collector is failing: shutting down must not wait out a timeout per batch.
          metrics_.dropped->Inc(static_cast<double>(queue_.size()));
          queue_.clear();
        }
      }
      if (stopping) break;
    }
    lock.Unlock();
    curl_easy_cleanup(curl);
  }

  // True when the collector took the batch.
  bool Post(CURL* curl, const std::vector<FinishedSpan>& batch) {
    std::string body = EncodeExportRequest(options_, batch);
    curl_easy_reset(curl);
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/x-protobuf");
    curl_easy_setopt(curl, CURLOPT_URL, options_.endpoint.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(options_.export_timeout_ns / 1000000));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void*) { return size * n; });
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
      metrics_.exported->Inc(static_cast<double>(batch.size()));
      return true;
    }
    metrics_.export_failures->Inc();
    metrics_.dropped->Inc(static_cast<double>(batch.size()));
    // At most one line per 10 s: a collector that is down must not flood the log.
    int64_t now = NowUnixNs();
    if (now - last_failure_log_ns_ >= 10'000'000'000) {
      last_failure_log_ns_ = now;
      spdlog::warn("msg=\"exporting spans failed\" endpoint={} spans={} err=\"{}\"",
                   options_.endpoint, batch.size(),
                   rc != CURLE_OK ? curl_easy_strerror(rc) : fmt::format("HTTP {}", status));
    }
    return false;
  }

  const Options options_;
  TracingMetrics& metrics_ = Metrics();
  Mutex mu_;
  CondVar wake_;
  std::deque<FinishedSpan> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  int64_t last_failure_log_ns_ = 0;  // the exporter thread's
  std::thread thread_;
};

std::atomic<Exporter*> g_exporter{nullptr};
std::mutex g_lifecycle_mu;  // Start / Stop
std::unique_ptr<Exporter> g_owned;

thread_local SpanContext t_active;

bool SampledByRatio(const std::array<uint8_t, 16>& trace_id, double ratio) {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  // The trace id's random low 8 bytes as a fraction, as OpenTelemetry's TraceIdRatioBased does:
  // every process that sees the id makes the same decision.
  uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = v << 8 | trace_id[i];
  return static_cast<double>(v >> 11) < ratio * static_cast<double>(uint64_t{1} << 53);
}

}  // namespace

bool SpanContext::valid() const { return !AllZero(trace_id) && !AllZero(span_id); }
std::string SpanContext::TraceIdHex() const { return Hex(trace_id); }
std::string SpanContext::SpanIdHex() const { return Hex(span_id); }

std::optional<SpanContext> ParseTraceparent(std::string_view header) {
  // version "-" trace-id "-" parent-id "-" flags; version ff is invalid, and version 00 has
  // nothing after the flags.
  if (header.size() < 55 || header[2] != '-' || header[35] != '-' || header[52] != '-') {
    return std::nullopt;
  }
  std::array<uint8_t, 1> version{}, flags{};
  SpanContext c;
  if (!ParseHex(header.substr(0, 2), version) || version[0] == 0xff ||
      (version[0] == 0 && header.size() != 55) || !ParseHex(header.substr(3, 32), c.trace_id) ||
      !ParseHex(header.substr(36, 16), c.span_id) || !ParseHex(header.substr(53, 2), flags)) {
    return std::nullopt;
  }
  if (header.size() > 55 && header[55] != '-') return std::nullopt;
  if (!c.valid()) return std::nullopt;
  c.sampled = (flags[0] & 1) != 0;
  return c;
}

std::string FormatTraceparent(const SpanContext& c) {
  return fmt::format("00-{}-{}-{}", c.TraceIdHex(), c.SpanIdHex(), c.sampled ? "01" : "00");
}

Status Start(const Options& options) {
  if (!options.enabled) return Status::OK();
  if (options.endpoint.empty()) {
    return Status::InvalidArgument(
        "tracing.otlp_endpoint: tracing is enabled but no endpoint is set (an OTLP/HTTP traces "
        "URL such as http://localhost:4318/v1/traces, or OTEL_EXPORTER_OTLP_ENDPOINT)");
  }
  if (!(options.sampling_ratio >= 0 && options.sampling_ratio <= 1)) {
    return Status::InvalidArgument(
        fmt::format("tracing.sampling_ratio: {} is not between 0 and 1", options.sampling_ratio));
  }
  std::lock_guard<std::mutex> lock(g_lifecycle_mu);
  if (g_owned) return Status::OK();
  g_owned = std::make_unique<Exporter>(options);
  g_exporter.store(g_owned.get(), std::memory_order_release);
  spdlog::info("msg=\"tracing enabled\" endpoint={} sampling_ratio={}", options.endpoint,
               options.sampling_ratio);
  return Status::OK();
}

void Stop() {
  std::lock_guard<std::mutex> lock(g_lifecycle_mu);
  g_exporter.store(nullptr, std::memory_order_release);
  g_owned.reset();  // drains the queue
}

bool Enabled() { return g_exporter.load(std::memory_order_acquire) != nullptr; }

Span::Span(std::string_view name, const SpanContext& parent, SpanKind kind) {
  context_.trace_id = parent.trace_id;
  FillRandom(context_.span_id);
  context_.sampled = parent.sampled;
  if (!context_.sampled) return;
  data_ = std::make_unique<Data>();
  data_->name = name;
  data_->kind = kind;
  data_->parent_span_id = parent.span_id;  // all zero for a trace's root
  data_->start_unix_ns = NowUnixNs();
}

Span::Span(Span&& other) noexcept
    : context_(std::exchange(other.context_, SpanContext{})), data_(std::move(other.data_)) {}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    context_ = std::exchange(other.context_, SpanContext{});
    data_ = std::move(other.data_);
  }
  return *this;
}

Span Span::Server(std::string_view name, const std::optional<SpanContext>& remote_parent) {
  Exporter* exporter = g_exporter.load(std::memory_order_acquire);
  if (exporter == nullptr) return Span();
  if (remote_parent && remote_parent->valid()) {
    return Span(name, *remote_parent, SpanKind::kServer);
  }
  SpanContext root;  // a new trace: the root span's parent id stays all zero
  FillRandom(root.trace_id);
  root.sampled = SampledByRatio(root.trace_id, exporter->options().sampling_ratio);
  return Span(name, root, SpanKind::kServer);
}

Span Span::Child(std::string_view name, const SpanContext& parent, SpanKind kind) {
  if (!parent.valid() || g_exporter.load(std::memory_order_acquire) == nullptr) return Span();
  return Span(name, parent, kind);
}

void Span::SetStartAgo(int64_t ns) {
  if (data_) data_->start_unix_ns -= ns;
}

Span::Span() = default;
Span::~Span() { End(); }

void Span::Set(std::string_view key, AttributeValue value) {
  if (data_) data_->attributes.emplace_back(std::string(key), std::move(value));
}

void Span::SetError(std::string_view message) {
  if (!data_) return;
  data_->error = true;
  data_->error_message = message;
}

void Span::End() {
  if (!data_) return;
  data_->end_unix_ns = NowUnixNs();
  Exporter* exporter = g_exporter.load(std::memory_order_acquire);
  if (exporter != nullptr) exporter->Enqueue(FinishedSpan{context_, std::move(*data_)});
  data_.reset();
}

const SpanContext& ActiveContext() { return t_active; }

ScopedActive::ScopedActive(const Span& span) : ScopedActive(span.context()) {}
ScopedActive::ScopedActive(const SpanContext& context) : previous_(t_active) { t_active = context; }
ScopedActive::~ScopedActive() { t_active = previous_; }

Span StartSpan(std::string_view name, SpanKind kind) { return Span::Child(name, t_active, kind); }

std::string EncodeExportRequest(const Options& options, const std::vector<FinishedSpan>& spans) {
  otlp::v1::ExportTraceServiceRequest request;
  otlp::v1::ResourceSpans* resource_spans = request.add_resource_spans();
  auto add_string = [](auto* attributes, std::string_view key, std::string_view value) {
    otlp::v1::KeyValue* kv = attributes->Add();
    kv->set_key(std::string(key));
    kv->mutable_value()->set_string_value(std::string(value));
  };
  auto* resource_attributes = resource_spans->mutable_resource()->mutable_attributes();
  add_string(resource_attributes, "service.name", options.service_name);
  for (const auto& [key, value] : options.resource_attributes) {
    add_string(resource_attributes, key, value);
  }
  otlp::v1::ScopeSpans* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name("sluice");
  for (const FinishedSpan& f : spans) {
    otlp::v1::Span* s = scope_spans->add_spans();
    s->set_trace_id(f.context.trace_id.data(), f.context.trace_id.size());
    s->set_span_id(f.context.span_id.data(), f.context.span_id.size());
    if (!AllZero(f.data.parent_span_id)) {
      s->set_parent_span_id(f.data.parent_span_id.data(), f.data.parent_span_id.size());
    }
    s->set_name(f.data.name);
    switch (f.data.kind) {
      case SpanKind::kInternal:
        s->set_kind(otlp::v1::Span::SPAN_KIND_INTERNAL);
        break;
      case SpanKind::kServer:
        s->set_kind(otlp::v1::Span::SPAN_KIND_SERVER);
        break;
      case SpanKind::kClient:
        s->set_kind(otlp::v1::Span::SPAN_KIND_CLIENT);
        break;
    }
    s->set_start_time_unix_nano(static_cast<uint64_t>(f.data.start_unix_ns));
    s->set_end_time_unix_nano(static_cast<uint64_t>(f.data.end_unix_ns));
    for (const auto& [key, value] : f.data.attributes) {
      otlp::v1::KeyValue* kv = s->add_attributes();
      kv->set_key(key);
      otlp::v1::AnyValue* v = kv->mutable_value();
      std::visit(
          [v](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) v->set_string_value(x);
            if constexpr (std::is_same_v<T, int64_t>) v->set_int_value(x);
            if constexpr (std::is_same_v<T, double>) v->set_double_value(x);
            if constexpr (std::is_same_v<T, bool>) v->set_bool_value(x);
          },
          value);
    }
    if (f.data.error) {
      s->mutable_status()->set_code(otlp::v1::Status::STATUS_CODE_ERROR);
      s->mutable_status()->set_message(f.data.error_message);
    }
  }
  return request.SerializeAsString();
}

}  // namespace sluice::tracing
