#pragma once

// Retention and delete requests as the compactor applies them (compactor::Policy in
// src/compactor/compactor.h; an adapter in src/main forwards its three calls here):
//
//   - RetentionPeriod: the tenant's current limits (retention.h).
//   - DeletedEntries: only for tenants whose deletion_mode is filter-and-delete (filter-only
//     keeps the data, queries hide it), with the requests that are Pending (past their cancel
//     period) at the tenant's first call after the previous DeletesApplied: that set stays fixed
//     until DeletesApplied, so every period of the tenant applies the same requests.
//   - DeletesApplied: marks that set processed in the DeleteRequestStore.
//
// Thread safety: every method may be called from any thread (the compactor uses one).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "config/overrides.h"
#include "deletion/delete_request_store.h"
#include "deletion/line_filter.h"
#include "model/labels.h"

namespace sluice::deletion {

class CompactorDeletes {
 public:
  // REQUIRES: *store, *overrides and *clock outlive this object.
  CompactorDeletes(DeleteRequestStore* store, const config::Overrides* overrides,
                   const Clock* clock = SystemClock::Default());

  // Nanoseconds; 0 keeps the stream forever.
  int64_t RetentionPeriod(std::string_view tenant, const model::LabelSet& labels) const;

  // Whether an entry of this stream in [from_ns, through_ns] is deleted; null when no request
  // applies to the stream in that range. The function checks the time itself and owns what it
  // needs (it stays valid after later calls).
  std::function<bool(int64_t ts, std::string_view line)> DeletedEntries(
      std::string_view tenant, const model::LabelSet& labels, int64_t from_ns, int64_t through_ns)
      EXCLUDES(mu_);

  // Every request DeletedEntries applied for `tenant` since the last call is marked processed.
  // Returns the first error (the rest are still tried); the failed ones stay received and are
  // applied again at the next run (deleting is idempotent).
  Status DeletesApplied(std::string_view tenant) EXCLUDES(mu_);

 private:
  struct Fixed {
    std::vector<DeleteRequest> requests;
    std::shared_ptr<const TenantDeletes> compiled;
  };

  DeleteRequestStore* store_;
  const config::Overrides* overrides_;
  const Clock* clock_;
  Mutex mu_;
  std::map<std::string, Fixed, std::less<>> fixed_ GUARDED_BY(mu_);
};

}  // namespace sluice::deletion
