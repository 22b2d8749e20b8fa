#include "http/tail.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <limits>
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
    uint64_t limit = overrides != nullptr ? overrides->ForTenant(t)->max_concurrent_tail_requests
                                          : config::Limits{}.max_concurrent_tail_requests;
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

namespace {

// SelectLogs' entries with the labels a query's result gives them.
class ResultLabelsIterator final : public iter::EntryIterator {
 public:
  // `plan` keeps the selector `inner` reads alive.
  ResultLabelsIterator(iter::EntryIteratorPtr inner,
                       std::shared_ptr<const logql::syntax::Expr> plan, bool categorize)
      : inner_(std::move(inner)), plan_(std::move(plan)), categorize_(categorize) {}

  bool Next() override {
    if (!inner_->Next()) return false;
    entry_ = inner_->At();
    labels_ = logql::log::ResultLabels(inner_->Labels(), &entry_, categorize_);
    return true;
  }
  const model::Entry& At() const override { return entry_; }
  const model::LabelSet& Labels() const override { return labels_; }
  Status Error() const override { return inner_->Error(); }

 private:
  iter::EntryIteratorPtr inner_;
  std::shared_ptr<const logql::syntax::Expr> plan_;
  bool categorize_;
  model::Entry entry_;
  model::LabelSet labels_;
};

// The pages of FrontendTailSource (see tail.h), flattened into one timestamp-ordered sequence.
class FrontendPagesIterator final : public iter::EntryIterator {
 public:
  FrontendPagesIterator(querier::QueryFrontend* frontend, std::vector<std::string> tenants,
                        const TailRead& read, uint32_t page_limit)
      : frontend_(frontend), tenants_(std::move(tenants)), read_(read), page_limit_(page_limit) {}

  // Reads the next page; false at the end or on error (then Error() says which).
  bool Fetch() {
    if (!more_ || pages_ >= FrontendTailSource::kMaxPages) return false;
    const bool forward = read_.direction == model::Direction::kForward;
    querier::QueryRequest req;
    req.query = read_.query;
    req.plan = read_.plan;
    req.limit = page_limit_;
    req.direction = read_.direction;
    req.categorize_labels = read_.categorize_labels;
    req.start_ns = read_.from_ns;
    req.end_ns = read_.through_ns;
    if (pages_ > 0) {
      // After a full page: from its last timestamp on, or past that timestamp when the page
      // gave nothing new (all of it entries of that timestamp already returned).
      const bool stuck = !new_in_page_;
      if (forward) {
        req.start_ns = stuck ? boundary_ts_ + 1 : boundary_ts_;
      } else {
        req.end_ns = stuck ? boundary_ts_ : boundary_ts_ + 1;
      }
    }
    more_ = false;
    if (req.end_ns <= req.start_ns) return false;
    ++pages_;
    new_in_page_ = false;
    auto result = frontend_->Exec(tenants_, req);
    if (!result.ok()) {
      error_ = result.status();
      return false;
    }
    streams_.clear();
    stream_keys_.clear();
    page_.clear();
    pos_ = 0;
    for (auto& stream : result->streams) {
      stream_keys_.push_back(stream.labels.ToString());
      for (auto& e : stream.entries) page_.push_back(Item{streams_.size(), std::move(e)});
      streams_.push_back(std::move(stream.labels));
    }
    // Each stream is in the read's direction; merged as iter::NewMergeIterator orders entries
    // (timestamp, then labels, both in the read's direction), here with the result's labels.
    std::stable_sort(page_.begin(), page_.end(), [this, forward](const Item& a, const Item& b) {
      if (a.entry.timestamp_ns != b.entry.timestamp_ns) {
        return forward ? a.entry.timestamp_ns < b.entry.timestamp_ns
                       : a.entry.timestamp_ns > b.entry.timestamp_ns;
      }
      if (a.stream == b.stream) return false;
      return forward ? streams_[a.stream] < streams_[b.stream]
                     : streams_[b.stream] < streams_[a.stream];
    });
    more_ = page_.size() >= page_limit_;
    return true;
  }

  bool Next() override {
    for (;;) {
      while (pos_ < page_.size()) {
        const Item& item = page_[pos_++];
        if (item.entry.timestamp_ns != boundary_ts_) {
          boundary_ts_ = item.entry.timestamp_ns;
          boundary_.clear();
        }
        // Entries of the previous page's last timestamp come again at the start of this one.
        if (!boundary_.emplace(stream_keys_[item.stream], item.entry.line).second) continue;
        new_in_page_ = true;
        return true;
      }
      if (!Fetch()) return false;
    }
  }
  const model::Entry& At() const override { return page_[pos_ - 1].entry; }
  const model::LabelSet& Labels() const override { return streams_[page_[pos_ - 1].stream]; }
  Status Error() const override { return error_; }

 private:
  struct Item {
    size_t stream;  // into streams_
    model::Entry entry;
  };

  querier::QueryFrontend* frontend_;
  std::vector<std::string> tenants_;
  TailRead read_;
  uint32_t page_limit_;
  int pages_ = 0;
  bool more_ = true;          // the last page was full
  bool new_in_page_ = false;  // the current page returned an entry
  Status error_;
  std::vector<model::LabelSet> streams_;  // of the current page
  std::vector<std::string> stream_keys_;  // their string forms
  std::vector<Item> page_;
  size_t pos_ = 0;  // the next item of page_
  // The timestamp of the last entry returned and the (labels, line) returned at it.
  int64_t boundary_ts_ = std::numeric_limits<int64_t>::min();
  std::set<std::pair<std::string, std::string>> boundary_;
};

}  // namespace

Result<iter::EntryIteratorPtr> QuerierTailSource::Read(const std::vector<std::string>& tenants,
                                                       const TailRead& read) {
  const auto& selector = read.plan->Cast<logql::syntax::LogSelectorExpr>();
  auto it = querier_->SelectLogs(tenants, selector, read.from_ns, read.through_ns, read.direction);
  if (!it.ok()) return it.status();
  return iter::EntryIteratorPtr(
      std::make_unique<ResultLabelsIterator>(std::move(*it), read.plan, read.categorize_labels));
}

Result<iter::EntryIteratorPtr> FrontendTailSource::Read(const std::vector<std::string>& tenants,
                                                        const TailRead& read) {
  // The querier refuses a log query whose limit is over max_entries_limit_per_query (the
  // smallest positive one of the tenants), so no page asks for more.
  uint64_t page = std::max<uint64_t>(read.expected, 1);
  for (const auto& t : tenants) {
    uint64_t limit = overrides_ != nullptr ? overrides_->ForTenant(t)->max_entries_limit_per_query
                                           : config::Limits{}.max_entries_limit_per_query;
    if (limit > 0) page = std::min(page, limit);
  }
  page = std::min<uint64_t>(page, std::numeric_limits<uint32_t>::max());
  auto it = std::make_unique<FrontendPagesIterator>(frontend_, tenants, read,
                                                    static_cast<uint32_t>(page));
  if (!it->Fetch() && !it->Error().ok()) return it->Error();
  return iter::EntryIteratorPtr(std::move(it));
}

Tailer::Tailer(TailSource* source, std::vector<std::string> tenants, TailRequest request,
               const Clock* clock)
    : source_(source), tenants_(std::move(tenants)), request_(std::move(request)), clock_(clock) {}

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
  int64_t through = clock_->NowNanos() - request_.delay_ns;
  int64_t from = first_ ? request_.start_ns : std::max(request_.start_ns, cursor_ns_ - kLateWindow);
  if (through <= from) return std::string();

  // The first poll sends the newest `limit` entries (read backward); later ones everything new
  // in the window, oldest first, up to kMaxEntriesPerPoll.
  size_t max_entries = first_ ? request_.limit : kMaxEntriesPerPoll;
  model::Direction direction = first_ ? model::Direction::kBackward : model::Direction::kForward;
  TailRead read;
  read.query = request_.query;
  read.plan = expr_;
  read.from_ns = from;
  read.through_ns = through;
  read.direction = direction;
  read.categorize_labels = request_.categorize_labels;
  // What is remembered is what the window may hold again (seen_ is trimmed to it below).
  read.expected = max_entries + (first_ ? 0 : seen_.size());
  auto it = source_->Read(tenants_, read);
  if (!it.ok()) return it.status();

  std::vector<Pending> streams;
  std::map<std::string, size_t> index;
  std::vector<std::pair<int64_t, uint64_t>> sent;
  int64_t last_ts = from;
  while (sent.size() < max_entries && (*it)->Next()) {
    const model::Entry& e = (*it)->At();
    const model::LabelSet& labels = (*it)->Labels();
    std::string key = labels.ToString();
    std::pair<int64_t, uint64_t> id{e.timestamp_ns, EntryHash(key, e)};
    if (seen_.count(id) != 0) continue;
    auto [pos, inserted] = index.emplace(key, streams.size());
    if (inserted) streams.push_back(Pending{key, labels.labels(), {}});
    streams[pos->second].entries.push_back(e);
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

void RegisterTailRoutes(Router* router, std::shared_ptr<TailSource> source,
                        const config::Overrides* overrides, bool auth_enabled, const Clock* clock,
                        int64_t poll_interval_ns) {
  auto limiter = std::make_shared<TailLimiter>();
  auto handler = [=](Request& request) -> Result<WebSocketRun> {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return tenants.status();
    auto parsed = ParseTailQuery(request, clock->NowNanos());
    if (!parsed.ok()) return parsed.status();
    auto tailer = std::make_shared<Tailer>(source.get(), *tenants, *parsed, clock);
    Status st = tailer->Init();
    if (!st.ok()) return st;
    std::vector<std::string> tenant_list = *tenants;
    // The session holds `source` as long as its tailer reads it.
    return WebSocketRun([=, held_source = source](WebSocketSession& session) {
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

void RegisterTailRoutes(Router* router, querier::Querier* q, const config::Overrides* overrides,
                        bool auth_enabled, const Clock* clock, int64_t poll_interval_ns) {
  RegisterTailRoutes(router, std::make_shared<QuerierTailSource>(q), overrides, auth_enabled, clock,
                     poll_interval_ns);
}

}  // namespace sluice::http
