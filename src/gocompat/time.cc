#include "gocompat/time.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "common/civil.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::gocompat {

namespace {

constexpr int64_t kSecondsPerDay = 86400;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

constexpr std::string_view kLongMonths[] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
constexpr std::string_view kLongDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};

bool IsLeap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysIn(int month, int64_t year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeap(year)) return 29;
  return kDays[month - 1];
}

// The layout elements of Go's time package (nextStdChunk).
enum class Std : uint8_t {
  kNone,
  kLongMonth,
  kMonth,
  kNumMonth,
  kZeroMonth,
  kLongWeekDay,
  kWeekDay,
  kDay,
  kUnderDay,
  kZeroDay,
  kUnderYearDay,
  kZeroYearDay,
  kHour,
  kHour12,
  kZeroHour12,
  kMinute,
  kZeroMinute,
  kSecond,
  kZeroSecond,
  kLongYear,
  kYear,
  kPM,
  kpm,
  kTZ,
  kISO8601TZ,
  kISO8601SecondsTZ,
  kISO8601ShortTZ,
  kISO8601ColonTZ,
  kISO8601ColonSecondsTZ,
  kNumTZ,
  kNumSecondsTz,
  kNumShortTZ,
  kNumColonTZ,
  kNumColonSecondsTZ,
  kFracSecond0,
  kFracSecond9,
};

struct Chunk {
  std::string_view prefix;
  Std std = Std::kNone;
  int frac_digits = 0;
  char frac_sep = '.';
  std::string_view suffix;
};

bool StartsWith(std::string_view s, size_t i, std::string_view p) {
  return s.size() - i >= p.size() && s.compare(i, p.size(), p) == 0;
}

bool IsDigitAt(std::string_view s, size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; }

// Splits the layout at its first element: literal prefix, the element, the rest.
Chunk NextStdChunk(std::string_view layout) {
  for (size_t i = 0; i < layout.size(); ++i) {
    Chunk c;
    c.prefix = layout.substr(0, i);
    auto found = [&](Std std, size_t len) {
      c.std = std;
      c.suffix = layout.substr(i + len);
      return true;
    };
    bool hit = false;
    switch (layout[i]) {
      case 'J':
        if (StartsWith(layout, i, "Jan")) {
          hit =
              StartsWith(layout, i, "January") ? found(Std::kLongMonth, 7) : found(Std::kMonth, 3);
        }
        break;
      case 'M':
        if (StartsWith(layout, i, "Mon")) {
          hit = StartsWith(layout, i, "Monday") ? found(Std::kLongWeekDay, 6)
                                                : found(Std::kWeekDay, 3);
        } else if (StartsWith(layout, i, "MST")) {
          hit = found(Std::kTZ, 3);
        }
        break;
      case '0':
        if (i + 1 < layout.size() && layout[i + 1] >= '1' && layout[i + 1] <= '6') {
          static constexpr Std kZero[] = {Std::kZeroMonth,  Std::kZeroDay,    Std::kZeroHour12,
                                          Std::kZeroMinute, Std::kZeroSecond, Std::kYear};
          hit = found(kZero[layout[i + 1] - '1'], 2);
        } else if (StartsWith(layout, i, "002")) {
          hit = found(Std::kZeroYearDay, 3);
        }
        break;
      case '1':
        hit = StartsWith(layout, i, "15") ? found(Std::kHour, 2) : found(Std::kNumMonth, 1);
        break;
      case '2':
        hit = StartsWith(layout, i, "2006") ? found(Std::kLongYear, 4) : found(Std::kDay, 1);
        break;
      case '_':
        if (StartsWith(layout, i, "_2")) {
          if (StartsWith(layout, i, "_2006")) {
            // "_2006" is a literal underscore and a long year.
            c.prefix = layout.substr(0, i + 1);
            c.std = Std::kLongYear;
            c.suffix = layout.substr(i + 5);
            hit = true;
          } else {
            hit = found(Std::kUnderDay, 2);
          }
        } else if (StartsWith(layout, i, "__2")) {
          hit = found(Std::kUnderYearDay, 3);
        }
        break;
      case '3':
        hit = found(Std::kHour12, 1);
        break;
      case '4':
        hit = found(Std::kMinute, 1);
        break;
      case '5':
        hit = found(Std::kSecond, 1);
        break;
      case 'P':
        if (StartsWith(layout, i, "PM")) hit = found(Std::kPM, 2);
        break;
      case 'p':
        if (StartsWith(layout, i, "pm")) hit = found(Std::kpm, 2);
        break;
      case '-':
        if (StartsWith(layout, i, "-070000")) {
          hit = found(Std::kNumSecondsTz, 7);
        } else if (StartsWith(layout, i, "-07:00:00")) {
          hit = found(Std::kNumColonSecondsTZ, 9);
        } else if (StartsWith(layout, i, "-0700")) {
          hit = found(Std::kNumTZ, 5);
        } else if (StartsWith(layout, i, "-07:00")) {
          hit = found(Std::kNumColonTZ, 6);
        } else if (StartsWith(layout, i, "-07")) {
          hit = found(Std::kNumShortTZ, 3);
        }
        break;
      case 'Z':
        if (StartsWith(layout, i, "Z070000")) {
          hit = found(Std::kISO8601SecondsTZ, 7);
        } else if (StartsWith(layout, i, "Z07:00:00")) {
          hit = found(Std::kISO8601ColonSecondsTZ, 9);
        } else if (StartsWith(layout, i, "Z0700")) {
          hit = found(Std::kISO8601TZ, 5);
        } else if (StartsWith(layout, i, "Z07:00")) {
          hit = found(Std::kISO8601ColonTZ, 6);
        } else if (StartsWith(layout, i, "Z07")) {
          hit = found(Std::kISO8601ShortTZ, 3);
        }
        break;
      case '.':
      case ',':
        if (i + 1 < layout.size() && (layout[i + 1] == '0' || layout[i + 1] == '9')) {
          char ch = layout[i + 1];
          size_t j = i + 1;
          while (j < layout.size() && layout[j] == ch) ++j;
          if (!IsDigitAt(layout, j)) {
            c.std = ch == '0' ? Std::kFracSecond0 : Std::kFracSecond9;
            c.frac_digits = static_cast<int>(j - (i + 1));
            c.frac_sep = layout[i];
            c.suffix = layout.substr(j);
            hit = true;
          }
        }
        break;
      default:
        break;
    }
    if (hit) return c;
  }
  return Chunk{layout, Std::kNone, 0, '.', {}};
}

void AppendInt(std::string* out, int64_t x, int width) {
  uint64_t u = static_cast<uint64_t>(x);
  if (x < 0) {
    out->push_back('-');
    u = 0 - u;
  }
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0);
  for (int k = n; k < width; ++k) out->push_back('0');
  while (n > 0) out->push_back(buf[--n]);
}

struct Civil {
  int64_t year;
  int month, day, hour, min, sec, yday, wday;
};

Civil ToCivil(const Time& t) {
  int64_t local = t.sec + t.offset;
  int64_t days = FloorDiv(local, kSecondsPerDay);
  int64_t rem = local - days * kSecondsPerDay;
  Civil c{};
  CivilFromDays(days, &c.year, &c.month, &c.day);
  c.hour = static_cast<int>(rem / 3600);
  c.min = static_cast<int>(rem / 60 % 60);
  c.sec = static_cast<int>(rem % 60);
  c.yday = static_cast<int>(days - DaysFromCivil(c.year, 1, 1)) + 1;
  c.wday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  return c;
}

void AppendFrac(std::string* out, int32_t nsec, int digits, bool trim, char sep) {
  char buf[9];
  int32_t v = nsec;
  for (int i = 8; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  int n = std::min(digits, 9);
  if (trim) {
    while (n > 0 && buf[n - 1] == '0') --n;
    if (n == 0) return;
  }
  out->push_back(sep);
  out->append(buf, static_cast<size_t>(n));
}

// ---- parsing helpers (Go's getnum, lookup, skip) ----

bool GetNum(std::string_view* s, bool fixed, int* out) {
  if (!IsDigitAt(*s, 0)) return false;
  if (!IsDigitAt(*s, 1)) {
    if (fixed) return false;
    *out = (*s)[0] - '0';
    s->remove_prefix(1);
    return true;
  }
  *out = ((*s)[0] - '0') * 10 + ((*s)[1] - '0');
  s->remove_prefix(2);
  return true;
}

bool GetNum3(std::string_view* s, bool fixed, int* out) {
  int n = 0;
  size_t i = 0;
  for (; i < 3 && IsDigitAt(*s, i); ++i) n = n * 10 + ((*s)[i] - '0');
  if (i == 0 || (fixed && i != 3)) return false;
  *out = n;
  s->remove_prefix(i);
  return true;
}

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Index of the name in `names` that prefixes *s (case-insensitively), -1 if none.
template <size_t N>
int Lookup(const std::string_view (&names)[N], std::string_view* s, size_t len_limit) {
  for (size_t i = 0; i < N; ++i) {
    std::string_view n = len_limit ? names[i].substr(0, len_limit) : names[i];
    if (s->size() >= n.size() && EqualFold(s->substr(0, n.size()), n)) {
      s->remove_prefix(n.size());
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::string_view CutSpace(std::string_view s) {
  while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  return s;
}

// Matches the layout's literal text; a space matches one or more spaces.
bool Skip(std::string_view* value, std::string_view prefix) {
  while (!prefix.empty()) {
    if (prefix[0] == ' ') {
      if (!value->empty() && (*value)[0] != ' ') return false;
      prefix = CutSpace(prefix);
      *value = CutSpace(*value);
      continue;
    }
    if (value->empty() || (*value)[0] != prefix[0]) return false;
    prefix.remove_prefix(1);
    value->remove_prefix(1);
  }
  return true;
}

// Go's parseTimeZone: the length of a zone abbreviation at the start of `value`, 0 if none.
size_t ParseTimeZoneName(std::string_view value) {
  if (value.size() < 3) return 0;
  if (value.size() >= 4 && (value.substr(0, 4) == "ChST" || value.substr(0, 4) == "MeST")) return 4;
  if (value.substr(0, 3) == "GMT") {
    // GMT followed by an optional signed hour offset.
    std::string_view rest = value.substr(3);
    if (rest.empty() || (rest[0] != '-' && rest[0] != '+')) return 3;
    size_t i = 1;
    int64_t x = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9' && x < 100) {
      x = x * 10 + (rest[i] - '0');
      ++i;
    }
    if (i == 1 || x > 23) return 3;
    return 3 + i;
  }
  if (value[0] == '+' || value[0] == '-') {
    // Numeric abbreviations such as "+03" or "-0530".
    size_t n = 1;
    while (n < value.size() && n <= 4 && value[n] >= '0' && value[n] <= '9') ++n;
    if (n == 3 || n == 5) return n;
    return 0;
  }
  size_t upper = 0;
  while (upper < value.size() && upper < 6 && value[upper] >= 'A' && value[upper] <= 'Z') ++upper;
  switch (upper) {
    case 0:
    case 1:
    case 2:
    case 6:
      return 0;
    case 5:
      return value[4] == 'T' ? 5 : 0;
    case 4:
      return (value[3] == 'T' || value.substr(0, 4) == "WITA") ? 4 : 0;
    default:
      return 3;
  }
}

bool ParseNanoseconds(std::string_view value, size_t nbytes, int32_t* ns) {
  if (value.empty() || (value[0] != '.' && value[0] != ',')) return false;
  if (nbytes > 10) nbytes = 10;
  int32_t v = 0;
  size_t i = 1;
  for (; i < nbytes; ++i) {
    if (!IsDigitAt(value, i)) return false;
    v = v * 10 + (value[i] - '0');
  }
  for (; i < 10; ++i) v *= 10;
  *ns = v;
  return true;
}

int64_t ReadBE(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

}  // namespace

const Zone& Zone::Utc() {
  static const Zone* utc = new Zone();
  return *utc;
}

std::shared_ptr<const Zone> Zone::FromTzif(std::string_view data) {
  auto p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  auto header = [&](size_t at, int64_t counts[6]) {
    if (at + 44 > n || std::memcmp(p + at, "TZif", 4) != 0) return false;
    for (int i = 0; i < 6; ++i) counts[i] = ReadBE(p + at + 20 + 4 * i, 4);
    for (int i = 0; i < 6; ++i) {
      if (counts[i] < 0 || counts[i] > 100000) return false;
    }
    return true;
  };
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!header(0, c)) return nullptr;
  size_t at = 44;
  int tsize = 4;
  if (p[4] >= '2') {
    // Skip the 32-bit block and read the 64-bit one.
    at += static_cast<size_t>(c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]);
    if (!header(at, c)) return nullptr;
    at += 44;
    tsize = 8;
  }
  size_t need = static_cast<size_t>(c[3] * (tsize + 1) + c[4] * 6 + c[5]);
  if (at + need > n || c[4] == 0) return nullptr;
  auto zone = std::make_shared<Zone>();
  zone->types_.clear();
  for (int64_t i = 0; i < c[3]; ++i) {
    zone->transitions_.push_back(ReadBE(p + at + i * tsize, tsize));
  }
  at += static_cast<size_t>(c[3] * tsize);
  for (int64_t i = 0; i < c[3]; ++i) {
    uint8_t idx = p[at + i];
    if (idx >= c[4]) return nullptr;
    zone->transition_types_.push_back(idx);
  }
  at += static_cast<size_t>(c[3]);
  const unsigned char* chars = p + at + c[4] * 6;
  for (int64_t i = 0; i < c[4]; ++i) {
    const unsigned char* t = p + at + i * 6;
    Type type{static_cast<int32_t>(ReadBE(t, 4)), t[4] != 0, ""};
    size_t ai = t[5];
    if (ai >= static_cast<size_t>(c[5])) return nullptr;
    const char* a = reinterpret_cast<const char*>(chars + ai);
    type.abbrev.assign(a, strnlen(a, static_cast<size_t>(c[5]) - ai));
    zone->types_.push_back(std::move(type));
  }
  return zone;
}

namespace {
// Zones read from /usr/share/zoneinfo by Zone::Load, by name; nullptr remembers a name with no
// zone. A struct rather than two function statics so the lock can be named in GUARDED_BY.
struct ZoneCache {
  Mutex mu;
  std::map<std::string, std::shared_ptr<const Zone>, std::less<>> zones GUARDED_BY(mu);
};
}  // namespace

std::shared_ptr<const Zone> Zone::Load(std::string_view name) {
  static const auto kUtc = std::shared_ptr<const Zone>(&Utc(), [](const Zone*) {});
  if (name.empty() || name == "UTC" || name == "Local") return kUtc;
  if (name.find("..") != std::string_view::npos || name[0] == '/' || name[0] == '\\' ||
      name.size() > 255 || name.find('\0') != std::string_view::npos) {
    return nullptr;
  }
  static ZoneCache cache;
  MutexLock lock(&cache.mu);
  if (auto it = cache.zones.find(name); it != cache.zones.end()) return it->second;
  std::shared_ptr<const Zone> zone;
  std::ifstream in("/usr/share/zoneinfo/" + std::string(name), std::ios::binary);
  if (in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    zone = FromTzif(ss.str());
  }
  // Bound the cache: names come from queries.
  if (cache.zones.size() < 1024) cache.zones.emplace(std::string(name), zone);
  return zone;
}

Zone::Period Zone::Lookup(int64_t unix_sec) const {
  Period p;
  if (transitions_.empty() || unix_sec < transitions_.front()) {
    // Before the first transition: the first standard-time type, as Go's lookupFirstZone.
    size_t idx = 0;
    for (size_t i = 0; i < types_.size(); ++i) {
      if (!types_[i].dst) {
        idx = i;
        break;
      }
    }
    p.offset = types_[idx].offset;
    p.abbrev = types_[idx].abbrev;
    if (!transitions_.empty()) p.end = transitions_.front();
    return p;
  }
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_sec);
  size_t i = static_cast<size_t>(it - transitions_.begin()) - 1;
  const Type& t = types_[transition_types_[i]];
  p.offset = t.offset;
  p.abbrev = t.abbrev;
  p.start = transitions_[i];
  if (i + 1 < transitions_.size()) p.end = transitions_[i + 1];
  return p;
}

bool Zone::LookupName(std::string_view abbrev, int64_t unix_sec, int32_t* offset) const {
  // First a period with that name in effect at the time, then any with that name.
  for (const Type& t : types_) {
    if (t.abbrev == abbrev) {
      Period p = Lookup(unix_sec - t.offset);
      if (p.abbrev == t.abbrev) {
        *offset = p.offset;
        return true;
      }
    }
  }
  for (const Type& t : types_) {
    if (t.abbrev == abbrev) {
      *offset = t.offset;
      return true;
    }
  }
  return false;
}

Time Zone::At(int64_t unix_sec, int32_t nsec) const {
  Time t;
  t.sec = unix_sec;
  t.nsec = nsec;
  Period p = Lookup(unix_sec);
  t.set_zone(p.abbrev, p.offset);
  return t;
}

Time Zone::FromCivil(int64_t year, int64_t month, int64_t day, int64_t hour, int64_t min,
                     int64_t sec, int64_t nsec) const {
  sec += FloorDiv(nsec, 1000000000);
  nsec -= FloorDiv(nsec, 1000000000) * 1000000000;
  int64_t unix = DaysFromCivil(year, month, 1) * kSecondsPerDay + (day - 1) * kSecondsPerDay +
                 hour * 3600 + min * 60 + sec;
  // The offset in effect at the local time, refined once near transitions (as Go's Date).
  Period p = Lookup(unix);
  int32_t offset = p.offset;
  if (offset != 0) {
    int64_t utc = unix - offset;
    if (utc < p.start || utc >= p.end) offset = Lookup(utc).offset;
    unix -= offset;
  }
  return At(unix, static_cast<int32_t>(nsec));
}

Time TimeFromUnix(int64_t sec, int64_t nsec) {
  sec += FloorDiv(nsec, 1000000000);
  nsec -= FloorDiv(nsec, 1000000000) * 1000000000;
  return Zone::Utc().At(sec, static_cast<int32_t>(nsec));
}

Time TimeFromUnixNanos(int64_t nanos) { return TimeFromUnix(0, nanos); }

void FormatTime(std::string_view layout, const Time& t, std::string* out) {
  Civil c = ToCivil(t);
  while (!layout.empty()) {
    Chunk ch = NextStdChunk(layout);
    out->append(ch.prefix);
    if (ch.std == Std::kNone) break;
    layout = ch.suffix;
    switch (ch.std) {
      case Std::kNone:
        break;
      case Std::kYear:
        AppendInt(out, c.year % 100 < 0 ? -(c.year % 100) : c.year % 100, 2);
        break;
      case Std::kLongYear:
        AppendInt(out, c.year, 4);
        break;
      case Std::kMonth:
        out->append(kLongMonths[c.month - 1].substr(0, 3));
        break;
      case Std::kLongMonth:
        out->append(kLongMonths[c.month - 1]);
        break;
      case Std::kNumMonth:
        AppendInt(out, c.month, 0);
        break;
      case Std::kZeroMonth:
        AppendInt(out, c.month, 2);
        break;
      case Std::kWeekDay:
        out->append(kLongDays[c.wday].substr(0, 3));
        break;
      case Std::kLongWeekDay:
        out->append(kLongDays[c.wday]);
        break;
      case Std::kDay:
        AppendInt(out, c.day, 0);
        break;
      case Std::kUnderDay:
        if (c.day < 10) out->push_back(' ');
        AppendInt(out, c.day, 0);
        break;
      case Std::kZeroDay:
        AppendInt(out, c.day, 2);
        break;
      case Std::kUnderYearDay:
        if (c.yday < 100) {
          out->push_back(' ');
          if (c.yday < 10) out->push_back(' ');
        }
        AppendInt(out, c.yday, 0);
        break;
      case Std::kZeroYearDay:
        AppendInt(out, c.yday, 3);
        break;
      case Std::kHour:
        AppendInt(out, c.hour, 2);
        break;
      case Std::kHour12:
      case Std::kZeroHour12: {
        int hr = c.hour % 12;
        if (hr == 0) hr = 12;
        AppendInt(out, hr, ch.std == Std::kZeroHour12 ? 2 : 0);
        break;
      }
      case Std::kMinute:
        AppendInt(out, c.min, 0);
        break;
      case Std::kZeroMinute:
        AppendInt(out, c.min, 2);
        break;
      case Std::kSecond:
        AppendInt(out, c.sec, 0);
        break;
      case Std::kZeroSecond:
        AppendInt(out, c.sec, 2);
        break;
      case Std::kPM:
        out->append(c.hour >= 12 ? "PM" : "AM");
        break;
      case Std::kpm:
        out->append(c.hour >= 12 ? "pm" : "am");
        break;
      case Std::kISO8601TZ:
      case Std::kISO8601ColonTZ:
      case Std::kISO8601SecondsTZ:
      case Std::kISO8601ShortTZ:
      case Std::kISO8601ColonSecondsTZ:
      case Std::kNumTZ:
      case Std::kNumColonTZ:
      case Std::kNumSecondsTz:
      case Std::kNumShortTZ:
      case Std::kNumColonSecondsTZ: {
        bool iso = ch.std == Std::kISO8601TZ || ch.std == Std::kISO8601ColonTZ ||
                   ch.std == Std::kISO8601SecondsTZ || ch.std == Std::kISO8601ShortTZ ||
                   ch.std == Std::kISO8601ColonSecondsTZ;
        if (iso && t.offset == 0) {
          out->push_back('Z');
          break;
        }
        int32_t zone = t.offset / 60;
        int32_t absoff = t.offset;
        if (zone < 0) {
          out->push_back('-');
          zone = -zone;
          absoff = -absoff;
        } else {
          out->push_back('+');
        }
        AppendInt(out, zone / 60, 2);
        bool colon = ch.std == Std::kISO8601ColonTZ || ch.std == Std::kNumColonTZ ||
                     ch.std == Std::kISO8601ColonSecondsTZ || ch.std == Std::kNumColonSecondsTZ;
        if (colon) out->push_back(':');
        if (ch.std != Std::kNumShortTZ && ch.std != Std::kISO8601ShortTZ) {
          AppendInt(out, zone % 60, 2);
        }
        if (ch.std == Std::kISO8601SecondsTZ || ch.std == Std::kNumSecondsTz ||
            ch.std == Std::kNumColonSecondsTZ || ch.std == Std::kISO8601ColonSecondsTZ) {
          if (colon) out->push_back(':');
          AppendInt(out, absoff % 60, 2);
        }
        break;
      }
      case Std::kTZ: {
        if (!t.zone_name().empty()) {
          out->append(t.zone_name());
          break;
        }
        int32_t zone = t.offset / 60;
        if (zone < 0) {
          out->push_back('-');
          zone = -zone;
        } else {
          out->push_back('+');
        }
        AppendInt(out, zone / 60, 2);
        AppendInt(out, zone % 60, 2);
        break;
      }
      case Std::kFracSecond0:
      case Std::kFracSecond9:
        AppendFrac(out, t.nsec, ch.frac_digits, ch.std == Std::kFracSecond9, ch.frac_sep);
        break;
    }
  }
}

void AppendTimeString(const Time& t, std::string* out) {
  FormatTime("2006-01-02 15:04:05.999999999 -0700 MST", t, out);
}

bool ParseTime(std::string_view layout, std::string_view value, const Zone& zone, Time* out) {
  int64_t year = 0;
  int month = -1, day = -1, yday = -1, hour = 0, min = 0, sec = 0;
  int32_t nsec = 0;
  bool pm_set = false, am_set = false, utc = false;
  int32_t zone_offset = -1;
  bool have_offset = false;
  std::string_view zone_name;

  while (true) {
    Chunk ch = NextStdChunk(layout);
    if (!Skip(&value, ch.prefix)) return false;
    if (ch.std == Std::kNone) {
      if (!value.empty()) return false;  // extra text
      break;
    }
    layout = ch.suffix;
    switch (ch.std) {
      case Std::kNone:
        break;
      case Std::kYear: {
        if (value.size() < 2) return false;
        int y = 0;
        if (!GetNum(&value, true, &y)) return false;
        year = y >= 69 ? y + 1900 : y + 2000;
        break;
      }
      case Std::kLongYear: {
        if (value.size() < 4 || !IsDigitAt(value, 0)) return false;
        int64_t y = 0;
        for (int i = 0; i < 4; ++i) {
          if (!IsDigitAt(value, static_cast<size_t>(i))) return false;
          y = y * 10 + (value[static_cast<size_t>(i)] - '0');
        }
        value.remove_prefix(4);
        year = y;
        break;
      }
      case Std::kMonth:
      case Std::kLongMonth: {
        int m = Lookup(kLongMonths, &value, ch.std == Std::kMonth ? 3 : 0);
        if (m < 0) return false;
        month = m + 1;
        break;
      }
      case Std::kNumMonth:
      case Std::kZeroMonth:
        if (!GetNum(&value, ch.std == Std::kZeroMonth, &month) || month <= 0 || month > 12) {
          return false;
        }
        break;
      case Std::kWeekDay:
      case Std::kLongWeekDay:
        if (Lookup(kLongDays, &value, ch.std == Std::kWeekDay ? 3 : 0) < 0) return false;
        break;
      case Std::kDay:
      case Std::kUnderDay:
      case Std::kZeroDay:
        if (ch.std == Std::kUnderDay && !value.empty() && value[0] == ' ') value.remove_prefix(1);
        if (!GetNum(&value, ch.std == Std::kZeroDay, &day)) return false;
        break;
      case Std::kUnderYearDay:
      case Std::kZeroYearDay:
        for (int i = 0; i < 2 && ch.std == Std::kUnderYearDay && !value.empty() && value[0] == ' ';
             ++i) {
          value.remove_prefix(1);
        }
        if (!GetNum3(&value, ch.std == Std::kZeroYearDay, &yday) || yday < 1 || yday > 366) {
          return false;
        }
        break;
      case Std::kHour:
        if (!GetNum(&value, false, &hour) || hour >= 24) return false;
        break;
      case Std::kHour12:
      case Std::kZeroHour12:
        if (!GetNum(&value, ch.std == Std::kZeroHour12, &hour) || hour > 12) return false;
        break;
      case Std::kMinute:
      case Std::kZeroMinute:
        if (!GetNum(&value, ch.std == Std::kZeroMinute, &min) || min >= 60) return false;
        break;
      case Std::kSecond:
      case Std::kZeroSecond: {
        if (!GetNum(&value, ch.std == Std::kZeroSecond, &sec) || sec >= 60) return false;
        // A fractional second after the seconds is accepted even if the layout has none.
        if (value.size() >= 2 && (value[0] == '.' || value[0] == ',') && IsDigitAt(value, 1)) {
          Chunk next = NextStdChunk(layout);
          if (next.std == Std::kFracSecond0 || next.std == Std::kFracSecond9) {
            break;
          }
          size_t n = 2;
          while (IsDigitAt(value, n)) ++n;
          if (!ParseNanoseconds(value, n, &nsec)) return false;
          value.remove_prefix(n);
        }
        break;
      }
      case Std::kPM:
      case Std::kpm: {
        if (value.size() < 2) return false;
        std::string_view p = value.substr(0, 2);
        bool upper = ch.std == Std::kPM;
        if (p == (upper ? "PM" : "pm")) {
          pm_set = true;
        } else if (p == (upper ? "AM" : "am")) {
          am_set = true;
        } else {
          return false;
        }
        value.remove_prefix(2);
        break;
      }
      case Std::kISO8601TZ:
      case Std::kISO8601ColonTZ:
      case Std::kISO8601SecondsTZ:
      case Std::kISO8601ShortTZ:
      case Std::kISO8601ColonSecondsTZ:
      case Std::kNumTZ:
      case Std::kNumShortTZ:
      case Std::kNumColonTZ:
      case Std::kNumSecondsTz:
      case Std::kNumColonSecondsTZ: {
        bool iso = ch.std == Std::kISO8601TZ || ch.std == Std::kISO8601ColonTZ ||
                   ch.std == Std::kISO8601SecondsTZ || ch.std == Std::kISO8601ShortTZ ||
                   ch.std == Std::kISO8601ColonSecondsTZ;
        if (iso && !value.empty() && value[0] == 'Z') {
          value.remove_prefix(1);
          utc = true;
          break;
        }
        std::string_view sign, hh, mm, ss = "00";
        if (ch.std == Std::kISO8601ColonTZ || ch.std == Std::kNumColonTZ) {
          if (value.size() < 6 || value[3] != ':') return false;
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(4, 2);
          value.remove_prefix(6);
        } else if (ch.std == Std::kNumShortTZ || ch.std == Std::kISO8601ShortTZ) {
          if (value.size() < 3) return false;
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = "00";
          value.remove_prefix(3);
        } else if (ch.std == Std::kISO8601ColonSecondsTZ || ch.std == Std::kNumColonSecondsTZ) {
          if (value.size() < 9 || value[3] != ':' || value[6] != ':') return false;
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(4, 2),
          ss = value.substr(7, 2);
          value.remove_prefix(9);
        } else if (ch.std == Std::kISO8601SecondsTZ || ch.std == Std::kNumSecondsTz) {
          if (value.size() < 7) return false;
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(3, 2),
          ss = value.substr(5, 2);
          value.remove_prefix(7);
        } else {
          if (value.size() < 5) return false;
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(3, 2);
          value.remove_prefix(5);
        }
        int h = 0, m = 0, s = 0;
        if (!GetNum(&hh, true, &h) || !GetNum(&mm, true, &m) || !GetNum(&ss, true, &s)) {
          return false;
        }
        if (h > 24 || m > 60 || s > 60) return false;
        zone_offset = (h * 60 + m) * 60 + s;
        if (sign == "-") {
          zone_offset = -zone_offset;
        } else if (sign != "+") {
          return false;
        }
        have_offset = true;
        break;
      }
      case Std::kTZ: {
        if (value.size() >= 3 && value.substr(0, 3) == "UTC") {
          value.remove_prefix(3);
          utc = true;
          break;
        }
        size_t n = ParseTimeZoneName(value);
        if (n == 0) return false;
        zone_name = value.substr(0, n);
        value.remove_prefix(n);
        break;
      }
      case Std::kFracSecond0: {
        size_t ndigit = 1 + static_cast<size_t>(ch.frac_digits);
        if (value.size() < ndigit) return false;
        if (!ParseNanoseconds(value, ndigit, &nsec)) return false;
        value.remove_prefix(ndigit);
        break;
      }
      case Std::kFracSecond9: {
        if (value.size() < 2 || (value[0] != '.' && value[0] != ',') || !IsDigitAt(value, 1)) {
          break;  // fractional second omitted
        }
        size_t i = 0;
        while (IsDigitAt(value, i + 1)) ++i;
        if (!ParseNanoseconds(value, 1 + i, &nsec)) return false;
        value.remove_prefix(1 + i);
        break;
      }
    }
  }
  if (pm_set && hour < 12) hour += 12;
  if (am_set && hour == 12) hour = 0;

  if (yday >= 0) {
    int m = 0, d = 0;
    if (IsLeap(year)) {
      if (yday == 31 + 29) {
        m = 2, d = 29;
      } else if (yday > 31 + 29) {
        --yday;
      }
    } else if (yday == 366) {
      return false;
    }
    if (m == 0) {
      m = yday / 31 + 1;
      static constexpr int kBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
      if (m > 12) m = 12;
      while (m < 12 && yday > kBefore[m]) ++m;
      while (m > 1 && yday <= kBefore[m - 1]) --m;
      d = yday - kBefore[m - 1];
    }
    if ((month >= 0 && month != m) || (day >= 0 && day != d)) return false;
    month = m;
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > DaysIn(month, year)) return false;

  if (utc) {
    *out = Zone::Utc().FromCivil(year, month, day, hour, min, sec, nsec);
    return true;
  }
  if (have_offset) {
    Time t = Zone::Utc().FromCivil(year, month, day, hour, min, sec, nsec);
    t.sec -= zone_offset;
    Zone::Period p = zone.Lookup(t.sec);
    if (p.offset == zone_offset && (zone_name.empty() || p.abbrev == zone_name)) {
      t.set_zone(p.abbrev, p.offset);
    } else {
      t.set_zone(zone_name, zone_offset);
    }
    *out = t;
    return true;
  }
  if (!zone_name.empty()) {
    Time t = Zone::Utc().FromCivil(year, month, day, hour, min, sec, nsec);
    int32_t offset = 0;
    if (zone.LookupName(zone_name, t.sec, &offset)) {
      t.sec -= offset;
      *out = zone.At(t.sec, t.nsec);
      return true;
    }
    if (zone_name.size() > 3 && zone_name.substr(0, 3) == "GMT") {
      int sign = zone_name[3] == '-' ? -1 : 1;
      int v = 0;
      for (char ch : zone_name.substr(4)) v = v * 10 + (ch - '0');
      offset = sign * v * 3600;
    }
    t.set_zone(zone_name, offset);
    *out = t;
    return true;
  }
  *out = zone.FromCivil(year, month, day, hour, min, sec, nsec);
  return true;
}

}  // namespace sluice::gocompat
