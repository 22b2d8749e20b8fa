#pragma once

// GET /loki/api/v1/tail over a websocket, as Loki's querier serves it:
//
//   ?query=<log query>&start=<ts, default now-1h>&limit=<default 100>&delay_for=<0..5 seconds>
//
// The server first sends the most recent `limit` entries since `start`, then every entry that
// arrives, as text frames in Loki's TailResponse shape:
//
//   {"streams":[{"stream":{"app":"a"},"values":[["<ns>","line"], ...]}, ...]}
//
// (Loki's "dropped_entries" is left out: this tailer drops nothing; it falls behind instead.)
//
// A Tailer polls a TailSource rather than hooking the write path: every poll reads the window
// [cursor - kLateWindow, now - delay_for) and sends what it has not sent before (the same stream,
// timestamp and line), so entries that arrive up to kLateWindow out of order are still seen.
// Memory per tail is bounded: at most kMaxEntriesPerPoll entries per frame and kMaxSeen
// remembered entries. The number of tails per tenant is capped by max_concurrent_tail_requests;
// past it the connection is closed with code 1011 and Loki's message.
//
// Where a tail reads (TailSource):
//   - QuerierTailSource: the local querier's SelectLogs (the single binary, a querier process);
//   - FrontendTailSource: the query frontend's Exec, so a frontend-only process
//     (-target=query-frontend) tails through the queriers pulling its jobs, as its range
//     queries do. Loki's frontend proxies tail to a querier instead; reading through the queue
//     keeps one connection per tail and the frontend's fairness and limits.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "config/overrides.h"
#include "http/server.h"
#include "iter/iterator.h"
#include "logql/syntax/ast.h"
#include "querier/frontend.h"
#include "querier/querier.h"

namespace sluice::http {

struct TailRequest {
  std::string query;
  int64_t start_ns = 0;
  uint32_t limit = 100;
  int64_t delay_ns = 0;
  // The `categorize-labels` encoding flag: frames as the query API's streams with that flag.
  bool categorize_labels = false;
};

// loghttp.ParseTailQuery.
Result<TailRequest> ParseTailQuery(const Request& request, int64_t now_ns);

// Counts the open tails of each tenant. Thread-safe.
class TailLimiter {
 public:
  // Takes a slot for each tenant, or none and an error naming the limit that is exceeded.
  // A null `overrides` gives every tenant the default limits.
  Status Acquire(const std::vector<std::string>& tenants, const config::Overrides* overrides);
  void Release(const std::vector<std::string>& tenants);

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> open_;  // GUARDED_BY(mu_)
};

// One read of a tail poll.
struct TailRead {
  std::string query;                                // the log query's text
  std::shared_ptr<const logql::syntax::Expr> plan;  // `query` parsed: a LogSelectorExpr
  int64_t from_ns = 0;
  int64_t through_ns = 0;  // exclusive
  model::Direction direction = model::Direction::kForward;
  bool categorize_labels = false;
  // About how many entries the reader will take before it stops (a paging hint; it may stop
  // sooner, or read on).
  size_t expected = 0;
};

// What a tail reads. Thread-safe: one source serves every tail of a route.
class TailSource {
 public:
  virtual ~TailSource() = default;
  // The query's entries in [from, through) across all tenants, in `direction` (timestamp order),
  // none twice, stages applied. Labels() is what the query's result gives the entry
  // (logql::log::ResultLabels with `categorize_labels`), and At() carries the metadata and parsed
  // labels as the query API sends them. REQUIRES: `read` outlives the iterator.
  virtual Result<iter::EntryIteratorPtr> Read(const std::vector<std::string>& tenants,
                                              const TailRead& read) = 0;
};

// Reads the local querier's SelectLogs, one iterator per read (no paging).
class QuerierTailSource final : public TailSource {
 public:
  // REQUIRES: *q outlives the source.
  explicit QuerierTailSource(querier::Querier* q) : querier_(q) {}
  Result<iter::EntryIteratorPtr> Read(const std::vector<std::string>& tenants,
                                      const TailRead& read) override;

 private:
  querier::Querier* querier_;
};

// Reads through the query frontend's Exec (split, queued and run by its workers, local or
// remote), a page at a time: each page is a log query in the read's direction whose limit is
// `expected`, at most the tenants' max_entries_limit_per_query (which the querier enforces);
// after a full page the next one starts at the last timestamp returned, skipping the entries of
// that timestamp already returned. Edge: when a whole page is entries of one timestamp already
// returned (more than a page of entries at one nanosecond), the rest of that nanosecond is
// skipped. At most kMaxPages pages per read.
class FrontendTailSource final : public TailSource {
 public:
  static constexpr int kMaxPages = 200;

  // A null `overrides` gives every tenant the default limits.
  // REQUIRES: *frontend and *overrides outlive the source.
  FrontendTailSource(querier::QueryFrontend* frontend, const config::Overrides* overrides)
      : frontend_(frontend), overrides_(overrides) {}
  Result<iter::EntryIteratorPtr> Read(const std::vector<std::string>& tenants,
                                      const TailRead& read) override;

 private:
  querier::QueryFrontend* frontend_;
  const config::Overrides* overrides_;
};

// The state of one tail: which entries were sent. Not thread-safe; one per connection.
class Tailer {
 public:
  static constexpr int64_t kLateWindow = 5LL * 1'000'000'000;
  static constexpr size_t kMaxEntriesPerPoll = 1000;
  static constexpr size_t kMaxSeen = 100'000;

  // REQUIRES: *source, *clock outlive the tailer.
  Tailer(TailSource* source, std::vector<std::string> tenants, TailRequest request,
         const Clock* clock);

  Status Init();  // parses the query
  // The next frame to send, or an empty string when there is nothing new.
  Result<std::string> Poll();

 private:
  TailSource* source_;
  std::vector<std::string> tenants_;
  TailRequest request_;
  const Clock* clock_;
  std::shared_ptr<const logql::syntax::Expr> expr_;
  bool first_ = true;
  int64_t cursor_ns_ = 0;  // everything before it (minus kLateWindow) was looked at
  std::set<std::pair<int64_t, uint64_t>> seen_;  // (timestamp, hash of labels and line)
};

// The tail websocket over `source`. A null `overrides` gives every tenant the default limits.
// REQUIRES: *overrides and *clock outlive the router's use.
void RegisterTailRoutes(Router* router, std::shared_ptr<TailSource> source,
                        const config::Overrides* overrides, bool auth_enabled,
                        const Clock* clock = SystemClock::Default(),
                        int64_t poll_interval_ns = 250'000'000);
// The same over the local querier (QuerierTailSource).
// REQUIRES: *q, *overrides and *clock outlive the router's use.
void RegisterTailRoutes(Router* router, querier::Querier* q, const config::Overrides* overrides,
                        bool auth_enabled, const Clock* clock = SystemClock::Default(),
                        int64_t poll_interval_ns = 250'000'000);

}  // namespace sluice::http
