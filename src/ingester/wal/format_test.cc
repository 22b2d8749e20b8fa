#include "ingester/wal/format.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "common/checksum.h"
#include "common/coding.h"
#include "ingester/wal/test_util.h"

namespace sluice::wal {
namespace {

using testing::MakeEntry;
using testing::Views;

struct Framed {
  uint8_t type;
  std::string payload;
};

// Splits framed records, checking every header.
std::vector<Framed> SplitRecords(std::string_view data) {
  std::vector<Framed> out;
  while (!data.empty()) {
    EXPECT_GE(data.size(), kHeaderSize);
    uint32_t crc = coding::DecodeFixed32(data.data());
    uint32_t len = coding::DecodeFixed32(data.data() + 4);
    EXPECT_LE(kHeaderSize + len, data.size());
    EXPECT_EQ(crc, Crc32(data.substr(8, len + 1)));
    out.push_back({static_cast<uint8_t>(data[8]), std::string(data.substr(kHeaderSize, len))});
    data.remove_prefix(kHeaderSize + len);
  }
  return out;
}

TEST(WalFormatTest, ParsesFsyncPolicy) {
  EXPECT_EQ(*ParseFsyncPolicy("batch"), FsyncPolicy::kBatch);
  EXPECT_EQ(*ParseFsyncPolicy("interval"), FsyncPolicy::kInterval);
  EXPECT_EQ(*ParseFsyncPolicy("never"), FsyncPolicy::kNever);
  EXPECT_EQ(ParseFsyncPolicy("always").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FsyncPolicyName(FsyncPolicy::kInterval), "interval");
}

TEST(WalFormatTest, FileNames) {
  EXPECT_EQ(SegmentFileName(7), "00000007");
  EXPECT_EQ(CheckpointFileName(7), "checkpoint.00000007");
  EXPECT_EQ(CheckpointTmpFileName(12), "checkpoint.00000012.tmp");
  EXPECT_EQ(ParseFileName("00000007").kind, FileKind::kSegment);
  EXPECT_EQ(ParseFileName("00000007").number, 7u);
  EXPECT_EQ(ParseFileName("123456789").number, 123456789u);
  EXPECT_EQ(ParseFileName("checkpoint.00000003").kind, FileKind::kCheckpoint);
  EXPECT_EQ(ParseFileName("checkpoint.00000003").number, 3u);
  EXPECT_EQ(ParseFileName("checkpoint.00000003.tmp").kind, FileKind::kCheckpointTmp);
  EXPECT_EQ(ParseFileName("checkpoint.").kind, FileKind::kOther);
  EXPECT_EQ(ParseFileName("0000x").kind, FileKind::kOther);
  EXPECT_EQ(ParseFileName("").kind, FileKind::kOther);
  EXPECT_EQ(ParseFileName("99999999999999999999999").kind, FileKind::kOther);  // overflow
}

TEST(WalFormatTest, EntriesRoundTrip) {
  std::vector<model::Entry> a = {
      MakeEntry(1'700'000'000'000'000'000, "first", {{"trace_id", "abc"}, {"user", ""}}),
      MakeEntry(1'700'000'000'000'000'500, ""),
      MakeEntry(1'600'000'000'000'000'000, "out of order"),  // negative delta
      MakeEntry(std::numeric_limits<int64_t>::min(), "min"),
      MakeEntry(std::numeric_limits<int64_t>::max(), "max"),
  };
  std::vector<model::Entry> b = {MakeEntry(-5, std::string(1000, 'x'))};
  auto va = Views(a), vb = Views(b);
  std::vector<StreamEntries> streams = {
      {1, R"({a="1"})", va}, {2, R"({a="2"})", {}}, {3, R"({a="3"})", vb}};
  std::string buf;
  auto n = AppendEntriesRecords(&buf, "tenant-1", streams);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  auto records = SplitRecords(buf);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, static_cast<uint8_t>(RecordType::kEntries));

  EntriesDecoder dec;
  ASSERT_TRUE(dec.Decode(records[0].payload).ok());
  EXPECT_EQ(dec.tenant(), "tenant-1");
  ASSERT_EQ(dec.groups().size(), 2u);  // the empty stream is skipped
  EXPECT_EQ(dec.groups()[0].ref, 1u);
  EXPECT_EQ(
      std::vector<model::Entry>(dec.groups()[0].entries.begin(), dec.groups()[0].entries.end()), a);
  EXPECT_EQ(dec.groups()[1].ref, 3u);
  EXPECT_EQ(
      std::vector<model::Entry>(dec.groups()[1].entries.begin(), dec.groups()[1].entries.end()), b);
  EXPECT_EQ(dec.num_entries(), 6u);
}

TEST(WalFormatTest, SeriesRoundTrip) {
  std::vector<SeriesRef> series = {{1, R"({a="1"})"}, {~0ull, R"({job="x", env="prod"})"}};
  std::string buf;
  EXPECT_EQ(AppendSeriesRecords(&buf, "t", series), 1u);
  auto records = SplitRecords(buf);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, static_cast<uint8_t>(RecordType::kSeries));
  SeriesDecoder dec;
  ASSERT_TRUE(dec.Decode(records[0].payload).ok());
  EXPECT_EQ(dec.tenant(), "t");
  ASSERT_EQ(dec.series().size(), 2u);
  EXPECT_EQ(dec.series()[1].ref, ~0ull);
  EXPECT_EQ(dec.series()[1].labels, R"({job="x", env="prod"})");
}

TEST(WalFormatTest, SplitsRecordsOverTheLimit) {
  std::vector<model::Entry> a, b;
  for (int i = 0; i < 100; ++i) {
    a.push_back(MakeEntry(i, std::string(50, 'a')));
    b.push_back(MakeEntry(i, std::string(50, 'b'), {{"k", "v"}}));
  }
  auto va = Views(a), vb = Views(b);
  std::vector<StreamEntries> streams = {{1, "{}", va}, {2, "{}", vb}};
  const size_t limit = 1000;
  std::string buf;
  auto n = AppendEntriesRecords(&buf, "t", streams, limit);
  ASSERT_TRUE(n.ok());
  auto records = SplitRecords(buf);
  EXPECT_EQ(records.size(), *n);
  EXPECT_GT(records.size(), 10u);
  std::vector<model::Entry> got_a, got_b;
  EntriesDecoder dec;
  for (const auto& r : records) {
    EXPECT_LE(r.payload.size(), limit);
    ASSERT_TRUE(dec.Decode(r.payload).ok());
    for (const auto& g : dec.groups()) {
      auto& dst = g.ref == 1 ? got_a : got_b;
      dst.insert(dst.end(), g.entries.begin(), g.entries.end());
    }
  }
  EXPECT_EQ(got_a, a);
  EXPECT_EQ(got_b, b);

  const std::string labels(40, 'l');
  std::vector<SeriesRef> series(100, SeriesRef{1, labels});
  std::string sbuf;
  size_t sn = AppendSeriesRecords(&sbuf, "t", series, 200);
  auto srecords = SplitRecords(sbuf);
  EXPECT_EQ(srecords.size(), sn);
  size_t total = 0;
  SeriesDecoder sdec;
  for (const auto& r : srecords) {
    EXPECT_LE(r.payload.size(), 200u);
    ASSERT_TRUE(sdec.Decode(r.payload).ok());
    total += sdec.series().size();
  }
  EXPECT_EQ(total, 100u);
}

TEST(WalFormatTest, EntryTooLargeForARecord) {
  std::vector<model::Entry> a = {MakeEntry(1, "ok"), MakeEntry(2, std::string(2000, 'x'))};
  auto va = Views(a);
  std::vector<StreamEntries> streams = {{1, "{}", va}};
  std::string buf = "keep";
  auto n = AppendEntriesRecords(&buf, "t", streams, 1000);
  EXPECT_EQ(n.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(buf, "keep");
}

TEST(WalFormatTest, DecodersRejectGarbageWithoutCrashing) {
  std::vector<model::Entry> a = {MakeEntry(1, "line", {{"k", "v"}}), MakeEntry(2, "two")};
  auto va = Views(a);
  std::vector<StreamEntries> streams = {{1, "{}", va}};
  std::string buf;
  ASSERT_TRUE(AppendEntriesRecords(&buf, "t", streams).ok());
  std::string payload = SplitRecords(buf)[0].payload;
  EntriesDecoder dec;
  SeriesDecoder sdec;
  // Every truncation fails cleanly.
  for (size_t i = 0; i < payload.size(); ++i) {
    EXPECT_FALSE(dec.Decode(std::string_view(payload).substr(0, i)).ok()) << i;
  }
  // Random bytes and random mutations never crash or over-allocate.
  std::mt19937 rng(42);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string p = payload;
    if (iter % 2 == 0) {
      p[rng() % p.size()] = static_cast<char>(rng());
    } else {
      p.resize(rng() % 64);
      for (char& c : p) {
        c = static_cast<char>(rng());
      }
    }
    (void)dec.Decode(p);
    (void)sdec.Decode(p);
  }
}

}  // namespace
}  // namespace sluice::wal
