#include "chunk/block.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "chunk/test_util.h"
#include "common/checksum.h"

namespace sluice::chunk {
namespace {

using model::Direction;
using testutil::BuildBlock;
using testutil::Collect;
using testutil::Expected;
using testutil::MakeEntries;

constexpr Codec kAllCodecs[] = {Codec::kNone, Codec::kGzip, Codec::kLz4, Codec::kSnappy,
                                Codec::kZstd};
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

class BlockTest : public testing::TestWithParam<Codec> {};

TEST_P(BlockTest, RoundTripsEntries) {
  auto entries = MakeEntries(500, 1'700'000'000'000'000'000, 1);
  // An empty line, a large line and a line of raw binary bytes.
  entries.push_back({entries.back().timestamp_ns, "", {}});
  std::string large(1 << 20, '\0');
  std::mt19937 rng(3);
  for (auto& c : large) {
    c = static_cast<char>(rng());
  }
  entries.push_back({entries.back().timestamp_ns + 5, large, {{"k", "v"}}});
  entries.push_back({entries.back().timestamp_ns + 1, std::string("\0\xff\n", 3), {}});

  Block b = BuildBlock(entries, GetParam());
  EXPECT_EQ(b.num_entries, entries.size());
  EXPECT_EQ(b.min_ts, entries.front().timestamp_ns);
  EXPECT_EQ(b.max_ts, entries.back().timestamp_ns);
  EXPECT_EQ(b.codec, GetParam());
  EXPECT_EQ(b.crc32, Crc32(b.data));

  std::vector<model::Entry> got;
  Status s = DecodeBlock(b, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, entries);

  model::LabelSet labels(std::vector<model::Label>{{"app", "x"}});
  auto it = NewBlockIterator(&b, &labels, kMin, kMax, Direction::kForward);
  auto c = Collect(it.get());
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  EXPECT_EQ(c.entries, entries);
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, BlockTest, testing::ValuesIn(kAllCodecs),
                         [](const testing::TestParamInfo<Codec>& info) {
                           return std::string(CodecName(info.param));
                         });

TEST(BlockBuilderTest, ResetsAfterFinish) {
  BlockBuilder b;
  EXPECT_TRUE(b.empty());
  b.Append(100, "a", {});
  b.Append(100, "b", {});
  EXPECT_EQ(b.num_entries(), 2u);
  EXPECT_GT(b.raw_bytes(), 0u);
  Block first = b.Finish(Codec::kSnappy);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.raw_bytes(), 0u);
  // The next block may start before the previous one ended: ordering is per block.
  b.Append(50, "c", {});
  Block second = b.Finish(Codec::kSnappy);
  EXPECT_EQ(second.min_ts, 50);
  EXPECT_EQ(second.num_entries, 1u);
  std::vector<model::Entry> got;
  ASSERT_TRUE(DecodeBlock(first, &got).ok());
  ASSERT_TRUE(DecodeBlock(second, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].line, "a");
  EXPECT_EQ(got[1].line, "b");
  EXPECT_EQ(got[2].line, "c");
}

TEST(BlockBuilderTest, NegativeAndExtremeTimestamps) {
  std::vector<model::Entry> entries = {
      {kMin, "min", {}}, {-5, "neg", {}}, {0, "zero", {}}, {kMax, "max", {}}};
  Block b = BuildBlock(entries, Codec::kZstd);
  std::vector<model::Entry> got;
  ASSERT_TRUE(DecodeBlock(b, &got).ok());
  EXPECT_EQ(got, entries);
  model::LabelSet labels;
  auto c = Collect(NewBlockIterator(&b, &labels, kMin, kMax, Direction::kBackward).get());
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(c.entries, Expected(entries, kMin, kMax, Direction::kBackward));
}

TEST(BlockIteratorTest, RangesAndDirections) {
  auto entries = MakeEntries(300, 1000, 2);
  Block b = BuildBlock(entries, Codec::kLz4);
  model::LabelSet labels(std::vector<model::Label>{{"job", "j"}});
  std::vector<int64_t> points = {kMin, 0, b.min_ts, b.min_ts + 1, b.max_ts, b.max_ts + 1, kMax};
  for (size_t i = 0; i < entries.size(); i += 17) {
    points.push_back(entries[i].timestamp_ns);
    points.push_back(entries[i].timestamp_ns + 1);
  }
  for (int64_t from : points) {
    for (int64_t through : points) {
      for (Direction dir : {Direction::kForward, Direction::kBackward}) {
        auto it = NewBlockIterator(&b, &labels, from, through, dir);
        auto c = Collect(it.get());
        ASSERT_TRUE(c.status.ok());
        ASSERT_EQ(c.entries, Expected(entries, from, through, dir))
            << "from " << from << " through " << through << " dir " << static_cast<int>(dir);
      }
    }
  }
}

TEST(BlockIteratorTest, LabelsAndEqualTimestampsKeepAppendOrder) {
  BlockBuilder builder;
  for (int i = 0; i < 5; ++i) {
    builder.Append(42, "l" + std::to_string(i), {});
  }
  Block b = builder.Finish(Codec::kZstd);
  model::LabelSet labels(std::vector<model::Label>{{"a", "b"}});
  auto fwd = NewBlockIterator(&b, &labels, 42, 43, Direction::kForward);
  std::string order;
  while (fwd->Next()) {
    EXPECT_EQ(&fwd->Labels(), &labels);
    order += fwd->At().line.substr(1);
  }
  EXPECT_EQ(order, "01234");
  auto back = NewBlockIterator(&b, &labels, 42, 43, Direction::kBackward);
  order.clear();
  while (back->Next()) {
    order += back->At().line.substr(1);
  }
  EXPECT_EQ(order, "43210");
}

TEST(BlockIteratorTest, DecompressesLazilyAndOnlyInRange) {
  Block b = BuildBlock(MakeEntries(50, 1000, 3), Codec::kZstd);
  b.data[b.data.size() / 2] ^= 0x55;  // now fails its crc
  model::LabelSet labels;
  // Out of range: never read, so no error.
  auto outside = NewBlockIterator(&b, &labels, b.max_ts + 1, kMax, Direction::kForward);
  EXPECT_FALSE(outside->Next());
  EXPECT_TRUE(outside->Error().ok());
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    auto it = NewBlockIterator(&b, &labels, kMin, kMax, dir);
    EXPECT_TRUE(it->Error().ok());  // nothing read yet
    EXPECT_FALSE(it->Next());
    EXPECT_EQ(it->Error().code(), StatusCode::kCorruption);
    EXPECT_FALSE(it->Next());
  }
}

// Decodes a possibly corrupt block every way there is; none may crash, and each must end in
// OK or Corruption. Returns whether every way succeeded.
bool DecodesEveryWay(const Block& b) {
  std::vector<model::Entry> all;
  Status s = DecodeBlock(b, &all);
  EXPECT_TRUE(s.ok() || s.code() == StatusCode::kCorruption) << s.ToString();
  bool ok = s.ok();
  model::LabelSet labels;
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    auto c = Collect(NewBlockIterator(&b, &labels, kMin, kMax, dir).get());
    EXPECT_TRUE(c.status.ok() || c.status.code() == StatusCode::kCorruption);
    ok = ok && c.status.ok();
  }
  return ok;
}

TEST(BlockCorruptionTest, LyingMetadataIsCorruption) {
  const Block good = BuildBlock(MakeEntries(40, 1000, 4), Codec::kSnappy);
  ASSERT_TRUE(DecodesEveryWay(good));
  auto check = [&](const char* what, auto mutate) {
    Block b = good;
    mutate(b);
    EXPECT_FALSE(DecodesEveryWay(b)) << what;
  };
  check("raw_len+1", [](Block& b) { b.raw_len += 1; });
  check("raw_len-1", [](Block& b) { b.raw_len -= 1; });
  check("raw_len huge", [](Block& b) { b.raw_len = UINT32_MAX; });
  check("num_entries+1", [](Block& b) { b.num_entries += 1; });
  check("num_entries-1", [](Block& b) { b.num_entries -= 1; });
  check("num_entries huge", [](Block& b) { b.num_entries = UINT32_MAX; });
  check("min_ts-1", [](Block& b) { b.min_ts -= 1; });
  check("min_ts+1", [](Block& b) { b.min_ts += 1; });
  check("max_ts-1", [](Block& b) { b.max_ts -= 1; });
  check("max_ts+1", [](Block& b) { b.max_ts += 1; });
  check("max before min", [](Block& b) { b.max_ts = b.min_ts - 1; });
  check("crc", [](Block& b) { b.crc32 ^= 1; });
  check("codec", [](Block& b) { b.codec = Codec::kZstd; });
  check("bad codec", [](Block& b) { b.codec = static_cast<Codec>(200); });
  check("truncated", [](Block& b) {
    b.data.pop_back();
    b.crc32 = Crc32(b.data);
  });
}

// With Codec::kNone and the crc recomputed, every byte the entry decoder sees is hostile.
TEST(BlockCorruptionTest, HostileRawBytesNeverCrash) {
  const auto entries = MakeEntries(30, 1000, 5);
  const Block good = BuildBlock(entries, Codec::kNone);
  // Every truncation, with lengths made consistent, must fail: an entry is always cut.
  for (size_t n = 0; n < good.data.size(); ++n) {
    Block b = good;
    b.data.resize(n);
    b.raw_len = static_cast<uint32_t>(n);
    b.crc32 = Crc32(b.data);
    EXPECT_FALSE(DecodesEveryWay(b)) << "truncated to " << n;
  }
  // Flipped bytes: may happen to decode (a changed character), but never crash.
  std::mt19937 rng(11);
  for (size_t i = 0; i < good.data.size(); ++i) {
    for (char x : {'\x01', '\x80', '\xff'}) {
      Block b = good;
      b.data[i] ^= x;
      b.crc32 = Crc32(b.data);
      DecodesEveryWay(b);
    }
  }
  for (int i = 0; i < 200; ++i) {
    Block b = good;
    for (auto& c : b.data) {
      if (rng() % 8 == 0) {
        c = static_cast<char>(rng());
      }
    }
    b.crc32 = Crc32(b.data);
    DecodesEveryWay(b);
  }
}

TEST(BlockCorruptionTest, HugeCountsDoNotAllocate) {
  // A single entry claiming 2^60 metadata pairs, then nothing.
  Block b;
  b.data = std::string("\x00\x00\x80\x80\x80\x80\x80\x80\x80\x80\x10", 11);
  b.raw_len = static_cast<uint32_t>(b.data.size());
  b.codec = Codec::kNone;
  b.num_entries = 1;
  b.crc32 = Crc32(b.data);
  EXPECT_FALSE(DecodesEveryWay(b));
  // A line claiming to be longer than the block.
  b.data = std::string("\x00\xff\xff\xff\xff\x0f", 6);
  b.raw_len = 6;
  b.crc32 = Crc32(b.data);
  EXPECT_FALSE(DecodesEveryWay(b));
}

}  // namespace
}  // namespace sluice::chunk
