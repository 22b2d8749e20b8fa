#pragma once

// The ingester: the stateful half of the write path. It keeps each tenant's streams in memory
// (head blocks cut into compressed blocks, blocks grouped into chunks), logs every accepted
// batch to the WAL before acknowledging it, flushes chunks to the object store and the index
// (when full, idle, too old, on /flush and on shutdown), checkpoints its memory so WAL replay
// stays short, and replays the WAL on start.
//
// Files: ingester.cc (life cycle, push), read.cc (queries), flush.cc (closing and flushing
// chunks), replay.cc (checkpoints and WAL replay).
//
// Threading: streams are sharded by fingerprint; each shard has its own mutex, so pushes to
// different streams rarely contend and no lock is global on the hot path. The WAL writer
// batches concurrent pushes into one write and fsync (group commit). A flush thread and a
// checkpoint thread run in the background.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "config/config.h"
#include "config/overrides.h"
#include "ingester/stream.h"
#include "ingester/wal/writer.h"
#include "read/read.h"
#include "storage/index/index_writer.h"
#include "storage/object_store.h"
#include "write/pusher.h"

namespace sluice::ingester {

class Ingester final : public write::Pusher, public read::StreamSource {
 public:
  Ingester(const config::Config::Ingester& config, config::Overrides* overrides,
           storage::ObjectStore* store, storage::index::IndexWriter* index_writer, Clock* clock);
  ~Ingester() override;

  // Replays the WAL (flushing to storage past the replay memory ceiling), opens the WAL for
  // writing and starts the flush and checkpoint threads. ready() turns true when it returns OK.
  Status Start();
  bool ready() const { return ready_.load(); }

  // write::Pusher
  Status Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) override;

  // read::StreamSource: the data still in memory (flushed chunks stay queryable until
  // removed). read.cc.
  read::SourceKind Kind() const override { return read::SourceKind::kIngester; }
  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& req,
                                                            std::string_view tenant) override;
  // Chunks in memory not yet flushed (a flushed one is counted by the store).
  Result<uint64_t> CountChunks(const read::SelectRequest& req, std::string_view tenant) override;
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& req,
                                                    std::string_view tenant) override;

  // Closes every open chunk and flushes everything to storage; returns when done.
  Status FlushAll();
  // Asks the flush thread to flush everything soon (POST /flush) and returns at once.
  void RequestFlush() EXCLUDES(loop_mu_);
  // Stops taking pushes (503), flushes if asked, writes a final checkpoint and closes the WAL.
  Status Shutdown(bool flush) EXCLUDES(loop_mu_);
  bool stopping() const { return stopping_.load(); }
  // True from a failed WAL write until a checkpoint repairs it: pushes are refused with 503
  // meanwhile (a full disk, an I/O error).
  bool wal_failing() const { return wal_broken_.load(); }

  // In a cluster, max_global_streams_per_user is the tenant's limit across every ingester: each
  // keeps `share()` of it (Loki's limiter: replication_factor / ingesters in the ring, at most 1),
  // so the fleet holds the global number of streams whatever its size. Unset: the whole limit.
  // REQUIRES: called before Start.
  void SetGlobalLimitShare(std::function<double()> share) {
    global_limit_share_ = std::move(share);
  }

  // Writes a checkpoint now (also done every checkpoint_duration).
  Status Checkpoint() EXCLUDES(checkpoint_mu_);
  // Called at the start of every checkpoint, before memory is read; the function it returns is
  // called once the checkpoint is on disk (kafka::PartitionReader::BeginCheckpoint: the Kafka
  // offsets applied before the call become committable). REQUIRES: called before Start.
  void SetCheckpointHook(std::function<std::function<void()>()> hook) {
    checkpoint_hook_ = std::move(hook);
  }

  uint64_t memory_streams() const { return total_streams_.load(); }
  // Bytes held by open heads (raw lines not yet cut into compressed blocks).
  uint64_t memory_head_bytes() const { return static_cast<uint64_t>(head_bytes_.load()); }

 private:
  using StreamMap = std::unordered_map<uint64_t, std::unique_ptr<Stream>>;  // by fingerprint
  struct Shard {
    Mutex mu;
    StreamMap streams GUARDED_BY(mu);
  };
  struct Tenant {
    explicit Tenant(std::string id, size_t shards) : id(std::move(id)), shards(shards) {}
    std::string id;
    std::vector<Shard> shards;
    std::atomic<uint64_t> num_streams{0};
  };
  struct FlushItem;

  Tenant* GetOrCreateTenant(std::string_view tenant) EXCLUDES(tenants_mu_);
  std::vector<Tenant*> AllTenants() EXCLUDES(tenants_mu_);
  Tenant* FindTenant(std::string_view tenant) EXCLUDES(tenants_mu_);
  Shard& ShardFor(Tenant* t, uint64_t fingerprint) {
    return t->shards[fingerprint % t->shards.size()];
  }

  // Closes chunks that are idle or too old (all, when `force`), flushes closed chunks and drops
  // flushed ones past the retain period.
  // `memory`: also close the largest open chunks, until what stays in memory is half the budget.
  Status Sweep(bool force, bool memory = false) EXCLUDES(flush_mu_);
  Status FlushItems(std::vector<FlushItem>& items);
  // Drops the stream's flushed chunks past the retain period, and the stream once it holds
  // nothing. Returns the iterator after `it`.
  StreamMap::iterator DropRetired(Tenant* tenant, Shard& shard, StreamMap::iterator it, int64_t now)
      REQUIRES(shard.mu);
  void FlushLoop() EXCLUDES(loop_mu_);
  void CheckpointLoop() EXCLUDES(loop_mu_);
  Status Replay();
  // OK once a checkpoint after a WAL failure succeeded; Unavailable until then (one attempt a
  // second at most).
  Status RepairWal() EXCLUDES(wal_repair_mu_);
  std::function<double()> global_limit_share_;
  std::function<std::function<void()>()> checkpoint_hook_;
  // What a stream holds in memory, taken before a change so that Charge() can account for it.
  struct StreamMemory {
    uint64_t head = 0, cut = 0;
  };
  static StreamMemory MemoryOf(const Stream& s) { return {s.head_bytes(), s.cut_bytes()}; }
  // Memory changes of one push (or one replayed batch), applied to the shared counters once by
  // Settle(): with thousands of streams in a request, an atomic update per stream would bounce
  // the counters' cache line between the pushing threads.
  struct MemoryDelta {
    int64_t heads = 0, blocks = 0;
  };
  // Adds what changed in the stream since `before` to *delta, and cuts its head early when
  // heads are over their budget. REQUIRES: the stream's shard mutex held.
  void Charge(Stream* stream, StreamMemory before, MemoryDelta* delta);
  // Applies *delta and asks the flush loop to flush when memory is over its budget.
  void Settle(const MemoryDelta& delta);
  // ingester.head_memory_budget, raised to at least 16KB per stream.
  uint64_t HeadBudget() const;
  // Unavailable when chunks that cannot be stored fill the memory budget (heads plus
  // chunk_memory_budget), or when memory is at twice the budget because flushes do not keep up:
  // without it a store outage would grow memory until the process is killed, losing nothing
  // (the WAL has it) but taking every tenant down.
  Status MemoryPushback() EXCLUDES(flush_error_mu_);

  const config::Config::Ingester config_;
  config::Overrides* overrides_;
  storage::ObjectStore* store_;
  storage::index::IndexWriter* index_writer_;
  Clock* clock_;
  StreamOptions stream_options_;

  SharedMutex tenants_mu_;
  std::map<std::string, std::unique_ptr<Tenant>, std::less<>> tenants_ GUARDED_BY(tenants_mu_);
  std::atomic<uint64_t> total_streams_{0};
  std::atomic<int64_t> head_bytes_{0};            // every open head's Stream::head_bytes()
  std::atomic<int64_t> block_bytes_{0};           // compressed blocks of the chunks not flushed yet
  std::atomic<bool> memory_flush_wanted_{false};  // Charge() found memory over budget
  // The last sweep failed to store something (the object store is failing or unreachable): the
  // flush loop backs off, and pushes are refused once memory reaches its budget (MemoryPushback).
  std::atomic<bool> flush_failing_{false};
  Mutex flush_error_mu_;
  std::string last_flush_error_ GUARDED_BY(flush_error_mu_);

  std::unique_ptr<wal::Writer> wal_;
  Mutex flush_mu_;       // one sweep at a time
  Mutex checkpoint_mu_;  // one checkpoint at a time

  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  // A failed WAL write leaves that push's entries in memory but not in the WAL, and a retry of the
  // push finds them there (duplicates: nothing more is logged). So after a failure no push is
  // acknowledged until a checkpoint has made all of memory durable again (RepairWal).
  std::atomic<bool> wal_broken_{false};
  // One repair at a time: a push that finds one in progress waits for its outcome.
  Mutex wal_repair_mu_;
  int64_t wal_repair_not_before_ns_ GUARDED_BY(wal_repair_mu_) = 0;
  int64_t wal_repair_logged_ns_ GUARDED_BY(wal_repair_mu_) = INT64_MIN / 2;
  Mutex loop_mu_;
  CondVar loop_cv_;
  bool loops_stop_ GUARDED_BY(loop_mu_) = false;
  bool flush_requested_ GUARDED_BY(loop_mu_) = false;
  std::thread flush_thread_;
  std::thread checkpoint_thread_;
};

}  // namespace sluice::ingester
