#pragma once

// Settings every Kafka client of sluice shares (the distributor's producer, the ingester's
// partition reader), from Loki's kafka_config, turned into a librdkafka configuration.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::kafka {

struct ClientOptions {
  std::string address =
      "localhost:9092";   // kafka_config.address: bootstrap brokers, comma-separated
  std::string client_id;  // kafka_config.client_id ("" = librdkafka's default)
  int64_t dial_timeout_ns =
      2'000'000'000;  // kafka_config.dial_timeout (socket.connection.setup.timeout.ms)
  // kafka_config.sasl_username / sasl_password: SASL PLAIN (security.protocol SASL_PLAINTEXT,
  // or SASL_SSL when `librdkafka` says ssl). Both or neither.
  std::string sasl_username;
  std::string sasl_password;
  // kafka_config.librdkafka (sluice's): any other librdkafka property, set last, e.g.
  // security.protocol=ssl, ssl.ca.location=/etc/ssl/kafka-ca.pem (TLS),
  // sasl.mechanism=SCRAM-SHA-512.
  std::map<std::string, std::string> librdkafka;
};

// unique_ptr for librdkafka's objects, each freed by its own destroy function.
template <auto Destroy>
struct KafkaDestroyer {
  template <typename T>
  void operator()(T* object) const {
    Destroy(object);
  }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDestroyer<rd_kafka_destroy>>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaDestroyer<rd_kafka_conf_destroy>>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t,
                                         KafkaDestroyer<rd_kafka_topic_partition_list_destroy>>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, KafkaDestroyer<rd_kafka_queue_destroy>>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, KafkaDestroyer<rd_kafka_message_destroy>>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, KafkaDestroyer<rd_kafka_event_destroy>>;

// A librdkafka configuration with the options applied and then `extra` (a component's own
// properties, e.g. acks). InvalidArgument naming the property and librdkafka's reason when one
// is refused.
Result<ConfPtr> NewConf(const ClientOptions& options,
                        const std::map<std::string, std::string>& extra);

// A client from a configuration (which it takes over). InvalidArgument with librdkafka's message.
Result<KafkaHandle> NewClient(rd_kafka_type_t type, ConfPtr conf);

// Milliseconds left until `deadline`, at least 0 (librdkafka takes its timeouts as int ms).
int RemainingMs(std::chrono::steady_clock::time_point deadline);

// Logs one of librdkafka's lines (`level` is syslog's) at spdlog's matching level, prefixed with
// `who`. Its info (6) is per-connection chatter and goes to debug.
void LogLibrdkafka(std::string_view who, int level, const char* facility, const char* line);

// The topic's partition count from the brokers' metadata: NotFound when the topic does not
// exist, Unavailable when no broker answered within timeout_ns.
Result<int32_t> TopicPartitions(rd_kafka_t* client, const std::string& topic, int64_t timeout_ns);

}  // namespace sluice::kafka
