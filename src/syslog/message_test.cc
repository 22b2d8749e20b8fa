#include "syslog/message.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace sluice::syslog {
namespace {

constexpr int64_t kSec = 1'000'000'000;
// 2026-12-07T05:37:24Z
constexpr int64_t kNow = 1796621844LL * kSec;

// Runs a test body with the process in a fixed time zone (3164 timestamps are local time).
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    const char* old = std::getenv("TZ");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTz() {
    if (had_) {
      setenv("TZ", old_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  bool had_ = false;
  std::string old_;
};

TEST(SyslogMessage, Rfc5424WithStructuredData) {
  auto m = ParseMessage(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
      "[examplePriority@32473 class=\"high\"] \xEF\xBB\xBF"
      "An application event log entry...",
      kNow);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->format, Format::kRfc5424);
  EXPECT_EQ(m->facility, 20);
  EXPECT_EQ(m->severity, 5);
  EXPECT_EQ(m->timestamp_ns, 1065910455003000000LL);
  EXPECT_EQ(m->hostname, "mymachine.example.com");
  EXPECT_EQ(m->app_name, "evntslog");
  EXPECT_EQ(m->proc_id, "");
  EXPECT_EQ(m->msg_id, "ID47");
  ASSERT_EQ(m->structured_data.size(), 4u);
  EXPECT_EQ(m->structured_data[0].id, "exampleSDID@32473");
  EXPECT_EQ(m->structured_data[0].name, "iut");
  EXPECT_EQ(m->structured_data[0].value, "3");
  EXPECT_EQ(m->structured_data[2].value, "1011");
  EXPECT_EQ(m->structured_data[3].id, "examplePriority@32473");
  EXPECT_EQ(m->structured_data[3].value, "high");
  EXPECT_EQ(m->text, "An application event log entry...");  // BOM dropped
}

TEST(SyslogMessage, Rfc5424WithoutStructuredData) {
  auto m = ParseMessage(
      "<34>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make "
      "the do-nuts.\r\n",
      kNow);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->facility, 4);
  EXPECT_EQ(m->severity, 2);
  // 12:14:15.000003 UTC
  EXPECT_EQ(m->timestamp_ns, 1061727255000003000LL);
  EXPECT_EQ(m->hostname, "192.0.2.1");
  EXPECT_EQ(m->app_name, "myproc");
  EXPECT_EQ(m->proc_id, "8710");
  EXPECT_EQ(m->msg_id, "");
  EXPECT_TRUE(m->structured_data.empty());
  EXPECT_EQ(m->text, "%% It's time to make the do-nuts.");
}

TEST(SyslogMessage, Rfc5424NilTimestampEscapesAndNoMessage) {
  auto m = ParseMessage(R"(<14>1 - - - - - [a@1 q="say \"hi\" \\ [x\]"])", kNow);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->timestamp_ns, 0);
  EXPECT_EQ(m->hostname, "");
  ASSERT_EQ(m->structured_data.size(), 1u);
  EXPECT_EQ(m->structured_data[0].value, R"(say "hi" \ [x])");
  EXPECT_EQ(m->text, "");
}

TEST(SyslogMessage, Rfc3164Classic) {
  ScopedTz tz("UTC0");
  auto m = ParseMessage("<34>Oct 11 22:14:15 mymachine su: 'su root' failed on /dev/pts/8", kNow);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->format, Format::kRfc3164);
  EXPECT_EQ(m->facility, 4);
  EXPECT_EQ(m->severity, 2);
  // 2026-10-11T22:14:15Z: the receive year.
  EXPECT_EQ(m->timestamp_ns, 1791756855LL * kSec);
  EXPECT_EQ(m->hostname, "mymachine");
  EXPECT_EQ(m->app_name, "su");
  EXPECT_EQ(m->proc_id, "");
  EXPECT_EQ(m->text, "'su root' failed on /dev/pts/8");
}

TEST(SyslogMessage, Rfc3164PaddedDayAndPid) {
  ScopedTz tz("UTC0");
  auto m = ParseMessage("<13>Dec  7 05:37:20 web-1 nginx[4711]: GET / 200\n", kNow);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->timestamp_ns, kNow - 4 * kSec);
  EXPECT_EQ(m->hostname, "web-1");
  EXPECT_EQ(m->app_name, "nginx");
  EXPECT_EQ(m->proc_id, "4711");
  EXPECT_EQ(m->text, "GET / 200");
}

TEST(SyslogMessage, Rfc3164WithoutHostname) {
  ScopedTz tz("UTC0");
  auto m = ParseMessage("<13>Dec  7 05:37:20 cron[99]: job done", kNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->hostname, "");
  EXPECT_EQ(m->app_name, "cron");
  EXPECT_EQ(m->proc_id, "99");
  EXPECT_EQ(m->text, "job done");
}

TEST(SyslogMessage, Rfc3164LocalTimeZone) {
  ScopedTz tz("CET-1");
  auto m = ParseMessage("<13>Dec  7 06:37:20 h app: x", kNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->timestamp_ns, kNow - 4 * kSec);  // 06:37:20 at UTC+1
}

TEST(SyslogMessage, Rfc3164Variants) {
  ScopedTz tz("UTC0");
  // rsyslog's RSYSLOG_ForwardFormat: an RFC 3339 timestamp in a 3164 header.
  auto m = ParseMessage("<30>2026-12-07T05:37:23.250000+00:00 host1 sshd[7]: Accepted key", kNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->timestamp_ns, kNow - kSec + 250'000'000);
  EXPECT_EQ(m->hostname, "host1");
  EXPECT_EQ(m->app_name, "sshd");
  EXPECT_EQ(m->text, "Accepted key");
  // A year after the day, and fractional seconds.
  m = ParseMessage("<30>Dec  7 2025 05:37:24.5 host1 app: y", kNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->timestamp_ns, kNow - 365LL * 86400 * kSec + 500'000'000);
  // December's message read on New Year's Day belongs to the year before.
  int64_t jan1 = 1798761610LL * kSec;  // 2027-01-01T00:00:10Z
  m = ParseMessage("<30>Dec 31 23:59:50 host1 app: z", jan1);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->timestamp_ns, jan1 - 20 * kSec);
}

TEST(SyslogMessage, Rfc3164WithoutHeader) {
  auto m = ParseMessage("<13>just some text: here", kNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->timestamp_ns, 0);
  EXPECT_EQ(m->hostname, "");
  EXPECT_EQ(m->app_name, "");
  EXPECT_EQ(m->text, "just some text: here");
  m = ParseMessage("<0>", kNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->facility, 0);
  EXPECT_EQ(m->text, "");
}

TEST(SyslogMessage, BadInput) {
  for (const char* bad : {"", "hello", "<", "<13", "<>x", "<1a>x", "<192>x", "<1000>x"}) {
    auto m = ParseMessage(bad, kNow);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_NE(m.status().message().find("PRI"), std::string::npos) << bad;
  }
  struct Case {
    const char* frame;
    const char* error;
  };
  for (const Case& c : {
           Case{"<13>1 yesterday host app - - - x", "TIMESTAMP \"yesterday\" is not RFC 3339"},
           Case{"<13>1 - host app 1", "header ends before MSGID"},
           Case{"<13>1 - host app - - [a x=\"1\"", "is not closed"},
           Case{"<13>1 - host app - - [a x=\"1]", "unterminated value"},
           Case{"<13>1 - host app - - [a x=1]", "expected NAME=\"VALUE\""},
           Case{"<13>1 - host app - - nope", "must be \"-\" or start with \"[\""},
           Case{"<13>1 - host app - - -x", "not followed by a space"},
           Case{"<13>2 - host app - - - x", "unsupported RFC 5424 version \"2\""},
       }) {
    auto m = ParseMessage(c.frame, kNow);
    ASSERT_FALSE(m.ok()) << c.frame;
    EXPECT_NE(m.status().message().find(c.error), std::string::npos)
        << c.frame << ": " << m.status().message();
  }
}

TEST(SyslogMessage, Names) {
  EXPECT_EQ(FacilityName(0), "kern");
  EXPECT_EQ(FacilityName(4), "auth");
  EXPECT_EQ(FacilityName(16), "local0");
  EXPECT_EQ(FacilityName(23), "local7");
  EXPECT_EQ(SeverityName(0), "emerg");
  EXPECT_EQ(SeverityName(3), "err");
  EXPECT_EQ(SeverityName(6), "info");
  EXPECT_EQ(SeverityName(7), "debug");
}

}  // namespace
}  // namespace sluice::syslog
