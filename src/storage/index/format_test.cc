#include "storage/index/format.h"

#include <gtest/gtest.h>

#include "common/checksum.h"
#include "common/coding.h"

namespace sluice::storage::index {
namespace {

model::LabelSet Labels(std::string_view text) {
  auto ls = model::ParseLabels(text);
  EXPECT_TRUE(ls.ok()) << text;
  return *ls;
}

ChunkRef Chunk(const model::LabelSet& labels, int64_t from, int64_t through, std::string key) {
  return {labels.Fingerprint(), from, through, 3, 300, 120, std::move(key)};
}

IndexFile SampleFile() {
  auto api = Labels(R"({app="api", env="prod"})");
  auto db = Labels(R"({app="db", env="prod", zone="a"})");
  IndexFile file{"tenant-1", 19000, {}};
  // Out of order on purpose: the encoder sorts.
  file.series.push_back(
      {db,
       {Chunk(db, PeriodStart(19000) + 50, PeriodStart(19000) + 60, "chunks/tenant-1/db/2"),
        Chunk(db, PeriodStart(19000) + 10, PeriodStart(19000) + 20, "chunks/tenant-1/db/1")}});
  file.series.push_back(
      {api, {Chunk(api, PeriodStart(19000) - 5, PeriodStart(19000) + 5, "chunks/tenant-1/api/1")}});
  return file;
}

// Rewrites the crc so a test can reach the checks behind it.
std::string WithFixedCrc(std::string data) {
  data.resize(data.size() - 4);
  coding::PutFixed32(&data, Crc32(data));
  return data;
}

TEST(IndexFormatTest, RoundTripSortsAndKeepsEverything) {
  std::string data = EncodeIndexFile(SampleFile());
  auto decoded = DecodeIndexFile(data);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->tenant, "tenant-1");
  EXPECT_EQ(decoded->period, 19000);
  ASSERT_EQ(decoded->series.size(), 2u);
  EXPECT_EQ(decoded->series[0].labels.ToString(), R"({app="api", env="prod"})");
  EXPECT_EQ(decoded->series[1].labels.ToString(), R"({app="db", env="prod", zone="a"})");
  ASSERT_EQ(decoded->series[1].chunks.size(), 2u);
  EXPECT_EQ(decoded->series[1].chunks[0], Chunk(decoded->series[1].labels, PeriodStart(19000) + 10,
                                                PeriodStart(19000) + 20, "chunks/tenant-1/db/1"));
  EXPECT_EQ(decoded->series[1].chunks[1].key, "chunks/tenant-1/db/2");
  // A chunk starting before the period (it spans midnight) keeps its negative delta.
  EXPECT_EQ(decoded->series[0].chunks[0].from_ns, PeriodStart(19000) - 5);
  EXPECT_EQ(decoded->series[0].chunks[0].fingerprint, decoded->series[0].labels.Fingerprint());
  // Encoding is deterministic.
  EXPECT_EQ(EncodeIndexFile(*decoded), data);
}

TEST(IndexFormatTest, ExtremesRoundTrip) {
  auto ls = Labels(R"({a="", b="héllo\n", c="x"})");
  IndexFile file{"t", PeriodOf(-1), {}};
  file.series.push_back(
      {ls,
       {Chunk(ls, INT64_MIN, INT64_MAX, "k"),
        Chunk(ls, -1, -1, "k2"),
        {ls.Fingerprint(), 0, 0, UINT32_MAX, UINT64_MAX, UINT64_MAX, std::string(1000, 'z')}}});
  EXPECT_EQ(file.period, -1);
  auto decoded = DecodeIndexFile(EncodeIndexFile(file));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->series.size(), 1u);
  const auto& c = decoded->series[0].chunks;
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], file.series[0].chunks[0]);
  EXPECT_EQ(c[1], file.series[0].chunks[1]);
  EXPECT_EQ(c[2], file.series[0].chunks[2]);
  EXPECT_EQ(decoded->series[0].labels, ls);
}

TEST(IndexFormatTest, EmptyAndDuplicateInput) {
  auto decoded = DecodeIndexFile(EncodeIndexFile(IndexFile{"t", 1, {}}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->series.empty());

  auto ls = Labels(R"({a="1"})");
  IndexFile file{"t", 0, {}};
  file.series.push_back({ls, {Chunk(ls, 1, 2, "k1"), Chunk(ls, 1, 2, "k1")}});
  file.series.push_back({ls, {Chunk(ls, 3, 4, "k2"), Chunk(ls, 1, 2, "k1")}});
  decoded = DecodeIndexFile(EncodeIndexFile(file));
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->series.size(), 1u);
  ASSERT_EQ(decoded->series[0].chunks.size(), 2u);
  EXPECT_EQ(decoded->series[0].chunks[0].key, "k1");
  EXPECT_EQ(decoded->series[0].chunks[1].key, "k2");
}

TEST(IndexFormatTest, EveryTruncationIsCorruption) {
  std::string data = EncodeIndexFile(SampleFile());
  for (size_t n = 0; n < data.size(); ++n) {
    auto decoded = DecodeIndexFile(std::string_view(data).substr(0, n));
    ASSERT_FALSE(decoded.ok()) << n;
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  }
}

TEST(IndexFormatTest, EveryFlippedByteIsCorruption) {
  std::string data = EncodeIndexFile(SampleFile());
  for (size_t i = 0; i < data.size(); ++i) {
    std::string bad = data;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    EXPECT_EQ(DecodeIndexFile(bad).status().code(), StatusCode::kCorruption) << i;
  }
}

TEST(IndexFormatTest, ChecksStructureBehindTheCrc) {
  std::string data = EncodeIndexFile(SampleFile());

  std::string bad_magic = data;
  bad_magic[0] = 'X';
  EXPECT_EQ(DecodeIndexFile(WithFixedCrc(bad_magic)).status().message(), "index object: bad magic");

  std::string bad_version = data;
  bad_version[4] = 2;
  EXPECT_EQ(DecodeIndexFile(WithFixedCrc(bad_version)).status().message(),
            "index object: unsupported version 2");

  std::string trailing = data;
  trailing.insert(trailing.size() - 4, "x");
  EXPECT_EQ(DecodeIndexFile(WithFixedCrc(trailing)).status().message(),
            "index object: trailing bytes");

  // A symbol count far beyond the object's size must fail before allocating.
  std::string huge;
  huge.append(kIndexMagic);
  huge.push_back(static_cast<char>(kIndexVersion));
  coding::PutLengthPrefixed(&huge, "t");
  coding::PutVarintSigned64(&huge, 0);
  coding::PutVarint64(&huge, uint64_t{1} << 60);
  coding::PutFixed32(&huge, 0);
  EXPECT_EQ(DecodeIndexFile(WithFixedCrc(huge)).status().message(),
            "index object: bad symbol count");

  // A series naming a symbol that does not exist.
  std::string bad_symbol;
  bad_symbol.append(kIndexMagic);
  bad_symbol.push_back(static_cast<char>(kIndexVersion));
  coding::PutLengthPrefixed(&bad_symbol, "t");
  coding::PutVarintSigned64(&bad_symbol, 0);
  coding::PutVarint64(&bad_symbol, 1);  // One symbol,
  coding::PutLengthPrefixed(&bad_symbol, "a");
  coding::PutVarint64(&bad_symbol, 1);  // one series,
  coding::PutFixed64(&bad_symbol, 0);
  coding::PutVarint64(&bad_symbol, 1);  // one label,
  coding::PutVarint64(&bad_symbol, 0);
  coding::PutVarint64(&bad_symbol, 7);  // whose value is symbol 7.
  coding::PutVarint64(&bad_symbol, 0);
  coding::PutFixed32(&bad_symbol, 0);
  EXPECT_EQ(DecodeIndexFile(WithFixedCrc(bad_symbol)).status().message(),
            "index object: symbol id out of range");
}

TEST(IndexFormatTest, PeriodsAreFlooredDays) {
  EXPECT_EQ(PeriodOf(0), 0);
  EXPECT_EQ(PeriodOf(kPeriodNanos - 1), 0);
  EXPECT_EQ(PeriodOf(kPeriodNanos), 1);
  EXPECT_EQ(PeriodOf(-1), -1);
  EXPECT_EQ(PeriodOf(-kPeriodNanos), -1);
  EXPECT_EQ(PeriodOf(-kPeriodNanos - 1), -2);
  EXPECT_EQ(PeriodOf(1'700'000'000LL * 1'000'000'000), 19675);
  EXPECT_EQ(PeriodPrefix("t1", 19675), "index/19675/t1/");
}

}  // namespace
}  // namespace sluice::storage::index
