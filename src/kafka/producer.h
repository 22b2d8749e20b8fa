#pragma once

// The distributor's write::Pusher for the Kafka write path (distributor.kafka_writes_enabled):
// each validated stream becomes one record (or several, past producer_max_record_size_bytes) in
// the partition of its stream (PartitionFor: a stream's records keep their order), and Push
// returns OK only once Kafka acknowledged every record of the request (acks=all, idempotent
// producer: a broker's retry never duplicates or reorders a record).
//
//   Distributor::Push -> KafkaPusher::Push(tenant, streams)
//     for each stream: EncodeStreamRecord (split by size) -> rd_kafka_produceva(partition, key)
//     wait for every delivery report (or write_timeout) -> OK / error
//
// Backpressure, never unbounded memory: librdkafka's queue holds at most
// producer_max_buffered_bytes of records not yet acknowledged; a request that does not fit is
// refused at once (429, "retry later") and a Kafka outage answers 503 within write_timeout (at once
// while every broker is known to be down). A refused or failed request may still have some of its
// records delivered; the client's retry then writes them again and the ingesters drop the exact
// duplicates.
//
// Thread safety: Push may be called from many threads at once.

#include <atomic>
#include <cstdint>
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

struct ProducerOptions {
  ClientOptions client;
  std::string topic;                                // kafka_config.topic
  int64_t write_timeout_ns = 10LL * 1'000'000'000;  // kafka_config.write_timeout
  // kafka_config.producer_max_record_size_bytes: a stream batch larger than this is split into
  // several records (each entry whole; an entry larger than this alone is refused, 400).
  uint64_t max_record_size_bytes = 15'983'616;
  // kafka_config.producer_max_buffered_bytes: records produced and not yet acknowledged.
  uint64_t max_buffered_bytes = 1ull << 30;
  int64_t linger_ns = 5'000'000;  // sluice: how long records wait to be batched (linger.ms)
  // kafka_config.auto_create_topic_enabled / auto_create_topic_default_partitions: a missing
  // topic is created with this many partitions (replication factor: the brokers' default).
  bool auto_create_topic_enabled = true;
  int auto_create_topic_default_partitions = 1000;
  // loki_distributor_kafka_* and loki_kafka_client_produce_*; null: none. One producer per
  // registry.
  metrics::Registry* registry = nullptr;
};

class KafkaPusher final : public write::Pusher {
 public:
  // Creates the producer and starts learning the topic's partition count in the background
  // (creating the topic when allowed); does not wait for Kafka: until the count is known, Push
  // answers 503. InvalidArgument for a bad option.
  static Result<std::unique_ptr<KafkaPusher>> Create(ProducerOptions options, const Clock* clock);
  // Waits up to write_timeout for records in flight, then closes the producer.
  ~KafkaPusher() override;

  // write::Pusher. `streams` are left as given (what the ingesters store is decided there).
  Status Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) override;

  // The topic's partition count, 0 while unknown.
  int32_t partitions() const;
  // Waits until the partition count is known (or the timeout passes); for start-up and tests.
  Status WaitForTopic(int64_t timeout_ns);

 private:
  struct Impl;
  explicit KafkaPusher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::kafka
