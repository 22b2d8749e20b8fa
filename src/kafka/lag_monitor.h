#pragma once

// Consumer-group lag of the ingesters, read from Kafka by another process (the distributor): an
// ingester that is stopped or stuck cannot be scraped, but its consumer group's committed offsets
// and its partitions' ends are still in Kafka.
//
//   every interval: groups() (the ring: which ingester's group consumes which partitions)
//     committed offsets: OffsetFetch per group (rd_kafka_committed on a consumer of that group
//       that never subscribes; kept while the group is returned)
//     low/high watermarks: ListOffsets "earliest" and "latest" (rd_kafka_offsets_for_times, one
//       request per leader broker)
//     lag_records = high_watermark - committed; with nothing committed, high - low (everything
//       Kafka still has is unread)
//   -> gauges sluice_kafka_consumer_group_lag_records{group,partition},
//      sluice_kafka_consumer_group_committed_offset{group,partition} (-1: nothing committed),
//      sluice_kafka_partition_high_watermark{partition};
//      failures counted in sluice_kafka_lag_monitor_errors_total.
//
// A round is bounded by request_timeout as a whole (its requests share one deadline; groups it
// has no time left for wait for the next round), so a Kafka outage costs a round that long and no
// more. What a round could not read keeps its last known value in the gauges (the error counter
// says they are stale); the series of a group or partition that groups() no longer returns are
// removed.
//
// Thread safety: every public method may be called from any thread; rounds run one at a time.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "kafka/client.h"
#include "metrics/metrics.h"

namespace sluice::kafka {

// One consumer group and the partitions of `topic` whose lag it is responsible for. The group
// name is final: the caller resolves kafka_config.consumer_group ("<partition>" replaced) or the
// ingester's instance id, as the reader does.
struct ConsumerGroupPartitions {
  std::string group;
  std::vector<int32_t> partitions;
};

struct LagMonitorOptions {
  ClientOptions client;
  std::string topic;
  int64_t interval_ns = 5'000'000'000;         // how often the background thread runs a round
  int64_t request_timeout_ns = 2'000'000'000;  // bounds one round
  metrics::Registry* registry = nullptr;       // null: none. One monitor per registry.
};

struct GroupLag {
  std::string group;
  int32_t partition = 0;
  int64_t committed = -1;  // -1: nothing committed
  int64_t high_watermark = -1;
  int64_t lag_records = 0;
};

class LagMonitor {
 public:
  // `groups` is called once per round, on the round's thread, without locks of the monitor held.
  LagMonitor(LagMonitorOptions options,
             std::function<std::vector<ConsumerGroupPartitions>()> groups);
  // Stop()s.
  ~LagMonitor();
  LagMonitor(const LagMonitor&) = delete;
  LagMonitor& operator=(const LagMonitor&) = delete;

  // Starts the background thread (a round right away, then every interval). Fails only on a
  // configuration librdkafka refuses (InvalidArgument), never because Kafka is down: failed rounds
  // are logged (rate-limited) and counted, and the next round tries again.
  Status Start();
  // Stops the thread, waiting at most for the round in progress (about request_timeout).
  void Stop();

  // One round now. Unavailable when Kafka did not answer some request in time (what did answer
  // is still published); InvalidArgument on a refused configuration.
  Status Refresh();

  // The lags the last round read, by group then partition (what it could not read is absent).
  std::vector<GroupLag> Last() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::kafka
