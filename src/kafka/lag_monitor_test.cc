// The lag monitor against librdkafka's mock cluster in-process: records produced with a plain
// producer, offsets committed by a plain consumer of the group, lag read back by the monitor and
// from its metrics. Every wait is bounded.

#include "kafka/lag_monitor.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "testing/mock_kafka.h"
#include "testing/wait.h"

namespace sluice::kafka {
namespace {

constexpr char kTopic[] = "sluice-logs";

using testing::WaitUntil;

// What groups() returns, changeable while a monitor runs.
class Groups {
 public:
  void Set(std::vector<ConsumerGroupPartitions> groups) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    groups_ = std::move(groups);
  }
  std::vector<ConsumerGroupPartitions> Get() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return groups_;
  }
  std::function<std::vector<ConsumerGroupPartitions>()> Fn() {
    return [this] { return Get(); };
  }

 private:
  Mutex mu_;
  std::vector<ConsumerGroupPartitions> groups_ GUARDED_BY(mu_);
};

// (group, partition) -> the lag as Last() has it.
std::map<std::pair<std::string, int32_t>, GroupLag> ByKey(const std::vector<GroupLag>& lags) {
  std::map<std::pair<std::string, int32_t>, GroupLag> out;
  for (const GroupLag& l : lags) out[{l.group, l.partition}] = l;
  return out;
}

// The lag of (group, partition) in `lags`; partition -2 when absent.
GroupLag At(const std::map<std::pair<std::string, int32_t>, GroupLag>& lags,
            const std::string& group, int32_t partition) {
  auto it = lags.find({group, partition});
  return it != lags.end() ? it->second : GroupLag{group, -2, -2, -2, -2};
}

class LagMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kafka_.ok());
    ASSERT_TRUE(kafka_.CreateTopic(kTopic, 2));
    auto producer = testing::MockKafka::NewProducer(Client());
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(*producer);
  }

  ClientOptions Client() const {
    ClientOptions c;
    c.address = kafka_.bootstrap();
    c.librdkafka["log_level"] = "3";
    // Back quickly once the brokers are up again (librdkafka's default backs off up to 10 s).
    c.librdkafka["reconnect.backoff.ms"] = "50";
    c.librdkafka["reconnect.backoff.max.ms"] = "200";
    return c;
  }

  LagMonitorOptions Options(metrics::Registry* registry = nullptr) const {
    LagMonitorOptions o;
    o.client = Client();
    o.topic = kTopic;
    o.interval_ns = 100'000'000;
    o.request_timeout_ns = 1'000'000'000;
    o.registry = registry;
    return o;
  }

  void Produce(int32_t partition, int records) {
    for (int i = 0; i < records; ++i) {
      std::string value = "record " + std::to_string(i);
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(value.data(), value.size()),
          RD_KAFKA_V_END);
      ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    }
    ASSERT_EQ(rd_kafka_flush(producer_.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Commits `offsets` (partition -> next offset to read) for `group`, synchronously, as an
  // ingester's reader does.
  void Commit(const std::string& group, const std::map<int32_t, int64_t>& offsets) {
    auto conf = NewConf(Client(), {{"group.id", group}, {"enable.auto.commit", "false"}});
    ASSERT_TRUE(conf.ok()) << conf.status().ToString();
    auto consumer = NewClient(RD_KAFKA_CONSUMER, std::move(*conf));
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& [p, offset] : offsets) {
      rd_kafka_topic_partition_list_add(list, kTopic, p)->offset = offset;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer->get(), list, /*async=*/0);
    rd_kafka_topic_partition_list_destroy(list);
    EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    rd_kafka_consumer_close(consumer->get());
  }

  // The exposition of the newest family called `name` in the process's registry (only metrics.cc
  // makes a Registry, so every monitor with metrics registers there; the newest is this test's).
  static std::string NewestFamily(const std::string& name) {
    std::string text = metrics::DefaultRegistry().Expose();
    size_t at = text.rfind("# TYPE " + name + " ");
    if (at == std::string::npos) return {};
    size_t end = text.find("# HELP", at);
    return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
  }
  static std::string MetricName(const std::string& series) {
    return series.substr(0, series.find('{'));
  }
  // The value of a series of the newest family; NaN when absent.
  static double Value(const std::string& series) {
    std::string family = NewestFamily(MetricName(series));
    size_t at = family.find("\n" + series + " ");
    if (at == std::string::npos) return std::nan("");
    return std::stod(family.substr(at + series.size() + 2));
  }
  static bool Exposed(const std::string& series) {
    return NewestFamily(MetricName(series)).find("\n" + series + " ") != std::string::npos;
  }
  static std::string Series(const std::string& name, const std::string& group, int partition) {
    return name + "{group=\"" + group + "\",partition=\"" + std::to_string(partition) + "\"}";
  }

  testing::MockKafka kafka_{1};
  KafkaHandle producer_;
};

TEST_F(LagMonitorTest, LagIsProducedMinusCommittedAndShrinksWithCommits) {
  Produce(0, 10);
  Produce(1, 7);
  Commit("ingester-1", {{0, 4}, {1, 7}});

  Groups groups;
  groups.Set({{"ingester-1", {0, 1}}});
  LagMonitor monitor(Options(), groups.Fn());
  Status s = monitor.Refresh();
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto lags = ByKey(monitor.Last());
  ASSERT_EQ(lags.size(), 2u);
  EXPECT_EQ(At(lags, "ingester-1", 0).committed, 4);
  EXPECT_EQ(At(lags, "ingester-1", 0).high_watermark, 10);
  EXPECT_EQ(At(lags, "ingester-1", 0).lag_records, 6);
  EXPECT_EQ(At(lags, "ingester-1", 1).committed, 7);
  EXPECT_EQ(At(lags, "ingester-1", 1).high_watermark, 7);
  EXPECT_EQ(At(lags, "ingester-1", 1).lag_records, 0);

  // More records: the lag grows; the group catches up: it falls to 0.
  Produce(1, 5);
  ASSERT_TRUE(monitor.Refresh().ok());
  lags = ByKey(monitor.Last());
  EXPECT_EQ(At(lags, "ingester-1", 1).lag_records, 5);
  Commit("ingester-1", {{0, 10}, {1, 12}});
  ASSERT_TRUE(monitor.Refresh().ok());
  lags = ByKey(monitor.Last());
  EXPECT_EQ(At(lags, "ingester-1", 0).committed, 10);
  EXPECT_EQ(At(lags, "ingester-1", 0).lag_records, 0);
  EXPECT_EQ(At(lags, "ingester-1", 1).committed, 12);
  EXPECT_EQ(At(lags, "ingester-1", 1).lag_records, 0);
}

TEST_F(LagMonitorTest, GroupWithoutCommitsLagsByEverythingRetained) {
  Produce(0, 3);
  Produce(1, 8);
  Commit("ingester-1", {{0, 3}});
  Groups groups;
  // ingester-1 committed partition 0 only; ingester-2 never committed; one group per partition
  // (kafka_config.consumer_group "ingester-<partition>") works the same.
  groups.Set({{"ingester-1", {0, 1}}, {"ingester-2", {0, 1}}});
  LagMonitor monitor(Options(), groups.Fn());
  ASSERT_TRUE(monitor.Refresh().ok());
  auto lags = ByKey(monitor.Last());
  ASSERT_EQ(lags.size(), 4u);
  EXPECT_EQ(At(lags, "ingester-1", 0).lag_records, 0);
  EXPECT_EQ(At(lags, "ingester-1", 1).committed, -1);
  EXPECT_EQ(At(lags, "ingester-1", 1).lag_records, 8);
  EXPECT_EQ(At(lags, "ingester-2", 0).committed, -1);
  EXPECT_EQ(At(lags, "ingester-2", 0).lag_records, 3);
  EXPECT_EQ(At(lags, "ingester-2", 1).lag_records, 8);
}

TEST_F(LagMonitorTest, MetricsShowTheLagAndDropGroupsNoLongerReturned) {
  // Group names of this run only: the process's registry keeps the series of earlier monitors
  // (--gtest_repeat), which would answer for groups this monitor dropped.
  static int run = 0;
  const std::string a = "metrics-" + std::to_string(++run) + "-a";
  const std::string b = "metrics-" + std::to_string(run) + "-b";
  Produce(0, 10);
  Produce(1, 6);
  Commit(a, {{0, 2}, {1, 6}});
  Groups groups;
  groups.Set({{a, {0, 1}}, {b, {1}}});
  LagMonitor monitor(Options(&metrics::DefaultRegistry()), groups.Fn());
  ASSERT_TRUE(monitor.Refresh().ok());

  const std::string lag = "sluice_kafka_consumer_group_lag_records";
  const std::string committed = "sluice_kafka_consumer_group_committed_offset";
  EXPECT_EQ(Value(Series(lag, a, 0)), 8);
  EXPECT_EQ(Value(Series(lag, a, 1)), 0);
  EXPECT_EQ(Value(Series(lag, b, 1)), 6);
  EXPECT_EQ(Value(Series(committed, a, 0)), 2);
  EXPECT_EQ(Value(Series(committed, b, 1)), -1);
  EXPECT_EQ(Value(R"(sluice_kafka_partition_high_watermark{partition="0"})"), 10);
  EXPECT_EQ(Value(R"(sluice_kafka_partition_high_watermark{partition="1"})"), 6);

  // a no longer consumes partition 1 and b left the ring: their series go, the rest stay.
  groups.Set({{a, {0}}});
  Commit(a, {{0, 9}});
  ASSERT_TRUE(monitor.Refresh().ok());
  EXPECT_EQ(Value(Series(lag, a, 0)), 1);
  EXPECT_EQ(Value(Series(committed, a, 0)), 9);
  EXPECT_FALSE(Exposed(Series(lag, a, 1)));
  EXPECT_FALSE(Exposed(Series(lag, b, 1)));
  EXPECT_FALSE(Exposed(Series(committed, b, 1)));
  EXPECT_FALSE(Exposed(R"(sluice_kafka_partition_high_watermark{partition="1"})"));
}

TEST_F(LagMonitorTest, KafkaDownIsUnavailableWithinTheTimeoutAndTheThreadCarriesOn) {
  Produce(0, 4);
  Produce(1, 4);
  Commit("ingester-1", {{0, 1}, {1, 2}});
  Groups groups;
  groups.Set({{"ingester-1", {0, 1}}});
  LagMonitor monitor(Options(&metrics::DefaultRegistry()), groups.Fn());
  ASSERT_TRUE(monitor.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return monitor.Last().size() == 2; }));
  const double errors_before = Value("sluice_kafka_lag_monitor_errors_total");
  ASSERT_EQ(errors_before, 0);

  kafka_.SetAllBrokers(false);
  auto t0 = std::chrono::steady_clock::now();
  Status s = monitor.Refresh();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  // request_timeout is 1 s; Refresh may first wait for the thread's round in progress (at most as
  // long again).
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  EXPECT_GT(Value("sluice_kafka_lag_monitor_errors_total"), errors_before);
  // The gauges keep their last known values while Kafka does not answer.
  EXPECT_EQ(Value(R"(sluice_kafka_consumer_group_lag_records{group="ingester-1",partition="0"})"),
            3);

  // The thread's own rounds fail too, and it keeps going.
  const double errors_after_refresh = Value("sluice_kafka_lag_monitor_errors_total");
  EXPECT_TRUE(WaitUntil(
      [&] { return Value("sluice_kafka_lag_monitor_errors_total") > errors_after_refresh; },
      std::chrono::seconds(5)));

  kafka_.SetAllBrokers(true);
  ASSERT_TRUE(WaitUntil([&] { return monitor.Refresh().ok(); }, std::chrono::seconds(10)));
  // The thread survived the outage: it picks up new records by itself.
  Produce(0, 6);
  EXPECT_TRUE(WaitUntil([&] {
    auto lags = ByKey(monitor.Last());
    auto it = lags.find({"ingester-1", 0});
    return it != lags.end() && it->second.lag_records == 9;
  }));
  monitor.Stop();
}

TEST_F(LagMonitorTest, StartRefusesABadConfigurationAndStopIsIdempotent) {
  LagMonitorOptions options = Options();
  options.client.librdkafka["no.such.property"] = "1";
  LagMonitor bad(options, [] { return std::vector<ConsumerGroupPartitions>{}; });
  EXPECT_EQ(bad.Start().code(), StatusCode::kInvalidArgument);
  bad.Stop();

  LagMonitor monitor(Options(), [] { return std::vector<ConsumerGroupPartitions>{}; });
  ASSERT_TRUE(monitor.Start().ok());
  ASSERT_TRUE(monitor.Refresh().ok());
  EXPECT_TRUE(monitor.Last().empty());
  monitor.Stop();
  monitor.Stop();
}

}  // namespace
}  // namespace sluice::kafka
