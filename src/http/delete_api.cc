#include "http/delete_api.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

#include "common/duration.h"
#include "http/json_writer.h"
#include "http/tenant.h"

namespace sluice::http {

namespace {

constexpr int64_t kMilli = 1'000'000;
constexpr int64_t kSecond = 1'000'000'000;

// Loki's texts (pkg/compactor/deletion).
constexpr std::string_view kDeletionNotAvailable = "deletion is not available for this tenant";
constexpr std::string_view kQueryNotSet = "query not set";
constexpr std::string_view kStartNotSet = "start time not set";
constexpr std::string_view kInvalidStart =
    "invalid start time: require unix seconds or RFC3339 format";
constexpr std::string_view kInvalidEnd = "invalid end time: require unix seconds or RFC3339 format";
constexpr std::string_view kFutureDelete = "deletes in the future are not allowed";
constexpr std::string_view kStartAfterEnd = "start time can't be greater than end time";
constexpr std::string_view kInvalidMaxInterval =
    "invalid max_interval: valid time units are 's', 'm', 'h'";
constexpr std::string_view kIntervalTooShort =
    "difference between start time and end time must be at least one second";

// Loki's parseTime: empty is now; RFC3339, or exactly 10 characters read as (float) Unix
// seconds. Milliseconds, as Loki keeps them.
std::optional<int64_t> ParseDeleteTime(const std::string& text, int64_t now_ns) {
  if (text.empty()) return now_ns / kMilli * kMilli;
  if (text.size() == 10) {
    double secs = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), secs);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(secs)) {
      return std::nullopt;
    }
    return static_cast<int64_t>(std::llround(secs * 1000)) * kMilli;
  }
  if (text.find('T') == std::string::npos) return std::nullopt;
  auto ns = ParseTimestamp(text);
  if (!ns.ok()) return std::nullopt;
  int64_t ms = *ns / kMilli;
  if (*ns < 0 && ms * kMilli != *ns) --ms;
  return ms * kMilli;
}

// Go's time.ParseDuration for max_interval: decimal numbers with units h, m, s, ms, us, ns.
std::optional<int64_t> ParseGoDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double value = 0;
    auto [end, ec] = std::from_chars(s.data() + start, s.data() + i, value);
    if (ec != std::errc() || end != s.data() + i) return std::nullopt;
    size_t unit_start = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit == "h") {
      scale = 3600.0 * kSecond;
    } else if (unit == "m") {
      scale = 60.0 * kSecond;
    } else if (unit == "s") {
      scale = kSecond;
    } else if (unit == "ms") {
      scale = kMilli;
    } else if (unit == "us" || unit == "µs") {
      scale = 1000;
    } else if (unit == "ns") {
      scale = 1;
    } else {
      return std::nullopt;
    }
    total += static_cast<int64_t>(value * scale);
  }
  return total;
}

// Prometheus' model.Time JSON: seconds with up to three decimals, no trailing zeros.
void AppendModelTime(std::string* out, int64_t ns) {
  int64_t ms = ns / kMilli;
  if (ms < 0) {
    out->push_back('-');
    ms = -ms;
  }
  out->append(std::to_string(ms / 1000));
  if (int64_t frac = ms % 1000; frac != 0) {
    std::string digits = fmt::format("{:03d}", frac);
    while (digits.back() == '0') digits.pop_back();
    out->push_back('.');
    out->append(digits);
  }
}

std::string RequestsJson(const std::vector<deletion::DeleteRequest>& requests) {
  std::string out = "[";
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    if (i > 0) out.push_back(',');
    out += "{\"request_id\":";
    AppendJsonString(&out, r.request_id);
    out += ",\"start_time\":";
    AppendModelTime(&out, r.start_ns);
    out += ",\"end_time\":";
    AppendModelTime(&out, r.end_ns);
    out += ",\"query\":";
    AppendJsonString(&out, r.query);
    out += ",\"status\":";
    AppendJsonString(&out, deletion::DeleteStatusName(r.status));
    out += ",\"created_at\":";
    AppendModelTime(&out, r.created_at_ns);
    out.push_back('}');
  }
  out += "]\n";
  return out;
}

Response BadRequest(std::string_view message) {
  return Response::Error(Status::InvalidArgument(std::string(message)));
}

class DeleteHandler {
 public:
  DeleteHandler(deletion::DeleteRequestStore* store, const config::Overrides* overrides,
                DeleteApiOptions options)
      : store_(store), overrides_(overrides), options_(std::move(options)) {}

  Response Serve(Request& req) const {
    auto tenant = TenantForWrite(req, options_.auth_enabled);
    if (!tenant.ok()) return Response::Error(tenant.status());
    if (overrides_->ForTenant(*tenant)->deletion_mode == config::DeletionMode::kDisabled) {
      return Response::Text(std::string(kDeletionNotAvailable) + "\n", 403);
    }
    if (req.method == "GET") return List(*tenant);
    if (req.method == "DELETE") return Cancel(req, *tenant);
    return Add(req, *tenant);
  }

 private:
  Response Add(const Request& req, const std::string& tenant) const {
    std::string query = req.Param("query");
    if (query.empty()) return BadRequest(kQueryNotSet);
    auto parsed = deletion::ParseDeleteQuery(query);
    if (!parsed.ok()) return Response::Error(parsed.status());
    int64_t now_ns = options_.clock->NowNanos();
    std::string start_text = req.Param("start");
    if (start_text.empty()) return BadRequest(kStartNotSet);
    std::optional<int64_t> start = ParseDeleteTime(start_text, now_ns);
    if (!start) return BadRequest(kInvalidStart);
    std::optional<int64_t> end = ParseDeleteTime(req.Param("end"), now_ns);
    if (!end) return BadRequest(kInvalidEnd);
    if (*end > now_ns) return BadRequest(kFutureDelete);
    if (*start > *end) return BadRequest(kStartAfterEnd);
    // Loki checks the interval only for queries with line filters (the ones it shards).
    if (parsed->has_pipeline) {
      Status st = CheckInterval(req.Param("max_interval"), *end - *start);
      if (!st.ok()) return Response::Error(st);
    }
    auto added = store_->Add(tenant, query, *start, *end);
    if (!added.ok()) {
      if (added.status().code() == StatusCode::kInvalidArgument)
        return Response::Error(added.status());
      return Response::Error(Status::Internal(added.status().message()));
    }
    return Response::NoContent();
  }

  Status CheckInterval(const std::string& max_interval, int64_t range_ns) const {
    if (max_interval.empty()) {
      if (range_ns < kSecond) return Status::InvalidArgument(std::string(kIntervalTooShort));
      return Status::OK();
    }
    std::optional<int64_t> interval = ParseGoDuration(max_interval);
    if (!interval || *interval < kSecond) {
      return Status::InvalidArgument(std::string(kInvalidMaxInterval));
    }
    if (options_.max_interval_ns != 0 && *interval > options_.max_interval_ns) {
      return Status::InvalidArgument(
          fmt::format("max_interval can't be greater than {}",
                      deletion::GoDurationString(options_.max_interval_ns)));
    }
    if (*interval > range_ns) {
      return Status::InvalidArgument(
          fmt::format("max_interval can't be greater than the interval to be deleted ({})",
                      deletion::GoDurationString(range_ns)));
    }
    return Status::OK();
  }

  Response List(const std::string& tenant) const {
    Response r = Response::Json(RequestsJson(store_->List(tenant)));
    r.content_type = "application/json";
    return r;
  }

  Response Cancel(const Request& req, const std::string& tenant) const {
    Status st = store_->Cancel(tenant, req.Param("request_id"), req.Param("force") == "true");
    if (!st.ok()) {
      if (st.code() == StatusCode::kNotFound || st.code() == StatusCode::kInvalidArgument) {
        return Response::Error(st);
      }
      return Response::Error(Status::Internal(st.message()));
    }
    return Response::NoContent();
  }

  deletion::DeleteRequestStore* store_;
  const config::Overrides* overrides_;
  DeleteApiOptions options_;
};

}  // namespace

void RegisterDeleteRoutes(Router* router, deletion::DeleteRequestStore* store,
                          const config::Overrides* overrides, DeleteApiOptions options) {
  const std::vector<std::string> methods = {"GET", "POST", "PUT", "DELETE"};
  if (store == nullptr) {
    std::string message = options.not_served_message + "\n";
    router->Handle(methods, "/loki/api/v1/delete",
                   [message](Request&) { return Response::Text(message, 404); });
    return;
  }
  auto handler = std::make_shared<DeleteHandler>(store, overrides, std::move(options));
  router->Handle(methods, "/loki/api/v1/delete",
                 [handler](Request& req) { return handler->Serve(req); });
}

}  // namespace sluice::http
