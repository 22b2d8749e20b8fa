#pragma once

// Delete requests kept in the object store, so every process (the compactor that applies them,
// the queriers that filter them out of results) sees the same requests and they survive restarts.
//
// Layout under `prefix` (default "delete_requests/"):
//   <prefix><tenant>/<request_id>.json       the request (delete_request.h), written once
//   <prefix><tenant>/<request_id>.processed  empty marker: the compactor has applied it
// Objects are never rewritten: Add puts the request, MarkProcessed adds the marker, Cancel
// deletes both. A reader therefore re-reads only the objects it has not seen.
//
// Each process caches the requests in memory. Its own changes show at once; other processes'
// within `refresh_interval_ns`: a read that finds the cache older than that lists the prefix
// again (one List, plus one Get per new request) while concurrent reads use the cache as it is.
// A refresh that fails keeps the previous cache (and is retried after the interval).
//
// Cancellation follows Loki (pkg/compactor/deletion/request_handler.go): a request may be
// cancelled while it is "received" and within `cancel_period_ns` of its creation (later only
// with force); the compactor takes a request only after that period (Pending).
//
// Thread safety: every method may be called from any thread.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "deletion/delete_request.h"
#include "deletion/line_filter.h"
#include "storage/object_store.h"

namespace sluice::deletion {

struct DeleteRequestStoreOptions {
  // Loki's compactor.delete_request_cancel_period.
  int64_t cancel_period_ns = 24LL * 3600 * 1'000'000'000;
  // How stale the cache of requests written by other processes may get.
  int64_t refresh_interval_ns = 10LL * 1'000'000'000;
  // Where the requests live in the object store; ends with '/'.
  std::string prefix = "delete_requests/";
};

// Loki's texts.
inline constexpr std::string_view kRequestNotFoundMessage =
    "could not find delete request with given id";
inline constexpr std::string_view kAlreadyProcessedMessage =
    "deletion of request which is in process or already processed is not allowed";

class DeleteRequestStore {
 public:
  // REQUIRES: *store and *clock outlive this object.
  DeleteRequestStore(storage::ObjectStore* store, DeleteRequestStoreOptions options,
                     const Clock* clock = SystemClock::Default());

  // Reads every request now. Call once at startup so the first queries already filter.
  Status Load() EXCLUDES(mu_);

  // Stores a new request created now, with a fresh id, and returns it. `query` must pass
  // ParseDeleteQuery, start_ns <= end_ns (Loki's texts otherwise). Times are truncated to the
  // millisecond, as Loki keeps them.
  Result<DeleteRequest> Add(std::string_view tenant, std::string_view query, int64_t start_ns,
                            int64_t end_ns) EXCLUDES(mu_);

  // The tenant's requests (received and processed), oldest first.
  std::vector<DeleteRequest> List(std::string_view tenant) EXCLUDES(mu_);

  // Removes a request. NotFound (kRequestNotFoundMessage) when the tenant has no such request;
  // InvalidArgument when it is processed (kAlreadyProcessedMessage), or older than the cancel
  // period and not `force`d (Loki's text naming the period).
  Status Cancel(std::string_view tenant, std::string_view request_id, bool force = false)
      EXCLUDES(mu_);

  // The compactor has applied the request. NotFound when there is no such request.
  Status MarkProcessed(std::string_view tenant, std::string_view request_id) EXCLUDES(mu_);

  // What the compactor should apply now: the tenant's received requests created at least the
  // cancel period before `now_ns`, oldest first.
  std::vector<DeleteRequest> Pending(std::string_view tenant, int64_t now_ns) EXCLUDES(mu_);
  // Tenants that have any request, sorted.
  std::vector<std::string> Tenants() EXCLUDES(mu_);

  // The tenant's requests compiled for filtering (every request, received or processed: with
  // deletion_mode filter-only the data stays in the store, and a processed request filters
  // nothing that is still there). nullptr when the tenant has none: the caller does no work.
  std::shared_ptr<const TenantDeletes> Deletes(std::string_view tenant) EXCLUDES(mu_);

  int64_t cancel_period_ns() const { return options_.cancel_period_ns; }

 private:
  struct Snapshot {
    std::map<std::string, std::vector<DeleteRequest>, std::less<>> requests;  // by created_at
    std::map<std::string, std::shared_ptr<const TenantDeletes>, std::less<>> compiled;
  };
  using SnapshotPtr = std::shared_ptr<const Snapshot>;

  // The cache, re-read first if it is older than the refresh interval.
  SnapshotPtr Current() EXCLUDES(mu_);
  // Lists the store; reuses the requests of `old` it still finds.
  Result<std::shared_ptr<Snapshot>> ReadAll(const Snapshot& old);
  // Installs `tenant`'s new list (a change made by this process).
  void Replace(std::string_view tenant, std::vector<DeleteRequest> requests) REQUIRES(mu_);
  std::string RequestKey(std::string_view tenant, std::string_view id) const;
  std::string MarkerKey(std::string_view tenant, std::string_view id) const;
  std::string NewRequestId(const Snapshot& snapshot, std::string_view tenant) REQUIRES(write_mu_);

  storage::ObjectStore* store_;
  const DeleteRequestStoreOptions options_;
  const Clock* clock_;

  // Serializes the changes (Add, Cancel, MarkProcessed): each rewrites a tenant's list.
  Mutex write_mu_;  // taken before mu_
  mutable Mutex mu_;
  SnapshotPtr snapshot_ GUARDED_BY(mu_);
  bool loaded_ GUARDED_BY(mu_) = false;
  int64_t next_refresh_ns_ GUARDED_BY(mu_) = 0;
  bool refreshing_ GUARDED_BY(mu_) = false;
  // Bumped by every change, so a refresh that read the store before it does not undo it.
  uint64_t changes_ GUARDED_BY(mu_) = 0;
  uint64_t id_counter_ GUARDED_BY(write_mu_) = 0;
};

// Go's time.Duration.String() ("24h0m0s", "1m30s", "500ms"), as Loki's messages print periods.
std::string GoDurationString(int64_t ns);

}  // namespace sluice::deletion
