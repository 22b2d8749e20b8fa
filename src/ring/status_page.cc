#include "ring/status_page.h"

#include <fmt/format.h>

#include "common/civil.h"
#include "ring/encoding.h"

namespace sluice::ring {

namespace {

// Unix seconds as RFC 3339 in UTC (Go's time.Time JSON form at second precision).
std::string Rfc3339(int64_t unix_seconds) {
  int64_t days = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  int64_t secs = unix_seconds - days * 86400;
  int64_t y = 0;
  int m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, secs / 3600, secs / 60 % 60,
                     secs % 60);
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

StatusPageResponse RenderStatusPage(Ring& ring, const StatusPageRequest& request) {
  StatusPageResponse resp;
  if (request.method == "POST") {
    Status st = request.forget.empty()
                    ? Status::InvalidArgument("missing form value forget=<instance id>")
                    : ring.Forget(request.forget);
    // Loki forgets an id that is not in the ring without complaint.
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      resp.status = st.code() == StatusCode::kInvalidArgument ? 400 : 500;
      resp.content_type = "text/plain; charset=utf-8";
      resp.body = fmt::format("error forgetting instance '{}': {}\n", request.forget, st.message());
      return resp;
    }
    resp.status = 302;
    resp.headers.emplace_back("Location", "#");
    return resp;
  }

  const Desc desc = ring.Snapshot();
  const auto ownership = ring.Ownership();
  const int64_t now_ns = ring.clock()->NowNanos();
  auto state_of = [&](const InstanceDesc& inst) -> std::string {
    return inst.HeartbeatFresh(now_ns, ring.heartbeat_timeout_ns())
               ? std::string(StateName(inst.state))
               : "UNHEALTHY";
  };
  if (request.json) {
    std::string body = "{\"shards\":[";
    bool first = true;
    for (const auto& [id, inst] : desc.instances) {  // std::map: sorted by id, as Loki's
      if (!first) body += ',';
      first = false;
      body += fmt::format(
          R"({{"id":"{}","state":"{}","address":"{}","timestamp":"{}","registered_timestamp":"{}","zone":"{}","tokens":[{}]}})",
          JsonEscape(id), state_of(inst), JsonEscape(inst.addr), Rfc3339(inst.timestamp),
          Rfc3339(inst.registered_timestamp), JsonEscape(inst.zone), fmt::join(inst.tokens, ","));
      // sluice's: the Kafka partitions the instance consumes (only when it consumes some).
      if (!inst.partitions.empty()) {
        body.pop_back();
        body += fmt::format(R"(,"partitions":[{}]}})", fmt::join(inst.partitions, ","));
      }
    }
    body += fmt::format("],\"now\":\"{}\"}}\n", Rfc3339(now_ns / 1'000'000'000));
    resp.content_type = "application/json";
    resp.body = std::move(body);
    return resp;
  }

  std::string html =
      "<!DOCTYPE html>\n<html>\n<head><meta charset=\"UTF-8\"><title>Ring Status</title></head>\n"
      "<body>\n<h1>Ring Status</h1>\n";
  html += fmt::format("<p>Current time: {}</p>\n", Rfc3339(now_ns / 1'000'000'000));
  html +=
      "<form action=\"\" method=\"POST\">\n<table width=\"100%\" border=\"1\">\n<thead><tr>"
      "<th>Instance ID</th><th>Availability Zone</th><th>State</th><th>Address</th>"
      "<th>Registered At</th><th>Last Heartbeat</th><th>Tokens</th><th>Ownership</th>"
      "<th>Actions</th></tr></thead>\n<tbody>\n";
  for (const auto& [id, inst] : desc.instances) {
    int64_t ago = now_ns / 1'000'000'000 - inst.timestamp;
    auto owned = ownership.find(id);
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}s ago ({})</td>"
        "<td>{}</td><td>{:.2f}%</td><td><button name=\"forget\" value=\"{}\" "
        "type=\"submit\">Forget</button></td></tr>\n",
        HtmlEscape(id), HtmlEscape(inst.zone), state_of(inst), HtmlEscape(inst.addr),
        Rfc3339(inst.registered_timestamp), ago, Rfc3339(inst.timestamp), inst.tokens.size(),
        owned == ownership.end() ? 0.0 : owned->second * 100, HtmlEscape(id));
  }
  html += "</tbody>\n</table>\n</form>\n</body>\n</html>\n";
  resp.content_type = "text/html";
  resp.body = std::move(html);
  return resp;
}

}  // namespace sluice::ring
