#include "distributor/distributor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/overrides.h"
#include "testing/fake_clock.h"

namespace sluice::distributor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000'000'000;

// Keeps a copy of what reached the ingester (the request's views die with it).
class CapturingPusher : public write::Pusher {
 public:
  struct Stored {
    std::string labels;
    std::vector<model::Entry> entries;
  };
  Status Push(std::string_view, std::vector<write::ValidatedStream>& streams) override {
    for (const auto& s : streams) {
      Stored out{s.labels_text(), {}};
      for (const auto& e : s.entries) {
        out.entries.push_back({e.timestamp_ns, std::string(e.line),
                               std::vector<model::Label>(e.metadata.begin(), e.metadata.end())});
      }
      stored.push_back(std::move(out));
    }
    return Status::OK();
  }
  std::vector<Stored> stored;
};

class DistributorTest : public ::testing::Test {
 protected:
  // Service and level discovery off unless a test turns them on, like the harnesses.
  DistributorTest() {
    limits_.discover_service_name.clear();
    limits_.discover_log_levels = false;
  }

  // One stream per labels text, one entry per line (with the given metadata on each).
  Status Push(std::vector<std::pair<std::string_view, std::vector<std::string_view>>> streams,
              const std::vector<model::Label>& metadata = {}) {
    config::Overrides overrides(limits_, "", 0);
    Distributor distributor(&overrides, &pusher_, &clock_);
    model::PushRequest request;
    for (const auto& [labels, lines] : streams) {
      model::PushRequest::RawStream raw{labels, {}};
      int64_t ts = kNow;
      for (std::string_view line : lines) raw.entries.push_back({ts++, line, metadata});
      request.streams.push_back(std::move(raw));
    }
    return distributor.Push("tenant", request);
  }

  // Each stored entry's line with its detected_level ("-" when it has none).
  std::vector<std::pair<std::string, std::string>> Levels() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& s : pusher_.stored) {
      for (const auto& e : s.entries) {
        std::string level = "-";
        for (const auto& m : e.metadata) {
          if (m.name == "detected_level") level = m.value;
        }
        out.emplace_back(e.line, level);
      }
    }
    return out;
  }

  config::Limits limits_;
  CapturingPusher pusher_;
  testing::FakeClock clock_{kNow};
};

TEST_F(DistributorTest, EmptyLabelSetGetsUnknownServiceWhenDiscoveryIsOn) {
  EXPECT_THAT(Push({{"{}", {"a"}}}).message(),
              HasSubstr("error at least one label pair is required per stream"));
  EXPECT_TRUE(pusher_.stored.empty());

  limits_.discover_service_name = config::DefaultDiscoverServiceName();
  // Loki adds service_name before validating, so `{}` (and `{a=""}`, empty values being absent
  // labels) is stored as the unknown service.
  ASSERT_TRUE(Push({{"{}", {"a"}}, {R"({x=""})", {"b"}}}).ok());
  ASSERT_EQ(pusher_.stored.size(), 2u);
  EXPECT_EQ(pusher_.stored[0].labels, R"({service_name="unknown_service"})");
  EXPECT_EQ(pusher_.stored[1].labels, R"({service_name="unknown_service"})");
}

TEST_F(DistributorTest, EmptyLabelValuesAreDropped) {
  ASSERT_TRUE(Push({{R"({app="x", env=""})", {"a"}}}).ok());
  EXPECT_EQ(pusher_.stored.at(0).labels, R"({app="x"})");
}

TEST_F(DistributorTest, ServiceNameDoesNotCountAgainstLabelNameLimit) {
  limits_.discover_service_name = config::DefaultDiscoverServiceName();
  limits_.max_label_names_per_series = 2;
  ASSERT_TRUE(Push({{R"({app="x", env="prod"})", {"a"}}}).ok());
  EXPECT_EQ(pusher_.stored.at(0).labels, R"({app="x", env="prod", service_name="x"})");
  EXPECT_THAT(Push({{R"({app="x", env="prod", zone="a"})", {"a"}}}).message(),
              HasSubstr("has 3 label names; limit 2"));
}

TEST_F(DistributorTest, DetectedLevelFromEachSource) {
  limits_.discover_log_levels = true;
  ASSERT_TRUE(Push({
                       {R"({app="a", level="ERR"})", {"level=debug says the line"}},
                       {R"({app="b"})",
                        {R"({"level":"Warning","msg":"json"})", "ts=1 lvl=dbg msg=logfmt",
                         "2024-01-01 FATAL free text", "nothing to see"}},
                   })
                  .ok());
  EXPECT_THAT(
      Levels(),
      ElementsAre(
          std::pair<std::string, std::string>("level=debug says the line", "error"),
          std::pair<std::string, std::string>(R"({"level":"Warning","msg":"json"})", "warn"),
          std::pair<std::string, std::string>("ts=1 lvl=dbg msg=logfmt", "debug"),
          std::pair<std::string, std::string>("2024-01-01 FATAL free text", "fatal"),
          std::pair<std::string, std::string>("nothing to see", "unknown")));
}

TEST_F(DistributorTest, DetectedLevelFromOtlpMetadataKeepsTheOtherMetadata) {
  limits_.discover_log_levels = true;
  ASSERT_TRUE(Push({{R"({app="a"})", {"error in the body"}}},
                   {{"severity_number", "13"}, {"trace_id", "ab"}})
                  .ok());
  EXPECT_THAT(pusher_.stored.at(0).entries.at(0).metadata,
              ElementsAre(model::Label{"severity_number", "13"}, model::Label{"trace_id", "ab"},
                          model::Label{"detected_level", "warn"}));
}

TEST_F(DistributorTest, PresentDetectedLevelIsNormalisedNotDuplicated) {
  limits_.discover_log_levels = true;
  ASSERT_TRUE(Push({{R"({app="a", level="info"})", {"x"}}}, {{"detected_level", "ERR"}}).ok());
  EXPECT_THAT(pusher_.stored.at(0).entries.at(0).metadata,
              ElementsAre(model::Label{"detected_level", "error"}));
}

TEST_F(DistributorTest, NoDetectedLevelWhenOffOrMetadataDisallowed) {
  ASSERT_TRUE(Push({{R"({app="a", level="error"})", {"error"}}}).ok());
  limits_.discover_log_levels = true;
  limits_.allow_structured_metadata = false;
  ASSERT_TRUE(Push({{R"({app="a", level="error"})", {"error"}}}).ok());
  EXPECT_THAT(Levels(), ElementsAre(std::pair<std::string, std::string>("error", "-"),
                                    std::pair<std::string, std::string>("error", "-")));
}

TEST_F(DistributorTest, DetectedLevelDoesNotCountAgainstMetadataLimits) {
  limits_.discover_log_levels = true;
  limits_.max_structured_metadata_entries_count = 1;
  ASSERT_TRUE(Push({{R"({app="a"})", {"info"}}}, {{"trace_id", "ab"}}).ok());
  EXPECT_EQ(pusher_.stored.at(0).entries.at(0).metadata.size(), 2u);
}

}  // namespace
}  // namespace sluice::distributor

namespace sluice::distributor {
namespace {

// ingestion_rate_strategy global: the tenant's rate is shared by the distributors of the ring,
// each enforcing its part; the burst is not divided (Loki's global strategy).
TEST(DistributorRateTest, GlobalStrategyDividesTheRateByTheDistributorCount) {
  config::Limits limits;
  limits.discover_service_name.clear();
  limits.discover_log_levels = false;
  limits.ingestion_rate_mb = 1;        // 1 MiB/s across the fleet
  limits.ingestion_burst_size_mb = 1;  // each distributor's bucket starts full
  std::string line(100 * 1024, 'x');
  auto push_mib_over = [&](const std::string& strategy, int distributors, int seconds) {
    limits.ingestion_rate_strategy = strategy;
    config::Overrides overrides(limits, "", 0);
    CapturingPusher pusher;
    testing::FakeClock clock(kNow);
    Distributor d(&overrides, &pusher, &clock);
    d.SetDistributorCount([distributors] { return distributors; });
    int accepted = 0;
    for (int i = 0; i < 10 * (seconds + 1); ++i) {  // 100 KiB every 100 ms: 1 MiB/s offered
      model::PushRequest request;
      request.streams.push_back({"{app=\"a\"}", {{kNow + i, line, {}}}});
      accepted += d.Push("tenant", request).ok();
      clock.Advance(100'000'000);
    }
    return accepted;
  };
  // Alone, the whole rate: everything offered passes.
  EXPECT_EQ(push_mib_over("global", 1, 10), 110);
  // One of four: a quarter of the rate after the burst (~10 + 10 * 10 / 4 pushes).
  const int quarter = push_mib_over("global", 4, 10);
  EXPECT_GE(quarter, 30);
  EXPECT_LE(quarter, 40);
  // local: every distributor enforces the whole rate.
  EXPECT_EQ(push_mib_over("local", 4, 10), 110);
}

}  // namespace
}  // namespace sluice::distributor
