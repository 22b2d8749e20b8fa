#include "chunk/chunk.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "chunk/format.h"
#include "chunk/test_util.h"
#include "common/checksum.h"
#include "common/coding.h"

namespace sluice::chunk {
namespace {

using model::Direction;
using testutil::BuildBlock;
using testutil::Collect;
using testutil::Expected;
using testutil::MakeEntries;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

model::LabelSet TestLabels() {
  return model::LabelSet(std::vector<model::Label>{{"job", "api"}, {"env", "prod"}, {"empty", ""}});
}

// Cuts `entries` into blocks of `per_block` entries, cycling through the codecs.
std::vector<Block> CutBlocks(const std::vector<model::Entry>& entries, size_t per_block) {
  constexpr Codec kCodecs[] = {Codec::kZstd, Codec::kSnappy, Codec::kLz4, Codec::kGzip,
                               Codec::kNone};
  std::vector<Block> blocks;
  for (size_t i = 0; i < entries.size(); i += per_block) {
    std::vector<model::Entry> part(entries.begin() + i,
                                   entries.begin() + std::min(entries.size(), i + per_block));
    blocks.push_back(BuildBlock(part, kCodecs[blocks.size() % 5]));
  }
  return blocks;
}

// Decodes, then reads every entry both ways; OK only if all of it succeeded.
Status DecodeAndReadAll(std::string bytes) {
  auto chunk = Chunk::Decode(std::move(bytes));
  if (!chunk.ok()) {
    return chunk.status();
  }
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    auto c = Collect(chunk->Iterator(kMin, kMax, dir).get());
    if (!c.status.ok()) {
      return c.status;
    }
  }
  return Status::OK();
}

TEST(ChunkTest, RoundTrips) {
  const auto entries = MakeEntries(1000, 1'700'000'000'000'000'000, 1);
  const auto blocks = CutBlocks(entries, 90);
  const std::string bytes = EncodeChunk(TestLabels(), blocks);

  auto chunk = Chunk::Decode(bytes);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_EQ(chunk->labels(), TestLabels());
  ASSERT_EQ(chunk->blocks().size(), blocks.size());
  std::vector<model::Entry> decoded;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Block& got = chunk->blocks()[i];
    EXPECT_EQ(got.min_ts, blocks[i].min_ts);
    EXPECT_EQ(got.max_ts, blocks[i].max_ts);
    EXPECT_EQ(got.num_entries, blocks[i].num_entries);
    EXPECT_EQ(got.raw_len, blocks[i].raw_len);
    EXPECT_EQ(got.codec, blocks[i].codec);
    EXPECT_EQ(got.data, blocks[i].data);
    EXPECT_EQ(got.heads_len, blocks[i].heads_len);
    EXPECT_EQ(got.heads_raw_len, blocks[i].heads_raw_len);
    EXPECT_EQ(got.heads_crc32, blocks[i].heads_crc32);
    EXPECT_EQ(got.lines_crc32, blocks[i].lines_crc32);
    EXPECT_EQ(got.bloom, blocks[i].bloom);
    ASSERT_TRUE(DecodeBlock(got, &decoded).ok());
  }
  EXPECT_EQ(decoded, entries);

  ChunkMeta m = chunk->meta();
  EXPECT_EQ(m.fingerprint, TestLabels().Fingerprint());
  EXPECT_EQ(m.min_ts, entries.front().timestamp_ns);
  EXPECT_EQ(m.max_ts, entries.back().timestamp_ns);
  EXPECT_EQ(m.num_entries, entries.size());
  uint64_t raw = 0;
  for (const auto& b : blocks) {
    raw += b.raw_len;
  }
  EXPECT_EQ(m.raw_bytes, raw);

  // Re-encoding a decoded chunk is byte-identical.
  EXPECT_EQ(EncodeChunk(chunk->labels(), chunk->blocks()), bytes);
}

TEST(ChunkTest, EmptyChunk) {
  std::string bytes = EncodeChunk(model::LabelSet(), {});
  auto chunk = Chunk::Decode(bytes);
  ASSERT_TRUE(chunk.ok());
  EXPECT_TRUE(chunk->labels().empty());
  EXPECT_TRUE(chunk->blocks().empty());
  EXPECT_EQ(chunk->meta().num_entries, 0u);
  EXPECT_FALSE(chunk->Iterator(kMin, kMax, Direction::kForward)->Next());
}

TEST(ChunkIteratorTest, RangesAndDirectionsAcrossBlocks) {
  // Cut so that equal timestamps straddle block boundaries.
  std::vector<model::Entry> entries;
  for (int i = 0; i < 60; ++i) {
    entries.push_back({1000 + (i / 4) * 10, "e" + std::to_string(i), {{"i", std::to_string(i)}}});
  }
  auto chunk = Chunk::Decode(EncodeChunk(TestLabels(), CutBlocks(entries, 7)));
  ASSERT_TRUE(chunk.ok());
  std::vector<int64_t> points = {kMin, 0, 999, 1000, 1001, kMax};
  for (int64_t t = 1000; t <= 1150; t += 5) {
    points.push_back(t);
  }
  for (int64_t from : points) {
    for (int64_t through : points) {
      for (Direction dir : {Direction::kForward, Direction::kBackward}) {
        auto it = chunk->Iterator(from, through, dir);
        auto c = Collect(it.get());
        ASSERT_TRUE(c.status.ok());
        ASSERT_EQ(c.entries, Expected(entries, from, through, dir))
            << "from " << from << " through " << through << " dir " << static_cast<int>(dir);
      }
    }
  }
  auto it = chunk->Iterator(kMin, kMax, Direction::kForward);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->Labels(), TestLabels());
}

TEST(ChunkIteratorTest, SkipsBlocksOutsideTheRangeWithoutReadingThem) {
  auto entries = MakeEntries(100, 1000, 2);
  auto blocks = CutBlocks(entries, 25);
  blocks[0].data[0] ^= 1;  // block 0 now fails its crc
  Chunk chunk(TestLabels(), std::move(blocks));
  const Block& b1 = chunk.blocks()[1];
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    auto c = Collect(chunk.Iterator(b1.min_ts + 1, kMax, dir).get());
    EXPECT_TRUE(c.status.ok());
    EXPECT_EQ(c.entries, Expected(entries, b1.min_ts + 1, kMax, dir));
    auto bad = Collect(chunk.Iterator(kMin, kMax, dir).get());
    EXPECT_EQ(bad.status.code(), StatusCode::kCorruption);
    // Backward reads block 0 last, so the other blocks' entries came first.
    if (dir == Direction::kBackward) {
      EXPECT_EQ(bad.entries, Expected(entries, chunk.blocks()[1].min_ts, kMax, dir));
    } else {
      EXPECT_TRUE(bad.entries.empty());
    }
  }
}

TEST(ChunkCorruptionTest, EveryTruncationIsCorruption) {
  const std::string bytes = EncodeChunk(TestLabels(), CutBlocks(MakeEntries(12, 1000, 3), 4));
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto chunk = Chunk::Decode(bytes.substr(0, n));
    ASSERT_FALSE(chunk.ok()) << "truncated to " << n;
    EXPECT_EQ(chunk.status().code(), StatusCode::kCorruption);
  }
  EXPECT_TRUE(Chunk::Decode(bytes).ok());
}

TEST(ChunkCorruptionTest, EveryFlippedByteIsCaught) {
  const std::string bytes = EncodeChunk(TestLabels(), CutBlocks(MakeEntries(12, 1000, 4), 4));
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (char x : {'\x01', '\x80', '\xff'}) {
      std::string bad = bytes;
      bad[i] ^= x;
      Status s = DecodeAndReadAll(bad);
      EXPECT_EQ(s.code(), StatusCode::kCorruption) << "byte " << i << " ^ " << int(x);
    }
  }
}

TEST(ChunkCorruptionTest, BadMagicAndVersion) {
  std::string bytes = EncodeChunk(TestLabels(), CutBlocks(MakeEntries(5, 1000, 5), 5));
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_NE(Chunk::Decode(bad).status().message().find("magic"), std::string::npos);
  bad = bytes;
  bad[4] = 1;  // version 1 (one section per block) is no longer read
  EXPECT_NE(Chunk::Decode(bad).status().message().find("version 1"), std::string::npos);
  bad = bytes;
  bad[bad.size() - 1] = 'X';
  EXPECT_EQ(Chunk::Decode(bad).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Chunk::Decode("").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Chunk::Decode(std::string(1000, '\0')).status().code(), StatusCode::kCorruption);
}

// Rewrites the index crc in the footer so corruption reaches the index parser.
void FixIndexCrc(std::string* bytes) {
  uint32_t index_len = coding::DecodeFixed32(bytes->data() + 6);
  uint32_t crc = Crc32(std::string_view(*bytes).substr(0, format::kHeaderSize + index_len));
  std::memcpy(bytes->data() + bytes->size() - format::kFooterSize, &crc, 4);
}

TEST(ChunkCorruptionTest, HostileIndexNeverCrashes) {
  const std::string bytes = EncodeChunk(TestLabels(), CutBlocks(MakeEntries(20, 1000, 6), 5));
  const uint32_t index_len = coding::DecodeFixed32(bytes.data() + 6);
  std::mt19937 rng(9);
  int decoded_ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bad = bytes;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      size_t pos = format::kHeaderSize + rng() % index_len;
      bad[pos] = static_cast<char>(rng());
    }
    FixIndexCrc(&bad);
    Status s = DecodeAndReadAll(bad);
    EXPECT_TRUE(s.ok() || s.code() == StatusCode::kCorruption) << s.ToString();
    decoded_ok += s.ok();
  }
  // Label bytes can change harmlessly; most mutations must still be caught.
  EXPECT_LT(decoded_ok, 1500);
}

// Builds a chunk whose (crc-valid) index lies about its one block.
std::string ChunkWithBlock(Block b) { return EncodeChunk(TestLabels(), {std::move(b)}); }

TEST(ChunkCorruptionTest, LyingBlockMetadataIsCorruption) {
  const Block good = BuildBlock(MakeEntries(30, 1000, 7), Codec::kZstd);
  ASSERT_TRUE(DecodeAndReadAll(ChunkWithBlock(good)).ok());
  auto check = [&](const char* what, auto mutate) {
    Block b = good;
    mutate(b);
    EXPECT_EQ(DecodeAndReadAll(ChunkWithBlock(b)).code(), StatusCode::kCorruption) << what;
  };
  check("raw_len+1", [](Block& b) { b.raw_len += 1; });
  check("raw_len-1", [](Block& b) { b.raw_len -= 1; });
  check("raw_len 4GB", [](Block& b) { b.raw_len = UINT32_MAX; });
  check("num_entries", [](Block& b) { b.num_entries += 1; });
  check("max_ts", [](Block& b) { b.max_ts += 1; });
  check("codec", [](Block& b) { b.codec = Codec::kLz4; });
  check("heads crc", [](Block& b) { b.heads_crc32 += 1; });
  check("lines crc", [](Block& b) { b.lines_crc32 += 1; });
  check("heads_len", [](Block& b) { b.heads_len -= 1; });
  check("heads_raw_len", [](Block& b) { b.heads_raw_len += 1; });
}

TEST(ChunkCorruptionTest, DecompressionBombIsCorruption) {
  // A block whose few compressed bytes inflate to 16MB, though raw_len claims 100 bytes.
  Block bomb = BuildBlock(MakeEntries(3, 1000, 8), Codec::kZstd);
  std::string lines(bomb.lines_data());
  ASSERT_TRUE(Compress(Codec::kZstd, std::string(16 << 20, 'x'), &bomb.data).ok());
  bomb.heads_len = static_cast<uint32_t>(bomb.data.size());
  bomb.data += lines;
  bomb.raw_len = bomb.raw_len - bomb.heads_raw_len + 100;
  bomb.heads_raw_len = 100;
  testutil::Reseal(&bomb);
  EXPECT_EQ(DecodeAndReadAll(ChunkWithBlock(bomb)).code(), StatusCode::kCorruption);
  // The same payload claiming its true size decompresses, but is not valid entries.
  bomb.raw_len = bomb.raw_len - bomb.heads_raw_len + (16 << 20);
  bomb.heads_raw_len = 16 << 20;
  EXPECT_EQ(DecodeAndReadAll(ChunkWithBlock(bomb)).code(), StatusCode::kCorruption);
}

TEST(ChunkCorruptionTest, BlocksOutsideDataOrOutOfOrder) {
  auto blocks = CutBlocks(MakeEntries(20, 1000, 9), 10);
  std::string bytes = EncodeChunk(TestLabels(), blocks);
  // Hand-encode an index whose second block overlaps the first in time.
  std::string index;
  coding::PutVarint64(&index, 0);  // no labels
  coding::PutVarint64(&index, 2);
  uint64_t offset = 0;
  for (int i = 0; i < 2; ++i) {
    const Block& b = blocks[i];
    coding::PutVarint64(&index, offset);
    coding::PutVarint64(&index, b.heads_len);
    coding::PutVarint64(&index, b.data.size() - b.heads_len);
    coding::PutVarint64(&index, b.heads_raw_len);
    coding::PutVarint64(&index, b.lines_raw_len());
    coding::PutVarintSigned64(&index, i == 1 ? blocks[0].min_ts : b.min_ts);
    coding::PutVarint64(&index, static_cast<uint64_t>(b.max_ts - b.min_ts));
    coding::PutVarint64(&index, b.num_entries);
    index.push_back(static_cast<char>(b.codec));
    index.push_back(0);
    index.push_back(0);
    coding::PutFixed32(&index, b.heads_crc32);
    coding::PutFixed32(&index, b.lines_crc32);
    offset += b.data.size();
  }
  std::string out;
  coding::PutFixed32(&out, format::kMagic);
  out.push_back(static_cast<char>(format::kVersion));
  out.push_back(0);
  coding::PutFixed32(&out, static_cast<uint32_t>(index.size()));
  out += index;
  uint32_t crc = Crc32(out);
  out += blocks[0].data + blocks[1].data;
  coding::PutFixed32(&out, crc);
  coding::PutFixed32(&out, format::kMagic);
  auto chunk = Chunk::Decode(out);
  ASSERT_FALSE(chunk.ok());
  EXPECT_NE(chunk.status().message().find("time order"), std::string::npos);

  // A block reaching past the data section.
  Block big = blocks[0];
  std::string enc = EncodeChunk(TestLabels(), {big});
  std::string cut = enc.substr(0, enc.size() - format::kFooterSize - 1) +
                    enc.substr(enc.size() - format::kFooterSize);
  EXPECT_EQ(Chunk::Decode(cut).status().code(), StatusCode::kCorruption);
}

TEST(ChunkTest, BloomsRoundTripAndSkipBlocks) {
  std::vector<model::Entry> entries;
  std::mt19937 rng(11);
  std::vector<std::string> traces;
  for (int i = 0; i < 3000; ++i) {
    traces.push_back(std::to_string(rng()) + std::to_string(rng()) + std::to_string(rng()));
    entries.push_back(
        {1000 + i, "GET /api/items/" + std::to_string(i % 97) + " trace=" + traces.back(), {}});
  }
  const std::string needle = "trace=" + traces[2500];
  auto blocks = Recompact(CutBlocks(entries, 100),
                          {.level = 1, .target_block_raw_size = 16 * 1024, .bloom = true});
  ASSERT_TRUE(blocks.ok());
  ASSERT_GT(blocks->size(), 5u);
  const std::string bytes = EncodeChunk(TestLabels(), *blocks);
  auto chunk = Chunk::Decode(bytes);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  for (size_t i = 0; i < blocks->size(); ++i) {
    ASSERT_FALSE((*blocks)[i].bloom.empty());
    EXPECT_EQ(chunk->blocks()[i].bloom, (*blocks)[i].bloom);
  }
  EXPECT_EQ(EncodeChunk(chunk->labels(), chunk->blocks()), bytes);

  const std::vector<std::string> literals = {needle};
  BlockStats stats;
  auto it = chunk->Iterator(kMin, kMax, Direction::kBackward,
                            {.required_literals = &literals, .stats = &stats});
  auto c = Collect(it.get());
  ASSERT_TRUE(c.status.ok());
  ASSERT_EQ(c.entries.size(), 1u);
  EXPECT_EQ(c.entries[0], entries[2500]);
  EXPECT_EQ(stats.blocks, blocks->size());
  EXPECT_GE(stats.skipped_by_bloom + 1,
            blocks->size() - 1);  // at most one false positive
  EXPECT_EQ(stats.decompressed, stats.blocks - stats.skipped_by_bloom);

  // Timestamps only, across blocks, with lines loaded on demand through the chunk iterator.
  it = chunk->Iterator(kMin, kMax, Direction::kForward, {.lines_needed = false});
  size_t n = 0;
  while (it->Next()) {
    ASSERT_EQ(it->At().timestamp_ns, entries[n].timestamp_ns);
    ASSERT_FALSE(it->LineLoaded());
    if (n % 500 == 0) {
      ASSERT_TRUE(it->LoadLine().ok());
      EXPECT_TRUE(it->LineLoaded());
      EXPECT_EQ(it->At(), entries[n]);
    }
    ++n;
  }
  EXPECT_TRUE(it->Error().ok());
  EXPECT_EQ(n, entries.size());
}

TEST(ChunkCorruptionTest, BadBloomIsCorruption) {
  auto blocks = Recompact(CutBlocks(MakeEntries(200, 1000, 10), 50), {.bloom = true});
  ASSERT_TRUE(blocks.ok());
  ASSERT_FALSE((*blocks)[0].bloom.empty());
  auto check = [&](const char* what, auto mutate) {
    std::vector<Block> bad = *blocks;
    mutate(bad[0].bloom);
    EXPECT_EQ(Chunk::Decode(EncodeChunk(TestLabels(), bad)).status().code(),
              StatusCode::kCorruption)
        << what;
  };
  check("size not whole words", [](std::string& b) { b.pop_back(); });
  check("n-gram length 0", [](std::string& b) { b[0] = 0; });
  check("no probes", [](std::string& b) { b[2] = 0; });
  check("too short", [](std::string& b) { b.resize(3); });
}

}  // namespace
}  // namespace sluice::chunk
