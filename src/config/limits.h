#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/matcher.h"

namespace re2 {
class RE2;
}

namespace sluice::config {

// Loki's `otlp_config` (pkg/loghttp/push/otlplabels/config.go): what becomes of each OTLP
// attribute. The first rule that names an attribute (in `attributes`) or whose regex matches its
// whole name decides; an attribute no rule matches is structured metadata.
enum class OtlpAction : uint8_t { kIndexLabel, kStructuredMetadata, kDrop };

struct OtlpAttributesRule {
  OtlpAction action = OtlpAction::kStructuredMetadata;
  std::vector<std::string> attributes;
  std::string regex;                        // as written; empty when `attributes` is used
  std::shared_ptr<const re2::RE2> matcher;  // `regex` anchored at both ends, compiled at load
};

// Loki's default list of resource attributes stored as index labels (distributor.otlp_config
// .default_resource_attributes_as_index_labels).
const std::vector<std::string>& DefaultOtlpIndexLabelAttributes();

struct OtlpConfig {
  // When false, DefaultOtlpIndexLabelAttributes() come first as an index_label rule.
  bool resource_ignore_defaults = false;
  std::vector<OtlpAttributesRule> resource_attributes;
  std::vector<OtlpAttributesRule> scope_attributes;  // index_label is refused for these
  std::vector<OtlpAttributesRule> log_attributes;
  bool severity_text_as_label = false;
};

// Loki's default `discover_service_name` list (pkg/validation/limits.go).
const std::vector<std::string>& DefaultDiscoverServiceName();

// Loki's default `log_level_fields` (pkg/validation/limits.go DefaultAllowedLevelFields).
const std::vector<std::string>& DefaultLogLevelFields();

// Loki's `retention_stream` rule (pkg/validation StreamRetention): streams matching `selector`
// keep their data for `period`. Of the rules a stream matches, the highest priority wins, and
// among equals the shortest period (deletion/retention.h applies it).
struct StreamRetention {
  std::string selector;  // as written: `{namespace="dev", app=~"a.*"}`
  int priority = 0;
  int64_t period = 0;  // nanoseconds; Loki requires at least 24h
  // Parsed from `selector` at load, so readers never parse it.
  std::vector<model::LabelMatcher> matchers;
};

// Loki's `deletion_mode` (pkg/compactor/deletionmode): whether the tenant may submit delete
// requests, and whether they are only filtered out of query results or also removed from the
// store by the compactor.
enum class DeletionMode : uint8_t { kDisabled, kFilterOnly, kFilterAndDelete };

// Per-tenant limits, named as in Loki's `limits_config` so existing configs and runtime
// override files carry over. Durations are nanoseconds, sizes bytes. Defaults follow Loki 3.x.
struct Limits {
  // Distributor: request-level rate limit (token bucket per tenant, 429 `rate_limited`).
  // global (Loki's default): ingestion_rate_mb is the tenant's rate across every distributor,
  // each enforcing rate / (healthy distributors in the distributor ring); local: per distributor.
  // The burst is not divided (as in Loki). One process: the same either way.
  std::string ingestion_rate_strategy = "global";
  double ingestion_rate_mb = 4;
  double ingestion_burst_size_mb = 6;

  // Distributor: validation of labels and entries (400 and a discard reason each).
  uint64_t max_label_name_length = 1024;
  uint64_t max_label_value_length = 2048;
  uint64_t max_label_names_per_series = 15;
  bool reject_old_samples = true;
  int64_t reject_old_samples_max_age = 7LL * 24 * 3600 * 1'000'000'000;
  int64_t creation_grace_period = 10LL * 60 * 1'000'000'000;
  uint64_t max_line_size = 256 * 1024;
  bool max_line_size_truncate = false;
  bool increment_duplicate_timestamp = false;
  bool allow_structured_metadata = true;
  uint64_t max_structured_metadata_size = 64 * 1024;
  uint64_t max_structured_metadata_entries_count = 128;
  // A stream without a service_name label gets one: the value of the first of these labels it
  // has, else "unknown_service". Empty turns it off.
  std::vector<std::string> discover_service_name = DefaultDiscoverServiceName();
  // Each entry gets the structured metadata `detected_level` (from a level label, metadata, OTLP
  // severity or the line; distributor/level_detection.h), when structured metadata is allowed.
  bool discover_log_levels = true;
  // Label, metadata, JSON and logfmt field names that hold a level; empty means Loki's default.
  std::vector<std::string> log_level_fields = DefaultLogLevelFields();
  // JSON object levels searched for those fields; 0 or less searches all of them.
  int log_level_from_json_max_depth = 2;
  OtlpConfig otlp_config;

  // Ingester: stream limits and ordering.
  uint64_t max_streams_per_user = 0;  // 0 = no local limit
  uint64_t max_global_streams_per_user = 5000;
  bool unordered_writes = true;
  uint64_t per_stream_rate_limit = 3 << 20;
  uint64_t per_stream_rate_limit_burst = 15 << 20;

  // Querier.
  uint64_t max_entries_limit_per_query = 5000;
  int64_t max_query_length = 721LL * 3600 * 1'000'000'000;
  uint64_t max_query_series = 500;
  int64_t query_timeout = 60LL * 1'000'000'000;
  uint64_t max_query_parallelism = 32;
  // The query frontend splits range queries into sub-queries aligned to this interval
  // (0 = no splitting).
  int64_t split_queries_by_interval = 3600LL * 1'000'000'000;
  // Splits of a metric query ending within this of now are not taken from (or put into) the
  // results cache: data for them may still arrive. One value for every tenant (the frontend's).
  int64_t max_cache_freshness_per_query = 10LL * 60 * 1'000'000'000;
  int64_t max_query_lookback = 0;
  uint64_t max_concurrent_tail_requests = 10;

  // Retention and deletion (the compactor applies them to the store; queries filter at once).
  // 0 keeps data forever (Loki 3's default; Loki accepts durations such as "744h" or "31d").
  int64_t retention_period = 0;
  std::vector<StreamRetention> retention_stream;
  DeletionMode deletion_mode = DeletionMode::kFilterAndDelete;
};

// "disabled", "filter-only", "filter-and-delete".
std::string_view DeletionModeName(DeletionMode mode);

}  // namespace sluice::config
