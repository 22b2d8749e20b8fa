#include "kafka/record.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/coding.h"

namespace sluice::kafka {
namespace {

StreamRecord Sample() {
  StreamRecord r;
  r.tenant = "team-a";
  r.labels = R"({app="api", env="prod"})";
  r.entries.push_back({1700000000000000000, "first line", {{"trace_id", "abc"}, {"user", "u1"}}});
  r.entries.push_back({1700000000000000001, "second", {}});
  r.entries.push_back({1699999999000000000, "", {{"k", ""}}});  // out of order: negative delta
  return r;
}

void ExpectRoundTrip(const StreamRecord& r) {
  std::string bytes = EncodeStreamRecord(r);
  Result<StreamRecord> got = DecodeStreamRecord(bytes);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, r);
}

TEST(KafkaRecord, RoundTrip) { ExpectRoundTrip(Sample()); }

TEST(KafkaRecord, RoundTripEmpty) {
  ExpectRoundTrip(StreamRecord{});
  StreamRecord r;
  r.tenant = "t";
  r.labels = R"({a="b"})";
  r.entries.push_back({0, "no metadata", {}});
  ExpectRoundTrip(r);
}

TEST(KafkaRecord, RoundTripManyEntriesExtremeTimestamps) {
  StreamRecord r;
  r.tenant = "fake";
  r.labels = R"({job="many"})";
  for (int i = 0; i < 10000; ++i) {
    r.entries.push_back({int64_t{1700000000} * 1000000000 + i * 1000, "line " + std::to_string(i),
                         i % 3 == 0 ? std::vector<model::Label>{{"i", std::to_string(i)}}
                                    : std::vector<model::Label>{}});
  }
  r.entries.push_back({INT64_MIN, "min", {}});
  r.entries.push_back({INT64_MAX, "max", {}});
  r.entries.push_back({-1, "before 1970", {}});
  ExpectRoundTrip(r);
}

TEST(KafkaRecord, RoundTripUnicodeAndLargeLines) {
  StreamRecord r;
  r.tenant = "tenant-ü";
  r.labels = R"({app="日本語", emoji="🚀"})";
  r.entries.push_back({5, "héllo wörld ✓ — ñ 😀", {{"ключ", "значение"}}});
  r.entries.push_back({6, std::string(3 << 20, 'x'), {{"big", std::string(100000, 'v')}}});
  std::string binary;
  for (int c = 0; c < 256; ++c) {
    binary.push_back(static_cast<char>(c));
  }
  r.entries.push_back({7, binary, {}});
  ExpectRoundTrip(r);
}

TEST(KafkaRecord, EncodesValidatedStreamAsTheSameBytes) {
  StreamRecord r = Sample();
  write::ValidatedStream vs;
  auto labels = model::ParseLabels(r.labels);
  ASSERT_TRUE(labels.ok());
  vs.labels = write::StreamLabels::Make(std::move(*labels));
  r.labels = vs.labels_text();
  for (const model::Entry& e : r.entries) {
    vs.entries.push_back(model::EntryView::Of(e));
  }
  EXPECT_EQ(EncodeStreamRecord(r.tenant, vs), EncodeStreamRecord(r));
}

TEST(KafkaRecord, LayoutIsAsDocumented) {
  StreamRecord r;
  r.tenant = "t";
  r.labels = "{}";
  r.entries.push_back({1, "ab", {{"n", "v"}}});
  r.entries.push_back({0, "", {}});
  // version, lp("t"), lp("{}"), count 2, [zigzag(1)=2, lp("ab"), 1 pair lp("n") lp("v")],
  // [zigzag(-1)=1, lp(""), 0 pairs]
  std::string want = std::string("\x01\x01t\x02{}\x02", 7) +
                     std::string(
                         "\x02\x02"
                         "ab\x01\x01n\x01v",
                         9) +
                     std::string("\x01\x00\x00", 3);
  EXPECT_EQ(EncodeStreamRecord(r), want);
}

TEST(KafkaRecord, EveryTruncationFailsCleanly) {
  std::string bytes = EncodeStreamRecord(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    // A copy of exactly n bytes, so a read past the end is caught by sanitizers.
    std::string cut = bytes.substr(0, n);
    Result<StreamRecord> got = DecodeStreamRecord(cut);
    ASSERT_FALSE(got.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(got.status().code(), StatusCode::kCorruption) << n;
    EXPECT_NE(got.status().message().find("kafka stream record"), std::string::npos) << n;
  }
}

TEST(KafkaRecord, TrailingBytesFail) {
  std::string bytes = EncodeStreamRecord(Sample()) + "x";
  Result<StreamRecord> got = DecodeStreamRecord(bytes);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("trailing"), std::string::npos) << got.status().ToString();
}

TEST(KafkaRecord, UnknownVersionFailsNamingIt) {
  std::string bytes = EncodeStreamRecord(Sample());
  for (int v : {0, 2, 255}) {
    bytes[0] = static_cast<char>(v);
    Result<StreamRecord> got = DecodeStreamRecord(bytes);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
    EXPECT_NE(got.status().message().find("unknown version " + std::to_string(v)),
              std::string::npos)
        << got.status().ToString();
  }
}

TEST(KafkaRecord, OversizedCountsAndLengthsFail) {
  // A huge entry count with no bytes behind it must not allocate.
  std::string bytes(1, '\x01');
  coding::PutLengthPrefixed(&bytes, "t");
  coding::PutLengthPrefixed(&bytes, "{}");
  coding::PutVarint64(&bytes, uint64_t{1} << 60);
  Result<StreamRecord> got = DecodeStreamRecord(bytes);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("entry count"), std::string::npos);

  // A tenant length past the end.
  bytes.assign(1, '\x01');
  coding::PutVarint64(&bytes, 1000);
  bytes += "short";
  got = DecodeStreamRecord(bytes);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("tenant"), std::string::npos);

  // A varint that never ends.
  bytes.assign(1, '\x01');
  bytes += std::string(12, '\xff');
  got = DecodeStreamRecord(bytes);
  ASSERT_FALSE(got.ok());

  // A huge metadata count.
  bytes.assign(1, '\x01');
  coding::PutLengthPrefixed(&bytes, "t");
  coding::PutLengthPrefixed(&bytes, "{}");
  coding::PutVarint64(&bytes, 1);
  coding::PutVarintSigned64(&bytes, 5);
  coding::PutLengthPrefixed(&bytes, "line");
  coding::PutVarint64(&bytes, uint64_t{1} << 62);
  bytes += "abcd";
  got = DecodeStreamRecord(bytes);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("metadata count"), std::string::npos);
}

TEST(KafkaRecord, CorruptBytesNeverCrash) {
  std::string bytes = EncodeStreamRecord(Sample());
  // Every single-byte change either decodes or fails with Corruption; none crashes.
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int v : {0x00, 0x7f, 0x80, 0xff}) {
      std::string b = bytes;
      b[i] = static_cast<char>(v);
      Result<StreamRecord> got = DecodeStreamRecord(b);
      if (!got.ok()) {
        EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
      }
    }
  }
}

TEST(KafkaRecord, PartitionIsStableAndSpreads) {
  // Stable across builds and machines: these values are part of the format.
  EXPECT_EQ(StreamHash("t", R"({a="b"})"), StreamHash("t", R"({a="b"})"));
  EXPECT_NE(StreamHash("t", R"({a="b"})"), StreamHash("u", R"({a="b"})"));
  // The tenant and labels are length-prefixed in the hash: moving bytes between them changes it.
  EXPECT_NE(StreamHash("ab", "c"), StreamHash("a", "bc"));
  EXPECT_EQ(RecordKey("t", R"({a="b"})").size(), 16u);
  EXPECT_EQ(RecordKey("t", R"({a="b"})").find_first_not_of("0123456789abcdef"), std::string::npos);

  constexpr int kPartitions = 16;
  constexpr int kStreams = 16000;
  std::vector<int> counts(kPartitions);
  for (int i = 0; i < kStreams; ++i) {
    std::string labels = R"({app="a", pod="pod-)" + std::to_string(i) + R"("})";
    int32_t p = PartitionFor("tenant", labels, kPartitions);
    ASSERT_GE(p, 0);
    ASSERT_LT(p, kPartitions);
    ASSERT_EQ(p, PartitionFor("tenant", labels, kPartitions));
    ++counts[p];
  }
  for (int c : counts) {
    // Expected 1000 each; a fair hash stays well within +-20%.
    EXPECT_GT(c, 800);
    EXPECT_LT(c, 1200);
  }
  EXPECT_EQ(PartitionFor("t", "{}", 1), 0);
}

}  // namespace
}  // namespace sluice::kafka
