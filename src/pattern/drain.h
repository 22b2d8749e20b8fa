#pragma once

// Drain: online log-template mining (He et al., "Drain: An Online Log Parsing Approach with
// Fixed Depth Tree", ICWS 2017), as Loki's pattern ingester runs it (pkg/pattern/drain).
//
// A line's tokens walk a tree: the first level is keyed by the token count, the next levels by
// the leading tokens (a token holding a digit, or any token once a node has max_children
// children, goes down the `<_>` branch). The leaf holds candidate clusters; the line joins the
// one whose template shares the most tokens position by position, if that share is at least
// sim_threshold, and every differing position of the template becomes `<_>`. Otherwise the
// line starts a new cluster.
//
// Bounds: at most max_clusters clusters (least recently matched evicted first); lines longer
// than max_line_length, or of fewer than kMinTokens / more than kMaxTrainTokens tokens, are not
// mined; once more than max_eviction_ratio of the clusters created were evicted (a flood of
// unique lines), training stops for kThrottleNs; each cluster keeps at most max_samples
// samples. memory_bytes() estimates what all that holds.
//
// Not thread-safe: the owner (pattern::Miner) serializes calls.

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pattern/tokenizer.h"

namespace sluice::pattern {

struct DrainOptions {
  int depth = 30;  // Loki's LogClusterDepth: the tree descends depth - 2 tokens
  double sim_threshold = 0.3;
  int max_children = 15;
  int max_clusters = 300;
  double max_eviction_ratio = 0.25;
  size_t max_line_length = 3000;
  int64_t sample_interval_ms = 10'000;
  size_t max_samples = 1081;  // retain_for / sample_interval + 1 (3h at 10s)
};

// Loki's token-count bounds (drain.go: fewer than 4 or more than 80 tokens are skipped).
inline constexpr size_t kMinTokens = 4;
inline constexpr size_t kMaxTrainTokens = 80;
// How long training pauses once the eviction ratio is exceeded (Loki's limiter).
inline constexpr int64_t kThrottleNs = 10LL * 60 * 1'000'000'000;

// A count of lines in one sample interval; ts is the interval's start in Unix milliseconds.
struct Sample {
  int64_t ts_ms = 0;
  int64_t count = 0;
};

class Cluster {
 public:
  // The template as text, `<_>` for variable tokens.
  std::string Pattern() const { return JoinTokens(tokens_, spaces_after_); }
  // Calls fn(Sample) for each sample, oldest first.
  template <typename Fn>
  void ForEachSample(Fn fn) const {
    for (const Packed& p : samples_) {
      fn(Sample{(base_ + p.offset) * interval_ms_, static_cast<int64_t>(p.count)});
    }
  }
  size_t num_samples() const { return samples_.size(); }
  int64_t volume_bytes() const { return volume_; }

 private:
  friend class Drain;
  // 8 bytes a sample, as samples are what the miner holds most of (up to retain_for / sample
  // interval per pattern): the interval's index counted from base_, and the count. A vector, as
  // a deque allocates 512 bytes for its first element.
  struct Packed {
    uint32_t offset;
    uint32_t count;
  };
  int id_ = 0;
  std::vector<std::string> tokens_;
  std::vector<int> spaces_after_;
  int64_t base_ = 0;  // index (Unix ms / interval) of the interval offsets count from
  int64_t interval_ms_ = 1;
  std::vector<Packed> samples_;
  int64_t volume_ = 0;
};

enum class TrainResult : uint8_t {
  kMatched,
  kCreated,
  kThrottled,
  kLineTooLong,
  kTooFewTokens,
  kTooManyTokens,
};

class Drain {
 public:
  explicit Drain(const DrainOptions& options);
  ~Drain();
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  // Mines one line with timestamp ts_ms. now_ns is wall time (for the throttle).
  TrainResult Train(std::string_view line, int64_t ts_ms, int64_t now_ns);

  // Calls fn(const Cluster&) for each cluster, most recently matched first.
  template <typename Fn>
  void ForEachCluster(Fn fn) const {
    for (const Cluster& c : lru_) fn(c);
  }

  // Drops samples older than cutoff_ms and the clusters left without samples (and the tree
  // branches that led only to them). Returns the number of clusters dropped.
  size_t Prune(int64_t cutoff_ms);

  size_t clusters() const { return lru_.size(); }
  // Clusters evicted to stay within max_clusters since the last call (for metrics).
  uint64_t TakeEvicted() { return std::exchange(evicted_since_report_, 0); }
  // Estimated bytes held (tree, templates, samples).
  int64_t memory_bytes() const { return bytes_; }

 private:
  struct Node;
  using Lru = std::list<Cluster>;

  Cluster* Find(int id);
  Cluster* TreeSearch(const std::vector<std::string_view>& tokens);
  void AddToTree(const Cluster& cluster);
  // Removes empty branches below node; returns how many children and live clusters it keeps.
  size_t PruneTree(Node* node);
  void Evict(Lru::iterator it);
  void AddSample(Cluster* c, int64_t ts_ms);
  bool Allow(int64_t now_ns);

  DrainOptions options_;
  int max_node_depth_;
  std::unique_ptr<Node> root_;
  Lru lru_;  // front: most recently matched
  std::unordered_map<int, Lru::iterator> by_id_;
  int next_id_ = 0;
  Tokens scratch_;
  int64_t bytes_ = 0;
  uint64_t evicted_since_report_ = 0;
  uint64_t evictions_since_tree_prune_ = 0;

  // The eviction-ratio throttle (Loki's limiter): counts since the last reset.
  int64_t added_ = 0;
  int64_t evicted_ = 0;
  int64_t blocked_until_ns_ = 0;
};

}  // namespace sluice::pattern
