// The bound on IndexReader's decoded objects (index_reader.h): eviction by approximate bytes,
// least recently used first, and re-fetching what was evicted.

#include <gtest/gtest.h>

#include <atomic>

#include "storage/index/format.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_writer.h"
#include "storage/test_util.h"

namespace sluice::storage::index {
namespace {

constexpr int64_t kDay = kPeriodNanos;
constexpr int64_t kHour = 3600LL * 1'000'000'000;
constexpr int64_t kT0 = 19000 * kDay;

// Counts the Gets that reach the store.
class CountingStore final : public ForwardingStore {
 public:
  explicit CountingStore(ObjectStore* inner) : ForwardingStore(inner) {}
  Result<std::string> Get(std::string_view key) override {
    ++gets;
    return ForwardingStore::Get(key);
  }
  std::atomic<int> gets{0};
};

class IndexReaderBoundTest : public ::testing::Test {
 protected:
  IndexReaderBoundTest() : clock_(kT0 + 12 * kHour), writer_(memory_.get(), "ingester-1", &clock_) {
    // Days 0..3, one object each of 50 series.
    for (int day = 0; day < 4; ++day) {
      std::vector<std::pair<model::LabelSet, ChunkRef>> refs;
      for (int i = 0; i < 50; ++i) {
        auto ls = model::ParseLabels("{app=\"app-" + std::to_string(i) + "\", day=\"" +
                                     std::to_string(day) + "\"}");
        EXPECT_TRUE(ls.ok());
        const int64_t from = kT0 + day * kDay + kHour;
        refs.emplace_back(*ls,
                          ChunkRef{ls->Fingerprint(), from, from + kHour, 10, 1000, 200,
                                   "chunks/t/" + std::to_string(day) + "-" + std::to_string(i)});
      }
      EXPECT_TRUE(writer_.WriteBatch("t", refs).ok());
      clock_.Advance(1);
    }
  }

  // Series in day `day` matching app=~"app-1.*" (11 of them).
  size_t SelectDay(IndexReader* reader, int day) {
    auto m = model::LabelMatcher::Make(model::LabelMatcher::Type::kRegexMatch, "app", "app-1.*");
    EXPECT_TRUE(m.ok());
    auto got = reader->Select("t", {*m}, kT0 + day * kDay, kT0 + (day + 1) * kDay - 1);
    EXPECT_TRUE(got.ok());
    return got.ok() ? got->size() : 0;
  }

  // The decoded size of one day's object, as the reader counts it.
  int64_t OneDayBytes() {
    IndexReader probe(memory_.get(), 0, &clock_, 0);
    SelectDay(&probe, 0);
    return probe.cached_bytes();
  }

  ObjectStorePtr memory_ = NewMemoryStore();
  CountingStore store_{memory_.get()};
  ManualClock clock_;
  IndexWriter writer_;
};

TEST_F(IndexReaderBoundTest, UnboundedKeepsEverything) {
  IndexReader reader(&store_, 0, &clock_, 0);
  for (int day = 0; day < 4; ++day) EXPECT_EQ(SelectDay(&reader, day), 11u);
  EXPECT_EQ(reader.cached_objects(), 4u);
  for (int day = 0; day < 4; ++day) EXPECT_EQ(SelectDay(&reader, day), 11u);
  EXPECT_EQ(store_.gets.load(), 4);
}

TEST_F(IndexReaderBoundTest, EvictsLeastRecentlyUsedAndRefetches) {
  const int64_t one = OneDayBytes();
  ASSERT_GT(one, 50 * 40);  // a plausible size: 50 series with labels and a chunk ref each
  // Room for two days' objects, not three.
  IndexReader reader(&store_, 0, &clock_, 2 * one + one / 2);
  EXPECT_EQ(SelectDay(&reader, 0), 11u);
  EXPECT_EQ(SelectDay(&reader, 1), 11u);
  EXPECT_EQ(store_.gets.load(), 2);
  EXPECT_EQ(SelectDay(&reader, 0), 11u);  // day 0 is now the most recently used
  EXPECT_EQ(store_.gets.load(), 2);
  EXPECT_EQ(SelectDay(&reader, 2), 11u);  // evicts day 1
  EXPECT_EQ(reader.cached_objects(), 2u);
  EXPECT_LE(reader.cached_bytes(), 2 * one + one / 2);
  EXPECT_EQ(SelectDay(&reader, 0), 11u);
  EXPECT_EQ(store_.gets.load(), 3);
  EXPECT_EQ(SelectDay(&reader, 1), 11u);  // fetched and decoded again
  EXPECT_EQ(store_.gets.load(), 4);
}

TEST_F(IndexReaderBoundTest, FreshListingRefetchesEvictedObjects) {
  const int64_t one = OneDayBytes();
  // Listings stay fresh for an hour: the reader answers from memory, unless the bound dropped
  // an object of the listing.
  IndexReader reader(&store_, kHour, &clock_, one + one / 2);
  EXPECT_EQ(SelectDay(&reader, 0), 11u);
  EXPECT_EQ(SelectDay(&reader, 1), 11u);  // evicts day 0
  EXPECT_EQ(SelectDay(&reader, 0), 11u);
  EXPECT_EQ(store_.gets.load(), 3);
  EXPECT_EQ(reader.cached_objects(), 1u);
}

TEST_F(IndexReaderBoundTest, RangeLargerThanTheBoundStillAnswers) {
  IndexReader reader(&store_, 0, &clock_, 1);  // nothing fits
  auto m = model::LabelMatcher::Make(model::LabelMatcher::Type::kRegexMatch, "app", "app-1.*");
  ASSERT_TRUE(m.ok());
  for (int round = 0; round < 2; ++round) {
    auto got = reader.Select("t", {*m}, kT0, kT0 + 4 * kDay - 1);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->size(), 44u);  // 11 per day, labels differ by day
  }
  EXPECT_EQ(reader.cached_objects(), 0u);
  EXPECT_EQ(reader.cached_bytes(), 0);
  EXPECT_EQ(store_.gets.load(), 8);
}

}  // namespace
}  // namespace sluice::storage::index
