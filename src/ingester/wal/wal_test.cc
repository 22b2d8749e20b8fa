// Writer, checkpoint and replay together, against real files in a temporary directory.

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "ingester/wal/checkpoint.h"
#include "ingester/wal/reader.h"
#include "ingester/wal/test_util.h"
#include "ingester/wal/writer.h"

namespace sluice::wal {
namespace {

using testing::MakeEntry;
using testing::RecordingHandler;
using testing::TempDir;
using testing::Views;
using Entries = std::vector<model::Entry>;

std::string LabelsFor(uint64_t ref) { return fmt::format(R"({{stream="{}"}})", ref); }

Entries MakeEntries(int64_t ts0, int n, std::string_view prefix = "line") {
  Entries out;
  for (int i = 0; i < n; ++i) {
    out.push_back(MakeEntry(
        ts0 + i, fmt::format("{} {}", prefix, ts0 + i),
        i % 3 == 0 ? std::vector<model::Label>{{"trace_id", "t1"}} : std::vector<model::Label>{}));
  }
  return out;
}

WriterOptions Options(const TempDir& dir, uint64_t segment_size = 1 << 20,
                      FsyncPolicy fsync = FsyncPolicy::kNever) {
  WriterOptions opts;
  opts.dir = dir.path();
  opts.fsync = fsync;
  opts.segment_size = segment_size;
  return opts;
}

std::unique_ptr<Writer> OpenWriter(WriterOptions opts) {
  auto w = Writer::Open(std::move(opts));
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(w).value() : nullptr;
}

// Logs one batch with a single stream.
Status LogOne(Writer& w, std::string_view tenant, uint64_t ref, const Entries& entries) {
  std::string labels = LabelsFor(ref);
  auto views = Views(entries);
  StreamEntries s{ref, labels, views};
  return w.Log(tenant, std::span<const StreamEntries>(&s, 1));
}

struct Replayed {
  RecordingHandler handler;
  ReplayStats stats;
};

std::unique_ptr<Replayed> ReplayDir(const std::string& dir) {
  auto out = std::make_unique<Replayed>();
  auto stats = Replay(dir, &out->handler);
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  if (stats.ok()) {
    out->stats = *stats;
  }
  return out;
}

std::vector<uint64_t> Segments(const std::string& dir) {
  std::vector<uint64_t> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    ParsedFileName f = ParseFileName(e.path().filename().string());
    if (f.kind == FileKind::kSegment) {
      out.push_back(f.number);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t SizeOf(const std::string& path) { return std::filesystem::file_size(path); }

void CopyDir(const std::string& from, const std::string& to) {
  for (const auto& e : std::filesystem::directory_iterator(from)) {
    std::filesystem::copy_file(e.path(), to + "/" + e.path().filename().string(),
                               std::filesystem::copy_options::overwrite_existing);
  }
}

void Truncate(const std::string& path, uint64_t size) { std::filesystem::resize_file(path, size); }

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5a));
}

// Start offsets of the records of a file.
std::vector<uint64_t> RecordOffsets(const std::string& path) {
  std::vector<uint64_t> out;
  auto reader = RecordReader::Open(path);
  EXPECT_TRUE(reader.ok());
  while (true) {
    auto outcome = (*reader)->Next();
    EXPECT_TRUE(outcome.ok());
    if (*outcome != RecordReader::Outcome::kRecord) {
      EXPECT_EQ(*outcome, RecordReader::Outcome::kEof);
      break;
    }
    out.push_back((*reader)->record_offset());
  }
  return out;
}

TEST(WalTest, RoundTrip) {
  TempDir dir;
  Entries a = MakeEntries(1000, 10), b = MakeEntries(2000, 3), c = MakeEntries(3000, 5);
  {
    auto w = OpenWriter(Options(dir));
    std::string la = LabelsFor(1), lb = LabelsFor(2);
    auto va = Views(a), vb = Views(b);
    std::vector<StreamEntries> batch = {{1, la, va}, {2, lb, vb}};
    ASSERT_TRUE(w->Log("tenant-a", batch).ok());
    ASSERT_TRUE(LogOne(*w, "tenant-b", 1, c).ok());   // same ref, other tenant
    ASSERT_TRUE(LogOne(*w, "tenant-a", 3, {}).ok());  // nothing to log
    Writer::Stats stats = w->stats();
    EXPECT_EQ(stats.records, 4u);  // series + entries, twice
    EXPECT_EQ(stats.fsyncs, 0u);
    ASSERT_TRUE(w->Close().ok());
    EXPECT_EQ(w->stats().fsyncs, 1u);  // Close syncs under every policy
    EXPECT_EQ(w->Log("tenant-a", batch).code(), StatusCode::kUnavailable);
    EXPECT_TRUE(w->Close().ok());
  }
  auto r = ReplayDir(dir.path());
  EXPECT_EQ(r->handler.Entries("tenant-a", 1), a);
  EXPECT_EQ(r->handler.Entries("tenant-a", 2), b);
  EXPECT_EQ(r->handler.Entries("tenant-b", 1), c);
  EXPECT_EQ(r->handler.Labels("tenant-a", 2), LabelsFor(2));
  EXPECT_EQ(r->handler.NumStreams(), 3u);
  EXPECT_EQ(r->stats.records, 4u);
  EXPECT_EQ(r->stats.entries, 18u);
  EXPECT_EQ(r->stats.segments, 1u);
  EXPECT_EQ(r->stats.corrupt_truncations, 0u);
  ASSERT_GE(r->handler.events.size(), 2u);
  EXPECT_TRUE(r->handler.events[0].series);
}

// A full disk fails every write until space returns. Each failed batch is cut off and the
// segment kept (not a new file per failure); the series record of a stream first named by a
// failed batch is written again with the next batch that names it.
TEST(WalTest, FailedWritesAreCutOffAndTheSegmentKept) {
  TempDir dir;
  Entries a = MakeEntries(1000, 5), b = MakeEntries(2000, 400, "too big"), c = MakeEntries(3000, 4);
  {
    auto w = OpenWriter(Options(dir, 1 << 20, FsyncPolicy::kBatch));
    ASSERT_TRUE(LogOne(*w, "t", 1, a).ok());
    std::vector<Status> failed;
    {
      testing::ScopedFileSizeLimit full_disk(4096);
      for (int i = 0; i < 5; ++i) failed.push_back(LogOne(*w, "t", 2, b));  // stream 2 is new
    }
    for (const Status& st : failed) EXPECT_EQ(st.code(), StatusCode::kIOError) << st.ToString();
    ASSERT_TRUE(LogOne(*w, "t", 2, c).ok());
    ASSERT_TRUE(w->Close().ok());
  }
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  auto r = ReplayDir(dir.path());
  EXPECT_EQ(r->handler.Entries("t", 1), a);
  EXPECT_EQ(r->handler.Entries("t", 2), c);  // nothing of the failed batches
  EXPECT_EQ(r->handler.Labels("t", 2), LabelsFor(2));
  EXPECT_EQ(r->stats.corrupt_truncations, 0u);
}

TEST(WalTest, ReplayOfMissingOrEmptyDirectory) {
  TempDir dir;
  auto r = ReplayDir(dir.File("nope"));
  EXPECT_EQ(r->stats.records, 0u);
  r = ReplayDir(dir.path());
  EXPECT_EQ(r->stats.records, 0u);
}

TEST(WalTest, LargeRecordsRoundTrip) {
  TempDir dir;
  Entries big = {MakeEntry(1, std::string(5 << 20, 'x'))};
  Entries many = MakeEntries(0, 20000);
  {
    auto w = OpenWriter(Options(dir));
    ASSERT_TRUE(LogOne(*w, "t", 1, big).ok());
    ASSERT_TRUE(LogOne(*w, "t", 2, many).ok());
  }
  auto r = ReplayDir(dir.path());
  EXPECT_EQ(r->handler.Entries("t", 1), big);
  EXPECT_EQ(r->handler.Entries("t", 2), many);
}

TEST(WalTest, GroupCommitFromManyThreads) {
  testing::QuietLogs quiet;
  TempDir dir(/*prefer_memory=*/true);  // kBatch, but 1600 fsyncs on a disk may take seconds
  constexpr int kThreads = 8, kBatches = 200;
  auto w = OpenWriter(Options(dir, 64 << 10, FsyncPolicy::kBatch));
  std::atomic<int> observed{0};
  w->SetFsyncObserver([&](double seconds) {
    EXPECT_GE(seconds, 0);
    observed++;
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string own = LabelsFor(100 + t), shared = LabelsFor(1);
      for (int i = 0; i < kBatches; ++i) {
        Entries mine = MakeEntries(t * 1'000'000 + i * 2, 2);
        Entries common = {MakeEntry(t * 1'000'000 + i, "shared")};
        auto vmine = Views(mine), vcommon = Views(common);
        std::vector<StreamEntries> batch = {{100u + t, own, vmine}, {1, shared, vcommon}};
        Status st = w->Log(t % 2 == 0 ? "even" : "odd", batch);
        ASSERT_TRUE(st.ok()) << st.ToString();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  Writer::Stats stats = w->stats();
  EXPECT_GE(stats.fsyncs, 1u);
  EXPECT_LE(stats.fsyncs, static_cast<uint64_t>(kThreads * kBatches) + Segments(dir.path()).size());
  EXPECT_EQ(static_cast<uint64_t>(observed.load()), stats.fsyncs);
  RecordProperty("fsyncs", static_cast<int>(stats.fsyncs));  // about 1/4 of the batches
  EXPECT_GT(Segments(dir.path()).size(), 2u);
  ASSERT_TRUE(w->Close().ok());

  auto r = ReplayDir(dir.path());
  EXPECT_EQ(r->stats.corrupt_truncations, 0u);
  EXPECT_EQ(r->handler.NumEntries(), static_cast<size_t>(kThreads * kBatches * 3));
  for (int t = 0; t < kThreads; ++t) {
    Entries want;
    for (int i = 0; i < kBatches; ++i) {
      for (auto& e : MakeEntries(t * 1'000'000 + i * 2, 2)) {
        want.push_back(e);
      }
    }
    EXPECT_EQ(r->handler.Entries(t % 2 == 0 ? "even" : "odd", 100 + t), want) << t;
  }
  size_t shared = r->handler.Entries("even", 1).size() + r->handler.Entries("odd", 1).size();
  EXPECT_EQ(shared, static_cast<size_t>(kThreads * kBatches));
}

TEST(WalTest, SeriesRecordsAreRepeatedInEverySegment) {
  testing::QuietLogs quiet;
  TempDir dir;
  {
    auto w = OpenWriter(Options(dir, 512));
    for (int i = 0; i < 60; ++i) {
      ASSERT_TRUE(LogOne(*w, "t", 1 + i % 3, MakeEntries(i * 10, 2)).ok());
    }
  }
  std::vector<uint64_t> segments = Segments(dir.path());
  ASSERT_GT(segments.size(), 3u);
  for (uint64_t n : segments) {
    auto reader = RecordReader::Open(dir.File(SegmentFileName(n)));
    ASSERT_TRUE(reader.ok());
    std::set<uint64_t> known;
    SeriesDecoder series;
    EntriesDecoder entries;
    while (*(*reader)->Next() == RecordReader::Outcome::kRecord) {
      if ((*reader)->type() == static_cast<uint8_t>(RecordType::kSeries)) {
        ASSERT_TRUE(series.Decode((*reader)->payload()).ok());
        for (const auto& s : series.series()) {
          EXPECT_TRUE(known.insert(s.ref).second) << "series written twice in " << n;
        }
      } else {
        ASSERT_TRUE(entries.Decode((*reader)->payload()).ok());
        for (const auto& g : entries.groups()) {
          EXPECT_TRUE(known.contains(g.ref)) << "segment " << n << " lacks series " << g.ref;
        }
      }
    }
  }
  auto r = ReplayDir(dir.path());
  for (uint64_t ref = 1; ref <= 3; ++ref) {
    Entries want;
    for (int i = static_cast<int>(ref) - 1; i < 60; i += 3) {
      for (auto& e : MakeEntries(i * 10, 2)) {
        want.push_back(e);
      }
    }
    EXPECT_EQ(r->handler.Entries("t", ref), want);
  }
}

TEST(WalTest, CutSegmentAndTruncateBefore) {
  TempDir dir;
  Entries a = MakeEntries(0, 3), b = MakeEntries(100, 3), c = MakeEntries(200, 3);
  auto w = OpenWriter(Options(dir));
  uint64_t first = w->current_segment();
  ASSERT_TRUE(LogOne(*w, "t", 1, a).ok());
  auto n1 = w->CutSegment();
  ASSERT_TRUE(n1.ok());
  EXPECT_GT(*n1, first);
  auto again = w->CutSegment();  // nothing logged since: the empty segment is kept
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *n1);
  ASSERT_TRUE(LogOne(*w, "t", 1, b).ok());
  EXPECT_GT(SizeOf(dir.File(SegmentFileName(*n1))), 0u);
  auto n2 = w->CutSegment();
  ASSERT_TRUE(n2.ok());
  EXPECT_GT(*n2, *n1);
  ASSERT_TRUE(LogOne(*w, "t", 1, c).ok());
  EXPECT_EQ(w->current_segment(), *n2);
  EXPECT_EQ(Segments(dir.path()), (std::vector<uint64_t>{first, *n1, *n2}));

  ASSERT_TRUE(w->TruncateBefore(*n2).ok());
  EXPECT_EQ(Segments(dir.path()), std::vector<uint64_t>{*n2});
  ASSERT_TRUE(w->TruncateBefore(*n2 + 100).ok());  // never the segment being written
  EXPECT_EQ(Segments(dir.path()), std::vector<uint64_t>{*n2});
  ASSERT_TRUE(w->Close().ok());

  auto r = ReplayDir(dir.path());
  EXPECT_EQ(r->handler.Entries("t", 1), c);
  EXPECT_EQ(r->handler.Labels("t", 1), LabelsFor(1));  // the segment stands alone
}

TEST(WalTest, CheckpointThenLaterSegments) {
  TempDir dir;
  Entries a = MakeEntries(0, 10), b = MakeEntries(100, 3), only_ckpt = MakeEntries(500, 4);
  auto w = OpenWriter(Options(dir));
  ASSERT_TRUE(LogOne(*w, "t", 1, a).ok());
  auto n = w->CutSegment();
  ASSERT_TRUE(n.ok());
  {
    auto ckpt = CheckpointWriter::Create(dir.path(), *n);
    ASSERT_TRUE(ckpt.ok());
    std::span<const model::Entry> all(a);
    std::string l1 = LabelsFor(1), l9 = LabelsFor(9);
    ASSERT_TRUE((*ckpt)->AddStream("t", 1, l1, all.subspan(0, 4)).ok());  // in chunks
    ASSERT_TRUE((*ckpt)->AddStream("t", 1, l1, all.subspan(4)).ok());
    ASSERT_TRUE((*ckpt)->AddStream("u", 9, l9, only_ckpt).ok());
    EXPECT_TRUE(std::filesystem::exists(dir.File(CheckpointTmpFileName(*n))));
    ASSERT_TRUE((*ckpt)->Commit().ok());
  }
  EXPECT_TRUE(std::filesystem::exists(dir.File(CheckpointFileName(*n))));
  EXPECT_FALSE(std::filesystem::exists(dir.File(CheckpointTmpFileName(*n))));
  ASSERT_TRUE(LogOne(*w, "t", 1, b).ok());

  // Before TruncateBefore, segments below the checkpoint are skipped, not replayed twice.
  auto r = ReplayDir(dir.path());
  Entries want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(r->handler.Entries("t", 1), want);
  EXPECT_EQ(r->handler.Entries("u", 9), only_ckpt);
  EXPECT_EQ(r->stats.segments, 1u);
  ASSERT_FALSE(r->handler.events.empty());
  EXPECT_TRUE(r->handler.events.front().series);
  EXPECT_EQ(r->handler.events.back().entries, b);  // the checkpoint first, then the segment

  ASSERT_TRUE(w->TruncateBefore(*n).ok());
  ASSERT_TRUE(w->Close().ok());
  r = ReplayDir(dir.path());
  EXPECT_EQ(r->handler.Entries("t", 1), want);
  EXPECT_EQ(r->handler.Entries("u", 9), only_ckpt);

  // A newer checkpoint replaces the old one.
  auto w2 = OpenWriter(Options(dir));
  auto n2 = w2->CutSegment();
  ASSERT_TRUE(n2.ok());
  auto ckpt = CheckpointWriter::Create(dir.path(), *n2);
  ASSERT_TRUE(ckpt.ok());
  ASSERT_TRUE((*ckpt)->AddStream("t", 1, LabelsFor(1), want).ok());
  ASSERT_TRUE((*ckpt)->Commit().ok());
  EXPECT_FALSE(std::filesystem::exists(dir.File(CheckpointFileName(*n))));
  ASSERT_TRUE(w2->TruncateBefore(*n2).ok());
  ASSERT_TRUE(w2->Close().ok());
  r = ReplayDir(dir.path());
  EXPECT_EQ(r->handler.Entries("t", 1), want);
  EXPECT_EQ(r->handler.NumStreams(), 1u);
}

TEST(WalTest, IncompleteCheckpointIsIgnoredAndDeleted) {
  TempDir dir;
  Entries a = MakeEntries(0, 5), b = MakeEntries(100, 5);
  auto w = OpenWriter(Options(dir));
  ASSERT_TRUE(LogOne(*w, "t", 1, a).ok());
  auto n = w->CutSegment();
  ASSERT_TRUE(n.ok());
  {
    // Abandoned without Commit: the writer removes its .tmp.
    auto ckpt = CheckpointWriter::Create(dir.path(), *n);
    ASSERT_TRUE(ckpt.ok());
    ASSERT_TRUE((*ckpt)->AddStream("t", 1, LabelsFor(1), a).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(dir.File(CheckpointTmpFileName(*n))));
  ASSERT_TRUE(LogOne(*w, "t", 1, b).ok());
  ASSERT_TRUE(w->Close().ok());
  {
    // A crash mid-checkpoint leaves a .tmp (here a complete-looking one, for a stream that
    // must not appear) numbered above every segment.
    auto ckpt = CheckpointWriter::Create(dir.path(), 50);
    ASSERT_TRUE(ckpt.ok());
    ASSERT_TRUE((*ckpt)->AddStream("t", 7, LabelsFor(7), a).ok());
    ASSERT_TRUE((*ckpt)->Commit().ok());
    std::filesystem::rename(dir.File(CheckpointFileName(50)), dir.File(CheckpointTmpFileName(50)));
  }
  auto r = ReplayDir(dir.path());
  Entries want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(r->handler.Entries("t", 1), want);
  EXPECT_EQ(r->handler.NumStreams(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir.File(CheckpointTmpFileName(50))));
}

// Writes segment `first` = [series 1, entries e1, series 2, entries e2, entries e3 (stream 1)],
// then cuts and writes [series 1, entries e4] to the next segment. Returns the offset of each
// record in the first segment.
struct TwoSegments {
  uint64_t first, second;
  Entries e1, e2, e3, e4;
  std::vector<uint64_t> offsets;
};

TwoSegments WriteTwoSegments(const TempDir& dir) {
  TwoSegments s;
  s.e1 = MakeEntries(0, 3);
  s.e2 = MakeEntries(100, 2);
  s.e3 = MakeEntries(200, 4);
  s.e4 = MakeEntries(300, 2);
  auto w = OpenWriter(Options(dir));
  s.first = w->current_segment();
  EXPECT_TRUE(LogOne(*w, "t", 1, s.e1).ok());
  EXPECT_TRUE(LogOne(*w, "t", 2, s.e2).ok());
  EXPECT_TRUE(LogOne(*w, "t", 1, s.e3).ok());
  s.second = *w->CutSegment();
  EXPECT_TRUE(LogOne(*w, "t", 1, s.e4).ok());
  EXPECT_TRUE(w->Close().ok());
  s.offsets = RecordOffsets(dir.File(SegmentFileName(s.first)));
  EXPECT_EQ(s.offsets.size(), 5u);
  return s;
}

TEST(WalTest, TornTailAtEveryOffsetOfTheLastRecord) {
  testing::QuietLogs quiet;
  TempDir golden;
  TwoSegments s = WriteTwoSegments(golden);
  const std::string name = SegmentFileName(s.first);
  const uint64_t size = SizeOf(golden.File(name));
  const uint64_t last = s.offsets.back();
  Entries want1 = s.e1;
  want1.insert(want1.end(), s.e4.begin(), s.e4.end());
  for (uint64_t cut = last; cut < size; ++cut) {
    TempDir dir(/*prefer_memory=*/true);
    CopyDir(golden.path(), dir.path());
    Truncate(dir.File(name), cut);
    auto r = ReplayDir(dir.path());
    EXPECT_EQ(r->handler.Entries("t", 1), want1) << cut;
    EXPECT_EQ(r->handler.Entries("t", 2), s.e2) << cut;
    EXPECT_EQ(r->stats.corrupt_truncations, cut > last ? 1u : 0u) << cut;
    EXPECT_EQ(r->stats.segments, 2u);
    EXPECT_EQ(SizeOf(dir.File(name)), last) << cut;
  }
}

TEST(WalTest, CorruptByteEndsTheSegment) {
  testing::QuietLogs quiet;
  TempDir golden;
  TwoSegments s = WriteTwoSegments(golden);
  const std::string name = SegmentFileName(s.first);
  // Damage every byte of the record holding e2 (header included): replay keeps what precedes
  // it, truncates there, and still replays the next segment.
  Entries want1 = s.e1;
  want1.insert(want1.end(), s.e4.begin(), s.e4.end());
  for (uint64_t off = s.offsets[3]; off < s.offsets[4]; ++off) {
    TempDir dir(/*prefer_memory=*/true);
    CopyDir(golden.path(), dir.path());
    FlipByte(dir.File(name), off);
    auto r = ReplayDir(dir.path());
    EXPECT_EQ(r->handler.Entries("t", 1), want1) << off;
    EXPECT_TRUE(r->handler.Entries("t", 2).empty()) << off;
    EXPECT_EQ(r->stats.corrupt_truncations, 1u) << off;
    EXPECT_EQ(SizeOf(dir.File(name)), s.offsets[3]) << off;
  }
}

TEST(WalTest, ZeroFilledTailIsTruncated) {
  TempDir dir;
  TwoSegments s = WriteTwoSegments(dir);
  const std::string path = dir.File(SegmentFileName(s.first));
  const uint64_t size = SizeOf(path);
  Truncate(path, size + 4096);  // what a power loss can leave after a size update
  auto r = ReplayDir(dir.path());
  EXPECT_EQ(r->stats.corrupt_truncations, 1u);
  EXPECT_EQ(SizeOf(path), size);
  EXPECT_EQ(r->handler.Entries("t", 2), s.e2);
}

// The Loki 2.9 bug: after a restart the writer must not reuse segment numbers, or a second
// crash loses (or shadows) the first run's records.
TEST(WalTest, RestartsNeverOverwriteSegments) {
  TempDir dir;
  Entries a = MakeEntries(0, 5), b = MakeEntries(100, 5), c = MakeEntries(200, 5);
  uint64_t seg1, seg2;
  {
    auto w = OpenWriter(Options(dir));
    seg1 = w->current_segment();
    ASSERT_TRUE(LogOne(*w, "t", 1, a).ok());
    // Dropped without Close(), as after a crash the records are simply what was written.
  }
  {
    auto r = ReplayDir(dir.path());
    EXPECT_EQ(r->handler.Entries("t", 1), a);
    auto w = OpenWriter(Options(dir));
    seg2 = w->current_segment();
    EXPECT_GT(seg2, seg1);
    ASSERT_TRUE(LogOne(*w, "t", 1, b).ok());
  }
  {
    auto r = ReplayDir(dir.path());
    Entries want = a;
    want.insert(want.end(), b.begin(), b.end());
    EXPECT_EQ(r->handler.Entries("t", 1), want);  // both runs, exactly once each
    auto w = OpenWriter(Options(dir));
    EXPECT_GT(w->current_segment(), seg2);
    ASSERT_TRUE(LogOne(*w, "t", 1, c).ok());
    ASSERT_TRUE(w->Close().ok());
  }
  auto r = ReplayDir(dir.path());
  Entries want = a;
  want.insert(want.end(), b.begin(), b.end());
  want.insert(want.end(), c.begin(), c.end());
  EXPECT_EQ(r->handler.Entries("t", 1), want);
  EXPECT_EQ(r->stats.segments, 3u);
}

TEST(WalTest, RestartAfterCheckpointStartsAtOrAboveIt) {
  TempDir dir;
  Entries a = MakeEntries(0, 5), b = MakeEntries(100, 5);
  {
    auto w = OpenWriter(Options(dir));
    ASSERT_TRUE(LogOne(*w, "t", 1, a).ok());
    auto n = w->CutSegment();
    ASSERT_TRUE(n.ok());
    auto ckpt = CheckpointWriter::Create(dir.path(), *n + 10);  // a checkpoint ahead of all
    ASSERT_TRUE(ckpt.ok());
    ASSERT_TRUE((*ckpt)->AddStream("t", 1, LabelsFor(1), a).ok());
    ASSERT_TRUE((*ckpt)->Commit().ok());
    ASSERT_TRUE(w->Close().ok());
    // Every segment deleted: only the checkpoint's number says where to continue.
    for (uint64_t seg : Segments(dir.path())) {
      std::filesystem::remove(dir.File(SegmentFileName(seg)));
    }
  }
  {
    auto w = OpenWriter(Options(dir));
    ASSERT_TRUE(LogOne(*w, "t", 1, b).ok());
  }
  auto r = ReplayDir(dir.path());
  Entries want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(r->handler.Entries("t", 1), want);
}

TEST(WalTest, IntervalPolicySyncsOnATimer) {
  TempDir dir;
  WriterOptions opts = Options(dir, 1 << 20, FsyncPolicy::kInterval);
  opts.fsync_interval_ns = 1'000'000;  // 1ms
  auto w = OpenWriter(opts);
  ASSERT_TRUE(LogOne(*w, "t", 1, MakeEntries(0, 3)).ok());
  // The writer thread's own timer: wait for it (bounded), no fake clock reaches it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (w->stats().fsyncs == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(w->stats().fsyncs, 1u);
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(w->stats().fsyncs, 1u);  // nothing left dirty
}

TEST(WalTest, BatchPolicySyncsEveryLog) {
  TempDir dir;
  auto w = OpenWriter(Options(dir, 1 << 20, FsyncPolicy::kBatch));
  int observed = 0;
  w->SetFsyncObserver([&](double) { observed++; });
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(LogOne(*w, "t", 1, MakeEntries(i * 10, 3)).ok());
  }
  EXPECT_EQ(w->stats().fsyncs, 3u);
  EXPECT_EQ(observed, 3);
  EXPECT_GT(w->stats().fsync_seconds_total, 0);
  EXPECT_EQ(w->stats().bytes, SizeOf(dir.File(SegmentFileName(w->current_segment()))));
}

TEST(WalTest, CloseWhileLogging) {
  TempDir dir(/*prefer_memory=*/true);
  auto w = OpenWriter(Options(dir));
  w->SetFsyncObserver([&](double) { (void)w->stats(); });  // may call back into the writer
  std::atomic<int> acked[4] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        Status st = LogOne(*w, "t", 1 + t, {MakeEntry(i, "x")});
        if (!st.ok()) {
          EXPECT_EQ(st.code(), StatusCode::kUnavailable);
          return;
        }
        acked[t]++;
      }
    });
  }
  std::thread closer1([&] { EXPECT_TRUE(w->Close().ok()); });
  std::thread closer2([&] { EXPECT_TRUE(w->Close().ok()); });
  for (auto& t : threads) {
    t.join();
  }
  closer1.join();
  closer2.join();
  auto r = ReplayDir(dir.path());
  for (int t = 0; t < 4; ++t) {
    // Every acknowledged batch is there (and, the writes being in order, nothing else).
    EXPECT_EQ(r->handler.Entries("t", 1 + t).size(), static_cast<size_t>(acked[t].load()));
  }
}

TEST(WalTest, RejectsBadOptions) {
  WriterOptions opts;
  EXPECT_EQ(Writer::Open(opts).status().code(), StatusCode::kInvalidArgument);
  TempDir dir;
  opts = Options(dir, 0);
  EXPECT_EQ(Writer::Open(opts).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::wal
