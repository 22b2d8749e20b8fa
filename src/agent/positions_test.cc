#include "agent/positions.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/checksum.h"

namespace sluice::agent {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sluice-agent-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const TrackedFile& File(uint64_t id, std::string path, uint64_t ino) {
  static std::vector<TrackedFilePtr> keep;  // outlives the calls that borrow it
  auto f = std::make_shared<TrackedFile>();
  f->id = id;
  f->path = std::move(path);
  f->dev = 7;
  f->ino = ino;
  keep.push_back(f);
  return *f;
}

TEST(PositionsFormat, RoundTripsIncludingOddPaths) {
  std::vector<FileRecord> recs = {
      {"/var/log/a.log", 1, 2, 300, 1700000000000000000, {{300, 400, 5}, {400, 450, 9}}, false, {}},
      {"/tmp/with space/100%\tx\n", 3, 4, 0, 0, {}, false, {}},
  };
  auto text = EncodePositions(recs);
  auto back = DecodePositions(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, recs);
}

TEST(PositionsFormat, EveryTornPrefixIsRejected) {
  auto text = EncodePositions({{"/a", 1, 2, 3, 4, {{3, 10, 5}}, false, {}}});
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_FALSE(DecodePositions(text.substr(0, n)).ok()) << "prefix " << n;
  }
}

TEST(PositionsFormat, EveryFlippedByteIsRejected) {
  auto text = EncodePositions({{"/a", 1, 2, 3, 4, {{3, 10, 5}}, false, {}}});
  for (size_t i = 0; i < text.size(); ++i) {
    std::string bad = text;
    bad[i] ^= 0x01;
    EXPECT_FALSE(DecodePositions(bad).ok()) << "byte " << i;
  }
}

TEST(Positions, AckAdvancesOnlyOverAContiguousPrefix) {
  TempDir dir;
  Positions p(dir.Path("pos"), false);
  p.Track(File(1, "/a", 10), 0, 0);
  p.AddSegment(1, /*batch=*/1, {{0, 100, 1000}}, 1099);
  p.AddSegment(1, 2, {{100, 250, 1100}}, 1199);
  p.AddSegment(1, 3, {{250, 300, 1200}}, 1249);
  p.Ack(2);  // out of order: batch 1 still in flight
  EXPECT_EQ(p.AckedOffset(1), 0u);
  EXPECT_FALSE(p.FullyAcked(1));
  p.Ack(1);
  EXPECT_EQ(p.AckedOffset(1), 250u);
  p.Ack(3);
  EXPECT_EQ(p.AckedOffset(1), 300u);
  EXPECT_TRUE(p.FullyAcked(1));
}

TEST(Positions, SaveAndResumeKeepsTheJournalOfUnackedRuns) {
  TempDir dir;
  {
    Positions p(dir.Path("pos"), true);
    ASSERT_TRUE(p.Load().ok());
    p.Track(File(1, "/a", 10), 0, 0);
    p.Track(File(2, "/b", 11), 50, 77);
    p.AddSegment(1, 1, {{0, 100, 1000}}, 1099);
    p.AddSegment(1, 2, {{100, 250, 1100}, {250, 260, 5000}}, 5000);
    p.Ack(1);
    ASSERT_TRUE(p.Save().ok());
  }
  Positions p(dir.Path("pos"), true);
  ASSERT_TRUE(p.Load().ok());
  EXPECT_FALSE(p.corrupted());
  auto a = p.Find(7, 10);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->acked_offset, 100u);
  EXPECT_EQ(a->last_ts, 5000);
  EXPECT_EQ(a->runs, (std::vector<TimestampRun>{{100, 250, 1100}, {250, 260, 5000}}));
  auto b = p.Find(7, 11);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->acked_offset, 50u);
  EXPECT_EQ(b->last_ts, 77);
  EXPECT_FALSE(p.Find(7, 12).has_value());
}

TEST(Positions, UnclaimedRecordsSurviveUntilDropped) {
  TempDir dir;
  {
    Positions p(dir.Path("pos"), false);
    p.Track(File(1, "/a", 10), 5, 0);
    ASSERT_TRUE(p.Save().ok());
  }
  {
    Positions p(dir.Path("pos"), false);
    ASSERT_TRUE(p.Load().ok());
    p.Track(File(9, "/b", 20), 0, 0);
    ASSERT_TRUE(p.Save().ok());  // /a not claimed yet: kept
  }
  {
    Positions p(dir.Path("pos"), false);
    ASSERT_TRUE(p.Load().ok());
    EXPECT_TRUE(p.Find(7, 10).has_value());
    p.Track(File(9, "/b", 20), 0, 0);  // /b is claimed again, /a is not
    p.DropUnclaimed();
    ASSERT_TRUE(p.Save().ok());
  }
  Positions p(dir.Path("pos"), false);
  ASSERT_TRUE(p.Load().ok());
  EXPECT_FALSE(p.Find(7, 10).has_value());
  EXPECT_TRUE(p.Find(7, 20).has_value());
}

TEST(Positions, WriteIsAtomicAStaleTempFileIsIgnored) {
  TempDir dir;
  std::string path = dir.Path("pos");
  {
    Positions p(path, false);
    p.Track(File(1, "/a", 10), 42, 0);
    ASSERT_TRUE(p.Save().ok());
  }
  // A crash in the middle of a later write leaves only a torn temp file behind.
  std::ofstream(path + ".tmp") << "sluice-agent-positions 1\nfile 7 10 99";
  Positions p(path, false);
  ASSERT_TRUE(p.Load().ok());
  ASSERT_TRUE(p.Find(7, 10).has_value());
  EXPECT_EQ(p.Find(7, 10)->acked_offset, 42u);
  EXPECT_FALSE(fs::exists(path + ".tmp") && ReadAll(path) == ReadAll(path + ".tmp"));
}

TEST(Positions, CorruptFileIsSetAsideAndStartsFresh) {
  TempDir dir;
  std::string path = dir.Path("pos");
  std::ofstream(path) << "garbage\n";
  Positions p(path, false);
  ASSERT_TRUE(p.Load().ok());
  EXPECT_TRUE(p.corrupted());
  EXPECT_TRUE(fs::exists(path + ".corrupt"));
  EXPECT_FALSE(p.Find(7, 10).has_value());
}

TEST(Positions, SaveSkipsWhenNothingChanged) {
  TempDir dir;
  std::string path = dir.Path("pos");
  Positions p(path, false);
  p.Track(File(1, "/a", 10), 0, 0);
  ASSERT_TRUE(p.Save().ok());
  fs::remove(path);
  ASSERT_TRUE(p.Save().ok());
  EXPECT_FALSE(fs::exists(path));
  p.AddSegment(1, 1, {{0, 10, 1}}, 1);
  ASSERT_TRUE(p.Save().ok());
  EXPECT_TRUE(fs::exists(path));
}

TEST(PositionsFormat, JournalRecordsRoundTripAndVersion1StillReads) {
  FileRecord journal;
  journal.path = "journal-sys tem";
  journal.journal = true;
  journal.cursor = "s=abc;i=1f;b=01;m=2;t=66;x=9%";
  std::vector<FileRecord> recs = {{"/a", 1, 2, 3, 4, {}, false, {}}, journal};
  auto back = DecodePositions(EncodePositions(recs));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, recs);
  // A file written before journal records existed.
  std::string v1 = "sluice-agent-positions 1\nfile 1 2 3 4 /a\n";
  v1 += fmt::format("end {:08x}\n", Crc32(v1));
  auto old = DecodePositions(v1);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->size(), 1u);
}

TEST(Positions, JournalCursorMovesWithTheAcknowledgedPrefix) {
  TempDir dir;
  std::string path = dir.Path("pos");
  auto j = std::make_shared<TrackedFile>();
  j->id = 5;
  j->path = "journal-sys";
  j->journal = true;
  {
    Positions p(path, false);
    p.Track(*j, 0, 0, "c0");
    p.AddSegment(5, 1, {{0, 10, 0}}, 0, "c1");
    p.AddSegment(5, 2, {{10, 20, 0}}, 0, "");  // pieces of a split entry: no cursor yet
    p.AddSegment(5, 3, {{20, 30, 0}}, 0, "c3");
    p.Ack(3);
    p.Ack(2);
    ASSERT_TRUE(p.Save().ok());
    EXPECT_NE(ReadAll(path).find("journal journal-sys c0\n"),
              std::string::npos);  // batch 1 in flight
    p.Ack(1);
    ASSERT_TRUE(p.Save().ok());
    EXPECT_EQ(ReadAll(path).find("run "),
              std::string::npos);  // journal entries keep their own timestamps
  }
  Positions p(path, false);
  ASSERT_TRUE(p.Load().ok());
  EXPECT_EQ(p.JournalCursor("journal-sys"), "c3");
  EXPECT_EQ(p.JournalCursor("journal-other"), "");
  p.DropUnclaimed();  // a file scan does not drop journal cursors
  EXPECT_EQ(p.JournalCursor("journal-sys"), "c3");
}

TEST(Positions, WriteFailureIsReportedNotFatal) {
  Positions p("/nonexistent-dir-for-sluice-agent/pos", false);
  p.Track(File(1, "/a", 10), 0, 0);
  EXPECT_FALSE(p.Save().ok());
}

}  // namespace
}  // namespace sluice::agent
