#include "http/query_params.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace sluice::http {
namespace {

constexpr int64_t kNow = 1'700'000'000LL * kNanosPerSecond;

Request WithParams(std::multimap<std::string, std::string> params) {
  Request r;
  r.params = std::move(params);
  return r;
}

TEST(QueryParamsTest, TimestampFormats) {
  Request r;
  r.params = {{"start", "1700000000"}, {"end", "2023-11-14T22:14:21.5Z"}};
  int64_t start = 0, end = 0;
  ASSERT_TRUE(ParseBounds(r, kNow, &start, &end).ok());
  EXPECT_EQ(start, 1'700'000'000LL * kNanosPerSecond);
  EXPECT_EQ(end, 1'700'000'061LL * kNanosPerSecond + 500 * kNanosPerMilli);
  r.params = {{"start", "1700000000.25"}, {"end", "1700000001000000000"}};
  ASSERT_TRUE(ParseBounds(r, kNow, &start, &end).ok());
  EXPECT_EQ(start, 1'700'000'000LL * kNanosPerSecond + 250 * kNanosPerMilli);
  EXPECT_EQ(end, 1'700'000'001LL * kNanosPerSecond);
  // Defaults: end = now, start = end - 1h; `since` moves start.
  r.params = {};
  ASSERT_TRUE(ParseBounds(r, kNow, &start, &end).ok());
  EXPECT_EQ(end, kNow);
  EXPECT_EQ(start, kNow - 3600 * kNanosPerSecond);
  r.params = {{"since", "5m"}};
  ASSERT_TRUE(ParseBounds(r, kNow, &start, &end).ok());
  EXPECT_EQ(start, kNow - 300 * kNanosPerSecond);
}

TEST(QueryParamsTest, RangeQueryDefaults) {
  auto q = ParseRangeQuery(WithParams({{"query", "{a=\"b\"}"}}), kNow);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->query, "{a=\"b\"}");
  EXPECT_EQ(q->end_ns, kNow);
  EXPECT_EQ(q->start_ns, kNow - 3600 * kNanosPerSecond);
  EXPECT_EQ(q->limit, 100u);
  EXPECT_EQ(q->direction, model::Direction::kBackward);
  // Loki's default step: the range over 250 points, in whole seconds (here 3600s / 250 -> 14s).
  EXPECT_EQ(q->step_ns, 14 * kNanosPerSecond);
  EXPECT_EQ(q->interval_ns, 0);
  EXPECT_FALSE(q->instant);
}

TEST(QueryParamsTest, RangeQueryParameters) {
  auto q = ParseRangeQuery(
      WithParams({{"direction", "forward"}, {"limit", "7"}, {"step", "1m"}, {"interval", "2.5"}}),
      kNow);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->direction, model::Direction::kForward);
  EXPECT_EQ(q->limit, 7u);
  EXPECT_EQ(q->step_ns, 60 * kNanosPerSecond);
  EXPECT_EQ(q->interval_ns, 2500 * kNanosPerMilli);
}

TEST(QueryParamsTest, InstantQueryWindow) {
  // `time` is included: the window is [time - since, time].
  auto q = ParseInstantQuery(WithParams({{"time", "1700000000"}, {"since", "5m"}}), 0);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_TRUE(q->instant);
  EXPECT_EQ(q->start_ns, kNow - 300 * kNanosPerSecond);
  EXPECT_EQ(q->end_ns, kNow + 1);
  auto bad = ParseInstantQuery(WithParams({{"since", "0s"}}), kNow);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "invalid since duration: 0s");
}

}  // namespace
}  // namespace sluice::http
