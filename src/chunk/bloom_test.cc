#include "chunk/bloom.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sluice::chunk {
namespace {

std::string RandomHex(std::mt19937* rng, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) {
    c = kHex[(*rng)() % 16];
  }
  return s;
}

// Log-like lines: a shared vocabulary plus a unique trace id and a few numbers each.
std::vector<std::string> MakeLines(size_t n, uint32_t seed) {
  static const char* kWords[] = {
      "GET",        "POST",        "/api/v1/users", "status=200", "status=500",
      "level=info", "level=error", "duration_ms=",  "cache",      "miss"};
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string line = "ts=" + std::to_string(1700000000 + i) + " trace_id=" + RandomHex(&rng, 32);
    for (int w = 0; w < 6; ++w) {
      line += ' ';
      line += kWords[rng() % 10];
      if (rng() % 3 == 0) {
        line += std::to_string(rng() % 1000);
      }
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::string Build(const std::vector<std::string>& lines) {
  BloomBuilder b;
  for (const auto& l : lines) {
    b.AddLine(l);
  }
  return b.Finish();
}

TEST(BloomTest, NoFalseNegativeForAnySubstringFromTheGuaranteedLength) {
  const auto lines = MakeLines(40, 1);
  const std::string bloom = Build(lines);
  ASSERT_TRUE(BloomValid(bloom));
  ASSERT_EQ(BloomGuaranteedLen(bloom), kBloomMinGuaranteedLen);
  size_t checked = 0;
  for (const auto& line : lines) {
    for (size_t start = 0; start < line.size(); ++start) {
      for (size_t len = kBloomMinGuaranteedLen; start + len <= line.size(); ++len) {
        ASSERT_TRUE(BloomMayContain(bloom, std::string_view(line).substr(start, len)))
            << "line \"" << line << "\" start " << start << " len " << len;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 100000u);
}

TEST(BloomTest, RulesOutMostAbsentTraceIds) {
  const auto lines = MakeLines(1000, 2);  // about a 256KB block's worth of lines
  const std::string bloom = Build(lines);
  std::mt19937 rng(3);
  int false_positives = 0;
  constexpr int kTrials = 2000;
  for (int i = 0; i < kTrials; ++i) {
    false_positives += BloomMayContain(bloom, RandomHex(&rng, 32));
  }
  // The measured rate is about 1%; 5% leaves room for other seeds.
  EXPECT_LT(false_positives, kTrials / 20);
  // The filter is far smaller than the lines it covers.
  size_t raw = 0;
  for (const auto& l : lines) {
    raw += l.size();
  }
  EXPECT_LT(bloom.size() * 20, raw);
}

TEST(BloomTest, ShortLiteralsAndEmptyFiltersAreNeverRuledOut) {
  const std::string bloom = Build(MakeLines(100, 4));
  EXPECT_TRUE(BloomMayContain(bloom, ""));
  EXPECT_TRUE(BloomMayContain(bloom, std::string(kBloomMinGuaranteedLen - 1, 'z')));
  EXPECT_FALSE(BloomMayContain(bloom, "QWERTYUIOPASDFGHJKLZXCVBNM"));
  EXPECT_TRUE(BloomMayContain("", std::string(64, 'z')));
  EXPECT_EQ(BloomGuaranteedLen(""), SIZE_MAX);
  // Lines too short to select anything give no filter.
  BloomBuilder b;
  b.AddLine("short");
  EXPECT_EQ(b.Finish(), "");
}

TEST(BloomTest, SizeFollowsDistinctContent) {
  std::vector<std::string> repetitive(1000, "level=info msg=\"request served\" status=200 path=/");
  const std::string small = Build(repetitive);
  const std::string large = Build(MakeLines(1000, 5));
  EXPECT_LT(small.size() * 20, large.size());
  for (const auto& l : repetitive) {
    EXPECT_TRUE(BloomMayContain(small, l));
  }
}

TEST(BloomTest, BuilderResetsAfterFinish) {
  BloomBuilder b;
  const auto first = MakeLines(50, 6);
  for (const auto& l : first) {
    b.AddLine(l);
  }
  const std::string a = b.Finish();
  for (const auto& l : first) {
    b.AddLine(l);
  }
  EXPECT_EQ(b.Finish(), a);
}

TEST(BloomTest, ValidityChecks) {
  const std::string good = Build(MakeLines(10, 7));
  ASSERT_TRUE(BloomValid(good));
  EXPECT_FALSE(BloomValid(""));
  EXPECT_FALSE(BloomValid(good.substr(0, good.size() - 1)));  // not whole 64-bit words
  std::string bad = good;
  bad[0] = 0;  // n-gram length 0
  EXPECT_FALSE(BloomValid(bad));
  bad = good;
  bad[0] = 9;  // longer than one uint64
  EXPECT_FALSE(BloomValid(bad));
  bad = good;
  bad[1] = 0;  // window 0
  EXPECT_FALSE(BloomValid(bad));
  bad = good;
  bad[2] = 0;  // no probes
  EXPECT_FALSE(BloomValid(bad));
}

}  // namespace
}  // namespace sluice::chunk
