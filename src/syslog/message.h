#pragma once

// One syslog message, parsed. Two wire formats share the leading priority:
//
//   PRI        "<" 1*3DIGIT ">"   value 0..191 = facility * 8 + severity
//
//   RFC 5424:  PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
//              TIMESTAMP is RFC 3339 or "-"; the four header fields are "-" when absent (NILVALUE);
//              SD is "-" or one or more [SD-ID *(SP NAME="VALUE")] with \" \\ \] escaped in
//              values; MSG may start with a UTF-8 BOM, which is dropped.
//
//   RFC 3164:  PRI [TIMESTAMP SP [HOSTNAME SP]] [TAG ["[" PROCID "]"] ":" SP] MSG
//              TIMESTAMP is "Mmm dd hh:mm:ss" (day space-padded, in the receiver's local time,
//              the year inferred), or the variants rsyslog and network gear emit: fractional
//              seconds, "Mmm dd yyyy hh:mm:ss", or RFC 3339 (rsyslog's RSYSLOG_ForwardFormat).
//              A HOSTNAME is recognised only after a timestamp and only if it looks like one
//              (no ':' at its end, no '['), as rsyslog's own parser does; messages written to a
//              local socket often have none.
//
// Only the priority is required. A 5424 header that does not parse is an error; a 3164 message
// is read as far as it follows the format and the rest is MSG.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::syslog {

enum class Format : uint8_t { kRfc3164, kRfc5424 };

// One PARAM of a structured-data element; the value is unescaped.
struct SdParam {
  std::string_view id;  // SD-ID, e.g. "origin" or "exampleSDID@32473"
  std::string_view name;
  std::string value;
};

// Views borrow from the frame given to ParseMessage.
struct Message {
  Format format = Format::kRfc3164;
  int facility = 0;           // 0..23
  int severity = 0;           // 0..7
  int64_t timestamp_ns = 0;   // 0 when the message has none
  std::string_view hostname;  // empty for NILVALUE or absent, likewise the next three
  std::string_view app_name;
  std::string_view proc_id;
  std::string_view msg_id;
  std::vector<SdParam> structured_data;
  std::string_view text;  // MSG, trailing CR/LF/NUL removed
};

// Parses one frame (one message, framing already removed). `now_ns` stands for the receive
// time: an RFC 3164 timestamp has no year, so it takes the year that puts it nearest before
// now (at most a day ahead, for clock skew).
Result<Message> ParseMessage(std::string_view frame, int64_t now_ns);

// rsyslog's names (its %syslogfacility-text% and %syslogseverity-text% properties):
// "kern", "user", ..., "local7"; "emerg", "alert", "crit", "err", "warning", "notice", "info",
// "debug".
std::string_view FacilityName(int facility);
std::string_view SeverityName(int severity);

}  // namespace sluice::syslog
