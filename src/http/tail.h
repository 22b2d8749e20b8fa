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
// A Tailer polls the querier rather than hooking the write path: every poll reads the window
// [cursor - kLateWindow, now - delay_for) and sends what it has not sent before (the same stream,
// timestamp and line), so entries that arrive up to kLateWindow out of order are still seen.
// Memory per tail is bounded: at most kMaxEntriesPerPoll entries per frame and kMaxSeen
// remembered entries. The number of tails per tenant is capped by max_concurrent_tail_requests;
// past it the connection is closed with code 1011 and Loki's message.

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
#include "logql/syntax/ast.h"
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
  Status Acquire(const std::vector<std::string>& tenants, const config::Overrides* overrides);
  void Release(const std::vector<std::string>& tenants);

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> open_;  // GUARDED_BY(mu_)
};

// The state of one tail: which entries were sent. Not thread-safe; one per connection.
class Tailer {
 public:
  static constexpr int64_t kLateWindow = 5LL * 1'000'000'000;
  static constexpr size_t kMaxEntriesPerPoll = 1000;
  static constexpr size_t kMaxSeen = 100'000;

  // REQUIRES: *q, *clock outlive the tailer.
  Tailer(querier::Querier* q, std::vector<std::string> tenants, TailRequest request,
         const Clock* clock);

  Status Init();  // parses the query
  // The next frame to send, or an empty string when there is nothing new.
  Result<std::string> Poll();

 private:
  querier::Querier* querier_;
  std::vector<std::string> tenants_;
  TailRequest request_;
  const Clock* clock_;
  logql::syntax::ExprPtr expr_;
  bool first_ = true;
  int64_t cursor_ns_ = 0;  // everything before it (minus kLateWindow) was looked at
  std::set<std::pair<int64_t, uint64_t>> seen_;  // (timestamp, hash of labels and line)
};

// REQUIRES: *q, *overrides and *clock outlive the router's use.
void RegisterTailRoutes(Router* router, querier::Querier* q, const config::Overrides* overrides,
                        bool auth_enabled, const Clock* clock = SystemClock::Default(),
                        int64_t poll_interval_ns = 250'000'000);

}  // namespace sluice::http
