#include "syslog/message.h"

#include <fmt/format.h>

#include <array>
#include <ctime>

#include "common/duration.h"

namespace sluice::syslog {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kNanosPerDay = 86400 * kNanosPerSecond;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A cursor over the frame; every read is bounds-checked.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return pos_ >= s_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  bool Consume(char c) {
    if (peek() != c || done()) return false;
    ++pos_;
    return true;
  }
  // The bytes up to the next space (or the end), not consuming the space.
  std::string_view Token() {
    size_t end = s_.find(' ', pos_);
    if (end == std::string_view::npos) end = s_.size();
    std::string_view t = s_.substr(pos_, end - pos_);
    pos_ = end;
    return t;
  }
  std::string_view Rest() const { return pos_ < s_.size() ? s_.substr(pos_) : std::string_view{}; }
  size_t pos() const { return pos_; }
  void set_pos(size_t p) { pos_ = p; }
  void Skip(size_t n) { pos_ = std::min(s_.size(), pos_ + n); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// Reads `n` digits as a number; false if any is not a digit.
bool Digits(std::string_view s, size_t at, size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::string_view NilToEmpty(std::string_view field) {
  return field == "-" ? std::string_view{} : field;
}

// RFC 3339 as both formats carry it: "2026-12-07T05:37:24.123456+01:00". Checked for its shape
// first, since the shared parser also takes plain Unix numbers.
Result<int64_t> ParseRfc3339Field(std::string_view t) {
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't')) {
    return Status::InvalidArgument("not an RFC3339 timestamp");
  }
  return ParseTimestamp(t);
}

Status ParseStructuredData(Cursor& c, std::string_view frame, std::vector<SdParam>* out) {
  if (c.Consume('-')) return Status::OK();
  if (c.peek() != '[') {
    return Status::InvalidArgument("RFC 5424 structured data must be \"-\" or start with \"[\"");
  }
  while (c.Consume('[')) {
    size_t start = c.pos();
    while (!c.done() && c.peek() != ' ' && c.peek() != ']' && c.peek() != '=' && c.peek() != '"') {
      c.Skip(1);
    }
    std::string_view id = frame.substr(start, c.pos() - start);
    if (id.empty()) return Status::InvalidArgument("RFC 5424 structured data element has no SD-ID");
    while (c.Consume(' ')) {
      size_t name_start = c.pos();
      while (!c.done() && c.peek() != '=' && c.peek() != ' ' && c.peek() != ']' &&
             c.peek() != '"') {
        c.Skip(1);
      }
      std::string_view name = frame.substr(name_start, c.pos() - name_start);
      if (name.empty() || !c.Consume('=') || !c.Consume('"')) {
        return Status::InvalidArgument(
            fmt::format("RFC 5424 structured data element [{}]: expected NAME=\"VALUE\"", id));
      }
      std::string value;
      bool closed = false;
      while (!c.done()) {
        char ch = c.peek();
        c.Skip(1);
        if (ch == '\\' && !c.done() && (c.peek() == '"' || c.peek() == '\\' || c.peek() == ']')) {
          value.push_back(c.peek());
          c.Skip(1);
        } else if (ch == '"') {
          closed = true;
          break;
        } else {
          value.push_back(ch);
        }
      }
      if (!closed) {
        return Status::InvalidArgument(
            fmt::format("RFC 5424 structured data element [{}]: unterminated value", id));
      }
      out->push_back({id, name, std::move(value)});
    }
    if (!c.Consume(']')) {
      return Status::InvalidArgument(
          fmt::format("RFC 5424 structured data element [{}] is not closed by \"]\"", id));
    }
  }
  return Status::OK();
}

std::string_view TrimTrailer(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '\0')) {
    s.remove_suffix(1);
  }
  return s;
}

Status ParseRfc5424(Cursor& c, std::string_view frame, Message* m) {
  m->format = Format::kRfc5424;
  std::string_view version = c.Token();
  if (version != "1") {
    return Status::InvalidArgument(fmt::format("unsupported RFC 5424 version \"{}\"", version));
  }
  // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, each followed by one space.
  std::array<std::string_view, 5> fields;
  static constexpr std::array<std::string_view, 5> kNames = {"TIMESTAMP", "HOSTNAME", "APP-NAME",
                                                             "PROCID", "MSGID"};
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!c.Consume(' ')) {
      return Status::InvalidArgument(fmt::format("RFC 5424 header ends before {}", kNames[i]));
    }
    fields[i] = c.Token();
    if (fields[i].empty()) {
      return Status::InvalidArgument(fmt::format("RFC 5424 header has an empty {}", kNames[i]));
    }
  }
  if (fields[0] != "-") {
    auto ts = ParseRfc3339Field(fields[0]);
    if (!ts.ok()) {
      return Status::InvalidArgument(
          fmt::format("RFC 5424 TIMESTAMP \"{}\" is not RFC 3339", fields[0]));
    }
    m->timestamp_ns = *ts;
  }
  m->hostname = NilToEmpty(fields[1]);
  m->app_name = NilToEmpty(fields[2]);
  m->proc_id = NilToEmpty(fields[3]);
  m->msg_id = NilToEmpty(fields[4]);
  if (!c.Consume(' '))
    return Status::InvalidArgument("RFC 5424 header ends before STRUCTURED-DATA");
  SLUICE_RETURN_IF_ERROR(ParseStructuredData(c, frame, &m->structured_data));
  if (!c.done() && !c.Consume(' ')) {
    return Status::InvalidArgument("RFC 5424 STRUCTURED-DATA is not followed by a space");
  }
  std::string_view text = c.Rest();
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  m->text = text;
  return Status::OK();
}

int MonthIndex(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (s == kMonths[i]) return static_cast<int>(i);
  }
  return -1;
}

// Local civil time to Unix seconds, in the process's time zone (TZ), as a 3164 sender on the
// same host wrote it.
int64_t LocalToUnix(int year, int month0, int day, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month0;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm));
}

// "hh:mm:ss[.frac]" at the cursor; on success the cursor is past it.
bool ParseClock(Cursor& c, std::string_view frame, int* h, int* mi, int* s, int64_t* frac_ns) {
  size_t at = c.pos();
  if (!Digits(frame, at, 2, h) || frame.size() < at + 8 || frame[at + 2] != ':' ||
      !Digits(frame, at + 3, 2, mi) || frame[at + 5] != ':' || !Digits(frame, at + 6, 2, s)) {
    return false;
  }
  if (*h > 23 || *mi > 59 || *s > 60) return false;
  c.set_pos(at + 8);
  *frac_ns = 0;
  if (c.peek() == '.' && IsDigit(c.peek(1))) {
    c.Skip(1);
    int64_t scale = kNanosPerSecond;
    while (IsDigit(c.peek())) {
      scale /= 10;
      *frac_ns += (c.peek() - '0') * scale;
      c.Skip(1);
    }
  }
  return true;
}

// The BSD timestamp and its variants; on success the cursor is past it (not past the space).
bool ParseBsdTimestamp(Cursor& c, std::string_view frame, int64_t now_ns, int64_t* out) {
  size_t start = c.pos();
  if (IsDigit(c.peek())) {
    std::string_view token = c.Token();
    auto ts = ParseRfc3339Field(token);
    if (ts.ok()) {
      *out = *ts;
      return true;
    }
    c.set_pos(start);
    return false;
  }
  int month0 = MonthIndex(frame.substr(start, 3));
  if (month0 < 0 || frame.size() < start + 7 || frame[start + 3] != ' ') return false;
  // The day: "dd" or " d" (RFC 3164) or "d " (some senders drop the padding).
  size_t at = start + 4;
  if (frame[at] == ' ') ++at;
  int day = 0;
  if (!Digits(frame, at, 1, &day)) return false;
  ++at;
  if (at < frame.size() && IsDigit(frame[at])) day = day * 10 + (frame[at++] - '0');
  if (day < 1 || day > 31 || at >= frame.size() || frame[at] != ' ') return false;
  c.set_pos(at + 1);
  // "Mmm dd yyyy hh:mm:ss" (Cisco and others put the year here).
  int year = 0;
  bool has_year = false;
  if (Digits(frame, c.pos(), 4, &year) && frame.size() > c.pos() + 4 && frame[c.pos() + 4] == ' ') {
    has_year = true;
    c.Skip(5);
  }
  int h = 0, mi = 0, s = 0;
  int64_t frac = 0;
  if (!ParseClock(c, frame, &h, &mi, &s, &frac)) {
    c.set_pos(start);
    return false;
  }
  if (has_year) {
    *out = LocalToUnix(year, month0, day, h, mi, s) * kNanosPerSecond + frac;
    return true;
  }
  // No year: this year's, unless that is more than a day ahead of now (December's message read in
  // January).
  std::time_t now_s = static_cast<std::time_t>(now_ns / kNanosPerSecond);
  std::tm now_tm{};
  localtime_r(&now_s, &now_tm);
  int64_t ts = LocalToUnix(now_tm.tm_year + 1900, month0, day, h, mi, s) * kNanosPerSecond + frac;
  if (ts - now_ns > kNanosPerDay) {
    ts = LocalToUnix(now_tm.tm_year + 1899, month0, day, h, mi, s) * kNanosPerSecond + frac;
  }
  *out = ts;
  return true;
}

bool IsHostnameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '.' || c == '-' ||
         c == '_' || c == ':';
}

// TAG ["[" PROCID "]"] ":" SP at the cursor, as rsyslog reads it; on no match the cursor stays.
void ParseTag(Cursor& c, std::string_view frame, Message* m) {
  size_t start = c.pos();
  size_t end = start;
  while (end < frame.size() && frame[end] != '[' && frame[end] != ':' && frame[end] != ' ') ++end;
  if (end == start || end >= frame.size()) return;
  std::string_view app = frame.substr(start, end - start);
  std::string_view pid;
  size_t at = end;
  if (frame[at] == '[') {
    size_t close = frame.find(']', at);
    if (close == std::string_view::npos || close + 1 >= frame.size() || frame[close + 1] != ':') {
      return;
    }
    pid = frame.substr(at + 1, close - at - 1);
    at = close + 1;
  }
  if (frame[at] != ':') return;
  ++at;
  if (at < frame.size() && frame[at] == ' ') ++at;
  m->app_name = app;
  m->proc_id = pid;
  c.set_pos(at);
}

void ParseRfc3164(Cursor& c, std::string_view frame, int64_t now_ns, Message* m) {
  m->format = Format::kRfc3164;
  int64_t ts = 0;
  if (ParseBsdTimestamp(c, frame, now_ns, &ts)) {
    m->timestamp_ns = ts;
    c.Consume(' ');
    // A HOSTNAME, unless the next token is already the TAG ("app:" or "app[1]:").
    size_t start = c.pos();
    std::string_view token = c.Token();
    bool host = !token.empty() && token.back() != ':' && c.peek() == ' ';
    for (char ch : token) host = host && IsHostnameChar(ch);
    if (host) {
      m->hostname = token;
      c.Consume(' ');
    } else {
      c.set_pos(start);
    }
  }
  ParseTag(c, frame, m);
  m->text = c.Rest();
}

}  // namespace

Result<Message> ParseMessage(std::string_view frame, int64_t now_ns) {
  frame = TrimTrailer(frame);
  Cursor c(frame);
  // PRI
  int pri = 0;
  size_t digits = 0;
  if (!c.Consume('<')) return Status::InvalidArgument("syslog message does not start with <PRI>");
  while (IsDigit(c.peek()) && digits < 3) {
    pri = pri * 10 + (c.peek() - '0');
    c.Skip(1);
    ++digits;
  }
  if (digits == 0 || !c.Consume('>') || pri > 191) {
    return Status::InvalidArgument("syslog message has an invalid <PRI> (want <0> to <191>)");
  }
  Message m;
  m.facility = pri / 8;
  m.severity = pri % 8;
  // "<PRI>1 " is RFC 5424 (VERSION is 1 to 3 digits, the first non-zero).
  size_t v = 0;
  while (IsDigit(c.peek(v)) && v < 3) ++v;
  if (v > 0 && c.peek() != '0' && c.peek(v) == ' ') {
    SLUICE_RETURN_IF_ERROR(ParseRfc5424(c, frame, &m));
  } else {
    ParseRfc3164(c, frame, now_ns, &m);
  }
  return m;
}

std::string_view FacilityName(int facility) {
  static constexpr std::array<std::string_view, 24> kNames = {
      "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
      "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
      "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
  return facility >= 0 && facility < 24 ? kNames[facility] : std::string_view{};
}

std::string_view SeverityName(int severity) {
  static constexpr std::array<std::string_view, 8> kNames = {"emerg",   "alert",  "crit", "err",
                                                             "warning", "notice", "info", "debug"};
  return severity >= 0 && severity < 8 ? kNames[severity] : std::string_view{};
}

}  // namespace sluice::syslog
