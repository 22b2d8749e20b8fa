#include "syslog/ingest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "metrics/metrics.h"
#include "testing/fake_clock.h"

namespace sluice::syslog {
namespace {

constexpr int64_t kNow = 1796621844LL * 1'000'000'000;  // 2026-12-07T05:37:24Z

struct Pushed {
  std::string tenant;
  std::string labels;
  int64_t ts;
  std::string line;
  std::vector<model::Label> metadata;
};

struct Capture {
  std::vector<Pushed> entries;
  int pushes = 0;
  PushFn fn() {
    return [this](std::string_view tenant, model::PushRequest& req) {
      ++pushes;
      for (const auto& s : req.streams) {
        for (const auto& e : s.entries) {
          entries.push_back({std::string(tenant),
                             std::string(s.labels),
                             e.timestamp_ns,
                             std::string(e.line),
                             {e.metadata.begin(), e.metadata.end()}});
        }
      }
      return Status::OK();
    };
  }
};

config::Config::SyslogListener Listener() {
  config::Config::SyslogListener l;
  l.listen_address = "127.0.0.1:0";
  l.tenant = "team-a";
  l.labels = {{"job", "syslog"}};
  return l;
}

TEST(SyslogBatcher, MapsFieldsToLabelsAndMetadata) {
  testing::FakeClock clock(kNow);
  Capture cap;
  Batcher b("t", Listener(), nullptr, cap.fn(), &clock);
  b.AddFrame("<165>1 2003-10-11T22:14:15.003Z host1 evntslog 42 ID47 [ex@32473 iut=\"3\"] hello");
  EXPECT_EQ(cap.pushes, 0);  // batched
  b.Flush();
  ASSERT_EQ(cap.entries.size(), 1u);
  const Pushed& p = cap.entries[0];
  EXPECT_EQ(p.tenant, "team-a");
  EXPECT_EQ(p.labels, R"({app_name="evntslog", hostname="host1", job="syslog"})");
  EXPECT_EQ(p.ts, kNow);  // receive time by default
  EXPECT_EQ(p.line, "hello");
  EXPECT_EQ(p.metadata, (std::vector<model::Label>{{"proc_id", "42"},
                                                   {"msg_id", "ID47"},
                                                   {"facility", "local4"},
                                                   {"severity", "notice"},
                                                   {"sd_ex_32473_iut", "3"}}));
}

TEST(SyslogBatcher, IncomingTimestampAndLabelFields) {
  testing::FakeClock clock(kNow);
  Capture cap;
  auto l = Listener();
  l.use_incoming_timestamp = true;
  l.label_fields = {"severity"};
  Batcher b("t", l, nullptr, cap.fn(), &clock);
  b.AddFrame("<11>1 2003-10-11T22:14:15.003Z host1 app - - - with time");
  b.AddFrame("<11>1 - host1 app - - - without time");
  b.Flush();
  ASSERT_EQ(cap.entries.size(), 2u);
  EXPECT_EQ(cap.entries[0].labels, R"({job="syslog", severity="err"})");
  EXPECT_EQ(cap.entries[0].ts, 1065910455003000000LL);
  EXPECT_EQ(cap.entries[1].ts, kNow);
  EXPECT_EQ(cap.entries[0].metadata[0], (model::Label{"hostname", "host1"}));
}

TEST(SyslogBatcher, NoMetadataWhenTheTenantDisallowsIt) {
  testing::FakeClock clock(kNow);
  Capture cap;
  config::Limits limits;
  limits.allow_structured_metadata = false;
  config::Overrides overrides(limits, "", 0);
  Batcher b("t", Listener(), &overrides, cap.fn(), &clock);
  b.AddFrame("<13>1 - h a 1 m [x y=\"z\"] line");
  b.Flush();
  ASSERT_EQ(cap.entries.size(), 1u);
  EXPECT_TRUE(cap.entries[0].metadata.empty());
}

TEST(SyslogBatcher, PushesWhenFullAndGroupsStreams) {
  testing::FakeClock clock(kNow);
  Capture cap;
  Batcher::Options opts;
  opts.max_entries = 3;
  std::vector<size_t> stream_counts;
  PushFn fn = [&](std::string_view t, model::PushRequest& r) {
    stream_counts.push_back(r.streams.size());
    return cap.fn()(t, r);
  };
  Batcher b("t", Listener(), nullptr, fn, &clock, opts);
  b.AddFrame("<13>1 - h1 a - - - 1");
  b.AddFrame("<13>1 - h2 a - - - 2");
  EXPECT_EQ(cap.pushes, 0);
  b.AddFrame("<13>1 - h1 a - - - 3");
  EXPECT_EQ(cap.pushes, 1);
  EXPECT_EQ(stream_counts, (std::vector<size_t>{2}));
  b.Flush();  // nothing pending: no empty push
  EXPECT_EQ(cap.pushes, 1);
}

TEST(SyslogBatcher, BadFramesAreCountedAsDiscarded) {
  testing::FakeClock clock(kNow);
  Capture cap;
  auto l = Listener();
  l.tenant = "discard-test";
  Batcher b("t", l, nullptr, cap.fn(), &clock);
  b.AddFrame("not syslog");
  b.AddFrame("<13>1 bad-time h a - - - x");
  b.Discard("line_too_long", 9000, "too long");
  b.Flush();
  EXPECT_EQ(cap.pushes, 0);
  std::string text = metrics::DefaultRegistry().Expose();
  EXPECT_NE(
      text.find(R"(loki_discarded_samples_total{reason="invalid_syslog",tenant="discard-test"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(loki_discarded_bytes_total{reason="line_too_long",tenant="discard-test"} 9000)"),
      std::string::npos);
}

TEST(SyslogLogThrottle, AllowsOnePerInterval) {
  testing::FakeClock clock(kNow);
  LogThrottle t(&clock, 1000);
  uint64_t suppressed = 99;
  EXPECT_TRUE(t.Allow(&suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(t.Allow(&suppressed));
  EXPECT_FALSE(t.Allow(&suppressed));
  clock.Advance(1000);
  EXPECT_TRUE(t.Allow(&suppressed));
  EXPECT_EQ(suppressed, 2u);
}

}  // namespace
}  // namespace sluice::syslog
