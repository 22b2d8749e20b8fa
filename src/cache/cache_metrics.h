#pragma once

// The process-wide metric families of the caches (internal to this layer). Families are created
// once and shared by every cache, each cache taking its children by name: registering a family
// per cache would print the same metric name twice on /metrics.

#include "metrics/metrics.h"

namespace sluice::cache {

// Loki's instrumented cache (pkg/storage/chunk/cache/instrumented.go).
struct InstrumentMetrics {
  metrics::Family<metrics::Counter>* fetched_keys;        // {name}
  metrics::Family<metrics::Counter>* hits;                // {name}
  metrics::Family<metrics::Histogram>* request_duration;  // {method, status_code, name}
  metrics::Family<metrics::Histogram>* value_size;        // {method, name}
  static InstrumentMetrics& Get();
};

// Loki's embedded cache (embeddedcache.go).
struct EmbeddedMetrics {
  metrics::Family<metrics::Counter>* added_new;   // {cache}
  metrics::Family<metrics::Counter>* evicted;     // {cache, reason}
  metrics::Family<metrics::Gauge>* entries;       // {cache}
  metrics::Family<metrics::Gauge>* memory_bytes;  // {cache}
  static EmbeddedMetrics& Get();
};

// Loki's memcached client (memcached.go, memcached_client.go).
struct MemcachedMetrics {
  metrics::Family<metrics::Histogram>* request_duration;  // {method, status_code, name}
  metrics::Family<metrics::Counter>* set_skip;            // {name}
  static MemcachedMetrics& Get();
};

}  // namespace sluice::cache
