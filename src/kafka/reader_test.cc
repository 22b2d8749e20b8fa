// The partition reader against librdkafka's mock cluster in-process: records produced with a
// plain producer, read into a recording write::Pusher or a real ingester, offsets checked with a
// separate consumer of the same group. Every wait is bounded.

#include "kafka/reader.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <climits>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "config/overrides.h"
#include "ingester/ingester.h"
#include "ingester/test_util.h"
#include "kafka/record.h"
#include "storage/index/index_writer.h"
#include "storage/test_util.h"
#include "testing/fake_clock.h"
#include "testing/mock_kafka.h"
#include "testing/wait.h"

namespace sluice::kafka {
namespace {

constexpr char kTopic[] = "sluice-logs";
constexpr int64_t kSecond = 1'000'000'000;

using testing::WaitUntil;

// What the pusher received, flattened: one row per entry, in push order.
struct Row {
  std::string tenant;
  std::string labels;
  int64_t ts = 0;
  std::string line;
};

// A write::Pusher that stores what it got. Scripted failures by tenant: `fail_times` refusals
// with `fail` before it accepts (forever when fail_times < 0).
class RecordingPusher final : public write::Pusher {
 public:
  Status Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) override
      EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    const int call = ++calls_;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (call > block_after_ && std::chrono::steady_clock::now() < deadline) {
      ++waiting_;
      cv_.WaitFor(&mu_, std::chrono::milliseconds(50));
      --waiting_;
    }
    if (auto it = script_.find(std::string(tenant)); it != script_.end()) {
      if (it->second.times != 0) {
        if (it->second.times > 0) --it->second.times;
        ++refused_[std::string(tenant)];
        return it->second.status;
      }
    }
    for (const auto& s : streams) {
      for (const auto& e : s.entries) {
        rows_.push_back(
            {std::string(tenant), s.labels_text(), e.timestamp_ns, std::string(e.line)});
      }
    }
    return Status::OK();
  }

  void Script(const std::string& tenant, Status status, int times) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    script_[tenant] = {std::move(status), times};
  }
  // Holds every Push after the first `calls` ones until Release() (at most 20 s).
  void BlockAfter(int calls) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    block_after_ = calls;
  }
  void Release() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    block_after_ = INT_MAX;
    cv_.SignalAll();
  }
  bool someone_waiting() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return waiting_ > 0;
  }
  std::vector<Row> rows() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return rows_;
  }
  size_t size() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return rows_.size();
  }
  int refused(const std::string& tenant) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return refused_[tenant];
  }

 private:
  struct Scripted {
    Status status;
    int times = 0;
  };
  Mutex mu_;
  CondVar cv_;
  std::vector<Row> rows_ GUARDED_BY(mu_);
  std::map<std::string, Scripted> script_ GUARDED_BY(mu_);
  std::map<std::string, int> refused_ GUARDED_BY(mu_);
  int block_after_ GUARDED_BY(mu_) = INT_MAX;
  int waiting_ GUARDED_BY(mu_) = 0;
  int calls_ GUARDED_BY(mu_) = 0;
};

class ReaderTest : public ::testing::Test {
 protected:
  static constexpr int kPartitions = 4;

  void SetUp() override {
    ASSERT_TRUE(kafka_.ok());
    ASSERT_TRUE(kafka_.CreateTopic(kTopic, kPartitions));
    auto producer = testing::MockKafka::NewProducer(Client());
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(*producer);
  }

  ClientOptions Client() const {
    ClientOptions c;
    c.address = kafka_.bootstrap();
    c.librdkafka["log_level"] = "3";
    return c;
  }

  ReaderOptions Options(const std::string& group, std::vector<int32_t> partitions,
                        metrics::Registry* registry) const {
    ReaderOptions o;
    o.client = Client();
    o.topic = kTopic;
    o.consumer_group = group;
    o.partitions = std::move(partitions);
    o.commit_interval_ns = 100'000'000;
    o.retry_backoff_ns = 10'000'000;
    o.registry = registry;
    return o;
  }

  // Produces one record of `lines` entries (timestamps ts0, ts0+1, ...) to `partition` (-1: the
  // stream's own partition).
  void Produce(const std::string& tenant, const std::string& labels, int64_t ts0,
               const std::vector<std::string>& lines, int32_t partition = -1) {
    std::vector<model::EntryView> entries;
    for (size_t i = 0; i < lines.size(); ++i) {
      entries.push_back({ts0 + static_cast<int64_t>(i), lines[i], {}});
    }
    ProduceRaw(EncodeStreamRecord(tenant, labels, entries),
               partition >= 0 ? partition : PartitionFor(tenant, labels, kPartitions));
  }
  void ProduceRaw(std::string value, int32_t partition) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(kTopic),
                          RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_END);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  }
  void Flush() { ASSERT_EQ(rd_kafka_flush(producer_.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR); }

  // The offsets `group` committed, read by a consumer of its own (-1: none).
  std::vector<int64_t> Committed(const std::string& group, const std::vector<int32_t>& parts) {
    std::vector<int64_t> out(parts.size(), -2);
    auto conf = NewConf(Client(), {{"group.id", group}, {"enable.auto.commit", "false"}});
    if (!conf.ok()) return out;
    auto consumer = NewClient(RD_KAFKA_CONSUMER, std::move(*conf));
    if (!consumer.ok()) return out;
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
    for (int32_t p : parts) rd_kafka_topic_partition_list_add(list, kTopic, p);
    rd_kafka_resp_err_t err = rd_kafka_committed(consumer->get(), list, 5000);
    EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    for (int i = 0; i < list->cnt; ++i) {
      out[static_cast<size_t>(i)] = list->elems[i].offset < 0 ? -1 : list->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_close(consumer->get());
    return out;
  }

  // A series of this test's reader, registered on the process's registry (only metrics.cc can
  // make a Registry): the last one of that name is the newest reader's.
  static double Value(metrics::Registry& r, const std::string& series) {
    std::string text = r.Expose();
    size_t at = text.rfind("\n" + series + " ");
    if (at == std::string::npos) return -1e18;
    return std::stod(text.substr(at + series.size() + 2));
  }

  testing::MockKafka kafka_{1};
  KafkaHandle producer_;
  SystemClock clock_;
};

// Lines of one stream as the pusher got them.
std::vector<std::string> LinesOf(const std::vector<Row>& rows, const std::string& tenant,
                                 const std::string& labels) {
  std::vector<std::string> out;
  for (const Row& r : rows) {
    if (r.tenant == tenant && r.labels == labels) out.push_back(r.line);
  }
  return out;
}

TEST_F(ReaderTest, DeliversEveryPartitionInOrderPerStreamAndCommitsOnPush) {
  // 8 streams of 2 tenants over the 4 partitions, 5 records of 4 lines each.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> sent;
  for (int round = 0; round < 5; ++round) {
    for (int s = 0; s < 8; ++s) {
      std::string tenant = s % 2 ? "t1" : "t2";
      std::string labels = R"({app="a)" + std::to_string(s) + R"(", env="prod"})";
      std::vector<std::string> lines;
      for (int i = 0; i < 4; ++i) {
        lines.push_back("s" + std::to_string(s) + " line " + std::to_string(round * 4 + i));
      }
      auto& all = sent[{tenant, labels}];
      all.insert(all.end(), lines.begin(), lines.end());
      Produce(tenant, labels, ingester::testing::kT0 + round * 10, lines);
    }
  }
  Flush();

  metrics::Registry& registry = metrics::DefaultRegistry();
  RecordingPusher pusher;
  ReaderOptions options = Options("ingester-1", {0, 1, 2, 3}, &registry);
  options.max_batch_records = 3;  // several batches per partition
  PartitionReader reader(options, &pusher, &clock_);
  ASSERT_TRUE(reader.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return pusher.size() == 160; })) << pusher.size();
  std::vector<Row> rows = pusher.rows();
  for (const auto& [stream, lines] : sent) {
    EXPECT_EQ(LinesOf(rows, stream.first, stream.second), lines) << stream.second;
  }
  EXPECT_TRUE(WaitUntil([&] { return reader.caught_up(); }));

  // durable_on_push: the applied offsets are committed (by the committer, within an interval).
  std::vector<int64_t> ends;
  for (const PartitionStatus& st : reader.Partitions()) ends.push_back(st.high_watermark);
  // A partition without records has nothing to commit.
  std::vector<int64_t> want;
  for (int64_t end : ends) want.push_back(end > 0 ? end : -1);
  EXPECT_TRUE(WaitUntil([&] {
    std::vector<PartitionStatus> parts = reader.Partitions();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].committed != want[i] || parts[i].next_offset != ends[i]) return false;
    }
    return true;
  }));
  EXPECT_EQ(Committed("ingester-1", {0, 1, 2, 3}), want);
  int64_t total = 0;
  for (size_t p = 0; p < ends.size(); ++p) {
    total += ends[p];
    const std::string label = "{partition=\"" + std::to_string(p) + "\"}";
    EXPECT_EQ(Value(registry, "loki_kafka_client_partition_reader_last_committed_offset" + label),
              static_cast<double>(want[p]));
    EXPECT_EQ(Value(registry, "sluice_kafka_reader_records_total" + label),
              static_cast<double>(ends[p]));
    EXPECT_GE(
        Value(registry, "loki_kafka_client_partition_reader_offset_commit_requests_total" + label),
        ends[p] > 0 ? 1 : 0);
  }
  EXPECT_EQ(total, 40);
  reader.Stop();
}

TEST_F(ReaderTest, CommitsOnlyWhatACheckpointMadeDurable) {
  for (int i = 0; i < 6; ++i) Produce("t", R"({app="x"})", i, {"a" + std::to_string(i)}, 0);
  for (int i = 0; i < 3; ++i) Produce("t", R"({app="y"})", i, {"b" + std::to_string(i)}, 1);
  Flush();

  metrics::Registry& registry = metrics::DefaultRegistry();
  RecordingPusher pusher;
  ReaderOptions options = Options("ingester-ckpt", {0, 1}, &registry);
  options.durable_on_push = false;  // Kafka is the only log: durable = in a checkpoint
  PartitionReader reader(options, &pusher, &clock_);
  ASSERT_TRUE(reader.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return pusher.size() == 9; }));
  // Applied, but not durable: several commit intervals pass without a commit.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(Committed("ingester-ckpt", {0, 1}), (std::vector<int64_t>{-1, -1}));
  EXPECT_EQ(
      Value(registry, R"(loki_kafka_client_partition_reader_last_committed_offset{partition="0"})"),
      -1);

  std::function<void()> checkpoint_done = reader.BeginCheckpoint();  // snapshot: {6, 3}
  // Applied after the snapshot: not in the checkpoint, so never committed by it.
  Produce("t", R"({app="x"})", 100, {"late"}, 0);
  Flush();
  ASSERT_TRUE(WaitUntil([&] { return pusher.size() == 10; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Committed("ingester-ckpt", {0, 1}), (std::vector<int64_t>{-1, -1}));

  checkpoint_done();
  ASSERT_TRUE(WaitUntil([&] {
    auto parts = reader.Partitions();
    return parts[0].committed == 6 && parts[1].committed == 3;
  }));
  EXPECT_EQ(Committed("ingester-ckpt", {0, 1}), (std::vector<int64_t>{6, 3}));
  EXPECT_EQ(reader.Partitions()[0].next_offset, 7);
  // Stop's final commit still commits only what is durable.
  reader.Stop();
  EXPECT_EQ(Committed("ingester-ckpt", {0, 1}), (std::vector<int64_t>{6, 3}));
}

TEST_F(ReaderTest, RestartResumesAtTheCommittedOffset) {
  for (int i = 0; i < 10; ++i) Produce("t", R"({app="x"})", i, {"old" + std::to_string(i)}, 2);
  Flush();
  {
    RecordingPusher pusher;
    PartitionReader reader(Options("ingester-r", {2}, nullptr), &pusher, &clock_);
    ASSERT_TRUE(reader.Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return pusher.size() == 10; }));
    reader.Stop();  // commits 10
    EXPECT_EQ(reader.Partitions()[0].committed, 10);
  }
  for (int i = 0; i < 5; ++i) Produce("t", R"({app="x"})", 10 + i, {"new" + std::to_string(i)}, 2);
  Flush();
  RecordingPusher pusher;
  PartitionReader reader(Options("ingester-r", {2}, nullptr), &pusher, &clock_);
  ASSERT_TRUE(reader.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return pusher.size() == 5; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<std::string> expected = {"new0", "new1", "new2", "new3", "new4"};
  EXPECT_EQ(LinesOf(pusher.rows(), "t", R"({app="x"})"), expected);
}

// Records Kafka deleted before they were read (retention shorter than the lag; the mock cluster
// keeps about 5 MiB per partition) cannot be read again: the reader resumes at the earliest
// record Kafka still has and counts the ones in between as lost instead of skipping them
// silently.
TEST_F(ReaderTest, RecordsDeletedBeforeTheyWereReadAreCountedLost) {
  for (int i = 0; i < 3; ++i) Produce("t", R"({app="x"})", i, {"early" + std::to_string(i)}, 1);
  Flush();
  {
    RecordingPusher pusher;
    PartitionReader reader(Options("ingester-lost", {1}, nullptr), &pusher, &clock_);
    ASSERT_TRUE(reader.Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return pusher.size() == 3; }));
    reader.Stop();  // commits 3
  }
  // 12 MiB more while nobody reads: the oldest of them go.
  const std::string big(256 << 10, 'x');
  for (int i = 0; i < 48; ++i) Produce("t", R"({app="x"})", 100 + i, {big}, 1);
  Flush();
  int64_t low = -1, high = -1;
  ASSERT_EQ(rd_kafka_query_watermark_offsets(producer_.get(), kTopic, 1, &low, &high, 5000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_GT(low, 3) << "the mock cluster kept everything; the test needs it to delete";
  RecordingPusher pusher;
  PartitionReader reader(Options("ingester-lost", {1}, &metrics::DefaultRegistry()), &pusher,
                         &clock_);
  ASSERT_TRUE(reader.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return static_cast<int64_t>(pusher.size()) == high - low; }))
      << pusher.size() << " of " << high - low;
  EXPECT_EQ(Value(metrics::DefaultRegistry(),
                  R"(sluice_kafka_reader_records_failed_total{partition="1",reason="lost"})"),
            static_cast<double>(low - 3));
}

// Why an offset may be committed only once its records are durable: the first reader applies
// records to an ingester that keeps them only in memory (nothing checkpointed), and its process
// then dies. Had the reader committed the applied offsets, the next reader would start after
// them and the records would be gone: in no WAL, no checkpoint, no chunk, and Kafka skipped.
// Nothing was committed, so the next reader re-reads them from Kafka.
TEST_F(ReaderTest, RecordsAppliedButNotDurableAreReadAgain) {
  const int32_t partition = 3;
  for (int i = 0; i < 8; ++i) {
    Produce("t", R"({app="a"})", ingester::testing::kT0 + i * kSecond, {"l" + std::to_string(i)},
            partition);
  }
  Flush();
  config::Overrides overrides(config::Limits{}, "", kSecond);
  testing::FakeClock clock(ingester::testing::kT0 + 60 * kSecond);
  auto store = storage::NewMemoryStore();
  storage::index::IndexWriter index_writer(store.get(), "test", &clock);
  auto lines = [](ingester::Ingester& ing) {
    read::SelectRequest req;
    req.tenants = {"t"};
    req.matchers = {*model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "app", "a")};
    req.from_ns = 0;
    req.through_ns = INT64_MAX;
    req.direction = model::Direction::kForward;
    std::vector<std::string> out;
    auto its = ing.SelectStreams(req, "t");
    EXPECT_TRUE(its.ok());
    if (!its.ok()) return out;
    for (auto& it : *its) {
      while (it->Next()) out.push_back(it->At().line);
    }
    return out;
  };
  const std::vector<std::string> all = {"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7"};

  storage::TempDir dir1;
  config::Config::Ingester config1 = ingester::testing::QueryTestConfig(dir1.path());
  config1.wal.enabled = false;  // Kafka is the only log
  ingester::Ingester first(config1, &overrides, store.get(), &index_writer, &clock);
  ASSERT_TRUE(first.Start().ok());
  ReaderOptions options = Options("ingester-crash", {partition}, nullptr);
  options.durable_on_push = false;
  {
    PartitionReader reader(options, &first, &clock);
    ASSERT_TRUE(reader.Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return lines(first) == all; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // commit intervals pass
    // The process dies here: no checkpoint was written, so the memory of `first` is lost.
  }
  EXPECT_EQ(Committed("ingester-crash", {partition}), std::vector<int64_t>{-1});

  storage::TempDir dir2;
  config::Config::Ingester config2 = ingester::testing::QueryTestConfig(dir2.path());
  config2.wal.enabled = false;
  ingester::Ingester second(config2, &overrides, store.get(), &index_writer, &clock);
  ASSERT_TRUE(second.Start().ok());
  PartitionReader reader(options, &second, &clock);
  ASSERT_TRUE(reader.Start().ok());
  EXPECT_TRUE(WaitUntil([&] { return lines(second) == all; })) << lines(second).size();

  // The re-read records are exact duplicates where the first ingester still has them: it drops
  // them (a reader that restarted while its ingester kept running).
  PartitionReader again(Options("ingester-crash-2", {partition}, nullptr), &first, &clock);
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return again.Partitions()[0].next_offset == 8; }));
  EXPECT_EQ(lines(first), all);
  again.Stop();
  reader.Stop();
  EXPECT_TRUE(first.Shutdown(false).ok());
  EXPECT_TRUE(second.Shutdown(false).ok());
}

TEST_F(ReaderTest, HandoverStartsTheNextOwnerWhereThisOneEnded) {
  for (int i = 0; i < 10; ++i) Produce("t", R"({app="x"})", i, {"old" + std::to_string(i)}, 1);
  Produce("t", R"({app="y"})", 0, {"other"}, 0);
  Flush();
  {
    RecordingPusher pusher;
    ReaderOptions options = Options("ingester-a", {0, 1}, nullptr);
    options.durable_on_push = false;  // only Handover commits (after the flush on shutdown)
    PartitionReader reader(options, &pusher, &clock_);
    ASSERT_TRUE(reader.Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return pusher.size() == 11; }));
    EXPECT_FALSE(reader.Handover().ok());  // REQUIRES Stop()
    reader.Stop();
    EXPECT_EQ(Committed("ingester-a", {0, 1}), (std::vector<int64_t>{-1, -1}));
    ASSERT_TRUE(reader.Handover().ok());
  }
  EXPECT_EQ(Committed("ingester-a", {0, 1}), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(Committed(std::string(kHandoverGroup), {0, 1}), (std::vector<int64_t>{1, 10}));

  for (int i = 0; i < 3; ++i) Produce("t", R"({app="x"})", 10 + i, {"new" + std::to_string(i)}, 1);
  Flush();
  // The next owner has never committed (another group): it starts at the handover offset. With
  // "<partition>" in the group it uses one group (and one consumer) per partition.
  RecordingPusher pusher;
  PartitionReader reader(Options("ingester-b-<partition>", {0, 1}, nullptr), &pusher, &clock_);
  ASSERT_TRUE(reader.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return pusher.size() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(LinesOf(pusher.rows(), "t", R"({app="x"})"),
            (std::vector<std::string>{"new0", "new1", "new2"}));
  EXPECT_TRUE(pusher.rows().size() == 3);
  reader.Stop();
  EXPECT_EQ(Committed("ingester-b-1", {1}), std::vector<int64_t>{13});
  EXPECT_EQ(Committed("ingester-b-0", {0}), std::vector<int64_t>{-1});  // nothing new applied
}

TEST_F(ReaderTest, RetriesUnavailableSkipsRefusedAndCorrupt) {
  metrics::Registry& registry = metrics::DefaultRegistry();
  RecordingPusher pusher;
  pusher.Script("flaky", Status::Unavailable("ingester stopping"), 3);
  pusher.Script("bad", Status::InvalidArgument("entry too far behind"), -1);
  Produce("flaky", R"({app="f"})", 1, {"f1", "f2"}, 0);
  Produce("bad", R"({app="b"})", 1, {"b1"}, 0);
  ProduceRaw("\x07not a record", 0);
  Produce("good", R"({app="g"})", 1, {"g1"}, 0);
  Produce("flaky", R"({app="f"})", 3, {"f3"}, 0);
  ProduceRaw(EncodeStreamRecord("good", "{not labels", std::span<const model::EntryView>{}), 0);
  Flush();

  PartitionReader reader(Options("ingester-err", {0}, &registry), &pusher, &clock_);
  ASSERT_TRUE(reader.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return reader.Partitions()[0].next_offset == 6; }));
  EXPECT_EQ(pusher.refused("flaky"), 3);
  EXPECT_EQ(LinesOf(pusher.rows(), "flaky", R"({app="f"})"),
            (std::vector<std::string>{"f1", "f2", "f3"}));
  EXPECT_EQ(LinesOf(pusher.rows(), "good", R"({app="g"})"), std::vector<std::string>{"g1"});
  EXPECT_TRUE(LinesOf(pusher.rows(), "bad", R"({app="b"})").empty());
  EXPECT_EQ(Value(registry,
                  R"(sluice_kafka_reader_records_failed_total{partition="0",reason="invalid"})"),
            1);
  EXPECT_EQ(Value(registry,
                  R"(sluice_kafka_reader_records_failed_total{partition="0",reason="corrupt"})"),
            2);
  EXPECT_EQ(Value(registry, R"(sluice_kafka_reader_records_total{partition="0"})"), 6);
  reader.Stop();
}

TEST_F(ReaderTest, StopDuringRetriesDoesNotSkipTheBatch) {
  RecordingPusher pusher;
  pusher.Script("t", Status::Unavailable("out of memory budget"), -1);
  for (int i = 0; i < 3; ++i) Produce("t", R"({app="x"})", i, {"l" + std::to_string(i)}, 0);
  Flush();
  PartitionReader reader(Options("ingester-stop", {0}, nullptr), &pusher, &clock_);
  ASSERT_TRUE(reader.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return pusher.refused("t") >= 3; }));  // backing off
  EXPECT_EQ(reader.Partitions()[0].next_offset, 0);
  auto began = std::chrono::steady_clock::now();
  reader.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));
  EXPECT_EQ(reader.Partitions()[0].next_offset, 0);
  EXPECT_EQ(Committed("ingester-stop", {0}), std::vector<int64_t>{-1});
}

TEST_F(ReaderTest, CaughtUpAfterTheBacklogAndLagWhileThePusherBlocks) {
  for (int i = 0; i < 50; ++i) Produce("t", R"({app="x"})", i, {"l" + std::to_string(i)}, 2);
  Flush();
  metrics::Registry& registry = metrics::DefaultRegistry();
  RecordingPusher pusher;
  pusher.BlockAfter(0);
  // An hour later than the records' Kafka timestamps: only reaching the end catches up.
  testing::FakeClock clock(clock_.NowNanos() + 3600 * kSecond);
  ReaderOptions options = Options("ingester-lag", {2}, &registry);
  options.max_batch_records = 10;
  PartitionReader reader(options, &pusher, &clock);
  ASSERT_TRUE(reader.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return pusher.someone_waiting(); }));
  PartitionStatus st = reader.Partitions()[0];
  EXPECT_FALSE(reader.caught_up());
  EXPECT_EQ(st.next_offset, 0);
  EXPECT_EQ(st.high_watermark, 50);
  EXPECT_EQ(st.lag_records, 50);
  EXPECT_GT(st.lag_seconds, 3000);
  EXPECT_TRUE(WaitUntil(
      [&] { return Value(registry, R"(sluice_kafka_reader_lag_records{partition="2"})") == 50; }));

  pusher.Release();
  ASSERT_TRUE(WaitUntil([&] { return reader.caught_up(); }));
  EXPECT_EQ(pusher.size(), 50u);
  st = reader.Partitions()[0];
  EXPECT_EQ(st.next_offset, 50);
  EXPECT_EQ(st.lag_records, 0);
  EXPECT_EQ(st.lag_seconds, 0);
  EXPECT_TRUE(WaitUntil(
      [&] { return Value(registry, R"(sluice_kafka_reader_lag_records{partition="2"})") == 0; }));
  EXPECT_GE(Value(registry, "loki_kafka_client_partition_reader_consumption_lag_seconds_count"),
            50);
  reader.Stop();
  EXPECT_TRUE(reader.caught_up());  // stays
}

TEST_F(ReaderTest, CaughtUpWhenTheRecordsAreRecent) {
  for (int i = 0; i < 30; ++i) Produce("t", R"({app="x"})", i, {"l" + std::to_string(i)}, 0);
  Flush();
  RecordingPusher pusher;
  pusher.BlockAfter(1);  // the first batch only
  ReaderOptions options = Options("ingester-recent", {0, 1}, nullptr);
  options.max_batch_records = 10;
  PartitionReader reader(options, &pusher, &clock_);
  ASSERT_TRUE(reader.Start().ok());  // partition 1 is empty: caught up at once
  ASSERT_TRUE(WaitUntil([&] { return pusher.someone_waiting(); }));
  // 10 of 30 applied, but those were produced just now (within max_consumer_lag_at_startup).
  EXPECT_TRUE(reader.caught_up());
  EXPECT_EQ(reader.Partitions()[0].next_offset, 10);
  EXPECT_GT(reader.Partitions()[0].lag_records, 0);
  pusher.Release();
  reader.Stop();
}

TEST_F(ReaderTest, StartIsUnavailableWithoutKafka) {
  kafka_.SetAllBrokers(false);
  RecordingPusher pusher;
  ReaderOptions options = Options("ingester-down", {0}, nullptr);
  options.client.dial_timeout_ns = 1 * kSecond;
  PartitionReader reader(options, &pusher, &clock_);
  auto began = std::chrono::steady_clock::now();
  Status s = reader.Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(8));
  EXPECT_TRUE(reader.Partitions().empty());
}

}  // namespace
}  // namespace sluice::kafka
