#pragma once

// The ingester's metrics (Loki's names where Loki has the figure), shared by its files.

#include "metrics/metrics.h"

namespace sluice::ingester {

struct IngesterMetrics {
  metrics::Registry& r = metrics::DefaultRegistry();
  metrics::Family<metrics::Gauge>* memory_streams =
      r.NewGauge("loki_ingester_memory_streams",
                 "The total number of streams in memory per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* streams_created =
      r.NewCounter("loki_ingester_streams_created_total",
                   "The total number of streams created per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* streams_removed =
      r.NewCounter("loki_ingester_streams_removed_total",
                   "The total number of streams removed per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* chunks_flushed = r.NewCounter(
      "loki_ingester_chunks_flushed_total", "Total flushed chunks per reason.", {"reason"});
  metrics::Family<metrics::Counter>* chunks_stored = r.NewCounter(
      "loki_ingester_chunks_stored_total", "Total stored chunks per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* chunk_stored_bytes =
      r.NewCounter("loki_ingester_chunk_stored_bytes_total",
                   "Total bytes stored in chunks per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* flush_failures = r.NewCounter(
      "sluice_ingester_flush_failures_total", "Chunk flushes that failed and will be retried.");
  metrics::Family<metrics::Counter>* pushes_refused =
      r.NewCounter("sluice_ingester_pushes_refused_total",
                   "Pushes answered 503 because chunks waiting for the object store filled the "
                   "memory budget.");
  metrics::Family<metrics::Counter>* duplicate_entries =
      r.NewCounter("sluice_ingester_duplicate_entries_total",
                   "Pushed entries dropped because the stream's head already held them (same "
                   "timestamp and line): a retried push, or a Kafka record read again.");
  metrics::Family<metrics::Gauge>* unflushed_bytes =
      r.NewGauge("sluice_ingester_unflushed_bytes",
                 "Bytes of heads and compressed blocks not yet in the object store.");
  metrics::Family<metrics::Gauge>* memory_budget =
      r.NewGauge("sluice_ingester_memory_budget_bytes",
                 "ingester.head_memory_budget plus chunk_memory_budget: past it chunks are flushed "
                 "early, past twice it (or it, while flushes fail) pushes are refused.");
  metrics::Family<metrics::Gauge>* flush_queue_length =
      r.NewGauge("loki_ingester_flush_queue_length",
                 "Closed chunks waiting to be flushed (those of the current flush, and after it "
                 "the failed ones, retried by the next).");
  metrics::Family<metrics::Gauge>* wal_failing =
      r.NewGauge("sluice_ingester_wal_failing",
                 "1 from a failed WAL write until a checkpoint repaired the WAL: pushes are "
                 "refused meanwhile.");
  metrics::Family<metrics::Counter>* wal_records =
      r.NewCounter("loki_ingester_wal_records_logged_total", "Total number of WAL records logged.");
  metrics::Family<metrics::Counter>* wal_bytes =
      r.NewCounter("loki_ingester_wal_logged_bytes_total",
                   "Total number of bytes written to disk for WAL records.");
  metrics::Family<metrics::Histogram>* wal_fsync =
      r.NewHistogram("loki_ingester_wal_fsync_duration_seconds", "Duration of WAL fsyncs.", {},
                     metrics::ExponentialBuckets(0.0001, 2, 16));
  metrics::Family<metrics::Gauge>* replay_active =
      r.NewGauge("loki_ingester_wal_replay_active", "Whether the WAL is replaying");
  metrics::Family<metrics::Gauge>* replay_flushing =
      r.NewGauge("loki_ingester_wal_replay_flushing",
                 "Whether the wal replay is in a flushing phase due to backpressure");
  metrics::Family<metrics::Gauge>* replay_progress =
      r.NewGauge("sluice_ingester_wal_replay_progress_ratio",
                 "Fraction of the WAL (checkpoint and segments) replayed so far.");
  metrics::Family<metrics::Gauge>* replay_duration =
      r.NewGauge("loki_ingester_wal_replay_duration_seconds",
                 "Time taken to replay the checkpoint and the WAL.");
  metrics::Family<metrics::Counter>* recovered_entries =
      r.NewCounter("loki_ingester_wal_recovered_entries_total",
                   "Total number of entries recovered from the WAL.");
  metrics::Family<metrics::Counter>* recovered_bytes = r.NewCounter(
      "loki_ingester_wal_recovered_bytes_total", "Total number of bytes recovered from the WAL.");
  metrics::Family<metrics::Counter>* corruptions =
      r.NewCounter("loki_ingester_wal_corruptions_total",
                   "Total number of WAL corruptions encountered (torn tails truncated).");
  metrics::Family<metrics::Counter>* checkpoints = r.NewCounter(
      "loki_ingester_checkpoint_creations_total", "Total number of checkpoints attempted.");
  metrics::Family<metrics::Counter>* checkpoint_failures =
      r.NewCounter("loki_ingester_checkpoint_creations_failed_total",
                   "Total number of checkpoint creations failed.");
  metrics::Family<metrics::Counter>* checkpoint_bytes =
      r.NewCounter("loki_ingester_checkpoint_logged_bytes_total",
                   "Total number of bytes written to checkpoints.");
};
inline IngesterMetrics& Metrics() {
  static IngesterMetrics m;
  return m;
}

}  // namespace sluice::ingester
