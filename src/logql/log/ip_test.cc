#include "logql/log/ip.h"

#include <gtest/gtest.h>

namespace sluice::logql::log {
namespace {

TEST(IpTest, ParseAddr) {
  IpAddr a;
  for (const char* ok :
       {"0.0.0.0", "192.168.0.1", "255.255.255.255", "::", "::1", "1::", "2001:db8::8a2e:370:7334",
        "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "FE80::1"}) {
    EXPECT_TRUE(ParseIpAddr(ok, &a)) << ok;
  }
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4 ",
                          ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:2:3:4:5:6:7::8",
                          "1:2:3:4:5:1.2.3.4", "abc"}) {
    EXPECT_FALSE(ParseIpAddr(bad, &a)) << bad;
  }
  IpAddr b;
  ASSERT_TRUE(ParseIpAddr("2001:db8::1", &a));
  ASSERT_TRUE(ParseIpAddr("2001:0db8:0:0:0:0:0:1", &b));
  EXPECT_EQ(a.Compare(b), 0);
  // IPv4 and its IPv4-mapped IPv6 form are different addresses, as in netip.
  ASSERT_TRUE(ParseIpAddr("1.2.3.4", &a));
  ASSERT_TRUE(ParseIpAddr("::ffff:1.2.3.4", &b));
  EXPECT_NE(a.Compare(b), 0);
}

TEST(IpTest, Matchers) {
  auto m = IpMatcher::Parse("192.168.0.0/16");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->MatchesIn("192.168.255.1"));
  EXPECT_FALSE(m->MatchesIn("192.169.0.1"));
  m = IpMatcher::Parse("10.0.0.5");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->MatchesIn("from 10.0.0.5:8080 to x"));
  EXPECT_FALSE(m->MatchesIn("from 10.0.0.50 to x"));
  m = IpMatcher::Parse("10.0.0.1-10.0.0.9");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->MatchesIn("a 10.0.0.9"));
  EXPECT_FALSE(m->MatchesIn("a 10.0.0.10"));
  m = IpMatcher::Parse("2001:db8::/32");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->MatchesIn("client=2001:db8:1::7 ok"));
  EXPECT_FALSE(m->MatchesIn("client=2001:db9::7 ok"));
  EXPECT_FALSE(m->MatchesIn("1.2.3.4"));
  // Several candidates: the second one matches.
  m = IpMatcher::Parse("5.6.7.8");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->MatchesIn("1.2.3.4 -> 5.6.7.8"));
  EXPECT_FALSE(m->MatchesIn(""));

  for (const char* bad :
       {"", "1.2.3", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.9-10.0.0.1", "1.2.3.4-::1", "x"}) {
    auto r = IpMatcher::Parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_EQ(IpMatcher::Parse("abc").status().message(), R"(ip: invalid pattern: "abc")");
}

TEST(IpTest, LineFilter) {
  // Loki's documented line filter form.
  auto m = IpMatcher::Parse("192.168.4.5-192.168.4.20");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->MatchesIn(R"(level=info client=192.168.4.7 msg="ok")"));
  EXPECT_FALSE(m->MatchesIn(R"(level=info client=192.168.4.21 msg="ok")"));
}

}  // namespace
}  // namespace sluice::logql::log
