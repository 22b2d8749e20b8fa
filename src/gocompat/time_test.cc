#include "gocompat/time.h"

#include <gtest/gtest.h>

namespace sluice::gocompat {
namespace {

// 2021-11-02T10:20:30.123456789Z, a Tuesday, day 306 of the year.
const Time kT = TimeFromUnix(1635848430, 123456789);

std::string Fmt(std::string_view layout, const Time& t = kT) {
  std::string out;
  FormatTime(layout, t, &out);
  return out;
}

std::string Str(const Time& t) {
  std::string out;
  AppendTimeString(t, &out);
  return out;
}

// Parses in UTC and prints with String(); "error" if it does not parse.
std::string Parse(std::string_view layout, std::string_view value, const Zone& zone = Zone::Utc()) {
  Time t;
  if (!ParseTime(layout, value, zone, &t)) return "error";
  return Str(t);
}

TEST(GoTimeTest, FormatElements) {
  EXPECT_EQ(Fmt("2006-01-02T15:04:05Z07:00"), "2021-11-02T10:20:30Z");
  EXPECT_EQ(Fmt("2006-01-02T15:04:05.999999999Z07:00"), "2021-11-02T10:20:30.123456789Z");
  EXPECT_EQ(Fmt("Mon Jan _2 15:04:05 MST 2006"), "Tue Nov  2 10:20:30 UTC 2021");
  EXPECT_EQ(Fmt("Monday, January 2, 06"), "Tuesday, November 2, 21");
  EXPECT_EQ(Fmt("3:4:5 PM pm 03"), "10:20:30 AM am 10");
  EXPECT_EQ(Fmt("1/2 01/02"), "11/2 11/02");
  EXPECT_EQ(Fmt("2006-002 __2"), "2021-306 306");
  EXPECT_EQ(Fmt(".000 .0 ,000000 .999 .9"), ".123 .1 ,123456 .123 .1");
  EXPECT_EQ(Fmt("05.999", TimeFromUnix(5, 0)), "05");  // trailing zeros and the dot go
  EXPECT_EQ(Fmt("-0700 -07:00 -07 Z0700", kT), "+0000 +00:00 +00 Z");
  EXPECT_EQ(Fmt("_2006"), "_2021");
  EXPECT_EQ(Fmt("no elements here?"), "no elements here?");
  EXPECT_EQ(Str(TimeFromUnix(0, 0)), "1970-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(Str(Time()), "0001-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(Str(TimeFromUnix(-1, 0)), "1969-12-31 23:59:59 +0000 UTC");
  EXPECT_EQ(Fmt("15 3PM", TimeFromUnix(13 * 3600, 0)), "13 1PM");
  EXPECT_EQ(Fmt("3PM", TimeFromUnix(0, 0)), "12AM");
}

TEST(GoTimeTest, FormatOffsets) {
  Time t = kT;
  t.set_zone("", -(7 * 3600 + 30 * 60));
  EXPECT_EQ(Fmt("15:04 -0700 -07:00 Z07:00 -07 MST -07:00:00", t),
            "02:50 -0730 -07:30 -07:30 -07 -0730 -07:30:00");
  EXPECT_EQ(Str(t), "2021-11-02 02:50:30.123456789 -0730 -0730");
}

TEST(GoTimeTest, Parse) {
  EXPECT_EQ(Parse("2006-01-02", "2021-11-02"), "2021-11-02 00:00:00 +0000 UTC");
  EXPECT_EQ(Parse("2006-01-02T15:04:05Z07:00", "2021-11-02T10:20:30Z"),
            "2021-11-02 10:20:30 +0000 UTC");
  EXPECT_EQ(Parse("2006-01-02T15:04:05Z07:00", "2021-11-02T10:20:30+02:00"),
            "2021-11-02 10:20:30 +0200 +0200");
  // A fraction after the seconds is accepted even when the layout has none.
  EXPECT_EQ(Parse("2006-01-02 15:04:05", "2021-11-02 10:20:30.25"),
            "2021-11-02 10:20:30.25 +0000 UTC");
  EXPECT_EQ(Parse("2006-01-02T15:04:05.000Z", "2021-11-02T10:20:30.123Z"),
            "2021-11-02 10:20:30.123 +0000 UTC");
  EXPECT_EQ(Parse("2006-01-02T15:04:05.000Z", "2021-11-02T10:20:30.12Z"), "error");
  EXPECT_EQ(Parse("Jan _2 3:04PM 2006", "nov  2 1:05PM 2021"), "2021-11-02 13:05:00 +0000 UTC");
  EXPECT_EQ(Parse("Jan 2 3:04pm 2006", "Nov 2 12:05am 2021"), "2021-11-02 00:05:00 +0000 UTC");
  EXPECT_EQ(Parse("Monday January 2 2006", "Tuesday November 2 2021"),
            "2021-11-02 00:00:00 +0000 UTC");
  EXPECT_EQ(Parse("2006-002", "2020-060"), "2020-02-29 00:00:00 +0000 UTC");
  EXPECT_EQ(Parse("2006-002", "2021-366"), "error");
  EXPECT_EQ(Parse("06-1-2", "69-1-2"), "1969-01-02 00:00:00 +0000 UTC");
  EXPECT_EQ(Parse("06-1-2", "68-1-2"), "2068-01-02 00:00:00 +0000 UTC");
  EXPECT_EQ(Parse("15:04", "10:30"), "0000-01-01 10:30:00 +0000 UTC");
  EXPECT_EQ(Parse("2006-01-02 MST", "2021-11-02 UTC"), "2021-11-02 00:00:00 +0000 UTC");
  EXPECT_EQ(Parse("2006-01-02 MST", "2021-11-02 PST"), "2021-11-02 00:00:00 +0000 PST");
  EXPECT_EQ(Parse("2006-01-02 -0700", "2021-11-02 -0130"), "2021-11-02 00:00:00 -0130 -0130");
  EXPECT_EQ(Parse("2006-01-02", "2021-02-29"), "error");  // day out of range
  EXPECT_EQ(Parse("2006-01-02", "2021-13-01"), "error");
  EXPECT_EQ(Parse("2006-01-02", "2021-11-02 extra"), "error");
  EXPECT_EQ(Parse("2006-01-02", "21-11-02"), "error");
  EXPECT_EQ(Parse("2006  01", "2021 11"), "2021-11-01 00:00:00 +0000 UTC");
}

TEST(GoTimeTest, Zones) {
  auto berlin = Zone::Load("Europe/Berlin");
  ASSERT_NE(berlin, nullptr);
  EXPECT_EQ(Parse("2006-01-02 15:04", "2021-07-02 12:00", *berlin),
            "2021-07-02 12:00:00 +0200 CEST");
  EXPECT_EQ(Parse("2006-01-02 15:04", "2021-01-02 12:00", *berlin),
            "2021-01-02 12:00:00 +0100 CET");
  // Around the spring-forward gap (02:00 -> 03:00 on 2021-03-28), as Go's Date normalises.
  EXPECT_EQ(Parse("2006-01-02 15:04", "2021-03-28 03:30", *berlin),
            "2021-03-28 03:30:00 +0200 CEST");
  EXPECT_EQ(Str(berlin->At(1635848430, 0)), "2021-11-02 11:20:30 +0100 CET");
  // An explicit offset matching the zone keeps the zone's name.
  EXPECT_EQ(Parse("2006-01-02 15:04 -0700", "2021-07-02 12:00 +0200", *berlin),
            "2021-07-02 12:00:00 +0200 CEST");
  EXPECT_EQ(Zone::Load("No/Such_Zone"), nullptr);
  EXPECT_EQ(Zone::Load("../../etc/passwd"), nullptr);
  EXPECT_NE(Zone::Load("UTC"), nullptr);
  EXPECT_NE(Zone::Load("Local"), nullptr);
  EXPECT_EQ(Zone::FromTzif("not a tzif file"), nullptr);
}

}  // namespace
}  // namespace sluice::gocompat
