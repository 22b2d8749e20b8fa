#include "distributor/distributor.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <span>

#include "common/duration.h"
#include "common/utf8.h"
#include "distributor/level_detection.h"
#include "metrics/metrics.h"
#include "tracing/tracing.h"
#include "write/discard.h"

namespace sluice::distributor {

namespace reason = write::reason;
using write::ErrorCollector;
using write::RecordDiscarded;
using write::StreamLabels;
using write::ValidatedStream;

namespace {

// Loki's texts for each refusal (pkg/validation), one per discard reason.
constexpr std::string_view kInvalidLabelsMessage = "Error parsing labels '{}' with error: {}";
constexpr std::string_view kMissingLabelsMessage =
    "error at least one label pair is required per stream";
constexpr std::string_view kMaxLabelNamesMessage =
    "entry for stream '{}' has {} label names; limit {}";
constexpr std::string_view kLabelNameTooLongMessage = "stream '{}' has label name too long: '{}'";
constexpr std::string_view kLabelValueTooLongMessage = "stream '{}' has label value too long: '{}'";
constexpr std::string_view kDuplicateLabelNameMessage =
    "stream '{}' has duplicate label name: '{}'";
constexpr std::string_view kInvalidUtf8LabelMessage =
    "Error parsing labels '{}' with error: invalid UTF-8 in value of label {}";
constexpr std::string_view kTooOldMessage =
    "entry for stream '{}' has timestamp too old: {}, oldest acceptable timestamp is: {}";
constexpr std::string_view kTooNewMessage = "entry for stream '{}' has timestamp too new: {}";
constexpr std::string_view kLineTooLongMessage =
    "Max entry size '{}' bytes exceeded for stream '{}' while adding an entry with length '{}' "
    "bytes";
constexpr std::string_view kDisallowedMetadataMessage =
    "stream '{}' includes structured metadata, but this feature is disallowed. Please see "
    "`limits_config.allow_structured_metadata` or contact your Loki administrator to enable it.";
constexpr std::string_view kMetadataTooLargeMessage =
    "stream '{}' has structured metadata too large: '{}' bytes, limit: '{}' bytes. Please see "
    "`limits_config.max_structured_metadata_size` or contact your Loki administrator to increase "
    "it.";
constexpr std::string_view kMetadataTooManyMessage =
    "stream '{}' has too many structured metadata labels: '{}', limit: '{}'. Please see "
    "`limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to "
    "increase it.";
constexpr std::string_view kRateLimitedMessage =
    "Ingestion rate limit exceeded for user {} (limit: {} bytes/sec) while attempting to ingest "
    "'{}' lines "
    "totaling '{}' bytes, reduce log volume or contact your Loki administrator to see if the limit "
    "can be "
    "increased";

constexpr double kMiB = 1024.0 * 1024.0;

constexpr std::string_view kServiceNameLabel = "service_name";
constexpr std::string_view kUnknownService = "unknown_service";

// Go's time.RFC3339 (whole seconds), as Loki prints timestamps in validation errors.
std::string Rfc3339Seconds(int64_t ns) {
  int64_t rem = ns % kNanosPerSecond;
  if (rem < 0) rem += kNanosPerSecond;
  return FormatRfc3339Nano(ns - rem);
}

uint64_t EntryBytes(const model::EntryView& e) {
  uint64_t n = e.line.size();
  for (const auto& m : e.metadata) n += m.name.size() + m.value.size();
  return n;
}

struct ReceivedCounters {
  metrics::Family<metrics::Counter>* bytes =
      metrics::DefaultRegistry().NewCounter("loki_distributor_bytes_received_total",
                                            "The total number of uncompressed bytes received per "
                                            "tenant. Includes structured metadata bytes.",
                                            {"tenant"});
  metrics::Family<metrics::Counter>* lines = metrics::DefaultRegistry().NewCounter(
      "loki_distributor_lines_received_total", "The total number of lines received per tenant",
      {"tenant"});
  metrics::Family<metrics::Counter>* mutated_samples = metrics::DefaultRegistry().NewCounter(
      "loki_mutated_samples_total", "The total number of samples that have been mutated.",
      {"reason", "tenant"});
  metrics::Family<metrics::Counter>* mutated_bytes = metrics::DefaultRegistry().NewCounter(
      "loki_mutated_bytes_total", "The total number of bytes that have been mutated.",
      {"reason", "tenant"});
};
ReceivedCounters& Counters() {
  static ReceivedCounters counters;
  return counters;
}

// Loki's label parser drops labels with an empty value (an empty value is an absent label in
// Prometheus; pkg/logql/syntax ParseLabels), so `{a=""}` is the stream `{}`.
model::LabelSet WithoutEmptyValues(model::LabelSet labels) {
  const auto& all = labels.labels();
  if (std::none_of(all.begin(), all.end(), [](const model::Label& l) { return l.value.empty(); })) {
    return labels;
  }
  std::vector<model::Label> kept;
  for (const model::Label& l : all) {
    if (!l.value.empty()) kept.push_back(l);
  }
  return model::LabelSet(std::move(kept));
}

// Loki 3's service name discovery (pkg/loghttp/push/push.go): a stream without service_name gets
// the value of the first label of `discover_service_name` it has, else "unknown_service". Loki
// adds it while decoding the push, before the distributor validates, so a stream pushed with no
// labels at all (`{}`) becomes `{service_name="unknown_service"}` and is accepted. Loki's own
// internal streams (aggregated metrics, patterns) are left alone.
model::LabelSet DiscoverServiceName(model::LabelSet labels, const config::Limits& limits) {
  if (limits.discover_service_name.empty() || labels.Get(kServiceNameLabel) ||
      labels.Get("__aggregated_metric__") || labels.Get("__pattern__")) {
    return labels;
  }
  std::string service(kUnknownService);
  for (const std::string& name : limits.discover_service_name) {
    const std::string* value = labels.Get(name);
    if (value != nullptr && !value->empty()) {
      service = *value;
      break;
    }
  }
  std::vector<model::Label> out = labels.labels();
  out.push_back({std::string(kServiceNameLabel), std::move(service)});
  return model::LabelSet(std::move(out));
}

// `detected_level` alone, per canonical level: most entries carry no other metadata and point
// here, so level discovery costs them no allocation.
std::span<const model::Label> LevelOnlyMetadata(std::string_view level) {
  static const std::array<model::Label, 8> kLabels = {{
      {std::string(kDetectedLevelLabel), "trace"},
      {std::string(kDetectedLevelLabel), "debug"},
      {std::string(kDetectedLevelLabel), "info"},
      {std::string(kDetectedLevelLabel), "warn"},
      {std::string(kDetectedLevelLabel), "error"},
      {std::string(kDetectedLevelLabel), "critical"},
      {std::string(kDetectedLevelLabel), "fatal"},
      {std::string(kDetectedLevelLabel), std::string(kLevelUnknown)},
  }};
  // The eight levels start with eight different letters: one string compare settles it.
  if (level.empty()) return {};
  for (const model::Label& l : kLabels) {
    if (l.value[0] == level[0])
      return l.value == level ? std::span(&l, 1) : std::span<const model::Label>();
  }
  return {};
}

// Loki's distributor step for `discover_log_levels`: an entry that has `detected_level` keeps it,
// normalised; otherwise it gets one from the stream's level label (`stream_level`, found once per
// stream) or from its own metadata and line. New metadata lives in `request`'s owned storage.
void AddDetectedLevel(const LevelDetector& detector, std::string_view stream_level,
                      model::EntryView& e, model::PushRequest& request) {
  for (size_t i = 0; i < e.metadata.size(); ++i) {
    if (e.metadata[i].name != kDetectedLevelLabel) continue;
    std::string_view normalized = NormalizeLevel(e.metadata[i].value);
    if (normalized != e.metadata[i].value) {
      std::string value(normalized);
      auto& copy = request.owned_metadata.emplace_back(e.metadata.begin(), e.metadata.end());
      copy[i].value = std::move(value);
      e.metadata = copy;
    }
    return;
  }
  std::string_view level =
      stream_level.empty() ? detector.FromEntry(e.metadata, e.line) : stream_level;
  if (level.empty()) return;
  if (e.metadata.empty()) {
    std::span<const model::Label> shared = LevelOnlyMetadata(level);
    if (!shared.empty()) {
      e.metadata = shared;
      return;
    }
  }
  std::string value(level);  // `level` may point into the metadata being replaced
  auto& copy = request.owned_metadata.emplace_back();
  copy.reserve(e.metadata.size() + 1);
  copy.assign(e.metadata.begin(), e.metadata.end());
  copy.push_back({std::string(kDetectedLevelLabel), std::move(value)});
  e.metadata = copy;
}

}  // namespace

Distributor::Distributor(config::Overrides* overrides, write::Pusher* pusher, Clock* clock)
    : overrides_(overrides), pusher_(pusher), clock_(clock) {}

Status Distributor::ValidateLabels(std::string_view tenant, const config::Limits& limits,
                                   std::string_view raw, size_t lines, uint64_t bytes,
                                   ValidatedStream* out) {
  auto fail = [&](std::string_view reason, std::string msg) {
    RecordDiscarded(reason, tenant, lines, bytes);
    return Status::InvalidArgument(std::move(msg));
  };
  // With service name discovery on, the parsed labels depend on the tenant's list too, so the
  // cache key is the text and the list.
  std::string_view key = raw;
  thread_local std::string discovery_key;
  if (!limits.discover_service_name.empty()) {
    discovery_key.assign(raw);
    for (const std::string& name : limits.discover_service_name) {
      discovery_key.push_back('\0');
      discovery_key.append(name);
    }
    key = discovery_key;
  }
  std::shared_ptr<const StreamLabels> cached = CachedLabels(key);
  if (cached == nullptr) {
    auto parsed = model::ParseLabels(raw);
    if (!parsed.ok()) {
      return fail(reason::kInvalidLabels,
                  fmt::format(kInvalidLabelsMessage, raw, parsed.status().message()));
    }
    cached = StreamLabels::Make(
        DiscoverServiceName(WithoutEmptyValues(std::move(parsed).value()), limits));
    CacheLabels(key, cached);
  }
  const model::LabelSet& labels = cached->labels;
  if (labels.empty()) return fail(reason::kMissingLabels, std::string(kMissingLabelsMessage));
  // As in Loki, service_name (usually added by discovery) does not count against the limit.
  size_t label_names = labels.size() - (labels.Get(kServiceNameLabel) != nullptr ? 1 : 0);
  if (label_names > limits.max_label_names_per_series) {
    return fail(
        reason::kMaxLabelNamesPerSeries,
        fmt::format(kMaxLabelNamesMessage, raw, label_names, limits.max_label_names_per_series));
  }
  const std::string* previous = nullptr;
  for (const auto& l : labels.labels()) {
    if (l.name.size() > limits.max_label_name_length) {
      return fail(reason::kLabelNameTooLong, fmt::format(kLabelNameTooLongMessage, raw, l.name));
    }
    if (l.value.size() > limits.max_label_value_length) {
      return fail(reason::kLabelValueTooLong, fmt::format(kLabelValueTooLongMessage, raw, l.value));
    }
    if (previous != nullptr && *previous == l.name) {
      return fail(reason::kDuplicateLabelNames,
                  fmt::format(kDuplicateLabelNameMessage, raw, l.name));
    }
    if (!IsValidUtf8(l.value)) {
      return fail(reason::kInvalidLabels,
                  fmt::format(fmt::runtime(kInvalidUtf8LabelMessage), raw, l.name));
    }
    previous = &l.name;
  }
  out->labels = std::move(cached);
  return Status::OK();
}

std::shared_ptr<const StreamLabels> Distributor::CachedLabels(std::string_view raw) {
  MutexLock lock(&labels_mu_);
  auto it = label_cache_.find(raw);
  return it == label_cache_.end() ? nullptr : it->second;
}

void Distributor::CacheLabels(std::string_view raw, std::shared_ptr<const StreamLabels> parsed) {
  MutexLock lock(&labels_mu_);
  if (label_cache_.size() >= kMaxCachedLabelTexts) label_cache_.clear();
  label_cache_.emplace(raw, std::move(parsed));
}

bool Distributor::AllowRate(std::string_view tenant, const config::Limits& limits, uint64_t bytes) {
  double rate = limits.ingestion_rate_mb * kMiB;
  if (limits.ingestion_rate_strategy == "global" && distributor_count_) {
    rate /= std::max(1, distributor_count_());
  }
  double burst = limits.ingestion_burst_size_mb * kMiB;
  int64_t now = clock_->NowNanos();
  MutexLock lock(&mu_);
  auto it = rate_limiters_.find(tenant);
  if (it == rate_limiters_.end()) {
    it = rate_limiters_.emplace(std::string(tenant), TokenBucket(rate, burst, now)).first;
  } else if (it->second.rate() != rate || it->second.burst() != burst) {
    it->second.SetLimits(rate, burst);
  }
  return it->second.TryTake(static_cast<double>(bytes), now);
}

Status Distributor::Push(std::string_view tenant, model::PushRequest& request) {
  // Validation and the rate limit; the ingesters' part is the pusher's own spans.
  tracing::Span validate = tracing::StartSpan("push.validate");
  std::shared_ptr<const config::Limits> limits_ptr = overrides_->ForTenant(tenant);
  const config::Limits& limits = *limits_ptr;
  const int64_t now = clock_->NowNanos();
  auto& counters = Counters();
  std::vector<std::string> tenant_label{std::string(tenant)};

  uint64_t received_bytes = 0, received_lines = 0;
  for (const auto& s : request.streams) {
    received_lines += s.entries.size();
    for (const auto& e : s.entries) received_bytes += EntryBytes(e);
  }
  if (received_lines > 0) {
    counters.bytes->WithLabels(tenant_label)->Inc(static_cast<double>(received_bytes));
    counters.lines->WithLabels(tenant_label)->Inc(static_cast<double>(received_lines));
  }

  ErrorCollector validation_errors;
  std::vector<ValidatedStream> valid;
  valid.reserve(request.streams.size());
  uint64_t valid_bytes = 0, valid_lines = 0;

  // Loki discovers levels only where structured metadata may be stored.
  std::optional<LevelDetector> level_detector;
  if (limits.discover_log_levels && limits.allow_structured_metadata) {
    level_detector.emplace(
        limits.log_level_fields.empty() ? config::DefaultLogLevelFields() : limits.log_level_fields,
        limits.log_level_from_json_max_depth);
  }

  for (auto& raw : request.streams) {
    if (raw.entries.empty()) continue;
    uint64_t stream_bytes = 0;
    for (const auto& e : raw.entries) stream_bytes += EntryBytes(e);
    ValidatedStream vs;
    Status st = ValidateLabels(tenant, limits, raw.labels, raw.entries.size(), stream_bytes, &vs);
    if (!st.ok()) {
      validation_errors.Add(st);
      continue;
    }
    std::string_view stream_level;
    if (level_detector) stream_level = level_detector->FromLabels(vs.labels->labels);
    // Valid entries are compacted in place, then the vector moves to the validated stream.
    size_t kept = 0;
    int64_t previous_ts = INT64_MIN;
    std::string_view previous_line;
    bool have_previous = false;
    for (auto& e : raw.entries) {
      if (limits.max_line_size_truncate && limits.max_line_size > 0 &&
          e.line.size() > limits.max_line_size) {
        uint64_t cut = e.line.size() - limits.max_line_size;
        e.line = e.line.substr(0, limits.max_line_size);
        counters.mutated_samples
            ->WithLabels({std::string(reason::kLineTooLong), std::string(tenant)})
            ->Inc();
        counters.mutated_bytes->WithLabels({std::string(reason::kLineTooLong), std::string(tenant)})
            ->Inc(static_cast<double>(cut));
      }
      std::string_view why;
      std::string msg;
      if (limits.reject_old_samples && e.timestamp_ns < now - limits.reject_old_samples_max_age) {
        why = reason::kGreaterThanMaxSampleAge;
        msg = fmt::format(kTooOldMessage, vs.labels_text(), Rfc3339Seconds(e.timestamp_ns),
                          Rfc3339Seconds(now - limits.reject_old_samples_max_age));
      } else if (e.timestamp_ns > now + limits.creation_grace_period) {
        why = reason::kTooFarInFuture;
        msg = fmt::format(kTooNewMessage, vs.labels_text(), Rfc3339Seconds(e.timestamp_ns));
      } else if (limits.max_line_size > 0 && e.line.size() > limits.max_line_size) {
        why = reason::kLineTooLong;
        msg =
            fmt::format(kLineTooLongMessage, limits.max_line_size, vs.labels_text(), e.line.size());
      } else if (!e.metadata.empty()) {
        uint64_t md_bytes = 0;
        for (const auto& m : e.metadata) md_bytes += m.name.size() + m.value.size();
        if (!limits.allow_structured_metadata) {
          why = reason::kDisallowedStructuredMetadata;
          msg = fmt::format(kDisallowedMetadataMessage, vs.labels_text());
        } else if (limits.max_structured_metadata_size > 0 &&
                   md_bytes > limits.max_structured_metadata_size) {
          why = reason::kStructuredMetadataTooLarge;
          msg = fmt::format(kMetadataTooLargeMessage, vs.labels_text(), md_bytes,
                            limits.max_structured_metadata_size);
        } else if (limits.max_structured_metadata_entries_count > 0 &&
                   e.metadata.size() > limits.max_structured_metadata_entries_count) {
          why = reason::kStructuredMetadataTooMany;
          msg = fmt::format(kMetadataTooManyMessage, vs.labels_text(), e.metadata.size(),
                            limits.max_structured_metadata_entries_count);
        }
      }
      if (!why.empty()) {
        RecordDiscarded(why, tenant, 1, EntryBytes(e));
        validation_errors.Add(Status::InvalidArgument(std::move(msg)));
        continue;
      }
      // After validation, as in Loki: the added metadata does not count against the metadata
      // limits (it does count in the rate limit, below).
      if (level_detector) AddDetectedLevel(*level_detector, stream_level, e, request);
      if (limits.increment_duplicate_timestamp && have_previous && e.timestamp_ns <= previous_ts &&
          e.line != previous_line) {
        e.timestamp_ns = previous_ts + 1;
      }
      previous_ts = e.timestamp_ns;
      previous_line = e.line;
      have_previous = true;
      valid_bytes += EntryBytes(e);
      ++valid_lines;
      raw.entries[kept++] = e;
    }
    raw.entries.resize(kept);
    vs.entries = std::move(raw.entries);
    if (!vs.entries.empty()) valid.push_back(std::move(vs));
  }

  validate.SetAttribute("lines", received_lines);
  validate.SetAttribute("valid_lines", valid_lines);
  if (valid.empty()) {
    Status st = validation_errors.ToStatus();
    if (!st.ok()) validate.SetError(st.message());
    return st;
  }

  if (!AllowRate(tenant, limits, valid_bytes)) {
    RecordDiscarded(reason::kRateLimited, tenant, valid_lines, valid_bytes);
    Status limited = Status::RateLimited(fmt::format(
        kRateLimitedMessage, tenant, static_cast<int64_t>(limits.ingestion_rate_mb * kMiB),
        valid_lines, valid_bytes));
    validate.SetError(limited.message());
    return limited;
  }
  validate.End();

  Status pushed = pusher_->Push(tenant, valid);
  if (!pushed.ok()) return pushed;
  return validation_errors.ToStatus();
}

}  // namespace sluice::distributor
