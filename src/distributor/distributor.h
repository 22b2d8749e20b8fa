#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/string_hash.h"
#include "common/thread_annotations.h"
#include "common/token_bucket.h"
#include "config/overrides.h"
#include "model/entry.h"
#include "write/pusher.h"

namespace sluice::distributor {

// The write path's front: validates a decoded push against the tenant's limits, applies the
// tenant's ingestion rate limit, and hands the valid streams to the write::Pusher. Stateless apart
// from the per-tenant rate limiters and a cache of parsed label sets; thread-safe.
class Distributor {
 public:
  Distributor(config::Overrides* overrides, write::Pusher* pusher, Clock* clock);

  // OK when every line was accepted. Otherwise an error naming the problems: 429 when the tenant
  // is over its rate (nothing stored), else the first failure's status, while every valid line of
  // the request is still stored (Loki's partial-success behaviour).
  Status Push(std::string_view tenant, model::PushRequest& request);

  // How many distributors share a "global" ingestion rate (the healthy members of the
  // distributor ring). Unset: this one alone. REQUIRES: called before the first Push.
  void SetDistributorCount(std::function<int()> count) { distributor_count_ = std::move(count); }

 private:
  // Validates one stream; on failure returns the error and counts its lines as discarded.
  Status ValidateLabels(std::string_view tenant, const config::Limits& limits, std::string_view raw,
                        size_t lines, uint64_t bytes, write::ValidatedStream* out);
  bool AllowRate(std::string_view tenant, const config::Limits& limits, uint64_t bytes)
      EXCLUDES(mu_);

  // Parsed labels by the raw text the client sent. Limits are still checked on every push
  // (they may change at runtime). Bounded: cleared when it reaches this many label texts (a churn
  // of streams then only costs the parse it would cost without the cache).
  static constexpr size_t kMaxCachedLabelTexts = 65536;
  std::shared_ptr<const write::StreamLabels> CachedLabels(std::string_view raw)
      EXCLUDES(labels_mu_);
  void CacheLabels(std::string_view raw, std::shared_ptr<const write::StreamLabels> parsed)
      EXCLUDES(labels_mu_);

  config::Overrides* overrides_;
  write::Pusher* pusher_;
  std::function<int()> distributor_count_;
  Clock* clock_;

  Mutex mu_;
  std::map<std::string, TokenBucket, std::less<>> rate_limiters_ GUARDED_BY(mu_);

  Mutex labels_mu_;
  std::unordered_map<std::string, std::shared_ptr<const write::StreamLabels>, StringHash,
                     std::equal_to<>>
      label_cache_ GUARDED_BY(labels_mu_);
};

}  // namespace sluice::distributor
