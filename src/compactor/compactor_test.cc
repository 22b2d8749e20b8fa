#include "compactor/compactor.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "chunk/block.h"
#include "chunk/chunk.h"
#include "common/checksum.h"
#include "config/config.h"
#include "ingester/ingester.h"
#include "ingester/test_util.h"
#include "iter/merge.h"
#include "querier/store_source.h"
#include "ring/etcd_kv.h"
#include "storage/filesystem_store.h"
#include "storage/index/format.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_writer.h"
#include "storage/test_util.h"
#include "testing/etcd_process.h"
#include "testing/fake_clock.h"

namespace sluice::compactor {
namespace {

constexpr int64_t kSec = kNanosPerSecond;
constexpr int64_t kDay = storage::index::kPeriodNanos;
// 2023-11-14 00:00 UTC plus 10h: a period start is 19675 * kDay.
constexpr int64_t kDayStart = 19675 * kDay;
constexpr int64_t kT0 = kDayStart + 10 * 3600 * kSec;
constexpr std::string_view kTenant = "fake";

struct TestEntry {
  int64_t ts;
  std::string line;
  std::vector<model::Label> metadata = {};
};

// Wraps a store: fails the Nth Put/Delete (1-based, 0: never) and can run a hook before each Put.
class FaultyStore final : public storage::ForwardingStore {
 public:
  explicit FaultyStore(storage::ObjectStore* base) : ForwardingStore(base) {}
  Status Put(std::string_view key, std::string_view data) override {
    if (hook_) hook_(key);
    if (Fail()) return Status::IOError("injected failure");
    return ForwardingStore::Put(key, data);
  }
  Status Delete(std::string_view key) override {
    if (Fail()) return Status::IOError("injected failure");
    return ForwardingStore::Delete(key);
  }
  void FailAt(int n) {
    fail_at_ = n;
    ops_ = 0;
  }
  int ops() const { return ops_; }
  std::function<void(std::string_view)> hook_;

 private:
  bool Fail() { return ++ops_ == fail_at_; }
  int fail_at_ = 0;
  int ops_ = 0;
};

class TestPolicy final : public Policy {
 public:
  int64_t RetentionPeriod(std::string_view tenant, const model::LabelSet& labels) override {
    auto it = retention.find(labels.ToString());
    return it == retention.end() ? 0 : it->second;
  }
  std::function<bool(int64_t, std::string_view)> DeletedEntries(std::string_view tenant,
                                                                const model::LabelSet& labels,
                                                                int64_t from,
                                                                int64_t through) override {
    if (!delete_substring.empty() && labels.ToString() == delete_stream) {
      return [s = delete_substring](int64_t, std::string_view line) {
        return line.find(s) != std::string_view::npos;
      };
    }
    return nullptr;
  }
  void DeletesApplied(std::string_view tenant) override { applied.insert(std::string(tenant)); }

  std::map<std::string, int64_t> retention;
  std::string delete_stream, delete_substring;
  std::set<std::string> applied;
};

class CompactorTest : public ::testing::Test {
 protected:
  CompactorTest() : base_(storage::NewMemoryStore()), store_(base_.get()), clock_(kT0 + kDay) {}

  // One replica's flush: `entries` cut into chunks every `cut` entries, each stored as the
  // ingester stores it and indexed by a writer named `writer`.
  void Flush(const std::string& labels_text, const std::vector<TestEntry>& entries, size_t cut,
             const std::string& writer) {
    model::LabelSet labels = model::ParseLabels(labels_text).value();
    auto& w = writers_[writer];
    if (!w) w = std::make_unique<storage::index::IndexWriter>(&store_, writer, &clock_);
    std::vector<std::pair<model::LabelSet, storage::index::ChunkRef>> refs;
    for (size_t i = 0; i < entries.size(); i += cut) {
      chunk::BlockBuilder b;
      std::vector<chunk::Block> blocks;
      storage::index::ChunkRef ref;
      ref.fingerprint = labels.Fingerprint();
      for (size_t j = i; j < std::min(entries.size(), i + cut); ++j) {
        b.Append(entries[j].ts, entries[j].line, entries[j].metadata);
        if (b.raw_bytes() > 500) blocks.push_back(b.Finish(chunk::Codec::kZstd));
      }
      if (!b.empty()) blocks.push_back(b.Finish(chunk::Codec::kZstd));
      ref.from_ns = blocks.front().min_ts;
      ref.through_ns = blocks.back().max_ts;
      for (const auto& blk : blocks) {
        ref.num_entries += blk.num_entries;
        ref.raw_bytes += blk.raw_len;
      }
      std::string data = chunk::EncodeChunk(labels, blocks);
      ref.stored_bytes = data.size();
      ref.key = fmt::format("chunks/{}/{:016x}-{:x}-{:x}-{:08x}", kTenant, ref.fingerprint,
                            ref.from_ns, ref.through_ns, Crc32(data));
      ASSERT_TRUE(store_.Put(ref.key, data).ok());
      refs.emplace_back(labels, ref);
    }
    ASSERT_TRUE(w->WriteBatch(kTenant, refs).ok());
  }

  static std::vector<TestEntry> Entries(int n, int64_t start = kT0, int64_t step = kSec,
                                        const std::string& prefix = "line") {
    std::vector<TestEntry> out;
    for (int i = 0; i < n; ++i) {
      out.push_back({start + i * step, fmt::format("{} {} {}", prefix, i, std::string(40, 'x'))});
    }
    return out;
  }

  // Every entry of every stream in [from, through], through a fresh reader (no cache).
  std::vector<std::string> Query(int64_t from = kT0 - 2 * kDay, int64_t through = kT0 + 2 * kDay) {
    storage::index::IndexReader reader(base_.get(), 0, &clock_);
    querier::StoreSource source(base_.get(), &reader, &clock_);
    read::SelectRequest p;
    p.tenants = {std::string(kTenant)};
    p.matchers.push_back(
        model::LabelMatcher::Make(model::LabelMatcher::Type::kRegexMatch, "app", ".+").value());
    p.from_ns = from;
    p.through_ns = through;
    p.direction = model::Direction::kForward;
    auto its = source.SelectStreams(p, kTenant);
    EXPECT_TRUE(its.ok()) << its.status().message();
    if (!its.ok()) return {};
    auto merged = iter::NewMergeIterator(std::move(its).value(), p.direction);
    std::vector<std::string> out;
    while (merged->Next()) {
      std::string md;
      for (const auto& l : merged->At().metadata) md += " " + l.name + "=" + l.value;
      out.push_back(merged->Labels().ToString() + " " + std::to_string(merged->At().timestamp_ns) +
                    " " + merged->At().line + md);
    }
    EXPECT_TRUE(merged->Error().ok()) << merged->Error().message();
    return out;
  }

  // Chunk refs of every index object, by period.
  std::map<int64_t, std::vector<storage::index::ChunkRef>> IndexedRefs(int* objects = nullptr) {
    std::map<int64_t, std::vector<storage::index::ChunkRef>> out;
    auto keys = base_->List("index/").value();
    if (objects != nullptr) *objects = static_cast<int>(keys.size());
    for (const auto& key : keys) {
      auto file = storage::index::DecodeIndexFile(base_->Get(key).value()).value();
      for (const auto& s : file.series) {
        for (const auto& c : s.chunks) out[file.period].push_back(c);
      }
    }
    return out;
  }

  // Every indexed chunk exists; returns the distinct indexed keys.
  std::set<std::string> CheckIndexPointsAtExistingChunks() {
    std::set<std::string> keys;
    for (const auto& [period, refs] : IndexedRefs()) {
      for (const auto& r : refs) {
        EXPECT_TRUE(base_->Get(r.key).ok()) << "period " << period << " lists missing " << r.key;
        keys.insert(r.key);
      }
    }
    return keys;
  }

  std::set<std::string> StoredChunks() {
    auto keys = base_->List("chunks/").value();
    return {keys.begin(), keys.end()};
  }

  Options TestOptions() {
    Options o;
    o.retention_delete_delay_ns = 3600 * kSec;
    o.target_chunk_size = 1 << 20;
    return o;
  }

  storage::ObjectStorePtr base_;
  FaultyStore store_;
  testing::FakeClock clock_;
  TestPolicy policy_;
  std::map<std::string, std::unique_ptr<storage::index::IndexWriter>> writers_;
};

TEST_F(CompactorTest, MergesReplicasIntoOneCopy) {
  auto entries = Entries(300);
  Flush(R"({app="a"})", entries, 50, "ing-1");
  Flush(R"({app="a"})", entries, 70, "ing-2");
  Flush(R"({app="a"})", entries, 110, "ing-3");
  Flush(R"({app="b"})", Entries(20, kT0, kSec, "other"), 20, "ing-1");
  const auto before = Query();
  ASSERT_EQ(before.size(), 320u);
  uint64_t raw_one_copy = 0;
  const auto old_chunks = StoredChunks();

  Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
  RunStats stats;
  ASSERT_TRUE(c.RunOnce(&stats).ok());
  EXPECT_EQ(Query(), before);
  EXPECT_EQ(stats.chunks_merged, 6u + 5u + 3u);
  EXPECT_EQ(stats.duplicates_dropped, 600u);
  EXPECT_EQ(stats.chunks_deleted, 0u);

  int objects = 0;
  auto refs = IndexedRefs(&objects);
  EXPECT_EQ(objects, 1);
  ASSERT_EQ(refs.size(), 1u);
  uint64_t entries_indexed = 0;
  for (const auto& r : refs[19675]) {
    entries_indexed += r.num_entries;
    raw_one_copy += r.raw_bytes;
  }
  EXPECT_EQ(entries_indexed, 320u);
  EXPECT_EQ(refs[19675].size(), 2u);  // one chunk per series
  // About the raw size of one copy of the lines (the heads add a few bytes per entry).
  EXPECT_LT(raw_one_copy, 320u * 60);
  // The old chunks stay readable until the delay has passed.
  for (const auto& k : old_chunks) EXPECT_TRUE(base_->Get(k).ok()) << k;
  CheckIndexPointsAtExistingChunks();

  // A second run changes nothing: the merged chunks do not overlap.
  RunStats again;
  ASSERT_TRUE(c.RunOnce(&again).ok());
  EXPECT_EQ(again.chunks_written, 0u);
  EXPECT_EQ(again.periods_compacted, 0u);

  clock_.Advance(3600 * kSec);
  RunStats sweep;
  ASSERT_TRUE(c.RunOnce(&sweep).ok());
  EXPECT_EQ(sweep.chunks_deleted, old_chunks.size() - 1);  // the single "b" chunk was kept
  EXPECT_EQ(StoredChunks(), CheckIndexPointsAtExistingChunks());
  EXPECT_TRUE(base_->List("markers/").value().empty());
  EXPECT_EQ(Query(), before);
}

// Three real ingesters receive the same pushes and flush at their own points (as replicas do):
// after compaction the store holds each entry once.
TEST_F(CompactorTest, MergesWhatThreeIngestersFlushed) {
  config::Overrides overrides(config::Limits{}, "", kSec);
  struct Node {
    storage::TempDir dir;
    std::unique_ptr<storage::index::IndexWriter> writer;
    std::unique_ptr<ingester::Ingester> ingester;
  };
  clock_.Set(kT0 + 3600 * kSec);
  std::vector<std::unique_ptr<Node>> nodes;
  for (int r = 0; r < 3; ++r) {
    auto n = std::make_unique<Node>();
    n->writer =
        std::make_unique<storage::index::IndexWriter>(&store_, fmt::format("ing-{}", r), &clock_);
    n->ingester =
        std::make_unique<ingester::Ingester>(ingester::testing::QueryTestConfig(n->dir.path()),
                                             &overrides, &store_, n->writer.get(), &clock_);
    ASSERT_TRUE(n->ingester->Start().ok());
    nodes.push_back(std::move(n));
  }
  const int cuts[3] = {70, 130, 200};
  for (int i = 0; i < 300; ++i) {
    for (int r = 0; r < 3; ++r) {
      std::vector<write::ValidatedStream> streams;
      streams.push_back(ingester::testing::MakeStream(
          R"({app="a"})", {{kT0 + i * kSec, fmt::format("line {} {}", i, std::string(40, 'y'))}}));
      ASSERT_TRUE(nodes[r]->ingester->Push(kTenant, streams).ok());
      if (i % cuts[r] == cuts[r] - 1) {
        ASSERT_TRUE(nodes[r]->ingester->FlushAll().ok());
      }
    }
  }
  for (auto& n : nodes) ASSERT_TRUE(n->ingester->FlushAll().ok());
  auto raw_indexed = [&] {
    uint64_t raw = 0;
    for (const auto& [period, refs] : IndexedRefs()) {
      for (const auto& r : refs) raw += r.raw_bytes;
    }
    return raw;
  };
  const auto before = Query();
  ASSERT_EQ(before.size(), 300u);
  const uint64_t raw_before = raw_indexed();

  Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
  RunStats stats;
  ASSERT_TRUE(c.RunOnce(&stats).ok());
  EXPECT_EQ(stats.duplicates_dropped, 600u);
  EXPECT_EQ(Query(), before);
  const uint64_t raw_after = raw_indexed();
  EXPECT_GT(raw_after * 3, raw_before * 95 / 100);  // about a third: one copy left
  EXPECT_LT(raw_after * 3, raw_before * 105 / 100);
  clock_.Advance(3600 * kSec);
  ASSERT_TRUE(c.RunOnce().ok());
  EXPECT_EQ(StoredChunks(), CheckIndexPointsAtExistingChunks());
  EXPECT_EQ(StoredChunks().size(), 1u);
  EXPECT_EQ(Query(), before);
  for (auto& n : nodes) EXPECT_TRUE(n->ingester->Shutdown(false).ok());
}

TEST_F(CompactorTest, WorksOnFilesystemStore) {
  char tmpl[] = "/tmp/sluice-compactor-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  base_ = storage::NewFilesystemStore(dir);
  store_ = FaultyStore(base_.get());
  const int64_t start = kDayStart + kDay - 1800 * kSec;
  auto entries = Entries(120, start, 30 * kSec);
  Flush(R"({app="a"})", entries, 120, "ing-1");
  Flush(R"({app="a"})", entries, 50, "ing-2");
  Flush(R"({app="a"})", entries, 33, "ing-3");
  const auto before = Query();
  ASSERT_EQ(before.size(), 120u);
  clock_.Set(start + 2 * kDay);
  Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
  ASSERT_TRUE(c.RunOnce().ok());
  ASSERT_TRUE(c.RunOnce().ok());
  EXPECT_EQ(Query(), before);
  clock_.Advance(3600 * kSec);
  ASSERT_TRUE(c.RunOnce().ok());
  EXPECT_EQ(Query(), before);
  EXPECT_EQ(StoredChunks(), CheckIndexPointsAtExistingChunks());
  EXPECT_EQ(StoredChunks().size(), 1u);
  int objects = 0;
  IndexedRefs(&objects);
  EXPECT_EQ(objects, 2);  // one per day
  base_.reset();
  std::filesystem::remove_all(dir);
}

// Only exact duplicates go: same timestamp, line and structured metadata.
TEST_F(CompactorTest, KeepsEntriesThatDifferOnlyInMetadataOrLine) {
  std::vector<TestEntry> one = {
      {kT0, "a", {{"trace", "1"}}}, {kT0, "a", {{"trace", "2"}}}, {kT0, "b"}, {kT0 + kSec, "c"}};
  std::vector<TestEntry> two = {
      {kT0, "a", {{"trace", "2"}}}, {kT0, "b"}, {kT0, "a"}, {kT0 + kSec, "c"}};
  Flush(R"({app="a"})", one, 10, "ing-1");
  Flush(R"({app="a"})", two, 10, "ing-2");
  Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
  RunStats stats;
  ASSERT_TRUE(c.RunOnce(&stats).ok());
  EXPECT_EQ(stats.duplicates_dropped, 3u);
  // Read the stored chunk itself (queries merge replicas by their own rules).
  auto refs = IndexedRefs()[19675];
  ASSERT_EQ(refs.size(), 1u);
  auto decoded = chunk::Chunk::Decode(base_->Get(refs[0].key).value()).value();
  std::vector<model::Entry> entries;
  for (const auto& b : decoded.blocks()) ASSERT_TRUE(chunk::DecodeBlock(b, &entries).ok());
  std::multiset<std::string> got;
  for (const auto& e : entries) {
    std::string md;
    for (const auto& l : e.metadata) md += " " + l.name + "=" + l.value;
    got.insert(R"({app="a"} )" + std::to_string(e.timestamp_ns) + " " + e.line + md);
  }
  const std::string ts0 = std::to_string(kT0), ts1 = std::to_string(kT0 + kSec);
  std::multiset<std::string> want = {
      R"({app="a"} )" + ts0 + " a trace=1", R"({app="a"} )" + ts0 + " a trace=2",
      R"({app="a"} )" + ts0 + " b", R"({app="a"} )" + ts0 + " a", R"({app="a"} )" + ts1 + " c"};
  EXPECT_EQ(got, want);
}

TEST_F(CompactorTest, CutsMergedChunksAtTargetSize) {
  auto entries = Entries(1000);
  Flush(R"({app="a"})", entries, 400, "ing-1");
  Flush(R"({app="a"})", entries, 300, "ing-2");
  const auto before = Query();
  Options o = TestOptions();
  o.target_chunk_size = 10000;
  o.flush_block_size = 3000;
  Compactor c(o, &store_, nullptr, &policy_, &clock_);
  RunStats stats;
  ASSERT_TRUE(c.RunOnce(&stats).ok());
  EXPECT_EQ(Query(), before);
  auto refs = IndexedRefs()[19675];
  EXPECT_GT(refs.size(), 3u);
  std::sort(refs.begin(), refs.end(),
            [](const auto& a, const auto& b) { return a.from_ns < b.from_ns; });
  for (size_t i = 1; i < refs.size(); ++i) EXPECT_GT(refs[i].from_ns, refs[i - 1].through_ns);
  RunStats again;
  ASSERT_TRUE(c.RunOnce(&again).ok());
  EXPECT_EQ(again.chunks_written, 0u);
}

TEST_F(CompactorTest, ChunkAcrossMidnightIsReplacedInEveryPeriod) {
  // 23:00 to 01:00: replica 1 holds it in one chunk listed in both days, replica 2 cut at
  // midnight, replica 3 in three chunks.
  const int64_t start = kDayStart + kDay - 3600 * kSec;
  auto entries = Entries(240, start, 30 * kSec);  // two hours
  Flush(R"({app="a"})", entries, 240, "ing-1");
  Flush(R"({app="a"})", entries, 120, "ing-2");
  Flush(R"({app="a"})", entries, 80, "ing-3");
  const auto before = Query(start - kDay, start + kDay);
  ASSERT_EQ(before.size(), 240u);

  clock_.Set(start + 2 * kDay);
  Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
  for (int run = 0; run < 3; ++run) {
    RunStats stats;
    ASSERT_TRUE(c.RunOnce(&stats).ok());
    EXPECT_EQ(Query(start - kDay, start + kDay), before) << "run " << run;
    CheckIndexPointsAtExistingChunks();
  }
  RunStats stable;
  ASSERT_TRUE(c.RunOnce(&stable).ok());
  EXPECT_EQ(stable.chunks_written, 0u);

  clock_.Advance(2 * 3600 * kSec);
  ASSERT_TRUE(c.RunOnce().ok());
  const auto indexed = CheckIndexPointsAtExistingChunks();
  EXPECT_EQ(StoredChunks(), indexed);
  EXPECT_EQ(Query(start - kDay, start + kDay), before);
  // Each entry once in the store: the indexed chunks hold 240 entries in all.
  uint64_t n = 0;
  std::set<std::string> seen;
  for (const auto& [period, refs] : IndexedRefs()) {
    for (const auto& r : refs) {
      if (seen.insert(r.key).second) n += r.num_entries;
    }
  }
  EXPECT_EQ(n, 240u);
}

TEST_F(CompactorTest, RetentionMarksThenDeletesAfterDelay) {
  Flush(R"({app="old"})", Entries(10, kT0), 10, "ing-1");
  Flush(R"({app="keep"})", Entries(10, kT0), 10, "ing-1");
  // Two chunks: one wholly expired, one straddling the cutoff (kept, filtered at read time).
  Flush(R"({app="part"})", Entries(10, kT0), 5, "ing-1");
  policy_.retention[R"({app="old"})"] = 3600 * kSec;
  policy_.retention[R"({app="part"})"] = kDay - 3600 * kSec - 7 * kSec;
  clock_.Set(kT0 + kDay - 3600 * kSec);  // "part": cutoff at kT0 + 7s
  Options o = TestOptions();
  o.retention_enabled = true;
  const auto chunks_before = StoredChunks();
  Compactor c(o, &store_, nullptr, &policy_, &clock_);
  RunStats stats;
  ASSERT_TRUE(c.RunOnce(&stats).ok());
  EXPECT_EQ(stats.chunks_expired, 2u);
  EXPECT_EQ(stats.chunks_marked, 2u);

  storage::index::IndexReader reader(base_.get(), 0, &clock_);
  auto series = reader.Series(kTenant, {}, kT0 - kDay, kT0 + kDay).value();
  ASSERT_EQ(series.size(), 2u);  // the index forgot {app="old"}
  EXPECT_EQ(series[0].ToString(), R"({app="keep"})");
  EXPECT_EQ(series[1].ToString(), R"({app="part"})");
  EXPECT_EQ(Query().size(), 15u);
  EXPECT_EQ(StoredChunks(), chunks_before);  // nothing deleted yet

  policy_.retention.clear();  // nothing else expires meanwhile
  clock_.Advance(3599 * kSec);
  ASSERT_TRUE(c.RunOnce(&stats).ok());
  EXPECT_EQ(StoredChunks(), chunks_before);
  clock_.Advance(kSec);
  RunStats sweep;
  ASSERT_TRUE(c.RunOnce(&sweep).ok());
  EXPECT_EQ(sweep.chunks_deleted, 2u);
  EXPECT_EQ(StoredChunks().size(), chunks_before.size() - 2);
  EXPECT_EQ(StoredChunks(), CheckIndexPointsAtExistingChunks());
}

TEST_F(CompactorTest, RetentionDisabledKeepsEverything) {
  Flush(R"({app="old"})", Entries(10, kT0), 10, "ing-1");
  Flush(R"({app="old"})", Entries(10, kT0 + 100 * kSec), 10, "ing-1");
  policy_.retention[R"({app="old"})"] = kSec;
  Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
  RunStats stats;
  ASSERT_TRUE(c.RunOnce(&stats).ok());
  EXPECT_EQ(stats.chunks_expired, 0u);
  EXPECT_EQ(Query().size(), 20u);
  int objects = 0;
  IndexedRefs(&objects);
  EXPECT_EQ(objects, 1);  // index compaction still ran
}

TEST_F(CompactorTest, DeletesRewriteExactlyTheMatchingLines) {
  std::vector<TestEntry> entries;
  for (int i = 0; i < 100; ++i) {
    entries.push_back(
        {kT0 + i * kSec, i % 10 == 3 ? fmt::format("secret {}", i) : fmt::format("public {}", i)});
  }
  Flush(R"({app="a"})", entries, 30, "ing-1");
  Flush(R"({app="b"})", entries, 100, "ing-1");
  // A chunk holding nothing but deleted lines is dropped from the index.
  Flush(R"({app="a"})", {{kT0 + 500 * kSec, "secret only"}}, 1, "ing-1");
  policy_.delete_stream = R"({app="a"})";
  policy_.delete_substring = "secret";
  Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
  RunStats stats;
  ASSERT_TRUE(c.RunOnce(&stats).ok());
  EXPECT_EQ(stats.entries_deleted, 11u);
  EXPECT_EQ(stats.chunks_rewritten, 5u);
  EXPECT_TRUE(policy_.applied.contains(std::string(kTenant)));
  auto after = Query();
  int a = 0, b = 0;
  for (const auto& line : after) {
    if (line.starts_with(R"({app="a"})")) {
      ++a;
      EXPECT_EQ(line.find("secret"), std::string::npos) << line;
    } else {
      ++b;
    }
  }
  EXPECT_EQ(a, 90);
  EXPECT_EQ(b, 100);
  for (const auto& r : IndexedRefs()[19675]) EXPECT_NE(r.from_ns, kT0 + 500 * kSec);
  // The rewritten chunks hold no deleted entries any more: a second run finds nothing.
  RunStats again;
  ASSERT_TRUE(c.RunOnce(&again).ok());
  EXPECT_EQ(again.entries_deleted, 0u);
  EXPECT_EQ(again.chunks_written, 0u);
}

// A crash between any two store writes leaves queries correct, and the next runs finish the job
// and collect what the crashed run left behind.
TEST_F(CompactorTest, CrashBetweenAnyTwoStepsIsRecovered) {
  auto setup = [&] {
    base_ = storage::NewMemoryStore();
    store_ = FaultyStore(base_.get());
    clock_.Set(kT0 + kDay);
    auto entries = Entries(200, kDayStart + kDay - 3600 * kSec, 30 * kSec);
    Flush(R"({app="a"})", entries, 200, "ing-1");
    Flush(R"({app="a"})", entries, 70, "ing-2");
  };
  // Count the store writes of a full run on the same data.
  setup();
  clock_.Set(kDayStart + 3 * kDay);
  store_.FailAt(0);
  {
    Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
    ASSERT_TRUE(c.RunOnce().ok());
  }
  const int total_ops = store_.ops();
  ASSERT_GT(total_ops, 5);
  for (int fail = 1; fail <= total_ops; ++fail) {
    SCOPED_TRACE(fail);
    setup();
    const auto before = Query();
    ASSERT_EQ(before.size(), 200u);
    clock_.Set(kDayStart + 3 * kDay);
    store_.FailAt(fail);
    {
      Compactor crashed(TestOptions(), &store_, nullptr, &policy_, &clock_);
      (void)crashed.RunOnce();  // dies (returns) at the failed write
    }
    store_.FailAt(0);
    EXPECT_EQ(Query(), before);
    CheckIndexPointsAtExistingChunks();
    Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
    ASSERT_TRUE(c.RunOnce().ok());
    EXPECT_EQ(Query(), before);
    clock_.Advance(3600 * kSec);
    ASSERT_TRUE(c.RunOnce().ok());
    ASSERT_TRUE(c.RunOnce().ok());
    EXPECT_EQ(Query(), before);
    // Nothing leaked: every stored chunk is indexed, and no marker is left.
    EXPECT_EQ(StoredChunks(), CheckIndexPointsAtExistingChunks());
    EXPECT_TRUE(base_->List("markers/").value().empty());
  }
}

TEST_F(CompactorTest, ConcurrentFlushDuringRunIsKept) {
  auto entries = Entries(100);
  Flush(R"({app="a"})", entries, 30, "ing-1");
  Flush(R"({app="a"})", entries, 45, "ing-2");
  bool flushed = false;
  // An ingester flushes new chunks of the same day just before the compacted index is written.
  store_.hook_ = [&](std::string_view key) {
    if (!flushed && key.find("/compacted-") != std::string_view::npos) {
      flushed = true;
      Flush(R"({app="c"})", Entries(5, kT0 + 10 * kSec, kSec, "late"), 5, "ing-3");
    }
  };
  Compactor c(TestOptions(), &store_, nullptr, &policy_, &clock_);
  ASSERT_TRUE(c.RunOnce().ok());
  ASSERT_TRUE(flushed);
  store_.hook_ = nullptr;
  auto after = Query();
  EXPECT_EQ(after.size(), 105u);
  int late = 0;
  for (const auto& l : after) late += l.find("late") != std::string::npos;
  EXPECT_EQ(late, 5);
  int objects = 0;
  IndexedRefs(&objects);
  EXPECT_EQ(objects, 2);  // the compacted one and the late flush's
  ASSERT_TRUE(c.RunOnce().ok());
  IndexedRefs(&objects);
  EXPECT_EQ(objects, 1);
  EXPECT_EQ(Query().size(), 105u);
}

void CheckElection(ring::KvStore* kv) {
  testing::FakeClock clock(kT0);
  auto store = storage::NewMemoryStore();
  Options a, b;
  a.instance_id = "compactor-a";
  b.instance_id = "compactor-b";
  a.lease_ttl_ns = b.lease_ttl_ns = 60 * kSec;
  Compactor ca(a, store.get(), kv, nullptr, &clock);
  Compactor cb(b, store.get(), kv, nullptr, &clock);
  EXPECT_TRUE(ca.AcquireLease().value());
  EXPECT_FALSE(cb.AcquireLease().value());
  clock.Advance(30 * kSec);
  EXPECT_TRUE(ca.AcquireLease().value());  // renewed until kT0 + 90s
  clock.Advance(59 * kSec);
  EXPECT_FALSE(cb.AcquireLease().value());
  EXPECT_TRUE(ca.lease_held());
  // a crashes (stops renewing): b takes over once the lease expires.
  clock.Advance(2 * kSec);
  EXPECT_TRUE(cb.AcquireLease().value());
  EXPECT_FALSE(ca.AcquireLease().value());
  EXPECT_FALSE(ca.lease_held());
  // A release hands over at once.
  ASSERT_TRUE(cb.ReleaseLease().ok());
  EXPECT_TRUE(ca.AcquireLease().value());
  EXPECT_FALSE(cb.AcquireLease().value());
}

TEST(CompactorElectionTest, MemoryKv) {
  ring::MemoryKv kv;
  CheckElection(&kv);
}

TEST(CompactorElectionTest, Etcd) {
  SLUICE_START_ETCD_OR_RETURN(etcd);
  ring::EtcdKv kv(testing::TestEtcdOptions({etcd->endpoint()}));
  CheckElection(&kv);
}

// Two compactors' loops on one KV store: exactly one runs passes; when it stops, the other takes
// over.
void CheckLoops(ring::KvStore* kv) {
  auto store = storage::NewMemoryStore();
  auto make = [&](const std::string& id) {
    Options o;
    o.instance_id = id;
    o.lease_ttl_ns = 2 * kSec;
    o.lease_renew_interval_ns = 20 * kNanosPerMilli;
    o.compaction_interval_ns = 50 * kNanosPerMilli;
    return std::make_unique<Compactor>(o, store.get(), kv, nullptr);
  };
  auto a = make("a");
  auto b = make("b");
  a->Start();
  b->Start();
  auto wait_for = [](const std::function<bool()>& cond) {
    for (int i = 0; i < 500 && !cond(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
  };
  ASSERT_TRUE(wait_for([&] { return a->lease_held() || b->lease_held(); }));
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(a->lease_held() && b->lease_held());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Compactor* holder = a->lease_held() ? a.get() : b.get();
  Compactor* other = holder == a.get() ? b.get() : a.get();
  holder->Stop();
  EXPECT_TRUE(wait_for([&] { return other->lease_held(); }));
  other->Stop();
}

TEST(CompactorElectionTest, LoopsMemoryKv) {
  ring::MemoryKv kv;
  CheckLoops(&kv);
}

TEST(CompactorElectionTest, LoopsEtcd) {
  SLUICE_START_ETCD_OR_RETURN(etcd);
  ring::EtcdKv kv(testing::TestEtcdOptions({etcd->endpoint()}));
  CheckLoops(&kv);
}

}  // namespace
}  // namespace sluice::compactor
