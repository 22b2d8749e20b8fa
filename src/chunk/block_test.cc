#include "chunk/block.h"
#include "chunk/blocks_iterator.h"

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
using testutil::Reseal;

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
  EXPECT_EQ(b.heads_crc32, Crc32(b.heads_data()));
  EXPECT_EQ(b.lines_crc32, Crc32(b.lines_data()));
  EXPECT_LT(b.heads_raw_len, b.raw_len);

  std::vector<model::Entry> got;
  Status s = DecodeBlock(b, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, entries);

  model::LabelSet labels(std::vector<model::Label>{{"app", "x"}});
  auto it = NewBlocksIterator(nullptr, {&b}, &labels, kMin, kMax, Direction::kForward);
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

TEST(BlockBuilderTest, TimestampsInACommonUnitTakeFewerBytes) {
  std::vector<model::Entry> ms, ns;
  int64_t ts = 1'700'000'000'000'000'000;
  for (int i = 0; i < 1000; ++i) {
    ts += int64_t{7'000'000} * (1 + i % 5);
    ms.push_back({ts, "x", {}});
    ns.push_back({ts + i % 3, "x", {}});  // the same, with nanosecond jitter
  }
  const Block a = BuildBlock(ms, Codec::kNone), b = BuildBlock(ns, Codec::kNone);
  EXPECT_LT(a.heads_raw_len * 3, b.heads_raw_len * 2);
  for (const auto* entries : {&ms, &ns}) {
    std::vector<model::Entry> got;
    ASSERT_TRUE(DecodeBlock(BuildBlock(*entries, Codec::kZstd), &got).ok());
    EXPECT_EQ(got, *entries);
  }
}

TEST(BlockBuilderTest, NegativeAndExtremeTimestamps) {
  std::vector<model::Entry> entries = {
      {kMin, "min", {}}, {-5, "neg", {}}, {0, "zero", {}}, {kMax, "max", {}}};
  Block b = BuildBlock(entries, Codec::kZstd);
  std::vector<model::Entry> got;
  ASSERT_TRUE(DecodeBlock(b, &got).ok());
  EXPECT_EQ(got, entries);
  model::LabelSet labels;
  auto c =
      Collect(NewBlocksIterator(nullptr, {&b}, &labels, kMin, kMax, Direction::kBackward).get());
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
        auto it = NewBlocksIterator(nullptr, {&b}, &labels, from, through, dir);
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
  auto fwd = NewBlocksIterator(nullptr, {&b}, &labels, 42, 43, Direction::kForward);
  std::string order;
  while (fwd->Next()) {
    EXPECT_EQ(&fwd->Labels(), &labels);
    order += fwd->At().line.substr(1);
  }
  EXPECT_EQ(order, "01234");
  auto back = NewBlocksIterator(nullptr, {&b}, &labels, 42, 43, Direction::kBackward);
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
  auto outside = NewBlocksIterator(nullptr, {&b}, &labels, b.max_ts + 1, kMax, Direction::kForward);
  EXPECT_FALSE(outside->Next());
  EXPECT_TRUE(outside->Error().ok());
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    auto it = NewBlocksIterator(nullptr, {&b}, &labels, kMin, kMax, dir);
    EXPECT_TRUE(it->Error().ok());  // nothing read yet
    EXPECT_FALSE(it->Next());
    EXPECT_EQ(it->Error().code(), StatusCode::kCorruption);
    EXPECT_FALSE(it->Next());
  }
}

// Decodes a possibly corrupt block every way there is; none may crash, and each must end in OK or
// Corruption. Returns whether every way succeeded.
bool DecodesEveryWay(const Block& b) {
  std::vector<model::Entry> all;
  Status s = DecodeBlock(b, &all);
  EXPECT_TRUE(s.ok() || s.code() == StatusCode::kCorruption) << s.ToString();
  bool ok = s.ok();
  model::LabelSet labels;
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    auto c = Collect(NewBlocksIterator(nullptr, {&b}, &labels, kMin, kMax, dir).get());
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
  check("heads crc", [](Block& b) { b.heads_crc32 ^= 1; });
  check("lines crc", [](Block& b) { b.lines_crc32 ^= 1; });
  check("heads_raw_len+1", [](Block& b) { b.heads_raw_len += 1; });
  check("heads_raw_len-1", [](Block& b) { b.heads_raw_len -= 1; });
  check("heads_raw_len past raw_len", [](Block& b) { b.heads_raw_len = b.raw_len + 1; });
  check("heads_len+1", [](Block& b) {
    b.heads_len += 1;
    Reseal(&b);
  });
  check("heads_len past data",
        [](Block& b) { b.heads_len = static_cast<uint32_t>(b.data.size() + 1); });
  check("codec", [](Block& b) { b.codec = Codec::kZstd; });
  check("bad codec", [](Block& b) { b.codec = static_cast<Codec>(200); });
  check("truncated", [](Block& b) {
    b.data.pop_back();
    Reseal(&b);
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
    if (n < b.heads_len) {
      b.heads_len = b.heads_raw_len = static_cast<uint32_t>(n);
    }
    Reseal(&b);
    EXPECT_FALSE(DecodesEveryWay(b)) << "truncated to " << n;
  }
  // Flipped bytes: may happen to decode (a changed character), but never crash.
  std::mt19937 rng(11);
  for (size_t i = 0; i < good.data.size(); ++i) {
    for (char x : {'\x01', '\x80', '\xff'}) {
      Block b = good;
      b.data[i] ^= x;
      Reseal(&b);
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
    Reseal(&b);
    DecodesEveryWay(b);
  }
}

// An uncompressed block from hand-written sections.
Block RawBlock(std::string heads, std::string lines, uint32_t num_entries) {
  Block b;
  b.codec = Codec::kNone;
  b.num_entries = num_entries;
  b.heads_len = b.heads_raw_len = static_cast<uint32_t>(heads.size());
  b.raw_len = static_cast<uint32_t>(heads.size() + lines.size());
  b.data = heads + lines;
  Reseal(&b);
  return b;
}

TEST(BlockCorruptionTest, HugeCountsDoNotAllocate) {
  // A single entry whose metadata claims 2^60 pairs, then nothing.
  const std::string huge_count("\x80\x80\x80\x80\x80\x80\x80\x80\x10", 9);
  EXPECT_FALSE(DecodesEveryWay(RawBlock(std::string("\x01\x00\x00\x09", 4), huge_count, 1)));
  // A line claiming to be longer than the block.
  EXPECT_FALSE(
      DecodesEveryWay(RawBlock(std::string("\x01\x00\xff\xff\xff\xff\x0f\x00", 8), "", 1)));
  // Lengths that tile the lines section but leave bytes over.
  EXPECT_FALSE(DecodesEveryWay(RawBlock(std::string("\x01\x00\x01\x00", 4), "ab", 1)));
  EXPECT_TRUE(DecodesEveryWay(RawBlock(std::string("\x01\x00\x02\x00", 4), "ab", 1)));
  // A timestamp unit of 0, and one that overflows max_ts.
  EXPECT_FALSE(DecodesEveryWay(RawBlock(std::string("\x00\x00\x02\x00", 4), "ab", 1)));
  // Columns: unit 128 | deltas 0, 2 | line lengths 1, 1 | metadata lengths 0, 0.
  Block two = RawBlock(std::string("\x80\x01\x00\x02\x01\x01\x00\x00", 8), "ab", 2);
  two.max_ts = 128;  // unit 128, second delta 2: 256 > max_ts
  EXPECT_FALSE(DecodesEveryWay(two));
  two.max_ts = 256;
  EXPECT_TRUE(DecodesEveryWay(two));
}

// Entries over a small vocabulary so that literals hit some lines and miss others; metadata values
// repeat the vocabulary (a literal found only there must not match).
std::vector<model::Entry> WordEntries(size_t n, uint32_t seed) {
  static const char* kWords[] = {"alpha",  "beta", "gamma", "delta", "alphabet",
                                 "needle", "hay",  "stack", "x"};
  std::mt19937 rng(seed);
  std::vector<model::Entry> out;
  int64_t ts = 1000;
  for (size_t i = 0; i < n; ++i) {
    ts += rng() % 3;
    model::Entry e;
    e.timestamp_ns = ts;
    const int words = static_cast<int>(rng() % 5);
    for (int w = 0; w < words; ++w) {
      if (w > 0) {
        e.line += ' ';
      }
      e.line += kWords[rng() % 9];
    }
    if (rng() % 3 == 0) {
      e.metadata.push_back({"note", kWords[rng() % 9]});
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool HasAll(const std::string& line, const std::vector<std::string>& literals) {
  for (const auto& l : literals) {
    if (line.find(l) == std::string::npos) {
      return false;
    }
  }
  return true;
}

struct ReadResult {
  std::vector<model::Entry> entries;
  Status status;
};

ReadResult ReadAll(const Block& b, int64_t from, int64_t through, Direction dir,
                   const ReadOptions& options) {
  ReadResult r;
  BlockReader reader;
  reader.Reset(&b, from, through, dir, options);
  while (reader.Next()) {
    r.entries.push_back(reader.entry());
  }
  r.status = reader.status();
  return r;
}

TEST(BlockReaderTest, LiteralSkipEqualsFilteringEveryLine) {
  const auto entries = WordEntries(400, 21);
  const std::vector<std::vector<std::string>> literal_sets = {
      {"alpha"},      {"needle"}, {"alphabet"}, {"alpha", "beta"}, {"gamma", "", "x"}, {"zzz"},
      {"beta gamma"}, {"a b"},    {"haystack"}, {"needle", "zzz"}, {"ta", "a", "l"},   {""},
  };
  std::vector<int64_t> points = {kMin, 1000, entries[100].timestamp_ns, entries[300].timestamp_ns,
                                 kMax};
  for (bool bloom : {false, true}) {
    BlockBuilder builder;
    for (const auto& e : entries) {
      builder.Append(e.timestamp_ns, e.line, e.metadata);
    }
    const Block b = builder.Finish(Codec::kZstd, {.level = 0, .bloom = bloom});
    for (const auto& literals : literal_sets) {
      for (int64_t from : points) {
        for (int64_t through : points) {
          for (Direction dir : {Direction::kForward, Direction::kBackward}) {
            std::vector<model::Entry> want;
            for (const auto& e : Expected(entries, from, through, dir)) {
              if (HasAll(e.line, literals)) {
                want.push_back(e);
              }
            }
            BlockStats stats;
            ReadResult got =
                ReadAll(b, from, through, dir, {.required_literals = &literals, .stats = &stats});
            ASSERT_TRUE(got.status.ok()) << got.status.ToString();
            ASSERT_EQ(got.entries, want)
                << literals[0] << " from " << from << " through " << through << " bloom " << bloom;
          }
        }
      }
    }
  }
}

TEST(BlockReaderTest, LiteralHitsAcrossEntryBoundariesDoNotMatch) {
  BlockBuilder builder;
  builder.Append(1, "ab", {{"k", "needle"}});
  builder.Append(2, "cd", {});
  builder.Append(3, "xneedlex", {});
  const Block b = builder.Finish(Codec::kNone);
  for (const std::vector<std::string>& literals :
       {std::vector<std::string>{"bc"}, {"abcd"}, {"needle"}, {"k"}, {"dxn"}}) {
    std::vector<model::Entry> got =
        ReadAll(b, kMin, kMax, Direction::kForward, {.required_literals = &literals}).entries;
    if (literals[0] == "needle") {
      ASSERT_EQ(got.size(), 1u);
      EXPECT_EQ(got[0].timestamp_ns, 3);
    } else {
      EXPECT_TRUE(got.empty()) << literals[0];
    }
  }
}

TEST(BlockReaderTest, DeferredLoadLineEqualsFullDecode) {
  const auto entries = MakeEntries(300, 1000, 22);
  for (Codec codec : kAllCodecs) {
    const Block b = BuildBlock(entries, codec);
    for (Direction dir : {Direction::kForward, Direction::kBackward}) {
      const int64_t from = entries[40].timestamp_ns, through = entries[250].timestamp_ns;
      const auto want = Expected(entries, from, through, dir);
      BlockStats stats;
      BlockReader reader;
      reader.Reset(&b, from, through, dir, {.lines_needed = false, .stats = &stats});
      size_t i = 0;
      while (reader.Next()) {
        ASSERT_LT(i, want.size());
        EXPECT_EQ(reader.entry().timestamp_ns, want[i].timestamp_ns);
        // Entries with metadata come loaded (metadata labels metric samples).
        if (!want[i].metadata.empty()) {
          EXPECT_TRUE(reader.line_loaded());
          EXPECT_EQ(reader.entry(), want[i]);
        } else if (i % 3 == 0) {
          // Every third entry's line is loaded, so unloaded entries follow loaded ones too.
          EXPECT_FALSE(reader.line_loaded());
          EXPECT_TRUE(reader.entry().line.empty());
          EXPECT_TRUE(reader.entry().metadata.empty());
          ASSERT_TRUE(reader.LoadLine().ok());
          EXPECT_TRUE(reader.line_loaded());
          ASSERT_TRUE(reader.LoadLine().ok());  // idempotent
          EXPECT_EQ(reader.entry(), want[i]);
        }
        ++i;
      }
      ASSERT_TRUE(reader.status().ok());
      EXPECT_EQ(i, want.size());
      EXPECT_EQ(stats.blocks, 1u);
      EXPECT_EQ(stats.decompressed, 1u);
      EXPECT_EQ(stats.lines_sections_decompressed, 1u);
    }
  }
}

TEST(BlockReaderTest, TimestampsOnlyNeverTouchesTheLinesSection) {
  auto entries = MakeEntries(200, 1000, 23);
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].metadata.clear();  // an entry with metadata is returned with it, from the lines
    // Distinct timestamps: an entry sharing one with a neighbour is returned with its line too
    // (a merge may have to compare it, see iter::EntryIterator::LineLoaded).
    entries[i].timestamp_ns = 1000 + static_cast<int64_t>(i);
  }
  Block b = BuildBlock(entries, Codec::kZstd);
  b.data.back() ^= 0x5a;  // the lines section now fails its crc
  BlockStats stats;
  auto it = NewBlocksIterator(nullptr, {&b}, nullptr, kMin, kMax, Direction::kForward,
                              {.lines_needed = false, .stats = &stats});
  size_t n = 0;
  while (it->Next()) {
    EXPECT_EQ(it->At().timestamp_ns, entries[n].timestamp_ns);
    EXPECT_FALSE(it->LineLoaded());
    ++n;
  }
  EXPECT_TRUE(it->Error().ok());
  EXPECT_EQ(n, entries.size());
  EXPECT_EQ(stats.lines_sections_decompressed, 0u);
  EXPECT_EQ(stats.compressed_bytes_read, b.heads_len);
  EXPECT_LT(stats.raw_bytes_decompressed * 5,
            b.raw_len);  // heads are a small share

  // Loading a line reads the lines section and finds the damage.
  it = NewBlocksIterator(nullptr, {&b}, nullptr, kMin, kMax, Direction::kForward,
                         {.lines_needed = false});
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->LoadLine().code(), StatusCode::kCorruption);
  EXPECT_EQ(it->Error().code(), StatusCode::kCorruption);
  EXPECT_FALSE(it->Next());
}

TEST(BlockReaderTest, TimestampsOnlyReturnsMetadata) {
  auto entries = MakeEntries(200, 1000, 24);
  const Block b = BuildBlock(entries, Codec::kZstd);
  BlockReader reader;
  reader.Reset(&b, kMin, kMax, Direction::kForward, {.lines_needed = false});
  size_t n = 0, with_metadata = 0;
  while (reader.Next()) {
    ASSERT_LT(n, entries.size());
    EXPECT_EQ(reader.entry().metadata, entries[n].metadata);
    EXPECT_EQ(reader.line_loaded(), !entries[n].metadata.empty());
    with_metadata += entries[n].metadata.empty() ? 0 : 1;
    ++n;
  }
  ASSERT_TRUE(reader.status().ok());
  EXPECT_EQ(n, entries.size());
  EXPECT_GT(with_metadata, 0u);
}

TEST(BlockReaderTest, StatsCountBloomAndScanSkips) {
  std::vector<model::Entry> entries;
  for (int i = 0; i < 200; ++i) {
    entries.push_back(
        {1000 + i,
         "request id=" + std::to_string(1000000 + i * 7919) + " path=/api/v1/things status=200",
         {}});
  }
  BlockBuilder builder;
  for (const auto& e : entries) {
    builder.Append(e.timestamp_ns, e.line, e.metadata);
  }
  const Block with_bloom = builder.Finish(Codec::kZstd, {.bloom = true});
  ASSERT_FALSE(with_bloom.bloom.empty());
  const Block without = BuildBlock(entries, Codec::kZstd);
  ASSERT_TRUE(without.bloom.empty());

  const std::vector<std::string> absent = {"0123456789abcdef0123456789abcdef"};
  BlockStats stats;
  EXPECT_TRUE(ReadAll(with_bloom, kMin, kMax, Direction::kBackward,
                      {.required_literals = &absent, .stats = &stats})
                  .entries.empty());
  EXPECT_EQ(stats.blocks, 1u);
  EXPECT_EQ(stats.skipped_by_bloom, 1u);
  EXPECT_EQ(stats.decompressed, 0u);
  EXPECT_FALSE(BlockMayContain(with_bloom, absent[0]));
  EXPECT_TRUE(BlockMayContain(without, absent[0]));

  stats = {};
  EXPECT_TRUE(ReadAll(without, kMin, kMax, Direction::kBackward,
                      {.required_literals = &absent, .stats = &stats})
                  .entries.empty());
  EXPECT_EQ(stats.skipped_by_bloom, 0u);
  EXPECT_EQ(stats.skipped_by_scan, 1u);
  EXPECT_EQ(stats.lines_sections_decompressed, 1u);
  EXPECT_EQ(stats.entries_skipped_by_literal, entries.size());

  const std::vector<std::string> present = {"id=" + std::to_string(1000000 + 17 * 7919) + " "};
  stats = {};
  auto got = ReadAll(with_bloom, kMin, kMax, Direction::kForward,
                     {.required_literals = &present, .stats = &stats});
  ASSERT_EQ(got.entries.size(), 1u);
  EXPECT_EQ(got.entries[0], entries[17]);
  EXPECT_EQ(stats.entries_skipped_by_literal, entries.size() - 1);
  BlockStats sum;
  sum.Add(stats);
  sum.Add(stats);
  EXPECT_EQ(sum.entries_skipped_by_literal, 2 * stats.entries_skipped_by_literal);
  EXPECT_EQ(sum.compressed_bytes_read, 2 * stats.compressed_bytes_read);
}

TEST(RecompactTest, KeepsEntriesAndOrderAndAddsBlooms) {
  const auto entries = MakeEntries(5000, 1'700'000'000'000'000'000, 24);
  std::vector<Block> small;
  BlockBuilder builder;
  for (const auto& e : entries) {
    builder.Append(e.timestamp_ns, e.line, e.metadata);
    if (builder.raw_bytes() >= 8 * 1024) {
      small.push_back(builder.Finish(Codec::kLz4));
    }
  }
  small.push_back(builder.Finish(Codec::kLz4));
  auto big = Recompact(
      small,
      {.codec = Codec::kZstd, .level = 5, .target_block_raw_size = 64 * 1024, .bloom = true});
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  ASSERT_GT(big->size(), 1u);
  EXPECT_LT(big->size() * 4, small.size());
  std::vector<model::Entry> got;
  for (size_t i = 0; i < big->size(); ++i) {
    const Block& b = (*big)[i];
    EXPECT_EQ(b.codec, Codec::kZstd);
    EXPECT_FALSE(b.bloom.empty());
    if (i + 1 < big->size()) {
      EXPECT_GE(b.raw_len, 64u * 1024);
      EXPECT_LE(b.max_ts, (*big)[i + 1].min_ts);
    }
    ASSERT_TRUE(DecodeBlock(b, &got).ok());
  }
  EXPECT_EQ(got, entries);
}

TEST(RecompactTest, CorruptInputIsCorruption) {
  std::vector<Block> blocks = {BuildBlock(MakeEntries(50, 1000, 25), Codec::kZstd)};
  blocks[0].data[1] ^= 1;
  auto out = Recompact(blocks, {});
  EXPECT_EQ(out.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(Recompact({}, {})->empty());
}

}  // namespace
}  // namespace sluice::chunk
