#include "http/tail.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <string_view>

#include "gocompat/number.h"
#include "http/json_writer.h"
#include "http/query_params.h"
#include "http/query_responses.h"
#include "http/tenant.h"
#include "logql/log/labels_builder.h"
#include "logql/syntax/parser.h"

namespace sluice::http {

namespace {

constexpr int64_t kDefaultSince = 3600LL * 1'000'000'000;
constexpr int64_t kMaxDelayForSeconds = 5;

uint64_t EntryHash(const std::string& labels, const model::Entry& e) {
  size_t h = std::hash<std::string>()(labels);
  h ^= std::hash<std::string>()(e.line) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

struct Pending {
  std::string labels;  // string form, the grouping key
  std::vector<model::Label> label_list;
  std::vector<model::Entry> entries;
};

// Loki's v1 tail frame: {"streams":[...]} (then "dropped_entries", which sluice never sends,
// and "encodingFlags" when the request had any).
std::string MarshalTailFrame(const std::vector<Pending>& streams, bool categorize_labels) {
  std::string out = "{\"streams\":[";
  for (size_t i = 0; i < streams.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"stream\":{";
    for (size_t j = 0; j < streams[i].label_list.size(); ++j) {
      if (j > 0) out.push_back(',');
      AppendJsonString(&out, streams[i].label_list[j].name);
      out.push_back(':');
      AppendJsonString(&out, streams[i].label_list[j].value);
    }
    out += "},\"values\":";
    AppendStreamValues(&out, streams[i].entries, categorize_labels);
    out += "}";
  }
  out += "]";
  if (categorize_labels) {
    out += ",\"encodingFlags\":[";
    AppendJsonString(&out, kCategorizeLabelsFlag);
    out += "]";
  }
  out += "}";
  return out;
}

constexpr std::string_view kDelayTooLongFormat = "delay_for can't be greater than {}";

}  // namespace

Result<TailRequest> ParseTailQuery(const Request& request, int64_t now_ns) {
  TailRequest out;
  out.query = request.Param("query");
  // Limit and start as a range query reads them (the same defaults and errors).
  Request probe = request;
  probe.params.erase("end");
  probe.params.erase("step");
  probe.params.erase("interval");
  probe.params.erase("direction");
  auto parsed = ParseRangeQuery(probe, now_ns);
  if (!parsed.ok()) return parsed.status();
  out.limit = parsed->limit;
  out.categorize_labels = HasEncodingFlag(request, kCategorizeLabelsFlag);
  out.start_ns = request.HasParam("start") ? parsed->start_ns : now_ns - kDefaultSince;
  std::string delay = request.Param("delay_for");
  if (!delay.empty()) {
    int64_t secs = 0;
    // Go's strconv.Atoi, whose error Loki passes through for a delay_for that is not a number.
    if (gocompat::NumError e = gocompat::ParseInt(delay, 10, &secs);
        e != gocompat::NumError::kNone) {
      return gocompat::NumErrorStatus("Atoi", delay, e);
    }
    if (secs > kMaxDelayForSeconds) {
      return Status::InvalidArgument(fmt::format(kDelayTooLongFormat, kMaxDelayForSeconds));
    }
    out.delay_ns = std::max<int64_t>(secs, 0) * 1'000'000'000;
  }
  return out;
}

constexpr std::string_view kTooManyTailsFormat =
    "max concurrent tail requests limit exceeded, count > limit ({} > {})";

Status TailLimiter::Acquire(const std::vector<std::string>& tenants,
                            const config::Overrides* overrides) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& t : tenants) {
    uint64_t limit = overrides->ForTenant(t)->max_concurrent_tail_requests;
    uint64_t open = open_[t];
    if (limit > 0 && open >= limit) {
      return Status::InvalidArgument(fmt::format(kTooManyTailsFormat, open + 1, limit));
    }
  }
  for (const auto& t : tenants) ++open_[t];
  return Status::OK();
}

void TailLimiter::Release(const std::vector<std::string>& tenants) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& t : tenants) {
    if (--open_[t] == 0) open_.erase(t);
  }
}

Tailer::Tailer(querier::Querier* q, std::vector<std::string> tenants, TailRequest request,
               const Clock* clock)
    : querier_(q), tenants_(std::move(tenants)), request_(std::move(request)), clock_(clock) {}

constexpr std::string_view kMetricTailMessage = "tail requires a log query, not a metric query";

Status Tailer::Init() {
  auto expr = logql::syntax::Parse(request_.query);
  if (!expr.ok()) return expr.status();
  if (!logql::syntax::IsLogQuery(**expr)) {
    return Status::InvalidArgument(std::string(kMetricTailMessage));
  }
  expr_ = std::move(*expr);
  return Status::OK();
}

Result<std::string> Tailer::Poll() {
  const auto& selector = expr_->Cast<logql::syntax::LogSelectorExpr>();
  int64_t through = clock_->NowNanos() - request_.delay_ns;
  int64_t from = first_ ? request_.start_ns : std::max(request_.start_ns, cursor_ns_ - kLateWindow);
  if (through <= from) return std::string();

  // The first poll sends the newest `limit` entries (read backward); later ones everything new
  // in the window, oldest first, up to kMaxEntriesPerPoll.
  size_t max_entries = first_ ? request_.limit : kMaxEntriesPerPoll;
  model::Direction direction = first_ ? model::Direction::kBackward : model::Direction::kForward;
  auto it = querier_->SelectLogs(tenants_, selector, from, through, direction);
  if (!it.ok()) return it.status();

  std::vector<Pending> streams;
  std::map<std::string, size_t> index;
  std::vector<std::pair<int64_t, uint64_t>> sent;
  int64_t last_ts = from;
  while (sent.size() < max_entries && (*it)->Next()) {
    model::Entry e = (*it)->At();
    model::LabelSet labels =
        logql::log::ResultLabels((*it)->Labels(), &e, request_.categorize_labels);
    std::string key = labels.ToString();
    std::pair<int64_t, uint64_t> id{e.timestamp_ns, EntryHash(key, e)};
    if (seen_.count(id) != 0) continue;
    auto [pos, inserted] = index.emplace(key, streams.size());
    if (inserted) streams.push_back(Pending{key, labels.labels(), {}});
    streams[pos->second].entries.push_back(std::move(e));
    sent.push_back(id);
    last_ts = std::max(last_ts, e.timestamp_ns);
  }
  if (!(*it)->Error().ok()) return (*it)->Error();
  bool full = sent.size() >= max_entries;

  if (first_) {
    for (auto& s : streams) std::reverse(s.entries.begin(), s.entries.end());
    // History cut at `limit`: what is older than the oldest entry sent stays unsent for good.
    if (full && !sent.empty()) request_.start_ns = sent.back().first;
    first_ = false;
    cursor_ns_ = through;
  } else {
    // Cut short: the rest of the window is read next time, from where this poll stopped.
    cursor_ns_ = full ? std::max(cursor_ns_, last_ts) : through;
  }
  for (const auto& id : sent) seen_.insert(id);
  // Forget what can no longer be read again, and bound what is remembered.
  int64_t horizon = std::max(request_.start_ns, cursor_ns_ - kLateWindow);
  seen_.erase(seen_.begin(), seen_.lower_bound({horizon, 0}));
  while (seen_.size() > kMaxSeen) seen_.erase(seen_.begin());

  if (streams.empty()) return std::string();
  return MarshalTailFrame(streams, request_.categorize_labels);
}

void RegisterTailRoutes(Router* router, querier::Querier* q, const config::Overrides* overrides,
                        bool auth_enabled, const Clock* clock, int64_t poll_interval_ns) {
  auto limiter = std::make_shared<TailLimiter>();
  auto handler = [=](Request& request) -> Result<WebSocketRun> {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return tenants.status();
    auto parsed = ParseTailQuery(request, clock->NowNanos());
    if (!parsed.ok()) return parsed.status();
    auto tailer = std::make_shared<Tailer>(q, *tenants, *parsed, clock);
    Status st = tailer->Init();
    if (!st.ok()) return st;
    std::vector<std::string> tenant_list = *tenants;
    return WebSocketRun([=](WebSocketSession& session) {
      // As Loki, the limit is checked after the upgrade and reported in the close frame.
      Status acquired = limiter->Acquire(tenant_list, overrides);
      if (!acquired.ok()) return session.Close(1011, acquired.message());
      do {
        auto frame = tailer->Poll();
        if (!frame.ok()) {
          session.Close(1011, frame.status().message());
          break;
        }
        if (!frame->empty() && !session.SendText(std::move(*frame))) break;
      } while (!session.WaitClosed(poll_interval_ns));
      limiter->Release(tenant_list);
    });
  };
  router->HandleWebSocket("/loki/api/v1/tail", handler);
}

}  // namespace sluice::http
