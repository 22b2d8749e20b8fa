#include "syslog/ingest.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <map>

#include "model/labels.h"
#include "write/discard.h"

namespace sluice::syslog {

namespace {

constexpr std::array<std::string_view, 6> kLabelFields = {"hostname", "app_name", "proc_id",
                                                          "msg_id",   "facility", "severity"};

// Structured-data names as metadata names: sd_<SD-ID>_<name>, with anything outside
// [a-zA-Z0-9_] (the "@" of an enterprise number, dots, dashes) turned into "_".
std::string SdName(std::string_view id, std::string_view name) {
  std::string out = fmt::format("sd_{}_{}", id, name);
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) c = '_';
  }
  return out;
}

}  // namespace

bool IsLabelField(std::string_view name) {
  for (std::string_view f : kLabelFields) {
    if (f == name) return true;
  }
  return false;
}

bool LogThrottle::Allow(uint64_t* suppressed) {
  int64_t now = clock_->NowNanos();
  MutexLock lock(&mu_);
  if (last_ns_ != INT64_MIN && now - last_ns_ < interval_ns_) {
    ++suppressed_;
    return false;
  }
  last_ns_ = now;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

Batcher::Batcher(std::string name, const config::Config::SyslogListener& listener,
                 config::Overrides* overrides, PushFn push, Clock* clock, Options options)
    : name_(std::move(name)),
      listener_(listener),
      overrides_(overrides),
      push_(std::move(push)),
      clock_(clock),
      options_(options),
      log_throttle_(clock) {}

Batcher::Pending Batcher::Map(const Message& m, int64_t now_ns, bool with_metadata) const {
  Pending p;
  p.timestamp_ns =
      listener_.use_incoming_timestamp && m.timestamp_ns != 0 ? m.timestamp_ns : now_ns;
  p.line = std::string(m.text);

  std::string_view facility = FacilityName(m.facility);
  std::string_view severity = SeverityName(m.severity);
  const std::array<std::pair<std::string_view, std::string_view>, 6> fields = {{
      {"hostname", m.hostname},
      {"app_name", m.app_name},
      {"proc_id", m.proc_id},
      {"msg_id", m.msg_id},
      {"facility", facility},
      {"severity", severity},
  }};
  std::vector<model::Label> labels;
  labels.reserve(listener_.labels.size() + 2);
  for (const auto& [k, v] : listener_.labels) labels.push_back({k, v});
  for (const auto& [field, value] : fields) {
    if (value.empty()) continue;
    bool as_label = false;
    for (const auto& f : listener_.label_fields) as_label = as_label || f == field;
    if (as_label) {
      labels.push_back({std::string(field), std::string(value)});
    } else if (with_metadata) {
      p.metadata.push_back({std::string(field), std::string(value)});
    }
  }
  if (with_metadata) {
    for (const auto& sd : m.structured_data) {
      p.metadata.push_back({SdName(sd.id, sd.name), sd.value});
    }
  }
  p.labels = model::LabelSet(std::move(labels)).ToString();
  return p;
}

void Batcher::AddFrame(std::string_view frame) {
  int64_t now = clock_->NowNanos();
  auto parsed = ParseMessage(frame, now);
  if (!parsed.ok()) {
    Discard(kInvalidSyslogReason, frame.size(), parsed.status().message());
    return;
  }
  bool with_metadata =
      overrides_ == nullptr || overrides_->ForTenant(listener_.tenant)->allow_structured_metadata;
  Pending p = Map(*parsed, now, with_metadata);
  size_t bytes = p.line.size();
  for (const auto& l : p.metadata) bytes += l.name.size() + l.value.size();

  std::vector<Pending> full;
  {
    MutexLock lock(&mu_);
    pending_.push_back(std::move(p));
    pending_bytes_ += bytes;
    if (pending_.size() >= options_.max_entries || pending_bytes_ >= options_.max_bytes) {
      full.swap(pending_);
      pending_bytes_ = 0;
    }
  }
  if (!full.empty()) Push(std::move(full));
}

void Batcher::Discard(std::string_view reason, size_t bytes, std::string_view why) {
  write::RecordDiscarded(reason, listener_.tenant, 1, bytes);
  uint64_t suppressed = 0;
  if (log_throttle_.Allow(&suppressed)) {
    spdlog::warn(
        "msg=\"syslog frame discarded\" listener={} tenant={} reason={} bytes={} err=\"{}\" "
        "suppressed={}",
        name_, listener_.tenant, reason, bytes, why, suppressed);
  }
}

void Batcher::Flush() {
  std::vector<Pending> batch;
  {
    MutexLock lock(&mu_);
    batch.swap(pending_);
    pending_bytes_ = 0;
  }
  if (!batch.empty()) Push(std::move(batch));
}

void Batcher::Push(std::vector<Pending> batch) {
  // The request's views point into the batch, which the request then owns.
  auto owned = std::make_shared<std::vector<Pending>>(std::move(batch));
  model::PushRequest request;
  std::map<std::string_view, size_t> stream_of;
  for (const Pending& p : *owned) {
    auto [it, added] = stream_of.emplace(p.labels, request.streams.size());
    if (added) request.streams.push_back({p.labels, {}});
    request.streams[it->second].entries.push_back({p.timestamp_ns, p.line, p.metadata});
  }
  request.storage = owned;
  Status st = push_(listener_.tenant, request);
  if (!st.ok()) {
    // The write path has counted what it refused; this only tells the operator why.
    uint64_t suppressed = 0;
    if (log_throttle_.Allow(&suppressed)) {
      spdlog::warn(
          "msg=\"syslog push refused entries\" listener={} tenant={} err=\"{}\" "
          "suppressed={}",
          name_, listener_.tenant, st.message(), suppressed);
    }
  }
}

}  // namespace sluice::syslog
