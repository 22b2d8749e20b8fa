#include "deletion/compactor_deletes.h"

#include <gtest/gtest.h>

#include "testing/fake_clock.h"

namespace sluice::deletion {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kT0 = 1'700'000'000LL * kSecond;

model::LabelSet L(std::string_view text) { return model::ParseLabels(text).value(); }

TEST(CompactorDeletesTest, AppliesPendingRequestsOnceAndMarksThemProcessed) {
  sluice::testing::FakeClock clock(kT0);
  auto objects = storage::NewMemoryStore();
  DeleteRequestStore store(objects.get(), {}, &clock);
  ASSERT_TRUE(store.Load().ok());
  config::Limits limits;
  limits.retention_period = 48 * kHour;
  config::Overrides overrides(limits, "", kSecond);
  CompactorDeletes deletes(&store, &overrides, &clock);

  EXPECT_EQ(deletes.RetentionPeriod("t", L(R"({a="1"})")), 48 * kHour);
  auto r1 = store.Add("t", R"({a="1"} |= "secret")", kT0 - 2 * kHour, kT0 - kHour).value();
  // Within the cancel period: not applied yet.
  EXPECT_EQ(deletes.DeletedEntries("t", L(R"({a="1"})"), kT0 - 3 * kHour, kT0), nullptr);
  ASSERT_TRUE(deletes.DeletesApplied("t").ok());

  clock.Advance(25 * kHour);
  // A request added now is not due; the fixed set is taken at the first call.
  ASSERT_TRUE(store.Add("t", R"({a="1"})", kT0 - 2 * kHour, kT0 - kHour).ok());
  auto f = deletes.DeletedEntries("t", L(R"({a="1", b="2"})"), kT0 - 3 * kHour, kT0);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f(kT0 - 90 * 60 * kSecond, "a secret"));
  EXPECT_FALSE(f(kT0 - 90 * 60 * kSecond, "public"));
  EXPECT_FALSE(f(kT0 - 30 * 60 * kSecond, "a secret"));  // after the request's end
  EXPECT_EQ(deletes.DeletedEntries("t", L(R"({a="2"})"), kT0 - 3 * kHour, kT0), nullptr);
  EXPECT_EQ(deletes.DeletedEntries("t", L(R"({a="1"})"), kT0, kT0 + kHour), nullptr);

  ASSERT_TRUE(deletes.DeletesApplied("t").ok());
  auto list = store.List("t");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].request_id, r1.request_id);
  EXPECT_EQ(list[0].status, DeleteStatus::kProcessed);
  EXPECT_EQ(list[1].status, DeleteStatus::kReceived);
  EXPECT_TRUE(f(kT0 - 90 * 60 * kSecond, "a secret"));  // still valid after the calls

  // filter-only: the compactor deletes nothing.
  limits.deletion_mode = config::DeletionMode::kFilterOnly;
  config::Overrides filter_only(limits, "", kSecond);
  CompactorDeletes keep(&store, &filter_only, &clock);
  clock.Advance(25 * kHour);
  EXPECT_EQ(keep.DeletedEntries("t", L(R"({a="1"})"), kT0 - 3 * kHour, kT0), nullptr);
}

}  // namespace
}  // namespace sluice::deletion
