#pragma once

// The ingester's side of the Kafka write path (ingester.kafka_ingestion.enabled): reads the
// partitions this ingester owns and pushes their records into it, then commits to Kafka the
// offsets whose records are durable in sluice, so that a restart resumes where durability ends.
//
//   PartitionReader (one librdkafka consumer; one thread per owned partition, each reading its
//   partition's queue in batches of at most max_batch_records: bounded in-flight work)
//     decode (record.h) -> group by tenant -> write::Pusher::Push (the ingester)
//     applied offset (next to read) per partition
//     commit: every commit_interval, the durable offset of each partition, to the consumer group
//
// The commit rule: an offset is committed only when every record before it is durable in sluice.
//   - durable_on_push (the ingester's WAL is on): a record is durable once Push returned (the WAL
//     has it, under its fsync policy), so the applied offset is committed.
//   - otherwise (Kafka is the only log): a record is durable once a checkpoint taken after it was
//     applied is written (or its chunks were flushed, which the checkpoint then also reflects).
//     The ingester calls BeginCheckpoint() before it snapshots memory; the returned callback,
//     called once the checkpoint is on disk, makes the offsets applied before the snapshot
//     committable.
// A crash therefore re-reads records (from the committed offset) rather than losing them; the
// re-read records are exact duplicates, which the ingester drops (ingester::Stream::Append) and
// the query path's merge drops where they got past it.
//
// Where a partition starts: the consumer group's committed offset; else (this ingester never
// owned it) the handover offset another owner left when it shut down after flushing everything
// (committed to the group kHandoverGroup); else the earliest offset Kafka still has.
//
// Errors from Push: Unavailable / DeadlineExceeded / IOError / Internal (the ingester is stopping,
// out of memory budget, its store failing) are retried with backoff, never skipped: a slow
// ingester shows as growing lag. InvalidArgument / RateLimited / TooLarge (a per-stream limit the
// ingester enforces) count the records as failed (reason) and move on: the ingester stored what
// it accepted, as on the direct path. A record that does not decode is counted (reason "corrupt"),
// logged and skipped.
//
// Thread safety: every public method may be called from any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "kafka/client.h"
#include "metrics/metrics.h"
#include "write/pusher.h"

namespace sluice::kafka {

// The consumer group the handover offsets are committed to (see above).
inline constexpr std::string_view kHandoverGroup = "sluice-partition-handover";

// The consumer group a reader with group `pattern` commits partition `partition` to: the
// pattern with every "<partition>" replaced by the partition id.
std::string ConsumerGroupFor(const std::string& pattern, int32_t partition);

struct ReaderOptions {
  ClientOptions client;
  std::string topic;
  // The group this ingester commits to: kafka_config.consumer_group, "" = the ingester's instance
  // id (as Loki); a "<partition>" in it is replaced by the partition id (one group per partition).
  std::string consumer_group;
  std::vector<int32_t> partitions;             // owned partitions, fixed for the reader's life
  int64_t commit_interval_ns = 1'000'000'000;  // kafka_config.consumer_group_offset_commit_interval
  // kafka_config.max_consumer_lag_at_startup: caught_up() turns true once every partition's lag
  // is under this (or it reached the end it saw at start).
  int64_t max_consumer_lag_at_startup_ns = 15LL * 1'000'000'000;
  bool durable_on_push = true;  // see the commit rule
  int max_batch_records = 1024;
  int64_t retry_backoff_ns = 100'000'000;  // first retry of a refused Push; doubles up to 5 s
  // loki_kafka_client_partition_reader_* and sluice_kafka_reader_*; null: none. One reader per
  // registry.
  metrics::Registry* registry = nullptr;
};

struct PartitionStatus {
  int32_t partition = 0;
  int64_t next_offset = -1;     // the next record to apply (-1: not started)
  int64_t committed = -1;       // last offset committed to the group (-1: none yet)
  int64_t high_watermark = -1;  // the partition's end as last seen (-1: unknown)
  int64_t lag_records = 0;      // high_watermark - next_offset (0 when unknown)
  double lag_seconds = 0;       // now - timestamp of the last applied record, while lagging
};

class PartitionReader {
 public:
  // REQUIRES: pusher and clock outlive the reader.
  PartitionReader(ReaderOptions options, write::Pusher* pusher, const Clock* clock);
  // Stop()s if still running.
  ~PartitionReader();

  // Resolves each partition's start offset (Unavailable when Kafka does not answer within
  // dial/commit timeouts: the caller retries), assigns them and starts the reading threads.
  Status Start();
  // Stops reading (after the batches being applied) and commits what is durable.
  void Stop();

  // True once every partition caught up (see max_consumer_lag_at_startup); stays true after.
  bool caught_up() const;

  // Called by the ingester just before a checkpoint snapshots memory (only needed when
  // !durable_on_push); the returned callback, run once the checkpoint is durable, makes the
  // offsets applied before this call committable. Never blocks on Kafka.
  std::function<void()> BeginCheckpoint();

  // After the ingester flushed everything to storage on shutdown (REQUIRES: Stop() was called):
  // commits the applied offsets to the consumer group and to kHandoverGroup, so the next owner of
  // a partition starts exactly where this one ends.
  Status Handover();

  std::vector<PartitionStatus> Partitions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::kafka
