#include "deletion/retention.h"

#include <gtest/gtest.h>

#include "config/config.h"

namespace sluice::deletion {
namespace {

constexpr int64_t kHour = 3600LL * 1'000'000'000;
constexpr int64_t kDay = 24 * kHour;

std::shared_ptr<const config::Limits> LoadLimits(const std::string& yaml) {
  auto o = config::ParseOverridesYaml("overrides:\n  t:\n" + yaml, config::Limits());
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return std::make_shared<const config::Limits>((*o)[0].limits);
}

model::LabelSet L(std::string_view text) { return model::ParseLabels(text).value(); }

TEST(RetentionTest, DefaultKeepsForever) {
  RetentionPolicy p(std::make_shared<const config::Limits>());
  EXPECT_FALSE(p.Enabled());
  EXPECT_EQ(p.PeriodFor(L(R"({a="b"})")), 0);
  EXPECT_EQ(p.OldestKept(L(R"({a="b"})"), 100 * kDay), std::numeric_limits<int64_t>::min());
}

TEST(RetentionTest, GlobalPeriod) {
  RetentionPolicy p(LoadLimits("    retention_period: 744h\n"));
  EXPECT_TRUE(p.Enabled());
  EXPECT_EQ(p.PeriodFor(L(R"({a="b"})")), 31 * kDay);
  EXPECT_EQ(p.OldestKept(L(R"({a="b"})"), 100 * kDay), 69 * kDay);
}

TEST(RetentionTest, HighestPriorityWinsThenShortestPeriod) {
  RetentionPolicy p(LoadLimits(R"(    retention_period: 30d
    retention_stream:
      - selector: '{namespace="dev"}'
        priority: 1
        period: 1d
      - selector: '{container="nginx", level="debug"}'
        priority: 1
        period: 2d
      - selector: '{container="nginx"}'
        priority: 3
        period: 5d
      - selector: '{container="nginx"}'
        priority: 3
        period: 4d
      - selector: '{app=~"keep.*"}'
        priority: 9
        period: 24h
)"));
  // No rule: the global period.
  EXPECT_EQ(p.PeriodFor(L(R"({namespace="prod"})")), 30 * kDay);
  EXPECT_EQ(p.PeriodFor(L(R"({namespace="dev"})")), 1 * kDay);
  // Both priority-1 rules match: the shorter period.
  EXPECT_EQ(p.PeriodFor(L(R"({namespace="dev", container="x", level="debug"})")), 1 * kDay);
  // Priority 3 beats 1; among the two priority-3 rules, the shorter one.
  EXPECT_EQ(p.PeriodFor(L(R"({namespace="dev", container="nginx", level="debug"})")), 4 * kDay);
  EXPECT_EQ(p.PeriodFor(L(R"({container="nginx", app="keeper"})")), 1 * kDay);
  EXPECT_EQ(RetentionPeriodFor(p.limits(), L(R"({container="nginx"})")), 4 * kDay);
}

TEST(RetentionTest, RulesAloneEnableIt) {
  RetentionPolicy p(LoadLimits(R"(    retention_stream:
      - selector: '{namespace="dev"}'
        period: 48h
)"));
  EXPECT_TRUE(p.Enabled());
  EXPECT_EQ(p.PeriodFor(L(R"({namespace="dev"})")), 2 * kDay);
  EXPECT_EQ(p.PeriodFor(L(R"({namespace="prod"})")), 0);  // no rule, no global: forever
  EXPECT_EQ(p.OldestKept(L(R"({namespace="prod"})"), 10 * kDay),
            std::numeric_limits<int64_t>::min());
}

}  // namespace
}  // namespace sluice::deletion
