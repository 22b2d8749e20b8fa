#include "ingester/ingester.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "chunk/chunk.h"
#include "ingester/test_util.h"
#include "ingester/wal/format.h"
#include "ingester/wal/test_util.h"
#include "storage/index/index_reader.h"
#include "storage/test_util.h"

namespace sluice::ingester {
namespace {

using testing::kSecond;
using testing::kT0;
using testing::MakeStream;

class IngesterTest : public ::testing::Test {
 protected:
  IngesterTest() : clock_(kT0), overrides_(config::Limits{}, "", kSecond) {
    store_ = storage::NewMemoryStore();
    index_writer_ = std::make_unique<storage::index::IndexWriter>(store_.get(), "test", &clock_);
    config_.wal.dir = dir_.path() + "/wal";
    config_.concurrency = 4;
    config_.flush_check_period = 3600 * kSecond;  // sweeps only when the test asks
    config_.wal.checkpoint_duration = 3600 * kSecond;
    config_.wal.fsync = "never";
  }

  std::unique_ptr<Ingester> NewIngester() {
    auto ing = std::make_unique<Ingester>(config_, &overrides_, store_.get(), index_writer_.get(),
                                          &clock_);
    EXPECT_TRUE(ing->Start().ok());
    return ing;
  }

  std::vector<std::string> Lines(Ingester& ing, model::Direction dir = model::Direction::kForward) {
    read::SelectRequest p;
    p.tenants = {"t"};
    p.matchers = {*model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "app", "a")};
    p.from_ns = 0;
    p.through_ns = INT64_MAX;
    p.direction = dir;
    auto its = ing.SelectStreams(p, "t");
    EXPECT_TRUE(its.ok());
    std::vector<std::pair<int64_t, std::string>> all;
    for (auto& it : *its) {
      while (it->Next()) all.emplace_back(it->At().timestamp_ns, it->At().line);
    }
    std::sort(all.begin(), all.end());
    std::vector<std::string> out;
    for (auto& [ts, line] : all) out.push_back(line);
    return out;
  }

  storage::TempDir dir_;
  storage::ManualClock clock_;
  config::Overrides overrides_;
  config::Config::Ingester config_;
  storage::ObjectStorePtr store_;
  std::unique_ptr<storage::index::IndexWriter> index_writer_;
};

TEST_F(IngesterTest, PushDropsExactDuplicatesAndKeepsOrder) {
  auto ing = NewIngester();
  std::vector<write::ValidatedStream> batch{MakeStream(
      R"({app="a"})", {{kT0 + 1, "one"}, {kT0 + 2, "two"}, {kT0 + 2, "two"}, {kT0 + 2, "two-b"}})};
  ASSERT_TRUE(ing->Push("t", batch).ok());
  std::vector<write::ValidatedStream> again{MakeStream(R"({app="a"})", {{kT0 + 2, "two"}})};
  ASSERT_TRUE(ing->Push("t", again).ok());
  EXPECT_EQ(Lines(*ing), (std::vector<std::string>{"one", "two", "two-b"}));
}

TEST_F(IngesterTest, OutOfOrderWindow) {
  config_.max_chunk_age = 20 * kSecond;  // window: 10s
  auto ing = NewIngester();
  std::vector<write::ValidatedStream> batch{
      MakeStream(R"({app="a"})",
                 {{kT0 + 100 * kSecond, "new"}, {kT0 + 95 * kSecond, "late"}, {kT0, "ancient"}})};
  Status st = ing->Push("t", batch);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("entry too far behind"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("total ignored: 1 out of 3"), std::string::npos) << st.message();
  EXPECT_EQ(Lines(*ing), (std::vector<std::string>{"late", "new"}));
}

// Loki's rule: an entry older than the stream's newest by more than the window is refused; one
// exactly the window older is taken.
TEST_F(IngesterTest, OutOfOrderWindowEdgeIsInclusive) {
  config_.max_chunk_age = 20 * kSecond;  // window: 10s
  auto ing = NewIngester();
  std::vector<write::ValidatedStream> batch{
      MakeStream(R"({app="a"})", {{kT0 + 100 * kSecond, "newest"},
                                  {kT0 + 90 * kSecond, "at the edge"},
                                  {kT0 + 90 * kSecond - 1, "one ns past it"}})};
  Status st = ing->Push("t", batch);
  EXPECT_NE(st.message().find("total ignored: 1 out of 3"), std::string::npos) << st.message();
  EXPECT_EQ(Lines(*ing), (std::vector<std::string>{"at the edge", "newest"}));
}

TEST_F(IngesterTest, StreamLimit) {
  config::Limits limits;
  limits.max_global_streams_per_user = 1;
  config::Overrides overrides(limits, "", kSecond);
  Ingester ing(config_, &overrides, store_.get(), index_writer_.get(), &clock_);
  ASSERT_TRUE(ing.Start().ok());
  std::vector<write::ValidatedStream> batch{MakeStream(R"({app="a"})", {{kT0, "x"}}),
                                            MakeStream(R"({app="b"})", {{kT0, "y"}})};
  Status st = ing.Push("t", batch);
  EXPECT_EQ(st.code(), StatusCode::kRateLimited);
  EXPECT_NE(st.message().find("Maximum active stream limit exceeded"), std::string::npos);
  EXPECT_EQ(ing.memory_streams(), 1u);
}

// In a cluster each ingester holds its share (RF / ingesters) of the global stream limit.
TEST_F(IngesterTest, GlobalStreamLimitIsSharedByTheRing) {
  config::Limits limits;
  limits.max_global_streams_per_user = 6;
  config::Overrides overrides(limits, "", kSecond);
  Ingester ing(config_, &overrides, store_.get(), index_writer_.get(), &clock_);
  ing.SetGlobalLimitShare([] { return 3.0 / 9.0; });  // RF 3 over 9 ingesters: 2 streams here
  ASSERT_TRUE(ing.Start().ok());
  std::vector<write::ValidatedStream> batch{MakeStream(R"({app="a"})", {{kT0, "x"}}),
                                            MakeStream(R"({app="b"})", {{kT0, "y"}}),
                                            MakeStream(R"({app="c"})", {{kT0, "z"}})};
  EXPECT_EQ(ing.Push("t", batch).code(), StatusCode::kRateLimited);
  EXPECT_EQ(ing.memory_streams(), 2u);
}

TEST_F(IngesterTest, FlushWritesChunksAndIndex) {
  config_.chunk_block_size = 64;  // many blocks
  auto ing = NewIngester();
  std::vector<std::pair<int64_t, std::string>> lines;
  for (int i = 0; i < 100; ++i) lines.emplace_back(kT0 + i, "line " + std::to_string(i));
  std::vector<write::ValidatedStream> batch{MakeStream(R"({app="a"})", lines)};
  ASSERT_TRUE(ing->Push("t", batch).ok());
  ASSERT_TRUE(ing->FlushAll().ok());
  EXPECT_EQ(ing->memory_streams(), 0u);

  storage::index::IndexReader reader(store_.get(), 0);
  auto series = reader.Select(
      "t", {*model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "app", "a")},
      kT0 - 3600 * kSecond, kT0 + 3600 * kSecond);
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 1u);
  ASSERT_EQ((*series)[0].chunks.size(), 1u);
  auto data = store_->Get((*series)[0].chunks[0].key);
  ASSERT_TRUE(data.ok());
  auto chunk = chunk::Chunk::Decode(std::move(data).value());
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->meta().num_entries, 100u);
}

TEST_F(IngesterTest, ReplayRestoresAcknowledgedWritesAcrossRepeatedCrashes) {
  // Each "crash" drops the ingester without Shutdown: only what is in the WAL survives.
  std::vector<std::string> expected;
  for (int round = 0; round < 4; ++round) {
    auto ing = NewIngester();
    EXPECT_EQ(Lines(*ing), expected) << "round " << round;
    std::vector<std::pair<int64_t, std::string>> lines;
    for (int i = 0; i < 10; ++i) {
      std::string line = "r" + std::to_string(round) + "-" + std::to_string(i);
      lines.emplace_back(kT0 + round * 100 + i, line);
      expected.push_back(line);
    }
    std::vector<write::ValidatedStream> batch{MakeStream(R"({app="a"})", lines)};
    ASSERT_TRUE(ing->Push("t", batch).ok());
    if (round == 1) {
      ASSERT_TRUE(ing->Checkpoint().ok());
    }
  }
  auto ing = NewIngester();
  EXPECT_EQ(Lines(*ing), expected);
}

// Consuming Kafka without the WAL: pushes are not logged, so a crash keeps only what the last
// checkpoint holds (Kafka re-delivers the rest); the checkpoint hook runs before memory is read
// and its callback only once the checkpoint is on disk.
TEST_F(IngesterTest, WithoutTheWalKafkaIngestionKeepsOnlyCheckpoints) {
  config_.wal.enabled = false;
  config_.kafka_ingestion.enabled = true;
  std::vector<std::string> events;
  auto push = [](Ingester& ing, const std::string& line, int64_t ts) {
    std::vector<write::ValidatedStream> batch{MakeStream(R"({app="a"})", {{ts, line}})};
    ASSERT_TRUE(ing.Push("t", batch).ok());
  };
  {
    auto ing = std::make_unique<Ingester>(config_, &overrides_, store_.get(), index_writer_.get(),
                                          &clock_);
    ing->SetCheckpointHook([&] {
      events.push_back("begin");
      return [&] { events.push_back("durable"); };
    });
    ASSERT_TRUE(ing->Start().ok());
    push(*ing, "before", kT0);
    ASSERT_TRUE(ing->Checkpoint().ok());
    EXPECT_EQ(events, (std::vector<std::string>{"begin", "durable"}));
    push(*ing, "after", kT0 + 1);
    EXPECT_EQ(Lines(*ing), (std::vector<std::string>{"before", "after"}));
  }  // a crash: no Shutdown
  auto ing = NewIngester();
  EXPECT_EQ(Lines(*ing), (std::vector<std::string>{"before"}));
}

// A push whose WAL write failed left its entries in memory; its retry must not be acknowledged
// (the entries would be "duplicates" and never logged) until a checkpoint made memory durable.
TEST_F(IngesterTest, AfterAWalFailureNothingIsAcknowledgedUntilACheckpointSucceeds) {
  auto ing = NewIngester();
  auto push = [&] {
    std::vector<write::ValidatedStream> batch{MakeStream(R"({app="a"})", {{kT0, "kept"}})};
    return ing->Push("t", batch);
  };
  Status first, retry, retry_later;
  {
    wal::testing::ScopedFileSizeLimit full_disk(1);  // the WAL's and the checkpoint's files
    first = push();
    retry = push();
    clock_.Advance(2 * kSecond);
    retry_later = push();  // a repair attempt: the checkpoint fails too
  }
  EXPECT_EQ(first.code(), StatusCode::kUnavailable) << first.message();
  EXPECT_EQ(retry.code(), StatusCode::kUnavailable) << retry.message();
  EXPECT_EQ(retry_later.code(), StatusCode::kUnavailable) << retry_later.message();
  EXPECT_NE(retry_later.message().find("checkpoint"), std::string::npos) << retry_later.message();

  clock_.Advance(2 * kSecond);
  ASSERT_TRUE(push().ok());  // the checkpoint now holds "kept"
  ing.reset();               // crash: no Shutdown, only the WAL directory survives
  auto back = NewIngester();
  EXPECT_EQ(Lines(*back), (std::vector<std::string>{"kept"}));
}

// Replay appends on several threads, each owning some streams: every stream must come back
// whole and in order.
TEST_F(IngesterTest, ReplayRestoresManyStreamsInOrder) {
  constexpr int kStreams = 40, kLines = 50;
  auto labels = [](int s) { return R"({app="a", n=")" + std::to_string(s) + R"("})"; };
  {
    auto ing = NewIngester();
    for (int i = 0; i < kLines; i += 10) {
      std::vector<write::ValidatedStream> batch;
      for (int s = 0; s < kStreams; ++s) {
        std::vector<std::pair<int64_t, std::string>> lines;
        // Five lines share each timestamp: their push order is the only order they have.
        for (int k = i; k < i + 10; ++k)
          lines.emplace_back(kT0 + k / 5, fmt::format("s{}-{:03d}", s, k));
        batch.push_back(MakeStream(labels(s), lines));
      }
      ASSERT_TRUE(ing->Push("t", batch).ok());
    }
  }  // crash: no shutdown
  auto ing = NewIngester();
  EXPECT_EQ(ing->memory_streams(), static_cast<uint64_t>(kStreams));
  for (int s = 0; s < kStreams; ++s) {
    read::SelectRequest p;
    p.tenants = {"t"};
    p.matchers = {
        *model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "n", std::to_string(s))};
    p.from_ns = 0;
    p.through_ns = INT64_MAX;
    p.direction = model::Direction::kForward;
    auto its = ing->SelectStreams(p, "t");
    ASSERT_TRUE(its.ok());
    ASSERT_EQ(its->size(), 1u) << s;
    std::vector<std::string> got, pushed;
    while ((*its)[0]->Next()) got.push_back((*its)[0]->At().line);
    for (int k = 0; k < kLines; ++k) pushed.push_back(fmt::format("s{}-{:03d}", s, k));
    EXPECT_EQ(got, pushed) << "stream " << s << ": not back in push order";
  }
}

// Past the head memory budget (48 MiB here), heads are cut into blocks early: memory in heads
// stays near the budget instead of growing with the data, and nothing is lost.
TEST_F(IngesterTest, HeadsStayNearTheMemoryBudget) {
  config_.chunk_block_size = 1ull << 30;  // only the budget cuts
  config_.chunk_target_size = 1ull << 40;
  config_.wal.enabled = false;
  config_.head_memory_budget = 8ull << 20;
  auto ing = NewIngester();
  constexpr int kStreams = 8, kPushes = 30, kLinesPerPush = 100;
  const std::string filler(1000, 'x');
  uint64_t pushed = 0;
  for (int p = 0; p < kPushes; ++p) {
    std::vector<write::ValidatedStream> batch;
    for (int s = 0; s < kStreams; ++s) {
      std::vector<std::pair<int64_t, std::string>> lines;
      for (int k = 0; k < kLinesPerPush; ++k) {
        lines.emplace_back(kT0 + p * kLinesPerPush + k,
                           fmt::format("{} {}", p * kLinesPerPush + k, filler));
        pushed += lines.back().second.size();
      }
      batch.push_back(MakeStream(R"({app="a", n=")" + std::to_string(s) + R"("})", lines));
    }
    ASSERT_TRUE(ing->Push("t", batch).ok());
    // At most one push per stream beyond the budget.
    ASSERT_LE(ing->memory_head_bytes(), (8ull << 20) + kStreams * kLinesPerPush * 1100) << p;
  }
  ASSERT_GT(pushed, 20ull << 20);
  EXPECT_GT(ing->memory_head_bytes(), 0u);
  read::SelectRequest q;
  q.tenants = {"t"};
  q.matchers = {*model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "n", "3")};
  q.from_ns = 0;
  q.through_ns = INT64_MAX;
  auto its = ing->SelectStreams(q, "t");
  ASSERT_TRUE(its.ok());
  size_t n = 0;
  for (auto& it : *its) {
    while (it->Next()) ++n;
  }
  EXPECT_EQ(n, static_cast<size_t>(kPushes * kLinesPerPush));
  ASSERT_TRUE(ing->FlushAll().ok());
  EXPECT_EQ(ing->memory_head_bytes(), 0u);
}

// Past the memory budget (heads and unflushed blocks, 16 MiB here), the flush loop closes and
// flushes the largest open chunks without being asked, long before they are full or idle, then
// checkpoints so that a crash does not replay (and store again) what was flushed.
TEST_F(IngesterTest, MemoryPressureFlushesOpenChunks) {
  config_.chunk_block_size = 1ull << 30;   // heads fill their budget
  config_.chunk_target_size = 1ull << 40;  // never full
  config_.head_memory_budget = 8ull << 20;
  config_.chunk_memory_budget = 8ull << 20;
  auto ing = NewIngester();
  constexpr int kStreams = 16, kPushes = 15,
                kLinesPerPush = 200;  // 49 MB, under the per-stream rate
  uint64_t state = 1;
  auto noise = [&] {  // incompressible enough that blocks hold most of the bytes
    std::string out;
    for (int i = 0; i < 64; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      out += fmt::format("{:016x}", state);
    }
    return out;
  };
  for (int p = 0; p < kPushes; ++p) {
    std::vector<write::ValidatedStream> batch;
    for (int s = 0; s < kStreams; ++s) {
      std::vector<std::pair<int64_t, std::string>> lines;
      for (int k = 0; k < kLinesPerPush; ++k)
        lines.emplace_back(kT0 + p * kLinesPerPush + k, noise());
      batch.push_back(MakeStream(R"({app="a", n=")" + std::to_string(s) + R"("})", lines));
    }
    Status st = ing->Push("t", batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // Flushes run on the flush thread: wait (bounded) for chunks to reach the index.
  storage::index::IndexReader reader(store_.get(), 0);
  size_t stored = 0;
  for (int i = 0; i < 200 && stored == 0; ++i) {
    auto series = reader.Select(
        "t", {*model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "app", "a")},
        kT0 - 3600 * kSecond, kT0 + 3600 * kSecond);
    ASSERT_TRUE(series.ok());
    for (const auto& s : *series) stored += s.chunks.size();
    if (stored == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(stored, 0u);
  bool checkpointed = false;
  for (int i = 0; i < 200 && !checkpointed; ++i) {
    for (const auto& f : std::filesystem::directory_iterator(config_.wal.dir)) {
      checkpointed |=
          wal::ParseFileName(f.path().filename().string()).kind == wal::FileKind::kCheckpoint;
    }
    if (!checkpointed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(checkpointed);
}

// An object store that can be taken down: every call fails with IOError while `down`.
class OutageStore final : public storage::ForwardingStore {
 public:
  explicit OutageStore(storage::ObjectStore* inner) : ForwardingStore(inner) {}
  std::atomic<bool> down{false};
  Status Put(std::string_view key, std::string_view data) override {
    if (down) return Status::IOError("store down");
    return ForwardingStore::Put(key, data);
  }
};

// With the store down, pushes are acknowledged while memory lasts, then refused with 503 naming
// the cause; once the store is back the backed-off flushes store everything acknowledged.
TEST_F(IngesterTest, AStoreOutagePushesBackOnceMemoryIsFullAndLosesNothing) {
  OutageStore outage(store_.get());
  index_writer_ = std::make_unique<storage::index::IndexWriter>(&outage, "test", &clock_);
  config_.chunk_block_size = 64 << 10;
  config_.chunk_target_size = 256 << 10;  // chunks close (and want flushing) often
  config_.head_memory_budget = 1 << 20;
  config_.chunk_memory_budget = 2 << 20;
  config_.flush_check_period = 20'000'000;
  config_.flush_op_backoff.min_period = 20'000'000;
  config_.flush_op_backoff.max_period = 100'000'000;
  auto ing =
      std::make_unique<Ingester>(config_, &overrides_, &outage, index_writer_.get(), &clock_);
  ASSERT_TRUE(ing->Start().ok());
  outage.down = true;
  uint64_t state = 7;
  auto noise = [&] {
    std::string out;
    for (int i = 0; i < 32; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      out += fmt::format("{:016x}", state);
    }
    return out;
  };
  int64_t ts = kT0;
  auto push = [&] {
    std::vector<std::pair<int64_t, std::string>> lines;
    for (int k = 0; k < 100; ++k) lines.emplace_back(++ts, noise());
    std::vector<write::ValidatedStream> batch;
    batch.push_back(MakeStream(R"({app="a"})", lines));
    return ing->Push("t", batch);
  };
  uint64_t acknowledged = 0;
  Status refused;
  for (int i = 0; i < 2000 && refused.ok(); ++i) {  // 2000 x 51 KB would be 100 MB
    refused = push();
    if (refused.ok()) acknowledged += 100;
  }
  ASSERT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("memory budget exhausted"), std::string::npos);
  EXPECT_NE(refused.message().find("object store is failing: store down"), std::string::npos)
      << refused.message();
  EXPECT_GT(acknowledged, 0u);
  EXPECT_LT(ing->memory_head_bytes(), 4u << 20);

  outage.down = false;
  Status accepted = push();
  for (int i = 0; i < 200 && !accepted.ok(); ++i) {  // backoff at most 100 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    accepted = push();
  }
  ASSERT_TRUE(accepted.ok()) << accepted.ToString();
  acknowledged += 100;
  ASSERT_TRUE(ing->FlushAll().ok());
  storage::index::IndexReader reader(store_.get(), 0);
  auto series = reader.Select(
      "t", {*model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "app", "a")},
      kT0 - 3600 * kSecond, kT0 + 3600 * kSecond);
  ASSERT_TRUE(series.ok());
  uint64_t stored = 0;
  for (const auto& s : *series) {
    for (const auto& c : s.chunks) stored += c.num_entries;
  }
  EXPECT_EQ(stored, acknowledged);
}

TEST_F(IngesterTest, OverlappingBlocksAreSortedBeforeFlush) {
  config_.chunk_block_size = 32;
  auto ing = NewIngester();
  std::vector<write::ValidatedStream> batch{MakeStream(
      R"({app="a"})", {{kT0 + 50, "c"}, {kT0 + 60, "d"}, {kT0 + 10, "a"}, {kT0 + 20, "b"}})};
  ASSERT_TRUE(ing->Push("t", batch).ok());
  ASSERT_TRUE(ing->FlushAll().ok());
  storage::index::IndexReader reader(store_.get(), 0);
  auto series = reader.Select(
      "t", {*model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, "app", "a")},
      kT0 - 3600 * kSecond, kT0 + 3600 * kSecond);
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 1u);
  auto chunk = chunk::Chunk::Decode(*store_->Get((*series)[0].chunks[0].key));
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  auto it = chunk->Iterator(0, INT64_MAX, model::Direction::kForward);
  std::string order;
  while (it->Next()) order += it->At().line;
  EXPECT_EQ(order, "abcd");
}

// The head keeps lines in one buffer with an index: what goes in must come out the same, through
// unordered appends, metadata, duplicate checks, block cuts and lines longer than a block.
TEST(StreamTest, HeadRoundTripsThroughCutsAndUnorderedAppends) {
  StreamOptions opts;
  opts.block_size = 64;
  auto labels = std::make_shared<const model::LabelSet>(*model::ParseLabels(R"({app="a"})"));
  Stream stream(labels, labels->ToString(), labels->Fingerprint(), &opts);
  const int64_t window = 3600 * kSecond;
  std::vector<model::Entry> want;
  auto append = [&](int64_t ts, std::string line, std::vector<model::Label> md = {}) {
    model::Entry e{ts, std::move(line), std::move(md)};
    AppendOutcome out = stream.Append(model::EntryView::Of(e), kT0, /*unordered=*/true, window);
    if (out == AppendOutcome::kAppended) want.push_back(e);
    return out;
  };
  EXPECT_EQ(append(kT0 + 5, "five"), AppendOutcome::kAppended);
  EXPECT_EQ(append(kT0 + 3, "three", {{"trace", "t3"}}), AppendOutcome::kAppended);
  EXPECT_EQ(append(kT0 + 3, "three"), AppendOutcome::kDuplicate);
  EXPECT_EQ(append(kT0 + 5, "five"), AppendOutcome::kDuplicate);
  EXPECT_EQ(append(kT0 + 5, "five-b"), AppendOutcome::kAppended);
  ASSERT_EQ(stream.chunks().size(), 1u);
  EXPECT_EQ(stream.chunks()[0].blocks.size(), 0u);
  EXPECT_EQ(stream.chunks()[0].HeadLine(stream.chunks()[0].head[1]), "three");
  // Over the block size: cut (the unsorted head sorted, metadata kept).
  EXPECT_EQ(append(kT0 + 4, std::string(200, 'x'), {{"k", "v"}}), AppendOutcome::kAppended);
  EXPECT_EQ(stream.chunks()[0].blocks.size(), 1u);
  EXPECT_TRUE(stream.chunks()[0].head.empty());
  EXPECT_EQ(append(kT0 + 6, "six"), AppendOutcome::kAppended);
  EXPECT_EQ(append(kT0 + 6, "six"), AppendOutcome::kDuplicate);
  EXPECT_EQ(append(kT0 + 1, "one", {{"a", "b"}, {"c", "d"}}), AppendOutcome::kAppended);

  std::vector<model::Entry> got;
  ASSERT_TRUE(stream.CollectUnflushed(&got).ok());
  SortEntries(&want);
  EXPECT_EQ(got, want);

  stream.CloseOpenChunk("test");
  EXPECT_TRUE(stream.chunks()[0].head.empty());
  got.clear();
  ASSERT_TRUE(stream.CollectUnflushed(&got).ok());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace sluice::ingester
