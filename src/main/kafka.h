#pragma once

// How the Kafka write path is built from kafka_config, distributor.kafka_writes_enabled and
// ingester.kafka_ingestion: the distributor's producer options, the partitions an ingester
// owns, and its reader's options. Apart from app.cc so that the mapping of Loki's keys reads in
// one place.

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "kafka/lag_monitor.h"
#include "kafka/producer.h"
#include "kafka/reader.h"
#include "ring/ring.h"

namespace sluice {

kafka::ClientOptions KafkaClientOptionsFrom(const config::Config& config);
kafka::ProducerOptions KafkaProducerOptionsFrom(const config::Config& config);

// The partitions an ingester consumes, from ingester.kafka_ingestion.partitions:
//   "0,2"  those (each below the topic's count)
//   "all"  every partition of the topic (the single binary's default)
//   ""     Loki's rule: the number at the end of the instance id ("ingester-3" owns 3); "all"
//          in the single binary
// `topic_partitions` is the topic's partition count (0: unknown, which only "all" needs).
// InvalidArgument naming the problem otherwise.
Result<std::vector<int32_t>> OwnedPartitions(const config::Config& config,
                                             const std::string& instance_id,
                                             int32_t topic_partitions);

kafka::ReaderOptions KafkaReaderOptionsFrom(const config::Config& config,
                                            const std::string& instance_id,
                                            std::vector<int32_t> partitions);

kafka::LagMonitorOptions KafkaLagMonitorOptionsFrom(const config::Config& config);

// The consumer groups of the ring's partition owners and the partitions each commits: an owner's
// group is kafka_config.consumer_group (with "<partition>" replaced), else its instance id.
std::vector<kafka::ConsumerGroupPartitions> ConsumerGroupsOf(const config::Config& config,
                                                             const ring::Ring& ring);

}  // namespace sluice
