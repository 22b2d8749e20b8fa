#include "kafka/client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace sluice::kafka {
namespace {

Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument("kafka setting " + name + ": " + err);
  }
  return Status::OK();
}

}  // namespace

Result<ConfPtr> NewConf(const ClientOptions& options,
                        const std::map<std::string, std::string>& extra) {
  ConfPtr conf(rd_kafka_conf_new());
  if (options.address.empty()) return Status::InvalidArgument("kafka_config.address is empty");
  SLUICE_RETURN_IF_ERROR(Set(conf.get(), "bootstrap.servers", options.address));
  if (!options.client_id.empty())
    SLUICE_RETURN_IF_ERROR(Set(conf.get(), "client.id", options.client_id));
  SLUICE_RETURN_IF_ERROR(
      Set(conf.get(), "socket.connection.setup.timeout.ms",
          std::to_string(std::max<int64_t>(1000, options.dial_timeout_ns / 1'000'000))));
  if (options.sasl_username.empty() != options.sasl_password.empty()) {
    return Status::InvalidArgument(
        "kafka_config.sasl_username and sasl_password must be set together");
  }
  if (!options.sasl_username.empty()) {
    SLUICE_RETURN_IF_ERROR(Set(conf.get(), "security.protocol", "SASL_PLAINTEXT"));
    SLUICE_RETURN_IF_ERROR(Set(conf.get(), "sasl.mechanism", "PLAIN"));
    SLUICE_RETURN_IF_ERROR(Set(conf.get(), "sasl.username", options.sasl_username));
    SLUICE_RETURN_IF_ERROR(Set(conf.get(), "sasl.password", options.sasl_password));
  }
  // The component's own properties, then the user's, which win (e.g. security.protocol=sasl_ssl).
  for (const auto& [name, value] : extra) SLUICE_RETURN_IF_ERROR(Set(conf.get(), name, value));
  for (const auto& [name, value] : options.librdkafka) {
    SLUICE_RETURN_IF_ERROR(Set(conf.get(), name, value));
  }
  return conf;
}

Result<KafkaHandle> NewClient(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) return Status::InvalidArgument(std::string("kafka client: ") + err);
  (void)conf.release();  // rd_kafka_new took it over
  return KafkaHandle(rk);
}

int RemainingMs(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

void LogLibrdkafka(std::string_view who, int level, const char* facility, const char* line) {
  if (level <= 3) {
    spdlog::error("msg=\"{}: librdkafka\" facility={} log=\"{}\"", who, facility, line);
  } else if (level == 4) {
    spdlog::warn("msg=\"{}: librdkafka\" facility={} log=\"{}\"", who, facility, line);
  } else if (level == 5) {
    spdlog::info("msg=\"{}: librdkafka\" facility={} log=\"{}\"", who, facility, line);
  } else {
    spdlog::debug("msg=\"{}: librdkafka\" facility={} log=\"{}\"", who, facility, line);
  }
}

Result<int32_t> TopicPartitions(rd_kafka_t* client, const std::string& topic, int64_t timeout_ns) {
  std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> handle(
      rd_kafka_topic_new(client, topic.c_str(), nullptr), &rd_kafka_topic_destroy);
  const rd_kafka_metadata_t* metadata = nullptr;
  const auto timeout_ms = static_cast<int>(std::max<int64_t>(1, timeout_ns / 1'000'000));
  rd_kafka_resp_err_t err = rd_kafka_metadata(client, 0, handle.get(), &metadata, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable("Kafka metadata for topic " + topic + ": " + rd_kafka_err2str(err));
  }
  Result<int32_t> out = Status::NotFound("Kafka topic " + topic + " does not exist");
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) {
      out = static_cast<int32_t>(t.partition_cnt);
    } else if (t.err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      out =
          Status::Unavailable("Kafka metadata for topic " + topic + ": " + rd_kafka_err2str(t.err));
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return out;
}

}  // namespace sluice::kafka
