// KafkaPusher against librdkafka's mock cluster in-process (testing::MockKafka): what it produces
// is read back with a plain consumer and decoded. Every wait is bounded.

#include "kafka/producer.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kafka/record.h"
#include "model/labels.h"
#include "testing/mock_kafka.h"

namespace sluice::kafka {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kSecond = 1'000'000'000;
const char* kTopic = "sluice-logs";

// A stream with owned entries, and the ValidatedStream view of it Push takes.
struct TestStream {
  std::string labels;
  std::vector<model::Entry> entries;

  write::ValidatedStream View() const {
    write::ValidatedStream vs;
    Result<model::LabelSet> parsed = model::ParseLabels(labels);
    EXPECT_TRUE(parsed.ok()) << labels;
    vs.labels = write::StreamLabels::Make(std::move(*parsed));
    for (const model::Entry& e : entries) {
      vs.entries.push_back(model::EntryView::Of(e));
    }
    return vs;
  }
};

TestStream MakeStream(const std::string& app, int n, size_t line_size = 20, int64_t base = 0) {
  TestStream s;
  s.labels = R"({app=")" + app + R"("})";
  for (int i = 0; i < n; ++i) {
    std::string line = app + " line " + std::to_string(i) + " ";
    line.resize(std::max(line.size(), line_size), 'x');
    s.entries.push_back({1700000000000000000 + base + i, line,
                         i % 3 == 0 ? std::vector<model::Label>{{"trace_id", std::to_string(i)}}
                                    : std::vector<model::Label>{}});
  }
  return s;
}

Status Push(KafkaPusher& pusher, std::string_view tenant, const std::vector<TestStream>& streams) {
  std::vector<write::ValidatedStream> views;
  for (const TestStream& s : streams) {
    views.push_back(s.View());
  }
  return pusher.Push(tenant, views);
}

ProducerOptions Options(const testing::MockKafka& kafka) {
  ProducerOptions o;
  o.client.address = kafka.bootstrap();
  o.topic = kTopic;
  o.write_timeout_ns = 5 * kSecond;
  o.linger_ns = 2'000'000;
  return o;
}

std::unique_ptr<KafkaPusher> NewPusher(ProducerOptions options) {
  Result<std::unique_ptr<KafkaPusher>> p = KafkaPusher::Create(std::move(options), nullptr);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(*p) : nullptr;
}

struct Read {
  int32_t partition;
  std::string key;
  size_t size;
  StreamRecord record;
};

// Every record of the topic, in partition order then offset order: reads each partition from
// the beginning until its end (partition EOF), at most 20 s.
std::vector<Read> ReadAll(const std::string& bootstrap, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"bootstrap.servers", bootstrap},
           {"group.id", "sluice-producer-test"},
           {"enable.auto.commit", "false"},
           {"enable.partition.eof", "true"},
           {"log_level", "3"},
       }) {
    EXPECT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)), RD_KAFKA_CONF_OK)
        << k << ": " << err;
  }
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)));
  EXPECT_NE(consumer, nullptr) << err;
  if (consumer == nullptr) {
    return {};
  }
  rd_kafka_poll_set_consumer(consumer.get());
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, kTopic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  EXPECT_EQ(rd_kafka_assign(consumer.get(), parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);

  std::map<int32_t, std::vector<Read>> by_partition;
  std::vector<bool> at_end(partitions, false);
  int ended = 0;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (ended < partitions && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
    if (m == nullptr) {
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (!at_end[m->partition]) {
        at_end[m->partition] = true;
        ++ended;
      }
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ADD_FAILURE() << rd_kafka_message_errstr(m);
    } else {
      Result<StreamRecord> rec = DecodeStreamRecord({static_cast<const char*>(m->payload), m->len});
      EXPECT_TRUE(rec.ok()) << rec.status().ToString();
      if (rec.ok()) {
        by_partition[m->partition].push_back(
            {m->partition, std::string(static_cast<const char*>(m->key), m->key_len), m->len,
             std::move(*rec)});
      }
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(ended, partitions) << "did not reach the end of every partition";
  rd_kafka_consumer_close(consumer.get());
  std::vector<Read> out;
  for (auto& [p, reads] : by_partition) {
    for (Read& r : reads) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

// Each stream's entries as read back (records of a stream concatenated in offset order), checking
// every record's partition and key on the way.
std::map<std::string, std::vector<model::Entry>> Reassemble(const std::vector<Read>& reads,
                                                            const std::string& tenant,
                                                            int partitions) {
  std::map<std::string, std::vector<model::Entry>> out;
  for (const Read& r : reads) {
    EXPECT_EQ(r.record.tenant, tenant);
    EXPECT_EQ(r.key, RecordKey(r.record.tenant, r.record.labels));
    EXPECT_EQ(r.partition, PartitionFor(r.record.tenant, r.record.labels, partitions));
    auto& entries = out[r.record.labels];
    entries.insert(entries.end(), r.record.entries.begin(), r.record.entries.end());
  }
  return out;
}

// A series' value in the process registry's exposition (only metrics.cc can make a Registry, so
// the test registers on the process's): the last family of that name is this test's pusher's.
double MetricValue(const std::string& exposition, const std::string& series) {
  const std::string line = "\n" + series + " ";
  size_t pos = exposition.rfind(line);
  if (pos == std::string::npos) {
    return -1;
  }
  return std::stod(exposition.substr(pos + line.size()));
}

TEST(KafkaPusher, RecordsLandInTheirStreamsPartitionInOrder) {
  constexpr int kPartitions = 4;
  testing::MockKafka kafka(3);
  ASSERT_TRUE(kafka.ok());
  ASSERT_TRUE(kafka.CreateTopic(kTopic, kPartitions));
  ProducerOptions options = Options(kafka);
  options.registry = &metrics::DefaultRegistry();
  options.max_buffered_bytes = 4 << 20;
  std::unique_ptr<KafkaPusher> pusher = NewPusher(options);
  ASSERT_NE(pusher, nullptr);
  ASSERT_TRUE(pusher->WaitForTopic(10 * kSecond).ok());
  EXPECT_EQ(pusher->partitions(), kPartitions);

  // Two requests over the same streams: the second's entries follow the first's.
  std::map<std::string, std::vector<model::Entry>> want;
  int records = 0;
  for (int round = 0; round < 2; ++round) {
    std::vector<TestStream> streams;
    for (int s = 0; s < 8; ++s) {
      streams.push_back(MakeStream("app-" + std::to_string(s), 5 + s, 30, round * 1000));
    }
    Status st = Push(*pusher, "tenant-a", streams);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (const TestStream& s : streams) {
      auto& w = want[s.labels];
      w.insert(w.end(), s.entries.begin(), s.entries.end());
      ++records;
    }
  }
  // A stream without entries produces nothing.
  ASSERT_TRUE(Push(*pusher, "tenant-a", {TestStream{R"({app="empty"})", {}}}).ok());

  std::vector<Read> reads = ReadAll(kafka.bootstrap(), kPartitions);
  EXPECT_EQ(reads.size(), static_cast<size_t>(records));
  EXPECT_EQ(Reassemble(reads, "tenant-a", kPartitions), want);

  std::string exposition = metrics::DefaultRegistry().Expose();
  double appended = 0;
  for (int p = 0; p < kPartitions; ++p) {
    double v = MetricValue(exposition, R"(loki_distributor_kafka_appends_total{partition=")" +
                                           std::to_string(p) + R"(",status="success"})");
    if (v > 0) {
      appended += v;
    }
  }
  EXPECT_EQ(appended, records);
  EXPECT_EQ(MetricValue(exposition, "loki_kafka_client_produce_requests_total"), records);
  EXPECT_EQ(MetricValue(exposition, "loki_kafka_client_buffered_produce_bytes_limit"), 4 << 20);
  EXPECT_EQ(MetricValue(exposition, "loki_distributor_kafka_latency_seconds_count"), 2);
  // Observed per stream (one record each here).
  EXPECT_EQ(MetricValue(exposition, "loki_distributor_kafka_records_per_write_request_sum"),
            records);
  EXPECT_EQ(MetricValue(exposition, "loki_distributor_kafka_records_per_write_request_count"),
            records);
}

TEST(KafkaPusher, SplitsLargeBatchesAndRefusesOversizedEntries) {
  constexpr int kPartitions = 2;
  constexpr uint64_t kMaxRecord = 2048;
  testing::MockKafka kafka(1);
  ASSERT_TRUE(kafka.ok());
  ASSERT_TRUE(kafka.CreateTopic(kTopic, kPartitions));
  ProducerOptions options = Options(kafka);
  options.max_record_size_bytes = kMaxRecord;
  std::unique_ptr<KafkaPusher> pusher = NewPusher(options);
  ASSERT_NE(pusher, nullptr);
  ASSERT_TRUE(pusher->WaitForTopic(10 * kSecond).ok());

  TestStream big = MakeStream("big", 300, 100);
  TestStream small = MakeStream("small", 3);
  TestStream oversized = MakeStream("oversized", 3);
  oversized.entries[1].line.assign(kMaxRecord, 'y');
  Status st = Push(*pusher, "t", {big, oversized, small});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find(R"({app="oversized"})"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("2048"), std::string::npos) << st.message();

  std::vector<Read> reads = ReadAll(kafka.bootstrap(), kPartitions);
  size_t big_records = 0;
  for (const Read& r : reads) {
    EXPECT_LE(r.size, kMaxRecord);
    if (r.record.labels == big.labels) {
      ++big_records;
    }
  }
  // 300 entries of ~110 bytes in records of at most 2 KiB: at least 17 records, and not many
  // more (each record is filled up).
  EXPECT_GE(big_records, 17u);
  EXPECT_LE(big_records, 20u);
  std::map<std::string, std::vector<model::Entry>> got = Reassemble(reads, "t", kPartitions);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got[big.labels], big.entries);
  EXPECT_EQ(got[small.labels], small.entries);
  EXPECT_EQ(got.count(oversized.labels), 0u);
}

TEST(KafkaPusher, FailsFastDuringAnOutageAndRecovers) {
  constexpr int kPartitions = 2;
  testing::MockKafka kafka(3);
  ASSERT_TRUE(kafka.ok());
  ASSERT_TRUE(kafka.CreateTopic(kTopic, kPartitions));
  ProducerOptions options = Options(kafka);
  options.write_timeout_ns = kSecond;
  std::unique_ptr<KafkaPusher> pusher = NewPusher(options);
  ASSERT_NE(pusher, nullptr);
  ASSERT_TRUE(pusher->WaitForTopic(10 * kSecond).ok());

  // One stream per push (app-<n>), so what was acknowledged can be counted in Kafka.
  int next = 0;
  std::vector<std::string> acked;
  std::vector<std::string> all;
  auto push_one = [&]() {
    TestStream s = MakeStream("app-" + std::to_string(next++), 4);
    all.push_back(s.labels);
    Status st = Push(*pusher, "t", {s});
    if (st.ok()) {
      acked.push_back(s.labels);
    }
    return st;
  };
  ASSERT_TRUE(push_one().ok());

  kafka.SetAllBrokers(false);
  auto start = Clock::now();
  Status st = push_one();
  auto took = Clock::now() - start;
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("Kafka write failed"), std::string::npos) << st.message();
  EXPECT_LT(took, std::chrono::milliseconds(2500));

  // Known down: answered at once.
  for (int i = 0; i < 3; ++i) {
    start = Clock::now();
    st = push_one();
    took = Clock::now() - start;
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
    EXPECT_LT(took, std::chrono::milliseconds(100)) << st.ToString();
  }

  kafka.SetAllBrokers(true);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  bool recovered = false;
  while (!recovered && Clock::now() < deadline) {
    recovered = push_one().ok();
    if (!recovered) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(recovered) << "pushes still fail 10 s after the brokers came back";
  for (int i = 0; i < 3; ++i) {
    st = push_one();
    EXPECT_TRUE(st.ok()) << st.ToString();
  }

  std::map<std::string, int> copies;
  for (const Read& r : ReadAll(kafka.bootstrap(), kPartitions)) {
    ++copies[r.record.labels];
  }
  for (const std::string& labels : acked) {
    EXPECT_EQ(copies[labels], 1) << labels;
  }
  for (const std::string& labels : all) {
    EXPECT_LE(copies[labels], 1) << labels;
  }
}

TEST(KafkaPusher, FullBufferIsRateLimited) {
  testing::MockKafka kafka(1);
  ASSERT_TRUE(kafka.ok());
  ASSERT_TRUE(kafka.CreateTopic(kTopic, 1));
  ProducerOptions options = Options(kafka);
  options.write_timeout_ns = 2 * kSecond;
  options.max_buffered_bytes = 1024;
  options.max_record_size_bytes = 1024;
  std::unique_ptr<KafkaPusher> pusher = NewPusher(options);
  ASSERT_NE(pusher, nullptr);
  ASSERT_TRUE(pusher->WaitForTopic(10 * kSecond).ok());

  kafka.SetAllBrokers(false);
  // Records of ~600 bytes: the second of a request does not fit beside the first. The first
  // request may already meet the outage breaker (503 at once); its probe a second later reaches
  // the buffer.
  Status st;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    st = Push(*pusher, "t", {MakeStream("a", 1, 600), MakeStream("b", 1, 600)});
    if (st.code() != StatusCode::kUnavailable) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(st.code(), StatusCode::kRateLimited) << st.ToString();
  EXPECT_NE(st.message().find("producer_max_buffered_bytes 1024"), std::string::npos)
      << st.message();
  kafka.SetAllBrokers(true);
}

// librdkafka 2.0.2's mock cluster answers Metadata v2 only (no AllowAutoTopicCreation: it creates
// any topic asked about, with 4 partitions) and does not implement CreateTopics. So a missing
// topic is simulated with a topic error, and creation itself is seen failing: the pusher answers
// 503 with the reason, keeps retrying every second, and picks the topic up once it exists.
TEST(KafkaPusher, MissingTopicIsUnavailableUntilItExists) {
  for (bool auto_create : {true, false}) {
    SCOPED_TRACE(auto_create ? "auto-create" : "no auto-create");
    testing::MockKafka kafka(1);
    ASSERT_TRUE(kafka.ok());
    rd_kafka_mock_topic_set_error(kafka.cluster(), kTopic, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    ProducerOptions options = Options(kafka);
    options.auto_create_topic_enabled = auto_create;
    options.auto_create_topic_default_partitions = 3;
    options.write_timeout_ns = kSecond;  // also bounds the metadata and CreateTopics requests
    std::unique_ptr<KafkaPusher> pusher = NewPusher(options);
    ASSERT_NE(pusher, nullptr);
    Status st = pusher->WaitForTopic(kSecond / 2);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
    EXPECT_EQ(pusher->partitions(), 0);
    // Creation fails after the admin request's timeout (about write_timeout).
    auto deadline = Clock::now() + std::chrono::seconds(4);
    do {
      st = Push(*pusher, "t", {MakeStream("app", 1)});
      if (!auto_create || st.message().find("creating it failed") != std::string::npos) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (Clock::now() < deadline);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
    EXPECT_NE(st.message().find("Kafka topic sluice-logs is not available yet: "),
              std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find(auto_create ? "creating it failed" : "does not exist"),
              std::string::npos)
        << st.message();

    // (set_error made the mock create the topic, with its default partitions.)
    rd_kafka_mock_topic_set_error(kafka.cluster(), kTopic, RD_KAFKA_RESP_ERR_NO_ERROR);
    st = pusher->WaitForTopic(5 * kSecond);
    ASSERT_TRUE(st.ok()) << st.ToString();
    int32_t partitions = pusher->partitions();
    EXPECT_GT(partitions, 0);
    TestStream s = MakeStream("app", 3);
    st = Push(*pusher, "t", {s});
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<Read> reads = ReadAll(kafka.bootstrap(), partitions);
    ASSERT_EQ(reads.size(), 1u);
    EXPECT_EQ(reads[0].record.entries, s.entries);
  }
}

TEST(KafkaPusher, RefusesBadOptions) {
  ProducerOptions options;
  options.topic = "";
  EXPECT_EQ(KafkaPusher::Create(options, nullptr).status().code(), StatusCode::kInvalidArgument);
  options.topic = kTopic;
  options.max_record_size_bytes = 10;
  EXPECT_EQ(KafkaPusher::Create(options, nullptr).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::kafka
