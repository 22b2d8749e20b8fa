// Retention and delete requests hide entries at query time, from the ingester's memory and from
// the store alike, and cost nothing to tenants that have neither.

#include "querier/deletion_source.h"

#include <gtest/gtest.h>

#include <string>
#include <typeinfo>
#include <vector>

#include "config/config.h"
#include "ingester/test_util.h"
#include "logql/syntax/parser.h"
#include "querier/test_util.h"

namespace sluice::querier {
namespace {

using ingester::testing::kSecond;
using ingester::testing::kT0;
using ingester::testing::MakeStream;

constexpr int64_t kDay = 24 * 3600 * kSecond;

config::Limits LimitsFrom(const std::string& yaml) {
  auto o = config::ParseOverridesYaml("overrides:\n  t:\n" + yaml, config::Limits());
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return o.ok() ? (*o)[0].limits : config::Limits();
}

class DeletionSourceTest : public ::testing::Test {
 protected:
  DeletionSourceTest()
      : stack_([](config::Config::Ingester* c) { c->chunk_retain_period = 0; }),
        deletes_(stack_.store.get(), {}, &stack_.clock) {
    EXPECT_TRUE(stack_.start_status.ok());
    EXPECT_TRUE(deletes_.Load().ok());
    // Flushed: only the store has these.
    Push(R"({app="a"})", {{kT0 + 1 * kSecond, "a1 public"}, {kT0 + 2 * kSecond, "a2 secret"}});
    Push(R"({app="b", env="dev"})", {{kT0 + 1 * kSecond, "b1"}, {kT0 + 2 * kSecond, "b2"}});
    EXPECT_TRUE(stack_.ing->FlushAll().ok());
    EXPECT_TRUE(stack_.ing->FlushAll().ok());
    // In memory only.
    Push(R"({app="a"})", {{kT0 + 3 * kSecond, "a3 secret"}, {kT0 + 4 * kSecond, "a4 public"}});
    Push(R"({app="b", env="dev"})", {{kT0 + 3 * kSecond, "b3"}, {kT0 + 4 * kSecond, "b4"}});
  }

  void Push(const std::string& labels, std::vector<std::pair<int64_t, std::string>> lines) {
    std::vector<write::ValidatedStream> batch;
    batch.push_back(MakeStream(labels, std::move(lines)));
    ASSERT_TRUE(stack_.ing->Push("t", batch).ok());
  }

  // The lines `selector` returns over both sources, each behind a DeletionSource with `limits`.
  std::vector<std::string> Query(const config::Limits& limits, const std::string& selector) {
    config::Overrides overrides(limits, "", kSecond);
    DeletionSource memory(stack_.ing.get(), &overrides, &deletes_, &stack_.clock);
    DeletionSource store(stack_.store_source.get(), &overrides, &deletes_, &stack_.clock);
    read::FanOut fan_out({&memory, &store});
    Querier querier(&fan_out, &overrides, &stack_.clock);
    auto expr = logql::syntax::Parse(selector);
    EXPECT_TRUE(expr.ok()) << expr.status().message();
    auto it = querier.SelectLogs({"t"}, (*expr)->Cast<logql::syntax::LogSelectorExpr>(), kT0,
                                 kT0 + 60 * kSecond, model::Direction::kForward);
    EXPECT_TRUE(it.ok()) << it.status().message();
    std::vector<std::string> out;
    while ((*it)->Next()) out.push_back((*it)->At().line);
    EXPECT_TRUE((*it)->Error().ok());
    return out;
  }

  testing::ReadStack stack_;
  deletion::DeleteRequestStore deletes_;
};

TEST_F(DeletionSourceTest, NothingToHideReturnsTheInnerIterators) {
  config::Limits limits;
  config::Overrides overrides(limits, "", kSecond);
  DeletionSource source(stack_.ing.get(), &overrides, &deletes_, &stack_.clock);
  read::SelectRequest req;
  req.tenants = {"t"};
  req.from_ns = kT0;
  req.through_ns = kT0 + 60 * kSecond;
  auto wrapped = source.SelectStreams(req, "t");
  auto plain = stack_.ing->SelectStreams(req, "t");
  ASSERT_TRUE(wrapped.ok() && plain.ok());
  ASSERT_EQ(wrapped->size(), plain->size());
  ASSERT_FALSE(wrapped->empty());
  EXPECT_EQ(typeid(*(*wrapped)[0]), typeid(*(*plain)[0]));
  EXPECT_EQ(Query(limits, R"({app="a"})"),
            (std::vector<std::string>{"a1 public", "a2 secret", "a3 secret", "a4 public"}));
}

TEST_F(DeletionSourceTest, DeleteRequestsHideLinesAtOnce) {
  ASSERT_TRUE(deletes_.Add("t", R"({app="a"} |= "secret")", kT0, kT0 + 60 * kSecond).ok());
  ASSERT_TRUE(deletes_.Add("t", R"({app="b"})", kT0 + 2 * kSecond, kT0 + 3 * kSecond).ok());
  config::Limits limits;  // filter-and-delete
  EXPECT_EQ(Query(limits, R"({app="a"})"), (std::vector<std::string>{"a1 public", "a4 public"}));
  EXPECT_EQ(Query(limits, R"({app="b"})"), (std::vector<std::string>{"b1", "b4"}));
  // Another tenant's requests do not apply.
  EXPECT_EQ(deletes_.Deletes("other"), nullptr);

  limits.deletion_mode = config::DeletionMode::kFilterOnly;
  EXPECT_EQ(Query(limits, R"({app="b"})"), (std::vector<std::string>{"b1", "b4"}));
  limits.deletion_mode = config::DeletionMode::kDisabled;
  EXPECT_EQ(Query(limits, R"({app="b"})"), (std::vector<std::string>{"b1", "b2", "b3", "b4"}));
}

TEST_F(DeletionSourceTest, MetricQueriesAreFilteredToo) {
  ASSERT_TRUE(deletes_.Add("t", R"({app="a"} |= "secret")", kT0, kT0 + 60 * kSecond).ok());
  config::Overrides overrides(config::Limits{}, "", kSecond);
  DeletionSource memory(stack_.ing.get(), &overrides, &deletes_, &stack_.clock);
  DeletionSource store(stack_.store_source.get(), &overrides, &deletes_, &stack_.clock);
  read::FanOut fan_out({&memory, &store});
  Querier querier(&fan_out, &overrides, &stack_.clock);
  QueryRequest req;
  req.query = R"(sum(count_over_time({app="a"}[1m])))";
  req.start_ns = kT0 + 60 * kSecond;
  req.end_ns = kT0 + 60 * kSecond;
  req.limit = 100;
  auto r = querier.Exec({"t"}, req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // Four lines in the window, two of them deleted.
  ASSERT_EQ(r->series.size(), 1u);
  ASSERT_EQ(r->series[0].points.size(), 1u);
  EXPECT_EQ(r->series[0].points[0].value, 2);
}

TEST_F(DeletionSourceTest, RetentionCutsExpiredEntries) {
  // {env="dev"} keeps 1 day; everything else forever. At kT0 + 1d + 2.5s, b1 and b2 expired.
  config::Limits limits = LimitsFrom(R"(    retention_stream:
      - selector: '{env="dev"}'
        priority: 1
        period: 24h
)");
  stack_.clock.Set(kT0 + kDay + 2 * kSecond + kSecond / 2);
  EXPECT_EQ(Query(limits, R"({app="b"})"), (std::vector<std::string>{"b3", "b4"}));
  EXPECT_EQ(Query(limits, R"({app="a"})").size(), 4u);
  // A global period expires every stream; the read is narrowed before it reaches the store.
  limits.retention_period = kDay;
  EXPECT_EQ(Query(limits, R"({app="a"})"), (std::vector<std::string>{"a3 secret", "a4 public"}));
  stack_.clock.Set(kT0 + 2 * kDay);
  EXPECT_TRUE(Query(limits, R"({app="a"})").empty());
}

}  // namespace
}  // namespace sluice::querier
