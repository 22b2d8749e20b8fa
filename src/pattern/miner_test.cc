#include "pattern/miner.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "testing/fake_clock.h"

namespace sluice::pattern {
namespace {

constexpr int64_t kSec = kNanosPerSecond;
constexpr int64_t kT0 = 1'700'000'000LL * kSec;  // a multiple of 10s

// Owns the lines and metadata a ValidatedStream borrows.
struct StreamBuilder {
  std::shared_ptr<const write::StreamLabels> labels;
  std::deque<std::string> lines;
  std::deque<std::vector<model::Label>> metadata;
  write::ValidatedStream Build() const { return {labels, entries}; }
  std::vector<model::EntryView> entries;

  explicit StreamBuilder(std::initializer_list<model::Label> ls)
      : labels(write::StreamLabels::Make(model::LabelSet(std::vector<model::Label>(ls)))) {}
  void Add(int64_t ts, std::string line, std::string level = "") {
    lines.push_back(std::move(line));
    auto& md = metadata.emplace_back();
    if (!level.empty()) md.push_back({"detected_level", level});
    entries.push_back({ts, lines.back(), md});
  }
};

std::map<std::string, int64_t> Totals(const std::vector<PatternSeries>& series) {
  std::map<std::string, int64_t> out;
  for (const auto& s : series) out[s.level + " " + s.pattern] = s.total;
  return out;
}

model::LabelMatcher Eq(std::string name, std::string value) {
  return *model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, std::move(name),
                                    std::move(value));
}

class MinerTest : public ::testing::Test {
 protected:
  MinerTest() : clock_(kT0 + 3600 * kSec) {}
  testing::FakeClock clock_;
  std::vector<std::string> tenants_ = {"t1"};
};

TEST_F(MinerTest, MergesPatternsAcrossMatchingStreamsByLevel) {
  Miner miner(MinerOptions{}, &clock_);
  StreamBuilder a{{"app", "api"}, {"pod", "a"}};
  StreamBuilder b{{"app", "api"}, {"pod", "b"}};
  StreamBuilder other{{"app", "db"}};
  for (int i = 0; i < 40; ++i) {
    a.Add(kT0 + i * kSec, fmt::format("user {} logged in", i), "info");
    b.Add(kT0 + i * kSec, fmt::format("user {} logged in", i + 100), "INFO");
    b.Add(kT0 + i * kSec, fmt::format("disk {} is full", i), "error");
    other.Add(kT0 + i * kSec, fmt::format("query {} took long", i));
  }
  miner.Observe("t1", a.Build());
  miner.Observe("t1", b.Build());
  miner.Observe("t1", other.Build());

  auto series = miner.Query(tenants_, {Eq("app", "api")}, kT0, kT0 + 3600 * kSec, 10 * kSec);
  EXPECT_EQ(Totals(series), (std::map<std::string, int64_t>{{"info user <_> logged in", 80},
                                                            {"error disk <_> is full", 40}}));
  // Most frequent first; 10s samples: 4 steps of 10 lines per stream.
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].level, "info");
  ASSERT_EQ(series[0].samples.size(), 4u);
  EXPECT_EQ(series[0].samples[0].ts_ms, kT0 / 1'000'000);
  EXPECT_EQ(series[0].samples[0].count, 20);

  // A wider step sums the samples into multiples of the step.
  series = miner.Query(tenants_, {Eq("app", "api")}, kT0, kT0 + 3600 * kSec, 60 * kSec);
  ASSERT_EQ(series.size(), 2u);
  int64_t sum = 0;
  for (const auto& s : series[0].samples) {
    EXPECT_EQ(s.ts_ms % 60'000, 0);
    sum += s.count;
  }
  EXPECT_EQ(sum, 80);

  // Other tenants see nothing.
  std::vector<std::string> t2 = {"t2"};
  EXPECT_TRUE(miner.Query(t2, {Eq("app", "api")}, kT0, kT0 + 3600 * kSec, 10 * kSec).empty());
}

TEST_F(MinerTest, DropsRarePatternsAndOutOfRangeSamples) {
  Miner miner(MinerOptions{}, &clock_);
  StreamBuilder s{{"app", "api"}};
  for (int i = 0; i < 29; ++i) s.Add(kT0 + i * kSec, fmt::format("rare event {} seen here", i));
  miner.Observe("t1", s.Build());
  EXPECT_TRUE(miner.Query(tenants_, {Eq("app", "api")}, kT0, kT0 + 3600 * kSec, 10 * kSec).empty());
  StreamBuilder more{{"app", "api"}};
  more.Add(kT0 + 100 * kSec, "rare event 99 seen here");
  miner.Observe("t1", more.Build());
  auto series = miner.Query(tenants_, {Eq("app", "api")}, kT0, kT0 + 3600 * kSec, 10 * kSec);
  EXPECT_EQ(Totals(series),
            (std::map<std::string, int64_t>{{"unknown rare event <_> seen here", 30}}));
  // The range [kT0 + 10s, ...) leaves the first 10 lines out: below 30.
  EXPECT_TRUE(
      miner.Query(tenants_, {Eq("app", "api")}, kT0 + 10 * kSec, kT0 + 3600 * kSec, 10 * kSec)
          .empty());
}

TEST_F(MinerTest, OlderEntriesThanTheStreamsNewestAreSkipped) {
  Miner miner(MinerOptions{}, &clock_);
  StreamBuilder s{{"app", "api"}};
  for (int i = 0; i < 30; ++i) s.Add(kT0 + 100 * kSec + i, fmt::format("job {} done ok", i));
  s.Add(kT0, "job 999 done ok");  // older: skipped
  miner.Observe("t1", s.Build());
  auto series = miner.Query(tenants_, {Eq("app", "api")}, kT0, kT0 + 3600 * kSec, 10 * kSec);
  EXPECT_EQ(Totals(series), (std::map<std::string, int64_t>{{"unknown job <_> done ok", 30}}));
}

TEST_F(MinerTest, PruneForgetsPatternsPastRetainFor) {
  MinerOptions o;
  o.retain_for_ns = 600 * kSec;
  clock_.Set(kT0 + 100 * kSec);
  Miner miner(o, &clock_);
  StreamBuilder s{{"app", "api"}};
  for (int i = 0; i < 40; ++i) s.Add(kT0 + i * kSec, fmt::format("user {} logged in", i));
  miner.Observe("t1", s.Build());
  EXPECT_EQ(miner.streams(), 1u);
  clock_.Set(kT0 + 700 * kSec);
  miner.Prune();
  EXPECT_EQ(miner.streams(), 0u);
  EXPECT_EQ(miner.memory_bytes(), 0);
  EXPECT_TRUE(miner.Query(tenants_, {Eq("app", "api")}, kT0, kT0 + 3600 * kSec, 10 * kSec).empty());
}

TEST_F(MinerTest, TotalMemoryStaysWithinTheBudget) {
  MinerOptions o;
  o.memory_budget = 256 << 10;
  Miner miner(o, &clock_);
  int64_t peak = 0;
  for (int stream = 0; stream < 2000; ++stream) {
    StreamBuilder s{{"app", "api"}, {"pod", std::to_string(stream)}};
    for (int i = 0; i < 5; ++i) {
      s.Add(kT0 + i * kSec, fmt::format("pod {} says {} things about line {}", stream, i, i * 7));
    }
    miner.Observe("t1", s.Build());
    clock_.Advance(1);
    peak = std::max(peak, miner.memory_bytes());
  }
  EXPECT_LE(peak, static_cast<int64_t>(o.memory_budget) + (16 << 10));
  EXPECT_LT(miner.streams(), 2000u);
  EXPECT_GT(miner.streams(), 0u);
}

// A fake ingester: stores the first entry of each stream only.
class KeepFirst final : public write::Pusher {
 public:
  Status Push(std::string_view, std::vector<write::ValidatedStream>& streams) override {
    for (auto& vs : streams) vs.entries.resize(std::min<size_t>(vs.entries.size(), 1));
    return Status::InvalidArgument("entry out of order");
  }
};

TEST_F(MinerTest, TeeMinesOnlyWhatTheIngesterStored) {
  Miner miner(MinerOptions{}, &clock_);
  KeepFirst ingester;
  TeePusher tee(&ingester, &miner);
  for (int i = 0; i < 30; ++i) {
    StreamBuilder s{{"app", "api"}};
    s.Add(kT0 + i * kSec, fmt::format("user {} logged in", i));
    s.Add(kT0 + i * kSec + 1, fmt::format("refused {} line here", i));
    std::vector<write::ValidatedStream> streams = {s.Build()};
    EXPECT_FALSE(tee.Push("t1", streams).ok());
  }
  auto series = miner.Query(tenants_, {Eq("app", "api")}, kT0, kT0 + 3600 * kSec, 10 * kSec);
  EXPECT_EQ(Totals(series), (std::map<std::string, int64_t>{{"unknown user <_> logged in", 30}}));
}

}  // namespace
}  // namespace sluice::pattern
