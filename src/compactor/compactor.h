#pragma once

// The compactor: the one process that rewrites what ingesters flushed. Per (tenant, period) it
// loads the period's index objects and, in one pass,
//   - drops chunk refs past the stream's retention (retention),
//   - merges chunks of a series whose time ranges overlap (the replicas of a replication factor of
//     3, re-flushes) into new chunks holding each entry once (replica merge),
//   - rewrites chunks holding entries that delete requests remove (deletes),
//   - replaces the period's index objects by one (index compaction).
// Chunks it stops referencing are listed in a marker object and deleted only after
// retention_delete_delay, so queries that already read the index can still fetch them.
// docs/compactor.md describes markers, the crash-safety order and the multi-period rule.
//
// Only one compactor may run at a time: Start() runs RunOnce() every compaction_interval while
// this instance holds a lease in a ring::KvStore (etcd in a cluster), taken and renewed by
// compare-and-swap.
//
// Thread safety: RunOnce() must not be called concurrently with itself or with a running Start()
// loop (the lease is what keeps separate instances apart). Stop() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "chunk/codec.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "model/labels.h"
#include "ring/kv.h"
#include "storage/object_store.h"

namespace sluice::compactor {

// What the compactor asks about retention and deletes (implemented over the limits and the
// deletion layer's delete requests). Called from the compactor's thread only.
class Policy {
 public:
  virtual ~Policy();
  // Retention period for a stream of a tenant, ns; 0 = keep forever.
  virtual int64_t RetentionPeriod(std::string_view tenant, const model::LabelSet& labels) = 0;
  // Entries of this stream in [from, through] (ns, inclusive) that delete requests ready for
  // processing remove: a predicate called for every entry of the stream's chunks overlapping the
  // range (it checks the time itself), or null when no request applies. The predicate must stay
  // valid until the next call on the policy.
  virtual std::function<bool(int64_t ts, std::string_view line)> DeletedEntries(
      std::string_view tenant, const model::LabelSet& labels, int64_t from, int64_t through) = 0;
  // Called after a run applied, in every period of `tenant`, every delete request DeletedEntries
  // saw for it (so they can be marked processed). Not called when any period of the tenant failed
  // or the run stopped early (lease lost, Stop()). Called for tenants that have index objects
  // only. A request that becomes ready in the middle of a tenant's periods would be applied to the
  // later ones only: the policy should fix the set of requests it applies at its first
  // DeletedEntries call for the tenant after the previous DeletesApplied (or run).
  virtual void DeletesApplied(std::string_view tenant) = 0;
};

struct Options {
  // compactor.compaction_interval: how often RunOnce runs while this instance holds the lease.
  int64_t compaction_interval_ns = 10 * 60 * kNanosPerSecond;
  // compactor.retention_enabled: apply Policy::RetentionPeriod (merging and deletes run anyway).
  bool retention_enabled = false;
  // compactor.retention_delete_delay: how long a marked chunk stays readable before it is
  // deleted. Must exceed the longest query and the longest RunOnce.
  int64_t retention_delete_delay_ns = 2 * 3600 * kNanosPerSecond;
  // compactor.retention_delete_worker_count: threads deleting marked chunks (capped at
  // kMaxDeleteWorkers: Loki's 150 is for goroutines, these are threads).
  int retention_delete_worker_count = 150;
  static constexpr int kMaxDeleteWorkers = 16;

  // How rewritten chunks are encoded: as the ingester's flush (ingester.chunk_encoding,
  // ingester.chunk_flush_compression_level, ingester.chunk_flush_block_size,
  // ingester.chunk_flush_blooms, ingester.chunk_target_size).
  chunk::Codec codec = chunk::Codec::kZstd;
  int compression_level = 1;
  uint64_t flush_block_size = 1ull << 20;  // raw bytes per block
  bool blooms = true;
  // Merged output is cut into chunks of about this many raw (uncompressed) bytes; 0: no cut.
  uint64_t target_chunk_size = 1572864;

  // The lease: compactor.ring key and timing (Loki elects through its compactor ring; one key
  // with {holder, expiry} does the same job for a single active compactor).
  std::string lease_key = "collectors/compactor";
  std::string instance_id = "compactor";
  // A holder that stops renewing loses the lease this long after its last renewal.
  int64_t lease_ttl_ns = 60 * kNanosPerSecond;
  // How often the loop renews (or tries to take) the lease; also bounds Stop()'s latency.
  int64_t lease_renew_interval_ns = 10 * kNanosPerSecond;
};

// Counts of one RunOnce (also added to the loki_compactor_* / sluice_compactor_* metrics).
struct RunStats {
  uint64_t periods_compacted = 0;  // (tenant, period) folders rewritten
  uint64_t index_objects_replaced = 0;
  uint64_t chunks_merged = 0;       // old chunks replaced by a replica merge
  uint64_t chunks_rewritten = 0;    // old chunks rewritten for deletes (no merge)
  uint64_t chunks_written = 0;      // new chunks
  uint64_t chunks_expired = 0;      // refs removed by retention (per period listed)
  uint64_t chunks_marked = 0;       // chunk keys written to markers
  uint64_t chunks_deleted = 0;      // chunk objects deleted by the marker sweep
  uint64_t entries_deleted = 0;     // entries removed by delete requests
  uint64_t duplicates_dropped = 0;  // entries dropped as exact duplicates
  uint64_t bytes_before = 0;        // stored bytes of the chunks rewritten
  uint64_t bytes_after = 0;         // stored bytes of the chunks that replaced them
  uint64_t periods_failed = 0;
};

class Compactor {
 public:
  // REQUIRES: store, kv, policy and clock outlive the compactor. `policy` may be null (no
  // retention, no deletes); `kv` may be null when only RunOnce() is used.
  Compactor(Options options, storage::ObjectStore* store, ring::KvStore* kv, Policy* policy,
            const Clock* clock = SystemClock::Default());
  ~Compactor();  // Stop()s.
  Compactor(const Compactor&) = delete;
  Compactor& operator=(const Compactor&) = delete;

  // One full pass: every tenant and period found under "index/", then the marker sweep. Errors of
  // one period are logged and counted, and the run goes on; the first one is returned.
  Status RunOnce(RunStats* stats = nullptr);

  // Deletes the chunks of markers older than retention_delete_delay that no index references
  // any more, then the markers. Part of RunOnce; public for tests.
  Status SweepMarkers(RunStats* stats = nullptr);

  // Starts the lease-and-run loop on its own thread. REQUIRES: kv non-null; not started.
  void Start();
  // Stops the loop (waits for a running pass to end at its next period) and releases the lease.
  void Stop();

  // Takes or renews the lease; true while this instance holds it. Used by the loop; public for
  // tests.
  Result<bool> AcquireLease();
  // Gives the lease up (if held), so another instance can take over at once.
  Status ReleaseLease();
  bool lease_held() const { return lease_held_.load(); }

  // "markers/": where markers live; a marker is "markers/<unix_ns>-<instance>.<random>-<seq>".
  static constexpr std::string_view kMarkerPrefix = "markers/";

 private:
  struct Job;
  // `keep_going` is asked between periods and between rewritten groups; false stops the pass.
  Status CompactPeriod(std::string_view tenant, int64_t period, RunStats* stats,
                       const std::function<bool()>& keep_going);
  Status RunPass(RunStats* stats, const std::function<bool()>& keep_going);
  void Loop();

  const Options options_;
  storage::ObjectStore* const store_;
  ring::KvStore* const kv_;
  Policy* const policy_;
  const Clock* const clock_;
  // In the names of the objects it writes, with seq_: the instance id and a random tag, so that
  // a restarted compactor (or a clock that stood still) never overwrites an earlier marker.
  const std::string name_tag_;
  std::atomic<uint64_t> seq_{0};
  std::atomic<bool> lease_held_{false};

  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice::compactor
