#pragma once

// librdkafka's mock Kafka cluster in the test's process (what sluice-kafka-testbroker runs as a
// program): real Kafka protocol on 127.0.0.1 ports, with brokers that can be taken down and
// brought back for outage tests.
//
//   testing::MockKafka kafka(/*brokers=*/3);
//   ASSERT_TRUE(kafka.CreateTopic("sluice-logs", 4));
//   options.client.address = kafka.bootstrap();

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>
#include <utility>

#include "kafka/client.h"

namespace sluice::testing {

class MockKafka {
 public:
  explicit MockKafka(int brokers = 1) : brokers_(brokers) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (host_ == nullptr) {
      ADD_FAILURE() << "mock kafka host: " << err;
      rd_kafka_conf_destroy(conf);
      return;
    }
    cluster_ = rd_kafka_mock_cluster_new(host_, brokers);
    if (cluster_ == nullptr) ADD_FAILURE() << "rd_kafka_mock_cluster_new failed";
  }
  ~MockKafka() {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (host_ != nullptr) rd_kafka_destroy(host_);
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  bool ok() const { return cluster_ != nullptr; }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  int brokers() const { return brokers_; }

  // A topic replicated to every broker (at most 3), so acks=all waits for real replicas.
  bool CreateTopic(const std::string& topic, int partitions) {
    return rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions,
                                      brokers_ < 3 ? brokers_ : 3) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  // Broker ids are 1..brokers. A down broker closes its connections and refuses new ones.
  bool SetBrokerDown(int32_t broker) {
    return rd_kafka_mock_broker_set_down(cluster_, broker) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  bool SetBrokerUp(int32_t broker) {
    return rd_kafka_mock_broker_set_up(cluster_, broker) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  void SetAllBrokers(bool up) {
    for (int32_t b = 1; b <= brokers_; ++b) up ? SetBrokerUp(b) : SetBrokerDown(b);
  }
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

  // A producer for records a test writes itself (acks=all, linger 1 ms), with `client`'s settings.
  static Result<kafka::KafkaHandle> NewProducer(const kafka::ClientOptions& client) {
    SLUICE_ASSIGN_OR_RETURN(kafka::ConfPtr conf,
                            kafka::NewConf(client, {{"acks", "all"}, {"linger.ms", "1"}}));
    return kafka::NewClient(RD_KAFKA_PRODUCER, std::move(conf));
  }

 private:
  int brokers_;
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

}  // namespace sluice::testing
