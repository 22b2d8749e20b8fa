#include "main/kafka.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "common/strings.h"
#include "metrics/metrics.h"

namespace sluice {

kafka::ClientOptions KafkaClientOptionsFrom(const config::Config& config) {
  const auto& k = config.kafka_config;
  kafka::ClientOptions o;
  o.address = k.address;
  o.client_id = k.client_id;
  o.dial_timeout_ns = k.dial_timeout;
  o.sasl_username = k.sasl_username;
  o.sasl_password = k.sasl_password;
  o.librdkafka = k.librdkafka;
  return o;
}

kafka::ProducerOptions KafkaProducerOptionsFrom(const config::Config& config) {
  const auto& k = config.kafka_config;
  kafka::ProducerOptions o;
  o.client = KafkaClientOptionsFrom(config);
  o.topic = k.topic;
  o.write_timeout_ns = k.write_timeout;
  o.max_record_size_bytes = k.producer_max_record_size_bytes;
  o.max_buffered_bytes = k.producer_max_buffered_bytes;
  o.linger_ns = k.producer_linger;
  o.auto_create_topic_enabled = k.auto_create_topic_enabled;
  o.auto_create_topic_default_partitions = k.auto_create_topic_default_partitions;
  o.registry = &metrics::DefaultRegistry();
  return o;
}

Result<std::vector<int32_t>> OwnedPartitions(const config::Config& config,
                                             const std::string& instance_id,
                                             int32_t topic_partitions) {
  std::string spec = config.ingester.kafka_ingestion.partitions;
  std::vector<int32_t> out;
  if (spec.empty() && config.targets.all) spec = "all";
  if (spec == "all") {
    if (topic_partitions <= 0) {
      return Status::Unavailable("the partition count of Kafka topic " + config.kafka_config.topic +
                                 " is not known yet");
    }
    for (int32_t p = 0; p < topic_partitions; ++p) out.push_back(p);
    return out;
  }
  if (spec.empty()) {
    // Loki's rule (ingester-zone-a-3 owns partition 3).
    size_t digits = instance_id.size();
    while (digits > 0 && std::isdigit(static_cast<unsigned char>(instance_id[digits - 1]))) {
      --digits;
    }
    if (digits == instance_id.size() || instance_id.size() - digits > 9) {
      return Status::InvalidArgument(fmt::format(
          "ingester.kafka_ingestion.partitions is not set and the instance id \"{}\" does not "
          "end in a partition number (as ingester-3 does): set one of them",
          instance_id));
    }
    out.push_back(std::stoi(instance_id.substr(digits)));
  } else {
    for (std::string_view item : SplitCommaList(spec)) {
      int32_t p = -1;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), p);
      if (ec != std::errc() || end != item.data() + item.size()) p = -1;
      if (p < 0) {
        return Status::InvalidArgument(fmt::format(
            "ingester.kafka_ingestion.partitions: \"{}\" is not a partition number", item));
      }
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (topic_partitions > 0 && !out.empty() && out.back() >= topic_partitions) {
    return Status::InvalidArgument(
        fmt::format("ingester.kafka_ingestion.partitions: partition {} does not exist: Kafka "
                    "topic {} has {} partitions",
                    out.back(), config.kafka_config.topic, topic_partitions));
  }
  if (out.empty()) return Status::InvalidArgument("ingester.kafka_ingestion.partitions is empty");
  return out;
}

kafka::ReaderOptions KafkaReaderOptionsFrom(const config::Config& config,
                                            const std::string& instance_id,
                                            std::vector<int32_t> partitions) {
  const auto& k = config.kafka_config;
  kafka::ReaderOptions o;
  o.client = KafkaClientOptionsFrom(config);
  o.topic = k.topic;
  o.consumer_group = k.consumer_group.empty() ? instance_id : k.consumer_group;
  o.partitions = std::move(partitions);
  o.commit_interval_ns = k.consumer_group_offset_commit_interval;
  o.max_consumer_lag_at_startup_ns = k.max_consumer_lag_at_startup;
  // With the WAL a push is durable when it returns; without it, once a checkpoint holds it.
  o.durable_on_push = config.ingester.wal.enabled;
  o.registry = &metrics::DefaultRegistry();
  return o;
}

kafka::LagMonitorOptions KafkaLagMonitorOptionsFrom(const config::Config& config) {
  kafka::LagMonitorOptions o;
  o.client = KafkaClientOptionsFrom(config);
  o.topic = config.kafka_config.topic;
  // Often enough that a stopped consumer shows within seconds; one offset request per group.
  o.interval_ns = 2 * kNanosPerSecond;
  o.request_timeout_ns = std::max<int64_t>(config.kafka_config.dial_timeout, kNanosPerSecond);
  o.registry = &metrics::DefaultRegistry();
  return o;
}

std::vector<kafka::ConsumerGroupPartitions> ConsumerGroupsOf(const config::Config& config,
                                                             const ring::Ring& ring) {
  std::map<std::string, std::vector<int32_t>> groups;
  for (const auto& [id, instance] : ring.Snapshot().instances) {
    const std::string& pattern =
        config.kafka_config.consumer_group.empty() ? id : config.kafka_config.consumer_group;
    for (int32_t p : instance.partitions) groups[kafka::ConsumerGroupFor(pattern, p)].push_back(p);
  }
  std::vector<kafka::ConsumerGroupPartitions> out;
  for (auto& [group, partitions] : groups) out.push_back({group, std::move(partitions)});
  return out;
}

}  // namespace sluice
