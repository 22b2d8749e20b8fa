#include "agent/agent_metrics.h"

namespace sluice::agent {

AgentMetrics::AgentMetrics() : registry(metrics::DefaultRegistry()) {
  auto& r = registry;
  read_lines = r.NewCounter("sluice_agent_read_lines_total", "Lines read from sources.", {"job"});
  read_bytes =
      r.NewCounter("sluice_agent_read_bytes_total", "Line bytes read from sources.", {"job"});
  sent_lines = r.NewCounter("sluice_agent_sent_lines_total", "Lines delivered (push acknowledged).")
                   ->WithLabels({});
  sent_bytes =
      r.NewCounter("sluice_agent_sent_bytes_total", "Line bytes delivered.")->WithLabels({});
  sent_batches =
      r.NewCounter("sluice_agent_sent_batches_total", "Pushes acknowledged.")->WithLabels({});
  sent_body_bytes =
      r.NewCounter("sluice_agent_sent_request_bytes_total", "Encoded request bytes delivered.")
          ->WithLabels({});
  dropped_lines = r.NewCounter("sluice_agent_dropped_lines_total",
                               "Lines deliberately not delivered, by reason.", {"reason"});
  dropped_bytes = r.NewCounter("sluice_agent_dropped_bytes_total",
                               "Line bytes not delivered, by reason.", {"reason"});
  mutated_lines = r.NewCounter("sluice_agent_mutated_lines_total",
                               "Lines over max_line_size, split or truncated.", {"reason"});
  retries = r.NewCounter("sluice_agent_retries_total", "Push attempts retried, by error class.",
                         {"class"});
  errors = r.NewCounter("sluice_agent_request_errors_total",
                        "Failed push attempts, by error class.", {"class"});
  breaker_transitions = r.NewCounter("sluice_agent_breaker_transitions_total",
                                     "Circuit breaker state changes, by new state.", {"to"});
  breaker_state =
      r.NewGauge("sluice_agent_breaker_state", "Circuit breaker: 0 closed, 1 open, 2 half-open.")
          ->WithLabels({});
  inflight = r.NewGauge("sluice_agent_inflight_requests", "Pushes in flight.")->WithLabels({});
  queue_lines =
      r.NewGauge("sluice_agent_queue_lines", "Lines read and waiting for a batch.")->WithLabels({});
  queue_bytes =
      r.NewGauge("sluice_agent_queue_bytes", "Bytes charged for lines waiting for a batch.")
          ->WithLabels({});
  buffered_bytes = r.NewGauge("sluice_agent_buffered_bytes",
                              "Bytes of log data held: queue, batches and request bodies.")
                       ->WithLabels({});
  buffered_bytes_high_water =
      r.NewGauge("sluice_agent_buffered_bytes_high_water", "The most buffered_bytes ever held.")
          ->WithLabels({});
  memory_limit =
      r.NewGauge("sluice_agent_memory_limit_bytes", "limits.memory_limit.")->WithLabels({});
  file_read_lag =
      r.NewGauge("sluice_agent_file_read_lag_bytes", "Bytes of a file not yet read.", {"path"});
  file_ack_lag = r.NewGauge("sluice_agent_file_unacked_bytes",
                            "Bytes of a file not yet acknowledged by the server.", {"path"});
  files_watched = r.NewGauge("sluice_agent_files_watched", "Files being read.")->WithLabels({});
  file_events = r.NewCounter("sluice_agent_file_events_total", "File lifecycle events.", {"event"});
  positions_writes =
      r.NewCounter("sluice_agent_positions_writes_total", "Positions file writes.")->WithLabels({});
  positions_errors =
      r.NewCounter("sluice_agent_positions_write_errors_total", "Failed positions file writes.")
          ->WithLabels({});
  request_duration = r.NewHistogram("sluice_agent_request_duration_seconds",
                                    "Push attempt latency.", {"status"}, metrics::DefaultBuckets());
}

}  // namespace sluice::agent
