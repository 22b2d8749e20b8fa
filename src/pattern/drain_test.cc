#include "pattern/drain.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "pattern/tokenizer.h"

namespace sluice::pattern {
namespace {

constexpr int64_t kNow = 1'700'000'000LL * 1'000'000'000;
constexpr int64_t kT0Ms = 1'700'000'000'000;

std::map<std::string, int64_t> PatternCounts(const Drain& d) {
  std::map<std::string, int64_t> out;
  d.ForEachCluster([&](const Cluster& c) {
    int64_t n = 0;
    c.ForEachSample([&](const Sample& s) { n += s.count; });
    out[c.Pattern()] += n;
  });
  return out;
}

TEST(TokenizerTest, SplitsOnSpacesAndPunctuationKeepingPathsAndAddresses) {
  Tokens t;
  Tokenize("GET /api/v1/push from 10.0.0.1:3100 status=200 took(5ms)", &t);
  std::vector<std::string_view> want = {
      "GET", "/api/v1/push", "from", "10.0.0.1:3100", "status", "=",
      "200", "took",         "(",    "5ms",           ")"};
  EXPECT_EQ(t.tokens, want);
  EXPECT_EQ(t.spaces_after, (std::vector<int>{0, 1, 2, 3, 6}));
  std::vector<std::string> owned(t.tokens.begin(), t.tokens.end());
  EXPECT_EQ(JoinTokens(owned, t.spaces_after),
            "GET /api/v1/push from 10.0.0.1:3100 status=200 took(5ms)");
}

TEST(TokenizerTest, AdjacentPlaceholdersPrintAsOne) {
  EXPECT_EQ(JoinTokens({"a", "<_>", "<_>", "b", "<_>", "<_>"}, {0, 2, 3}), "a <_> b <_>");
  EXPECT_EQ(JoinTokens({"a", "<_>", "<_>", "b"}, {0, 1, 2}), "a <_> <_> b");
  EXPECT_EQ(JoinTokens({"id", "=", "<_>", "<_>", "x"}, {3}), "id=<_> x");
  EXPECT_EQ(JoinTokens({"a", "b"}, {-1, 0}), " a b");
}

TEST(DrainTest, LinesDifferingInNumbersCollapseToOnePattern) {
  Drain d(DrainOptions{});
  for (int i = 0; i < 50; ++i) {
    d.Train(fmt::format("user {} logged in from 10.0.{}.{}", 1000 + i, i % 7, i), kT0Ms + i * 1000,
            kNow);
    d.Train(fmt::format("GET /api/items/{} returned 200 in {}ms", i * 13, i + 3), kT0Ms + i * 1000,
            kNow);
    d.Train(fmt::format("connection reset by peer id={} retry={}", i * 31, i % 3), kT0Ms + i * 1000,
            kNow);
  }
  auto got = PatternCounts(d);
  std::map<std::string, int64_t> want = {
      {"user <_> logged in from <_>", 50},
      {"GET <_> returned 200 in <_>", 50},
      {"connection reset by peer id=<_> retry=<_>", 50},
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(d.clusters(), 3u);
}

TEST(DrainTest, CountsPerSampleInterval) {
  Drain d(DrainOptions{});
  // 3 lines in [0s,10s), 2 in [10s,20s), 1 at 35s.
  for (int64_t ms : {0, 1000, 9999, 10000, 19000, 35000}) {
    d.Train(fmt::format("request {} handled by worker {}", ms, ms % 4), kT0Ms + ms, kNow);
  }
  ASSERT_EQ(d.clusters(), 1u);
  std::vector<std::pair<int64_t, int64_t>> samples;
  d.ForEachCluster([&](const Cluster& c) {
    c.ForEachSample([&](const Sample& s) { samples.emplace_back(s.ts_ms - kT0Ms, s.count); });
  });
  EXPECT_EQ(samples, (std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {10000, 2}, {30000, 1}}));
}

TEST(DrainTest, SkipsLinesOutsideTokenAndLengthBounds) {
  DrainOptions o;
  o.max_line_length = 200;
  Drain d(o);
  EXPECT_EQ(d.Train("too few", kT0Ms, kNow), TrainResult::kTooFewTokens);
  EXPECT_EQ(d.Train(std::string(201, 'x'), kT0Ms, kNow), TrainResult::kLineTooLong);
  std::string many;
  for (int i = 0; i < 90; ++i) many += "a ";
  EXPECT_EQ(d.Train(many, kT0Ms, kNow), TrainResult::kTooManyTokens);
  EXPECT_EQ(d.clusters(), 0u);
}

TEST(DrainTest, BoundsHoldUnderAFloodOfUniqueLines) {
  DrainOptions o;
  o.max_clusters = 50;
  o.max_samples = 20;
  Drain d(o);
  int64_t peak_bytes = 0;
  int throttled = 0;
  // Lines with no digits and no shared words: each one is a new cluster.
  auto word = [](int n) {
    std::string w;
    for (int k = 0; k < 4; ++k, n /= 26) w.push_back(static_cast<char>('a' + n % 26));
    return w;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string line = word(i) + " " + word(i + 7) + " " + word(i + 13) + " " + word(i + 29);
    if (d.Train(line, kT0Ms + i, kNow + i) == TrainResult::kThrottled) ++throttled;
    ASSERT_LE(d.clusters(), 50u);
    peak_bytes = std::max(peak_bytes, d.memory_bytes());
  }
  // The eviction throttle engaged and memory stayed small.
  EXPECT_GT(throttled, 19000);
  EXPECT_LT(peak_bytes, 64 << 10);
  // After the throttle window, training resumes.
  EXPECT_NE(d.Train("fresh start of a new line", kT0Ms, kNow + 2 * kThrottleNs),
            TrainResult::kThrottled);
}

TEST(DrainTest, SamplesPerClusterAreCapped) {
  DrainOptions o;
  o.max_samples = 5;
  Drain d(o);
  for (int i = 0; i < 100; ++i) {
    d.Train(fmt::format("tick {} of the clock", i), kT0Ms + i * 10'000, kNow);
  }
  ASSERT_EQ(d.clusters(), 1u);
  d.ForEachCluster([](const Cluster& c) {
    ASSERT_EQ(c.num_samples(), 5u);
    int64_t first = -1;
    c.ForEachSample([&](const Sample& s) {
      if (first < 0) first = s.ts_ms;
    });
    EXPECT_EQ(first, kT0Ms + 95 * 10'000);
  });
}

TEST(DrainTest, PruneDropsOldSamplesThenEmptyClusters) {
  Drain d(DrainOptions{});
  for (int i = 0; i < 10; ++i) d.Train(fmt::format("old line number {} here", i), kT0Ms, kNow);
  for (int i = 0; i < 10; ++i)
    d.Train(fmt::format("new event {} arrived now", i), kT0Ms + 60'000, kNow);
  ASSERT_EQ(d.clusters(), 2u);
  const int64_t before = d.memory_bytes();
  EXPECT_EQ(d.Prune(kT0Ms + 30'000), 1u);
  EXPECT_EQ(d.clusters(), 1u);
  EXPECT_LT(d.memory_bytes(), before);
  EXPECT_EQ(PatternCounts(d), (std::map<std::string, int64_t>{{"new event <_> arrived now", 10}}));
  EXPECT_EQ(d.Prune(kT0Ms + 120'000), 1u);
  EXPECT_EQ(d.clusters(), 0u);
  // What is left is the empty tree's root.
  EXPECT_LT(d.memory_bytes(), 200);
}

}  // namespace
}  // namespace sluice::pattern
