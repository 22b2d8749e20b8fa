#include "pattern/drain.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace sluice::pattern {

namespace {

// Rough per-object costs for memory_bytes(): container headers and allocator overhead.
constexpr int64_t kNodeBytes = 112;
constexpr int64_t kClusterBytes = 192;
constexpr int64_t kTokenBytes = static_cast<int64_t>(sizeof(std::string));
constexpr int64_t kSampleBytes = 8;  // Cluster::Packed

bool HasDigit(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

// Children are a small vector scanned linearly: max_children caps the fan-out and most nodes
// have one child, where a hash map would be mostly overhead (Loki made the same change).
struct Drain::Node {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> children;
  std::vector<int> cluster_ids;

  Node* Child(std::string_view key) const {
    for (const auto& [k, child] : children) {
      if (k == key) return child.get();
    }
    return nullptr;
  }
  Node* AddChild(std::string_view key, int64_t* bytes) {
    children.emplace_back(std::string(key), std::make_unique<Node>());
    *bytes += kNodeBytes + static_cast<int64_t>(key.size());
    return children.back().second.get();
  }
};

Drain::Drain(const DrainOptions& options)
    : options_(options),
      max_node_depth_(std::max(1, options.depth - 2)),
      root_(std::make_unique<Node>()),
      bytes_(kNodeBytes) {}

Drain::~Drain() = default;

Cluster* Drain::Find(int id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &*it->second;
}

bool Drain::Allow(int64_t now_ns) {
  if (blocked_until_ns_ != 0) {
    if (now_ns < blocked_until_ns_) return false;
    added_ = evicted_ = blocked_until_ns_ = 0;
  }
  if (added_ > 0 &&
      static_cast<double>(evicted_) / static_cast<double>(added_) > options_.max_eviction_ratio) {
    blocked_until_ns_ = now_ns + kThrottleNs;
    return false;
  }
  ++added_;
  return true;
}

TrainResult Drain::Train(std::string_view line, int64_t ts_ms, int64_t now_ns) {
  if (!Allow(now_ns)) return TrainResult::kThrottled;
  if (line.size() > options_.max_line_length) return TrainResult::kLineTooLong;
  Tokenize(line, &scratch_);
  const auto& tokens = scratch_.tokens;
  if (tokens.size() < kMinTokens) return TrainResult::kTooFewTokens;
  if (tokens.size() > kMaxTrainTokens) return TrainResult::kTooManyTokens;

  if (Cluster* match = TreeSearch(tokens)) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = match->tokens_[i];
      if (t != tokens[i] && t != kPlaceholder) {
        bytes_ += static_cast<int64_t>(kPlaceholder.size()) - static_cast<int64_t>(t.size());
        t = kPlaceholder;
      }
    }
    AddSample(match, ts_ms);
    match->volume_ += static_cast<int64_t>(line.size());
    lru_.splice(lru_.begin(), lru_, by_id_[match->id_]);
    return TrainResult::kMatched;
  }

  Cluster& c = lru_.emplace_front();
  c.id_ = ++next_id_;
  c.tokens_.assign(tokens.begin(), tokens.end());
  c.spaces_after_ = scratch_.spaces_after;
  c.volume_ = static_cast<int64_t>(line.size());
  c.interval_ms_ = std::max<int64_t>(1, options_.sample_interval_ms);
  bytes_ += kClusterBytes + static_cast<int64_t>(c.spaces_after_.size() * sizeof(int));
  for (const auto& t : c.tokens_) bytes_ += kTokenBytes + static_cast<int64_t>(t.size());
  by_id_[c.id_] = lru_.begin();
  AddSample(&c, ts_ms);
  AddToTree(c);
  if (options_.max_clusters > 0 && lru_.size() > static_cast<size_t>(options_.max_clusters)) {
    Evict(std::prev(lru_.end()));
    ++evicted_;
    ++evicted_since_report_;
    // An evicted cluster's branch stays in the tree until pruned; pruning once per
    // max_clusters evictions keeps the tree within about twice the live clusters' paths.
    if (++evictions_since_tree_prune_ >= static_cast<uint64_t>(options_.max_clusters)) {
      evictions_since_tree_prune_ = 0;
      PruneTree(root_.get());
    }
  }
  return TrainResult::kCreated;
}

void Drain::AddSample(Cluster* c, int64_t ts_ms) {
  const int64_t interval = c->interval_ms_;
  const int64_t index = ts_ms / interval - (ts_ms % interval < 0 ? 1 : 0);
  auto& s = c->samples_;
  const auto capacity = static_cast<int64_t>(s.capacity());
  if (s.empty() || index - c->base_ > static_cast<int64_t>(UINT32_MAX)) {
    // First sample, or one too far after the base for an offset (the old ones are then long
    // past any retain_for): start over from here.
    s.clear();
    c->base_ = index;
  } else {
    const int64_t last = c->base_ + s.back().offset;
    if (index == last) {
      ++s.back().count;
      return;
    }
    // A stream's lines arrive in time order (the miner skips older ones), so this only drops a
    // line whose interval is older than the cluster's newest, as Loki does.
    if (index < last) return;
  }
  s.push_back({static_cast<uint32_t>(index - c->base_), 1});
  // Past the cap the oldest sample goes: one move of at most max_samples samples, once per
  // sample interval of this cluster.
  if (s.size() > options_.max_samples) s.erase(s.begin());
  bytes_ += (static_cast<int64_t>(s.capacity()) - capacity) * kSampleBytes;
}

Cluster* Drain::TreeSearch(const std::vector<std::string_view>& tokens) {
  const Node* node = root_->Child(std::to_string(tokens.size()));
  if (node == nullptr) return nullptr;
  int depth = 1;
  for (const auto& token : tokens) {
    if (depth >= max_node_depth_ || depth == static_cast<int>(tokens.size())) break;
    const Node* next = node->Child(token);
    if (next == nullptr) next = node->Child(kPlaceholder);
    if (next == nullptr) return nullptr;
    node = next;
    ++depth;
  }
  // The best match by exact token positions; ties go to the template with more placeholders.
  Cluster* best = nullptr;
  double best_sim = -1;
  int best_params = -1;
  for (int id : node->cluster_ids) {
    Cluster* c = Find(id);
    if (c == nullptr) continue;
    int same = 0, params = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (c->tokens_[i] == kPlaceholder) {
        ++params;
      } else if (c->tokens_[i] == tokens[i]) {
        ++same;
      }
    }
    const double sim = static_cast<double>(same) / static_cast<double>(tokens.size());
    if (sim > best_sim || (sim == best_sim && params > best_params)) {
      best_sim = sim;
      best_params = params;
      best = c;
    }
  }
  return best_sim >= options_.sim_threshold ? best : nullptr;
}

void Drain::AddToTree(const Cluster& cluster) {
  const size_t count = cluster.tokens_.size();
  const std::string count_key = std::to_string(count);
  Node* node = root_->Child(count_key);
  if (node == nullptr) node = root_->AddChild(count_key, &bytes_);
  int depth = 1;
  for (const auto& token : cluster.tokens_) {
    if (depth >= max_node_depth_ || depth >= static_cast<int>(count)) {
      // The leaf: drop ids of clusters evicted since, then add this one.
      const auto before = static_cast<int64_t>(node->cluster_ids.size());
      std::erase_if(node->cluster_ids, [this](int id) { return Find(id) == nullptr; });
      node->cluster_ids.push_back(cluster.id_);
      bytes_ += (static_cast<int64_t>(node->cluster_ids.size()) - before) *
                static_cast<int64_t>(sizeof(int));
      return;
    }
    if (Node* next = node->Child(token)) {
      node = next;
    } else {
      Node* param = node->Child(kPlaceholder);
      const auto children = static_cast<int>(node->children.size());
      if (HasDigit(token)) {
        // A token with a digit is probably a variable: it shares the placeholder branch.
        node = param != nullptr ? param : node->AddChild(kPlaceholder, &bytes_);
      } else if (param != nullptr) {
        node = children < options_.max_children ? node->AddChild(token, &bytes_) : param;
      } else if (children + 1 < options_.max_children) {
        node = node->AddChild(token, &bytes_);
      } else if (children + 1 == options_.max_children) {
        // The last free slot is kept for the placeholder branch.
        node = node->AddChild(kPlaceholder, &bytes_);
      } else {
        node = param;  // unreachable: a full node always has the placeholder child
      }
      if (node == nullptr) return;
    }
    ++depth;
  }
}

void Drain::Evict(Lru::iterator it) {
  bytes_ -= kClusterBytes + static_cast<int64_t>(it->spaces_after_.size() * sizeof(int)) +
            static_cast<int64_t>(it->samples_.capacity()) * kSampleBytes;
  for (const auto& t : it->tokens_) bytes_ -= kTokenBytes + static_cast<int64_t>(t.size());
  by_id_.erase(it->id_);
  lru_.erase(it);
}

size_t Drain::Prune(int64_t cutoff_ms) {
  size_t dropped = 0;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto& s = it->samples_;
    const Cluster& c = *it;
    auto keep = std::find_if(s.begin(), s.end(), [&c, cutoff_ms](const Cluster::Packed& p) {
      return (c.base_ + p.offset) * c.interval_ms_ >= cutoff_ms;
    });
    if (keep != s.begin()) {
      const auto capacity = static_cast<int64_t>(s.capacity());
      s.erase(s.begin(), keep);
      if (s.capacity() > 2 * s.size()) s.shrink_to_fit();
      bytes_ -= (capacity - static_cast<int64_t>(s.capacity())) * kSampleBytes;
    }
    if (s.empty()) {
      auto next = std::next(it);
      Evict(it);
      it = next;
      ++dropped;
    } else {
      ++it;
    }
  }
  if (dropped > 0) PruneTree(root_.get());
  return dropped;
}

size_t Drain::PruneTree(Node* node) {
  for (size_t i = 0; i < node->children.size();) {
    if (PruneTree(node->children[i].second.get()) == 0) {
      bytes_ -= kNodeBytes + static_cast<int64_t>(node->children[i].first.size());
      node->children.erase(node->children.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  const auto before = static_cast<int64_t>(node->cluster_ids.size());
  std::erase_if(node->cluster_ids, [this](int id) { return Find(id) == nullptr; });
  bytes_ -=
      (before - static_cast<int64_t>(node->cluster_ids.size())) * static_cast<int64_t>(sizeof(int));
  return node->children.size() + node->cluster_ids.size();
}

}  // namespace sluice::pattern
