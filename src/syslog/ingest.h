#pragma once

// From syslog frames to the write path: each listener has a Batcher that parses frames, maps
// them onto Loki's model and hands batches to the same push function the HTTP push uses (the
// distributor: validation, limits, rate limiting, discard counting).
//
// Mapping (per listener):
//   stream labels        the listener's `labels`, plus the fields named in `label_fields`
//                        (hostname, app_name, proc_id, msg_id, facility, severity)
//   structured metadata  every other non-empty field: facility and severity by rsyslog's names
//                        ("local0", "err"), hostname, app_name, proc_id, msg_id, and each
//                        structured-data param as sd_<SD-ID>_<name> (characters outside
//                        [a-zA-Z0-9_] become "_"); none when the tenant's
//                        allow_structured_metadata is off
//   line                 MSG
//   timestamp            receive time, or the message's own with use_incoming_timestamp (and
//                        receive time when the message has none)

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "config/config.h"
#include "config/overrides.h"
#include "model/entry.h"
#include "syslog/message.h"

namespace sluice::syslog {

// Hands a batch to the write path; `request` is valid for the call only.
using PushFn = std::function<Status(std::string_view tenant, model::PushRequest& request)>;

// The discard reason (loki_discarded_samples_total) of a frame that is not a syslog message or
// breaks the framing. Oversize frames are counted as line_too_long, like over-long pushed lines.
inline constexpr std::string_view kInvalidSyslogReason = "invalid_syslog";

// The fields that `label_fields` may name.
bool IsLabelField(std::string_view name);

// At most one log line per interval, with the count of those suppressed in between: a client
// sending garbage in a loop must not flood the log. Thread-safe.
class LogThrottle {
 public:
  explicit LogThrottle(Clock* clock, int64_t interval_ns = 1'000'000'000)
      : clock_(clock), interval_ns_(interval_ns) {}
  // True when this event may be logged; *suppressed is how many were not since the last one.
  bool Allow(uint64_t* suppressed) EXCLUDES(mu_);

 private:
  Clock* clock_;
  int64_t interval_ns_;
  Mutex mu_;
  int64_t last_ns_ GUARDED_BY(mu_) = INT64_MIN;
  uint64_t suppressed_ GUARDED_BY(mu_) = 0;
};

class Batcher {
 public:
  // A batch is pushed when it holds this many entries or bytes, or on Flush.
  struct Options {
    size_t max_entries = 1000;
    size_t max_bytes = 1 << 20;
  };

  // `overrides` and `clock` must outlive the Batcher. `name` identifies the listener in logs.
  Batcher(std::string name, const config::Config::SyslogListener& listener,
          config::Overrides* overrides, PushFn push, Clock* clock, Options options);
  Batcher(std::string name, const config::Config::SyslogListener& listener,
          config::Overrides* overrides, PushFn push, Clock* clock)
      : Batcher(std::move(name), listener, overrides, std::move(push), clock, Options{}) {}

  // Parses one frame and queues its entry; a frame that does not parse is counted as discarded
  // and logged. May push (on the calling thread) when the batch is full. Thread-safe.
  void AddFrame(std::string_view frame) EXCLUDES(mu_);
  // Counts a frame dropped before parsing (too long, broken framing) and logs `why`.
  void Discard(std::string_view reason, size_t bytes, std::string_view why);
  // Pushes what is queued. Thread-safe.
  void Flush() EXCLUDES(mu_);

 private:
  struct Pending {
    std::string labels;  // `{a="b", ...}`
    int64_t timestamp_ns = 0;
    std::string line;
    std::vector<model::Label> metadata;
  };

  Pending Map(const Message& m, int64_t now_ns, bool with_metadata) const;
  void Push(std::vector<Pending> batch);

  std::string name_;
  config::Config::SyslogListener listener_;
  config::Overrides* overrides_;
  PushFn push_;
  Clock* clock_;
  Options options_;
  LogThrottle log_throttle_;

  Mutex mu_;
  std::vector<Pending> pending_ GUARDED_BY(mu_);
  size_t pending_bytes_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::syslog
