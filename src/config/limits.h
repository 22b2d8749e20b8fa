#pragma once

#include <cstdint>
#include <string>

namespace sluice::config {

// Per-tenant limits, named as in Loki's `limits_config` so existing configs and runtime
// override files carry over. Durations are nanoseconds, sizes bytes. Defaults follow Loki 3.x.
struct Limits {
  // Distributor: request-level rate limit (token bucket per tenant, 429 `rate_limited`).
  std::string ingestion_rate_strategy = "local";  // sluice runs one distributor per process.
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
  int64_t max_query_lookback = 0;
  uint64_t max_concurrent_tail_requests = 10;
};

}  // namespace sluice::config
