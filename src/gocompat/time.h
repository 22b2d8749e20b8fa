#pragma once

// Go's time package: formatting and parsing, which Loki's template functions expose (`date`,
// `toDate`, `toDateInZone`, `__timestamp__`), and the proleptic Gregorian calendar math.
//
// Layouts are Go's: the reference time "Mon Jan 2 15:04:05 MST 2006" written the way the output
// should look ("2006-01-02T15:04:05Z07:00"). Every layout element of Go's time package is
// supported: Jan January 1 01 Mon Monday 2 _2 02 __2 002 15 3 03 4 04 5 05 2006 06 PM pm MST
// -0700 -07:00 -07 -070000 -07:00:00 Z0700 Z07:00 Z07 Z070000 Z07:00:00 and fractional seconds
// .000 / .999 (or with a comma).
//
// Loki's "Local" zone is the server's; sluice's is always UTC, the zone Loki's containers run in.
// Zones come from the system's tz database (/usr/share/zoneinfo); instants after a zone's last
// recorded transition keep that transition's offset (Go would apply the zone's POSIX rule).

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::gocompat {

// A Go time.Time without the monotonic reading: an instant plus the zone it is shown in.
struct Time {
  int64_t sec = kZeroTimeSec;                           // Unix seconds
  int32_t nsec = 0;                                     // [0, 1e9)
  int32_t offset = 0;                                   // seconds east of UTC
  std::array<char, 7> zone{'U', 'T', 'C', 0, 0, 0, 0};  // abbreviation, NUL-padded; "" = none
  uint8_t zone_len = 3;

  // time.Time{}: January 1, year 1, 00:00:00 UTC.
  static constexpr int64_t kZeroTimeSec = -62135596800;

  std::string_view zone_name() const { return {zone.data(), zone_len}; }
  void set_zone(std::string_view name, int32_t off) {
    offset = off;
    zone_len = static_cast<uint8_t>(name.size() < zone.size() ? name.size() : zone.size());
    zone.fill(0);
    for (size_t i = 0; i < zone_len; ++i) zone[i] = name[i];
  }
  bool operator==(const Time& o) const {
    return sec == o.sec && nsec == o.nsec && offset == o.offset && zone_name() == o.zone_name();
  }
};

// A time zone of the tz database. Immutable, so shared between threads.
class Zone {
 public:
  struct Period {
    int32_t offset = 0;
    std::string_view abbrev;
    int64_t start = INT64_MIN;  // Unix seconds the period covers: [start, end)
    int64_t end = INT64_MAX;
  };

  static const Zone& Utc();
  // Go's time.LoadLocation: "", "UTC" and "Local" are UTC; other names are read from the tz
  // database. nullptr when the name is not a zone there. Thread-safe; results are cached.
  static std::shared_ptr<const Zone> Load(std::string_view name);
  // Parses a TZif file's bytes; nullptr when they are not one.
  static std::shared_ptr<const Zone> FromTzif(std::string_view data);

  Period Lookup(int64_t unix_sec) const;
  // The offset of the period named `abbrev` in effect around `unix_sec` (as Go's lookupName).
  bool LookupName(std::string_view abbrev, int64_t unix_sec, int32_t* offset) const;
  // The instant shown in this zone.
  Time At(int64_t unix_sec, int32_t nsec) const;
  // The instant of a wall-clock time in this zone (Go's time.Date); fields may be out of range
  // and are normalised as Go does.
  Time FromCivil(int64_t year, int64_t month, int64_t day, int64_t hour, int64_t min, int64_t sec,
                 int64_t nsec) const;

 private:
  struct Type {
    int32_t offset;
    bool dst;
    std::string abbrev;
  };
  std::vector<int64_t> transitions_;
  std::vector<uint8_t> transition_types_;
  std::vector<Type> types_{Type{0, false, "UTC"}};
};

Time TimeFromUnixNanos(int64_t nanos);  // in UTC ("Local")
Time TimeFromUnix(int64_t sec, int64_t nsec);

// Appends `t` formatted by the Go layout `layout`.
void FormatTime(std::string_view layout, const Time& t, std::string* out);
// time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST".
void AppendTimeString(const Time& t, std::string* out);

// Go's time.ParseInLocation. False when `value` does not match `layout`.
bool ParseTime(std::string_view layout, std::string_view value, const Zone& zone, Time* out);

}  // namespace sluice::gocompat
