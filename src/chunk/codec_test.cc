#include "chunk/codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice::chunk {
namespace {

constexpr Codec kAllCodecs[] = {Codec::kNone, Codec::kGzip, Codec::kLz4, Codec::kSnappy,
                                Codec::kZstd};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) {
    c = static_cast<char>(rng());
  }
  return s;
}

std::string LogLike(size_t n) {
  std::string s;
  for (int i = 0; s.size() < n; ++i) {
    s += "level=info ts=2024-01-01T00:00:" + std::to_string(i % 60) +
         "Z caller=main.go:42 msg=\"request served\" status=200 latency_ms=" +
         std::to_string(i * 7 % 1000) + "\n";
  }
  s.resize(n);
  return s;
}

class CodecTest : public testing::TestWithParam<Codec> {};

TEST_P(CodecTest, RoundTrips) {
  const Codec c = GetParam();
  for (const std::string& in : {std::string(), std::string("x"), LogLike(300 * 1024),
                                RandomBytes(100 * 1024, 1), std::string(4 << 20, '\0')}) {
    std::string compressed = "stale";
    ASSERT_TRUE(Compress(c, in, &compressed).ok());
    std::string out = "stale bytes that must go";
    Status s = Decompress(c, compressed, in.size(), &out);
    ASSERT_TRUE(s.ok()) << CodecName(c) << " " << in.size() << ": " << s.ToString();
    EXPECT_EQ(out, in);
  }
}

TEST_P(CodecTest, WrongRawLenIsCorruption) {
  const Codec c = GetParam();
  const std::string in = LogLike(10000);
  std::string compressed, out;
  ASSERT_TRUE(Compress(c, in, &compressed).ok());
  for (size_t raw_len : {size_t{0}, in.size() - 1, in.size() + 1, in.size() * 2, size_t{1} << 31,
                         kMaxDecompressedLen + 1, SIZE_MAX}) {
    Status s = Decompress(c, compressed, raw_len, &out);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << CodecName(c) << " raw_len " << raw_len;
  }
}

TEST_P(CodecTest, TruncatedInputIsCorruption) {
  const Codec c = GetParam();
  const std::string in = LogLike(2000);
  std::string compressed, out;
  ASSERT_TRUE(Compress(c, in, &compressed).ok());
  for (size_t n = 0; n < compressed.size(); ++n) {
    Status s = Decompress(c, std::string_view(compressed).substr(0, n), in.size(), &out);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << CodecName(c) << " truncated to " << n;
  }
  // Trailing bytes are rejected too.
  EXPECT_EQ(Decompress(c, compressed + "junk", in.size(), &out).code(), StatusCode::kCorruption);
}

TEST_P(CodecTest, GarbageNeverCrashes) {
  const Codec c = GetParam();
  std::string compressed, out;
  ASSERT_TRUE(Compress(c, LogLike(3000), &compressed).ok());
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string bad = compressed;
    for (int k = 0; k < 1 + i % 4; ++k) {
      bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    Status s = Decompress(c, bad, 3000, &out);
    // A flip may land somewhere harmless (e.g. in a literal); it must never crash or over-run.
    EXPECT_TRUE(s.ok() || s.code() == StatusCode::kCorruption) << s.ToString();
    if (s.ok()) {
      EXPECT_EQ(out.size(), 3000u);
    }
  }
  for (uint32_t seed = 0; seed < 50; ++seed) {
    std::string junk = RandomBytes(1 + seed * 13, seed);
    Status s = Decompress(c, junk, 5000, &out);
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
  }
}

// A small payload that expands to far more than the caller expects must stop at raw_len.
TEST_P(CodecTest, DecompressionBombIsCorruption) {
  const Codec c = GetParam();
  std::string bomb, out;
  ASSERT_TRUE(Compress(c, std::string(8 << 20, 'a'), &bomb).ok());
  EXPECT_EQ(Decompress(c, bomb, 1024, &out).code(), StatusCode::kCorruption);
  EXPECT_LE(out.capacity(), size_t{1} << 20);
  // A claim beyond what the payload could ever produce is rejected before allocating.
  std::string small;
  ASSERT_TRUE(Compress(c, "tiny", &small).ok());
  std::string fresh;
  EXPECT_EQ(Decompress(c, small, size_t{100} << 20, &fresh).code(), StatusCode::kCorruption);
  EXPECT_LE(fresh.capacity(), size_t{1} << 20);
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest, testing::ValuesIn(kAllCodecs),
                         [](const testing::TestParamInfo<Codec>& info) {
                           return std::string(CodecName(info.param));
                         });

TEST(ParseCodecTest, AcceptsOurAndLokiNames) {
  for (Codec c : kAllCodecs) {
    auto parsed = ParseCodec(CodecName(c));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, c);
  }
  for (const char* name : {"lz4-64k", "lz4-256k", "lz4-1M", "lz4-4M"}) {
    EXPECT_EQ(*ParseCodec(name), Codec::kLz4) << name;
  }
  EXPECT_EQ(*ParseCodec("flate"), Codec::kGzip);
}

TEST(ParseCodecTest, ErrorNamesTheValueAndTheChoices) {
  auto parsed = ParseCodec("brotli");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  const std::string& msg = parsed.status().message();
  EXPECT_NE(msg.find("\"brotli\""), std::string::npos) << msg;
  for (const char* name : {"none", "gzip", "lz4", "snappy", "zstd"}) {
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
  EXPECT_FALSE(ParseCodec("").ok());
  EXPECT_FALSE(ParseCodec("ZSTD").ok());
}

TEST(CodecValueTest, InvalidCodecValue) {
  std::string out;
  EXPECT_FALSE(Compress(static_cast<Codec>(9), "x", &out).ok());
  EXPECT_EQ(Decompress(static_cast<Codec>(9), "x", 1, &out).code(), StatusCode::kCorruption);
  EXPECT_FALSE(IsValidCodec(5));
  EXPECT_TRUE(IsValidCodec(4));
}

}  // namespace
}  // namespace sluice::chunk
