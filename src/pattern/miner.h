#pragma once

// The pattern miner: Loki's pattern ingester inside the single binary. Stored lines are teed to
// it (TeePusher, below); per stream and detected level it keeps a Drain clusterer whose clusters
// count their lines in sample_interval buckets; /loki/api/v1/patterns reads it back.
//
// Memory: each Drain is bounded by DrainOptions (clusters, line length, samples per cluster);
// samples older than retain_for, then clusters and streams left empty, are dropped by Prune()
// (run from Observe at most once per kPruneIntervalNs); and when the estimated total passes
// memory_budget, the streams pushed to least recently are dropped whole until it is at three
// quarters of the budget.
//
// Thread-safe: streams live in shards, each with its own mutex; Observe and Query lock one shard
// at a time.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "model/matcher.h"
#include "pattern/drain.h"
#include "write/pusher.h"

namespace sluice::pattern {

struct MinerOptions {
  DrainOptions drain;
  int64_t retain_for_ns = 3LL * 3600 * kNanosPerSecond;
  uint64_t memory_budget = 256ull << 20;
};

// The querier's cut of a patterns answer (Loki's pattern.IngesterQuerier): patterns seen fewer
// than kMinPatternCount times in the range are dropped, and at most kMaxPatterns are returned,
// the most frequent first.
inline constexpr int64_t kMinPatternCount = 30;
inline constexpr size_t kMaxPatterns = 300;
inline constexpr int64_t kPruneIntervalNs = 60 * kNanosPerSecond;

// The structured metadata name of a line's level (Loki's constants.LevelLabel) and the levels
// kept apart; any other value counts as "unknown".
inline constexpr std::string_view kLevelLabel = "detected_level";
inline constexpr std::string_view kUnknownLevel = "unknown";

struct PatternSeries {
  std::string pattern;
  std::string level;
  std::vector<Sample> samples;  // ts_ms ascending; the start of each step
  int64_t total = 0;
};

class Miner {
 public:
  Miner(const MinerOptions& options, Clock* clock);
  ~Miner();

  // Mines the stream's entries (in time order per stream: an entry older than the stream's
  // newest mined one is skipped, as in Loki).
  void Observe(std::string_view tenant, const write::ValidatedStream& stream);

  // The patterns of the streams of `tenants` matching `matchers`, with their counts per step
  // over [start_ns, end_ns) (samples re-bucketed to multiples of step when step is not the
  // sample interval), merged across streams by pattern and level, cut as described above.
  std::vector<PatternSeries> Query(std::span<const std::string> tenants,
                                   const std::vector<model::LabelMatcher>& matchers,
                                   int64_t start_ns, int64_t end_ns, int64_t step_ns);

  // Drops samples older than retain_for and what is left empty.
  void Prune();

  int64_t memory_bytes() const { return total_bytes_.load(std::memory_order_relaxed); }
  uint64_t streams() const { return num_streams_.load(std::memory_order_relaxed); }

 private:
  struct StreamState;
  struct Shard {
    Mutex mu;
    // tenant -> fingerprint -> stream
    std::map<std::string, std::unordered_map<uint64_t, std::unique_ptr<StreamState>>, std::less<>>
        tenants GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(uint64_t fingerprint) { return shards_[fingerprint % kShards]; }
  void EvictForMemory() EXCLUDES(evict_mu_);

  const MinerOptions options_;
  Clock* clock_;
  std::vector<Shard> shards_;
  std::atomic<int64_t> total_bytes_{0};
  std::atomic<uint64_t> num_streams_{0};
  std::atomic<int64_t> next_prune_ns_{0};
  Mutex evict_mu_;  // one memory eviction at a time
};

// The tee: a write::Pusher in front of the ingester that hands the miner what the ingester
// stored. It sits between the distributor and the ingester so that neither depends on the
// pattern layer (this layer depends on write/, below both): lines the distributor rejected never
// reach it, and after the ingester's Push each stream's entries are exactly the lines it stored
// (refused and duplicate ones removed), so only stored lines are mined, each once.
class TeePusher final : public write::Pusher {
 public:
  // REQUIRES: next and miner outlive this.
  TeePusher(write::Pusher* next, Miner* miner) : next_(next), miner_(miner) {}
  Status Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) override;

 private:
  write::Pusher* next_;
  Miner* miner_;
};

}  // namespace sluice::pattern
