// The record encoding through real Kafka clients: librdkafka's mock cluster (what
// sluice-kafka-testbroker runs) in-process (testing::MockKafka), an idempotent acks=all producer,
// and a consumer reading the records back, which must decode to what was produced. Bounded in time:
// every wait has a deadline.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kafka/client.h"
#include "kafka/record.h"
#include "testing/mock_kafka.h"

namespace sluice::kafka {
namespace {

// A client of the mock cluster with these librdkafka properties (null, and a failure, if refused).
KafkaHandle NewTestClient(rd_kafka_type_t type, const std::string& bootstrap,
                          const std::map<std::string, std::string>& settings) {
  ClientOptions client;
  client.address = bootstrap;
  auto conf = NewConf(client, settings);
  auto handle = conf.ok() ? NewClient(type, std::move(*conf)) : Result<KafkaHandle>(conf.status());
  if (!handle.ok()) {
    ADD_FAILURE() << handle.status().ToString();
    return nullptr;
  }
  return std::move(*handle);
}

TEST(KafkaTestBroker, RecordsRoundTripThroughMockCluster) {
  constexpr int kPartitions = 4;
  const char* kTopic = "sluice-logs";
  testing::MockKafka kafka(3);
  ASSERT_TRUE(kafka.ok());
  ASSERT_TRUE(kafka.CreateTopic(kTopic, kPartitions));
  const std::string bootstrap = kafka.bootstrap();
  ASSERT_EQ(bootstrap.rfind("127.0.0.1:", 0), 0u) << bootstrap;

  // Records of several streams: each goes to its stream's partition.
  std::vector<StreamRecord> sent;
  for (int s = 0; s < 12; ++s) {
    StreamRecord r;
    r.tenant = s % 2 ? "tenant-a" : "tenant-ü";
    r.labels = R"({app="app-)" + std::to_string(s) + R"("})";
    for (int i = 0; i < 5; ++i) {
      r.entries.push_back({1700000000000000000 + s * 1000 + i, "line " + std::to_string(i) + " ✓",
                           i % 2 ? std::vector<model::Label>{{"trace_id", std::to_string(i)}}
                                 : std::vector<model::Label>{}});
    }
    sent.push_back(std::move(r));
  }

  KafkaHandle producer = NewTestClient(RD_KAFKA_PRODUCER, bootstrap,
                                       {{"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        {"linger.ms", "5"},
                                        {"message.timeout.ms", "20000"}});
  ASSERT_NE(producer, nullptr);
  for (const StreamRecord& r : sent) {
    std::string value = EncodeStreamRecord(r);
    std::string key = RecordKey(r.tenant, r.labels);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer.get(), RD_KAFKA_V_TOPIC(kTopic),
        RD_KAFKA_V_PARTITION(PartitionFor(r.tenant, r.labels, kPartitions)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_END);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  }
  // flush returns OK only once every record is acknowledged (acks=all) or failed.
  ASSERT_EQ(rd_kafka_flush(producer.get(), 20000), RD_KAFKA_RESP_ERR_NO_ERROR);

  KafkaHandle consumer = NewTestClient(RD_KAFKA_CONSUMER, bootstrap,
                                       {{"group.id", "sluice-test"},
                                        {"enable.auto.commit", "false"},
                                        {"auto.offset.reset", "earliest"}});
  ASSERT_NE(consumer, nullptr);
  rd_kafka_poll_set_consumer(consumer.get());
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, kTopic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  ASSERT_EQ(rd_kafka_assign(consumer.get(), parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);

  std::map<std::string, StreamRecord> got;  // by key
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (got.size() < sent.size() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string key(static_cast<const char*>(m->key), m->key_len);
      Result<StreamRecord> rec = DecodeStreamRecord({static_cast<const char*>(m->payload), m->len});
      EXPECT_TRUE(rec.ok()) << rec.status().ToString();
      if (rec.ok()) {
        EXPECT_EQ(key, RecordKey(rec->tenant, rec->labels));
        EXPECT_EQ(m->partition, PartitionFor(rec->tenant, rec->labels, kPartitions));
        EXPECT_TRUE(got.emplace(key, std::move(*rec)).second) << "duplicate record " << key;
      }
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ADD_FAILURE() << rd_kafka_message_errstr(m);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  ASSERT_EQ(got.size(), sent.size());
  for (const StreamRecord& r : sent) {
    auto it = got.find(RecordKey(r.tenant, r.labels));
    ASSERT_NE(it, got.end());
    EXPECT_EQ(it->second, r);
  }
  consumer.reset();
  producer.reset();
}

}  // namespace
}  // namespace sluice::kafka
