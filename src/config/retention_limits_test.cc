// retention_period, retention_stream and deletion_mode: Loki's names, defaults and load errors.

#include <gtest/gtest.h>

#include "config/config.h"
#include "model/labels.h"

namespace sluice::config {
namespace {

constexpr int64_t kHour = 3600LL * 1'000'000'000;

TEST(RetentionLimitsTest, DefaultsKeepForeverAndAllowDeletes) {
  Limits l;
  EXPECT_EQ(l.retention_period, 0);
  EXPECT_TRUE(l.retention_stream.empty());
  EXPECT_EQ(l.deletion_mode, DeletionMode::kFilterAndDelete);
}

TEST(RetentionLimitsTest, LoadsLokiKeys) {
  auto c = ParseConfigYaml(R"(
limits_config:
  retention_period: 744h
  deletion_mode: filter-only
  retention_stream:
    - selector: '{namespace="dev"}'
      priority: 1
      period: 24h
    - selector: '{app=~"db.*", env!="prod"}'
      priority: 2
      period: 2w
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const Limits& l = c->limits_config;
  EXPECT_EQ(l.retention_period, 744 * kHour);
  EXPECT_EQ(l.deletion_mode, DeletionMode::kFilterOnly);
  ASSERT_EQ(l.retention_stream.size(), 2u);
  EXPECT_EQ(l.retention_stream[0].selector, "{namespace=\"dev\"}");
  EXPECT_EQ(l.retention_stream[0].priority, 1);
  EXPECT_EQ(l.retention_stream[0].period, 24 * kHour);
  ASSERT_EQ(l.retention_stream[1].matchers.size(), 2u);
  EXPECT_EQ(l.retention_stream[1].period, 14 * 24 * kHour);
  auto dev_db = model::ParseLabels(R"({app="dbx", env="dev"})");
  ASSERT_TRUE(dev_db.ok());
  EXPECT_TRUE(model::MatchesAll(l.retention_stream[1].matchers, *dev_db));
  auto prod_db = model::ParseLabels(R"({app="dbx", env="prod"})");
  EXPECT_FALSE(model::MatchesAll(l.retention_stream[1].matchers, *prod_db));
  // Mapped, so not among the ignored Loki keys.
  EXPECT_TRUE(c->ignored_loki_keys.empty());
}

TEST(RetentionLimitsTest, LokiFlags) {
  auto c = LoadConfig({"-store.retention=31d", "-compactor.deletion-mode=disabled"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->limits_config.retention_period, 31 * 24 * kHour);
  EXPECT_EQ(c->limits_config.deletion_mode, DeletionMode::kDisabled);
}

TEST(RetentionLimitsTest, ErrorsAsLoki) {
  auto mode = ParseConfigYaml("limits_config:\n  deletion_mode: sometimes\n");
  ASSERT_FALSE(mode.ok());
  EXPECT_EQ(mode.status().message(),
            "limits_config.deletion_mode: unknown deletion mode: must be one of "
            "disabled|filter-only|filter-and-delete");
  auto short_period = ParseConfigYaml(
      "limits_config:\n  retention_stream:\n    - selector: '{a=\"b\"}'\n      period: 1h\n");
  ASSERT_FALSE(short_period.ok());
  EXPECT_NE(short_period.status().message().find(
                "limits_config.retention_stream[0]: retention period must be >= 24h was 1h"),
            std::string::npos)
      << short_period.status().message();
  auto bad_selector = ParseConfigYaml(
      "limits_config:\n  retention_stream:\n    - selector: 'a=\"b\"'\n      period: 24h\n");
  ASSERT_FALSE(bad_selector.ok());
  EXPECT_NE(bad_selector.status().message().find("invalid labels matchers: "), std::string::npos)
      << bad_selector.status().message();
  auto bad_regex = ParseConfigYaml(
      "limits_config:\n  retention_stream:\n    - selector: '{a=~\"(\"}'\n      period: 24h\n");
  EXPECT_FALSE(bad_regex.ok());
  auto empty_compatible = ParseConfigYaml(
      "limits_config:\n  retention_stream:\n    - selector: '{a=~\".*\"}'\n      period: 24h\n");
  ASSERT_FALSE(empty_compatible.ok());
  EXPECT_NE(empty_compatible.status().message().find("empty-compatible"), std::string::npos);
}

TEST(RetentionLimitsTest, PerTenantOverridesAndDump) {
  Limits defaults;
  defaults.retention_period = 744 * kHour;
  auto o = ParseOverridesYaml(R"(
overrides:
  a:
    deletion_mode: disabled
    retention_stream:
      - selector: '{app="x"}'
        priority: 5
        period: 48h
  b:
    retention_period: 0s
)",
                              defaults);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->size(), 2u);
  const Limits& a = (*o)[0].limits;
  EXPECT_EQ(a.deletion_mode, DeletionMode::kDisabled);
  EXPECT_EQ(a.retention_period, 744 * kHour);  // the default, not overridden
  ASSERT_EQ(a.retention_stream.size(), 1u);
  EXPECT_EQ(a.retention_stream[0].priority, 5);
  EXPECT_EQ((*o)[1].limits.retention_period, 0);

  std::string yaml = DumpLimitsYaml(a);
  EXPECT_NE(yaml.find("retention_period: 31d"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("deletion_mode: disabled"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("selector: "), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("priority: 5"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("period: 2d"), std::string::npos) << yaml;
  // The dump loads back as the same limits.
  auto again = ParseOverridesYaml(
      "overrides:\n  t:\n" +
          [&] {
            std::string indented;
            size_t start = 0;
            while (start < yaml.size()) {
              size_t end = yaml.find('\n', start);
              if (end == std::string::npos) end = yaml.size();
              if (end > start) indented += "    " + yaml.substr(start, end - start) + "\n";
              start = end + 1;
            }
            return indented;
          }(),
      Limits());
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << yaml;
  EXPECT_EQ((*again)[0].limits.retention_period, 744 * kHour);
  ASSERT_EQ((*again)[0].limits.retention_stream.size(), 1u);
  EXPECT_EQ((*again)[0].limits.retention_stream[0].period, 48 * kHour);
}

}  // namespace
}  // namespace sluice::config
