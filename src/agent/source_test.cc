#include "agent/source.h"

#include <gtest/gtest.h>

#include "agent/budget.h"
#include "agent/config.h"

namespace sluice::agent {
namespace {

TEST(StreamLabels, SortedAndEscaped) {
  auto l = MakeStreamLabels({{"job", "a\"b"}, {"app", "x\\y"}});
  EXPECT_EQ(l->text, "{app=\"x\\\\y\", job=\"a\\\"b\"}");
  EXPECT_EQ(l->pairs.size(), 2u);
}

TEST(DetectLevel, LogfmtAndJson) {
  EXPECT_EQ(DetectLevel("ts=1 level=debug msg=x"), "debug");
  EXPECT_EQ(DetectLevel("level=\"WARN\" msg=x"), "warn");
  EXPECT_EQ(DetectLevel("lvl=err msg"), "error");
  EXPECT_EQ(DetectLevel("{\"level\": \"info\", \"msg\": \"x\"}"), "info");
  EXPECT_EQ(DetectLevel("{\"level\":\"warning\"}"), "warn");
  EXPECT_EQ(DetectLevel("no level here"), "");
  EXPECT_EQ(DetectLevel("xlevel=debug"), "");  // not a key on its own
}

TEST(SourceLabeler, StaticFilenameAndPathRegex) {
  SourceConfig s;
  s.labels = {{"job", "web"}};
  s.path_regex = "/var/log/(?P<app>[^/]+)/(?P<kind>[a-z]+)\\.log";
  SourceLabeler l(s, {{"host", "h1"}, {"job", "overridden"}});
  auto m = l.ForPath("/var/log/shop/access.log");
  EXPECT_EQ(m["job"], "web");
  EXPECT_EQ(m["host"], "h1");
  EXPECT_EQ(m["app"], "shop");
  EXPECT_EQ(m["kind"], "access");
  EXPECT_EQ(m["filename"], "/var/log/shop/access.log");
  s.filename_label = false;
  SourceLabeler l2(s, {});
  EXPECT_FALSE(l2.ForPath("/x").contains("filename"));
}

TEST(Shedder, DropsOnlyMatchingLinesAndOnlyOverTheThreshold) {
  Shedder shedder(0.5, {ShedRule{{{"level", "debug"}}, ""}, ShedRule{{}, "healthcheck"}});
  auto debug = MakeStreamLabels({{"job", "a"}, {"level", "debug"}});
  auto info = MakeStreamLabels({{"job", "a"}, {"level", "info"}});
  EXPECT_EQ(shedder.Match(0.49, *debug, "x"), -1);  // under the threshold nothing is shed
  EXPECT_EQ(shedder.Match(0.5, *debug, "x"), 0);
  EXPECT_EQ(shedder.Match(0.9, *info, "x"), -1);
  EXPECT_EQ(shedder.Match(0.9, *info, "GET /healthcheck 200"), 1);
  Shedder none(0.5, {});
  EXPECT_FALSE(none.enabled());
  EXPECT_EQ(none.Match(1.0, *debug, "x"), -1);
}

TEST(MemoryBudget, ReadersKeepOutOfTheReserve) {
  MemoryBudget b(100, 30);
  EXPECT_TRUE(b.Acquire(70));
  EXPECT_FALSE(b.TryAcquire(31));
  EXPECT_TRUE(b.TryAcquire(30));  // the batcher may use the reserve
  EXPECT_EQ(b.used(), 100u);
  b.Release(100);
  EXPECT_EQ(b.used(), 0u);
  EXPECT_EQ(b.high_water(), 100u);
  b.Close();
  EXPECT_FALSE(b.Acquire(1000));  // closed: returns instead of blocking
}

}  // namespace
}  // namespace sluice::agent
