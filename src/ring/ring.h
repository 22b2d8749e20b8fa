#pragma once

// The consistent-hash ring of ingesters, as a distributor or querier sees it.
//
// Each instance owns random uint32 tokens. A key (TokenFor(tenant, labels)) belongs to the
// instances found walking clockwise from the first token greater than the key: the first
// replication_factor distinct instances that are healthy for the operation. Healthy means a
// fresh heartbeat (no older than heartbeat_timeout) and a state the operation accepts (Loki's
// ring.Write: ACTIVE; ring.Read: ACTIVE, PENDING, LEAVING). An unhealthy instance is skipped and
// the set extends to the next healthy one, so a key keeps RF replicas while one is down. With
// zone awareness, the walk also skips instances of zones already in the set: RF replicas in RF
// distinct zones.
//
// The ring keeps the last descriptor it read (from Start's watch, or Refresh) and answers from
// it; when the KV store is unreachable the cached ring stays in use.
//
// Thread safety: every method may be called from any thread.
//
//   ring::Ring ring(kv, {.replication_factor = 3}, SystemClock::Default());
//   SLUICE_RETURN_IF_ERROR(ring.Start());
//   auto set = ring.Get(ring::TokenFor(tenant, labels), ring::Op::kWrite);
//   // send to set->instances[i].addr in parallel; succeed after set->quorum answers
//   // (equivalently: fail once more than set->max_errors failed).

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "metrics/metrics.h"
#include "ring/desc.h"
#include "ring/kv.h"

namespace sluice::ring {

// The ring token of a stream: 32-bit FNV-1 (Go's hash/fnv New32, as Loki's TokenFor) over the
// tenant id followed by the stream's label string.
uint32_t TokenFor(std::string_view tenant, std::string_view labels);

enum class Op : uint8_t {
  kWrite,      // ACTIVE only
  kRead,       // ACTIVE, PENDING, LEAVING (a LEAVING ingester still holds data until it flushed)
  kReporting,  // any state: only the heartbeat counts
};

// Whether an instance in `state` serves `op` (the heartbeat is checked apart).
bool StateServes(InstanceState state, Op op);

struct ReplicationSet {
  std::vector<InstanceDesc> instances;
  // Answers needed: floor(replication_factor / 2) + 1.
  int quorum = 0;
  // Failures tolerated: instances.size() - quorum.
  int max_errors = 0;
  // Whether the call may stop waiting: `succeeded` answers suffice, or `failed` are too many.
  bool Succeeded(int succeeded) const { return succeeded >= quorum; }
  bool Failed(int failed) const { return failed > max_errors; }
};

// The owners of each Kafka partition (Ring::GetPartitionOwners).
struct PartitionOwners {
  std::vector<InstanceDesc> instances;  // each healthy owner of some partition, once
  // Per partition (in partition order): indexes into `instances`, best first.
  std::vector<std::vector<size_t>> by_partition;
};

// floor(rf / 2) + 1.
int QuorumFor(int replication_factor);

struct RingOptions {
  std::string key = std::string(kDefaultRingKey);
  std::string name = "ingester";                        // the "name" label of the metrics
  int64_t heartbeat_timeout_ns = 60LL * 1'000'000'000;  // Loki's default 1m
  int replication_factor = 3;
  bool zone_awareness_enabled = false;
  // loki_ring_members{name,state} and loki_ring_tokens_total{name}; null for none.
  metrics::Registry* registry = nullptr;
};

class Ring {
 public:
  // REQUIRES: kv and clock outlive the Ring.
  Ring(KvStore* kv, RingOptions options, const Clock* clock);
  ~Ring();

  // Reads the ring once (an error if the store is unreachable then) and starts a thread that
  // watches the key; on a broken watch it re-reads with backoff, keeping the cached ring.
  Status Start();
  void Stop();
  // One synchronous read of the KV store into the cache.
  Status Refresh();
  // Replaces the cached descriptor (the watch does this; tests may too).
  void Set(Desc desc, int64_t revision);

  // The replication set of `key` for `op`, with the configured replication factor (or `rf`).
  // Unavailable ("at least 2 live replicas required, could only find 1") when fewer than a
  // quorum of healthy instances exist.
  Result<ReplicationSet> Get(uint32_t key, Op op) const;
  Result<ReplicationSet> Get(uint32_t key, Op op, int rf) const;
  // Every instance healthy for `op` (queriers ask every ingester), with Loki's tolerance
  // (GetReplicationSetForOperation): of max(instances in the ring, RF) ingesters, RF/2 may fail;
  // Unavailable when more are already unhealthy.
  Result<ReplicationSet> GetAllHealthy(Op op) const;
  // The Kafka write path's read set: for every partition some instance consumes
  // (InstanceDesc::partitions, and Desc::kafka_partitions for those whose owners all left), its
  // healthy owners, best first: ACTIVE before LEAVING (PENDING and JOINING owners are still
  // catching up), rotating among equals to spread the reads. Unavailable naming the partition
  // when one has no healthy owner.
  Result<PartitionOwners> GetPartitionOwners() const;

  // The cached descriptor and its revision.
  Desc Snapshot(int64_t* revision = nullptr) const;
  // Instances healthy for kReporting whose state is ACTIVE (the distributor's "ingesters in the
  // ring" count for global limits).
  int HealthyActiveCount() const;
  // Share of the token space each instance owns (0..1), by id.
  std::map<std::string, double> Ownership() const;
  // Removes an instance from the ring in the KV store (/ring's forget); updates the cache.
  Status Forget(const std::string& id);

  int64_t heartbeat_timeout_ns() const { return options_.heartbeat_timeout_ns; }
  const Clock* clock() const { return clock_; }
  KvStore* kv() const { return kv_; }

 private:
  struct State;  // the descriptor and its sorted token table, immutable once built
  std::shared_ptr<const State> Current() const;
  void WatchLoop();

  // The time heartbeats are judged against. While the KV store cannot be reached, the moment it
  // was lost: no instance could heartbeat, so the cached ring stays as healthy as it was then
  // (pushes keep their replicas through an etcd restart). For heartbeat_timeout after it is
  // reached again, now minus the outage, so instances have time to heartbeat again.
  int64_t HealthNow() const;
  void MarkKvLost();
  void MarkKvReached();

  KvStore* const kv_;
  const RingOptions options_;
  const Clock* const clock_;
  mutable Mutex mu_;
  std::shared_ptr<const State> state_ GUARDED_BY(mu_);
  mutable std::atomic<uint64_t> partition_read_turn_{0};  // GetPartitionOwners' rotation
  std::atomic<int64_t> kv_lost_at_ns_{0};                 // 0: reachable
  std::atomic<int64_t> outage_ns_{0};
  std::atomic<int64_t> reached_again_at_ns_{0};
  std::atomic<bool> stop_{false};
  std::thread watcher_;
  metrics::Family<metrics::Gauge>* members_ = nullptr;
  metrics::Family<metrics::Gauge>* zone_members_ = nullptr;
  metrics::Family<metrics::Gauge>* tokens_ = nullptr;
  // Every zone the ring has had: a zone whose members all left reads 0, not its last counts.
  std::set<std::string> zones_seen_ GUARDED_BY(mu_);
};

}  // namespace sluice::ring
