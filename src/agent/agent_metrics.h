#pragma once

// Everything the agent exposes on its own /metrics.

#include <string>

#include "metrics/metrics.h"

namespace sluice::agent {

struct AgentMetrics {
  AgentMetrics();

  // The process-wide registry: `sluice agent` runs no server components, so its /metrics shows
  // the agent's families (plus the HTTP server's own request histogram). Construct once per
  // process.
  metrics::Registry& registry;

  metrics::Family<metrics::Counter>* read_lines;  // {job}
  metrics::Family<metrics::Counter>* read_bytes;  // {job}
  metrics::Counter* sent_lines;
  metrics::Counter* sent_bytes;  // raw line bytes delivered
  metrics::Counter* sent_batches;
  metrics::Counter* sent_body_bytes;                       // encoded request bytes delivered
  metrics::Family<metrics::Counter>* dropped_lines;        // {reason}
  metrics::Family<metrics::Counter>* dropped_bytes;        // {reason}
  metrics::Family<metrics::Counter>* mutated_lines;        // {reason}: split, truncated
  metrics::Family<metrics::Counter>* retries;              // {class}
  metrics::Family<metrics::Counter>* errors;               // {class}
  metrics::Family<metrics::Counter>* breaker_transitions;  // {to}
  metrics::Gauge* breaker_state;                           // 0 closed, 1 open, 2 half-open
  metrics::Gauge* inflight;
  metrics::Gauge* queue_lines;
  metrics::Gauge* queue_bytes;
  metrics::Gauge* buffered_bytes;  // everything charged to the memory budget
  metrics::Gauge* buffered_bytes_high_water;
  metrics::Gauge* memory_limit;
  metrics::Family<metrics::Gauge>* file_read_lag;  // {path}: bytes in the file not yet read
  metrics::Family<metrics::Gauge>* file_ack_lag;  // {path}: bytes read or not, not yet acknowledged
  metrics::Gauge* files_watched;
  metrics::Family<metrics::Counter>* file_events;  // {event}: opened, rotated, truncated, deleted
  metrics::Counter* positions_writes;
  metrics::Counter* positions_errors;
  metrics::Family<metrics::Histogram>* request_duration;  // {status}: 2xx, 4xx, 429, 5xx, error
};

}  // namespace sluice::agent
