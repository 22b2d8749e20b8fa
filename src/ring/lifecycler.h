#pragma once

// An ingester's membership of the ring: registration, state, tokens and heartbeats.
//
// States (Loki's):
//   PENDING  registered, no traffic; after join_after it takes its tokens and goes
//   JOINING  tokens in the ring but not taking writes (replaying the WAL); once the owner calls
//            MarkReplayDone() it goes
//   ACTIVE   takes writes and reads; Ready() after min_ready_duration more. Leave() makes it
//   LEAVING  takes reads only while the owner flushes; Unregister() then removes the entry and
//            sleeps final_sleep.
// Tokens: the instance's own entry if the ring still has it (a crashed ingester restarting with
// the same id rejoins with the same tokens), else tokens_file_path if that file exists, else
// num_tokens random tokens that no other instance holds. They are written to tokens_file_path
// (JSON {"tokens":[...]}, as Loki's) when that is set.
//
// Every change and every heartbeat is a compare-and-swap of the whole descriptor that touches
// only this instance's entry (UpdateDesc), so concurrent lifecyclers do not lose each other's
// updates. A failed heartbeat (KV store down) is retried at the next Tick; the entry keeps its
// last state.
//
// Time: Tick() does whatever is due at clock->NowNanos(); tests drive it with a FakeClock, and
// Start() runs it on a thread of its own every tick_interval.
// Thread safety: all methods may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "metrics/metrics.h"
#include "ring/desc.h"
#include "ring/kv.h"

namespace sluice::ring {

struct LifecyclerOptions {
  std::string key = std::string(kDefaultRingKey);
  std::string ring_name = "ingester";
  std::string id;    // ingester.lifecycler.id (default: the host name)
  std::string addr;  // what distributors dial (common.instance_addr:grpc port)
  std::string zone;  // availability_zone
  int num_tokens = 128;
  int64_t heartbeat_period_ns = 5LL * 1'000'000'000;
  int64_t join_after_ns = 0;
  int64_t min_ready_duration_ns = 15LL * 1'000'000'000;
  int64_t final_sleep_ns = 0;
  std::string tokens_file_path;
  // Kafka partitions this instance consumes (InstanceDesc::partitions); queriers ask one ACTIVE
  // owner of each partition.
  std::vector<int32_t> partitions;
  // How often the Start() thread calls Tick (it does only what is due).
  int64_t tick_interval_ns = 100LL * 1'000'000;
  uint64_t seed = 0;  // token generator seed; 0 = random
  // Unregister's final sleep; tests replace it. Default: std::this_thread::sleep_for.
  std::function<void(int64_t ns)> sleep;
  // loki_member_consul_heartbeats_total{name}; null for none.
  metrics::Registry* registry = nullptr;
};

class Lifecycler {
 public:
  // REQUIRES: kv and clock outlive the Lifecycler.
  Lifecycler(KvStore* kv, LifecyclerOptions options, const Clock* clock);
  ~Lifecycler();

  // Registers the instance as PENDING (keeping the tokens of an entry already in the ring).
  // Fails when the KV store cannot be reached.
  Status Register();
  // Register() and a thread calling Tick() every tick_interval.
  Status Start();
  // Stops the thread (the entry stays; see Leave/Unregister).
  void Stop();

  // Does what is due now: PENDING -> JOINING after join_after; JOINING -> ACTIVE once the replay
  // is done; a heartbeat every heartbeat_period.
  Status Tick();
  // The owner's WAL replay finished: the next Tick makes the instance ACTIVE.
  void MarkReplayDone();
  // ACTIVE for at least min_ready_duration.
  bool Ready() const;
  // LEAVING now (distributors stop writing to it); the owner flushes, then calls Unregister.
  Status Leave();
  // Removes the entry from the ring, then sleeps final_sleep.
  Status Unregister();

  InstanceState state() const;
  // Replaces LifecyclerOptions::partitions from the next heartbeat on (an ingester that consumes
  // every partition learns how many there are only once Kafka answers).
  void SetPartitions(std::vector<int32_t> partitions) EXCLUDES(mu_);
  std::vector<uint32_t> tokens() const;
  const std::string& id() const { return options_.id; }
  int64_t heartbeats() const { return heartbeats_.load(); }

 private:
  // CAS-writes this instance's entry with the current state and tokens and a fresh heartbeat.
  Status WriteEntry() EXCLUDES(mu_);
  // Random tokens avoiding `taken`. REQUIRES: mu_ held.
  std::vector<uint32_t> NewTokens(const std::vector<uint32_t>& taken) REQUIRES(mu_);
  Status StoreTokensFile(const std::vector<uint32_t>& tokens) const;
  std::vector<uint32_t> LoadTokensFile() const;

  KvStore* const kv_;
  const LifecyclerOptions options_;
  const Clock* const clock_;
  mutable Mutex mu_;
  InstanceState state_ GUARDED_BY(mu_) = InstanceState::kPending;
  std::vector<uint32_t> tokens_ GUARDED_BY(mu_);
  std::vector<int32_t> partitions_ GUARDED_BY(mu_);
  int64_t registered_at_ns_ GUARDED_BY(mu_) = 0;
  int64_t registered_timestamp_ GUARDED_BY(mu_) = 0;  // Unix seconds, kept across restarts
  int64_t last_heartbeat_ns_ GUARDED_BY(mu_) = 0;
  int64_t active_since_ns_ GUARDED_BY(mu_) = 0;
  bool replay_done_ GUARDED_BY(mu_) = false;
  uint64_t rng_state_ GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> heartbeats_{0};
  std::atomic<bool> stop_{false};
  std::thread ticker_;
  metrics::Counter* heartbeat_counter_ = nullptr;
};

}  // namespace sluice::ring
