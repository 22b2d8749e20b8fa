#include "pattern/miner.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <tuple>
#include <utility>

#include "metrics/metrics.h"

namespace sluice::pattern {

namespace {

// Loki's known levels (constants.LogLevels); a Drain is kept per level seen.
constexpr std::array<std::string_view, 8> kLevels = {"unknown", "debug", "info",     "warn",
                                                     "error",   "fatal", "critical", "trace"};

// Loki's names where Loki has the figure (pkg/pattern/metrics.go).
struct MinerMetrics {
  metrics::Registry& r = metrics::DefaultRegistry();
  metrics::Family<metrics::Counter>* detected = r.NewCounter(
      "loki_pattern_ingester_patterns_detected_total",
      "The total number of patterns detected from incoming log lines.", {"tenant", "format"});
  metrics::Family<metrics::Counter>* evicted = r.NewCounter(
      "loki_pattern_ingester_patterns_evicted_total",
      "The total number of patterns evicted from the LRU cache.", {"tenant", "format", "pruned"});
  metrics::Family<metrics::Counter>* dropped = r.NewCounter(
      "loki_pattern_ingester_patterns_dropped_total",
      "The total number of log lines skipped for pattern recognition.", {"tenant", "reason"});
  metrics::Family<metrics::Counter>* streams_evicted =
      r.NewCounter("sluice_pattern_ingester_streams_evicted_total",
                   "Streams whose patterns were dropped to stay within "
                   "pattern_ingester.memory_budget.");
  metrics::Gauge* memory_bytes =
      r.NewGauge("sluice_pattern_ingester_memory_bytes",
                 "Estimated bytes held by the pattern miner (trees, templates, samples).")
          ->WithLabels({});
  metrics::Gauge* streams =
      r.NewGauge("sluice_pattern_ingester_streams", "Streams with patterns in memory.")
          ->WithLabels({});
};

MinerMetrics& Metrics() {
  static MinerMetrics* m = new MinerMetrics();
  return *m;
}

// Loki's DetectLogFormat, simplified: it only labels the metrics (sluice tokenizes every
// format the same way).
std::string_view DetectFormat(std::string_view line) {
  if (line.size() >= 2 && line.front() == '{' && line.back() == '}') return "json";
  size_t eq = line.find('=');
  size_t sp = line.find(' ');
  if (eq != std::string_view::npos && eq > 0 && (sp == std::string_view::npos || eq < sp)) {
    return "logfmt";
  }
  return "unknown";
}

std::string_view LevelOf(const model::EntryView& e) {
  for (const auto& l : e.metadata) {
    if (l.name != kLevelLabel) continue;
    for (std::string_view known : kLevels) {
      if (known.size() == l.value.size() &&
          std::equal(known.begin(), known.end(), l.value.begin(), [](char a, char b) {
            return a == std::tolower(static_cast<unsigned char>(b));
          })) {
        return known;
      }
    }
    break;
  }
  return kUnknownLevel;
}

constexpr int64_t kStreamBytes = 256;  // the state's own header, labels shared with the ingester

}  // namespace

struct Miner::StreamState {
  std::shared_ptr<const write::StreamLabels> labels;
  std::string format;
  int64_t last_ts_ns = INT64_MIN;
  int64_t last_push_ns = 0;
  int64_t bytes = kStreamBytes;
  std::map<std::string, std::unique_ptr<Drain>, std::less<>> by_level;
  metrics::Counter* detected = nullptr;
  metrics::Counter* evicted = nullptr;
  metrics::Counter* pruned = nullptr;
  std::array<metrics::Counter*, 3> dropped{};  // line_too_long, too_few_tokens, too_many_tokens

  int64_t DrainBytes() const {
    int64_t b = kStreamBytes;
    for (const auto& [_, d] : by_level) b += d->memory_bytes();
    return b;
  }
};

Miner::Miner(const MinerOptions& options, Clock* clock)
    : options_(options), clock_(clock), shards_(kShards) {
  Metrics();
}

Miner::~Miner() = default;

void Miner::Observe(std::string_view tenant, const write::ValidatedStream& vs) {
  if (vs.entries.empty()) return;
  const int64_t now = clock_->NowNanos();
  Shard& shard = ShardFor(vs.fingerprint());
  {
    MutexLock lock(&shard.mu);
    auto tit = shard.tenants.find(tenant);
    if (tit == shard.tenants.end()) tit = shard.tenants.emplace(std::string(tenant), 0).first;
    auto& slot = tit->second[vs.fingerprint()];
    if (!slot) {
      slot = std::make_unique<StreamState>();
      slot->labels = vs.labels;
      slot->format = std::string(DetectFormat(vs.entries.front().line));
      auto& m = Metrics();
      std::string t(tenant);
      slot->detected = m.detected->WithLabels({t, slot->format});
      slot->evicted = m.evicted->WithLabels({t, slot->format, "false"});
      slot->pruned = m.evicted->WithLabels({t, slot->format, "true"});
      slot->dropped = {m.dropped->WithLabels({t, "line_too_long"}),
                       m.dropped->WithLabels({t, "too_few_tokens"}),
                       m.dropped->WithLabels({t, "too_many_tokens"})};
      num_streams_.fetch_add(1, std::memory_order_relaxed);
      total_bytes_.fetch_add(kStreamBytes, std::memory_order_relaxed);
    }
    StreamState& s = *slot;
    s.last_push_ns = now;
    const int64_t before = s.bytes;
    for (const auto& e : vs.entries) {
      if (e.timestamp_ns < s.last_ts_ns) continue;
      s.last_ts_ns = e.timestamp_ns;
      std::string_view level = LevelOf(e);
      auto dit = s.by_level.find(level);
      if (dit == s.by_level.end()) {
        dit = s.by_level.emplace(std::string(level), std::make_unique<Drain>(options_.drain)).first;
      }
      switch (dit->second->Train(e.line, e.timestamp_ns / kNanosPerMilli, now)) {
        case TrainResult::kCreated:
          s.detected->Inc();
          break;
        case TrainResult::kLineTooLong:
          s.dropped[0]->Inc();
          break;
        case TrainResult::kTooFewTokens:
          s.dropped[1]->Inc();
          break;
        case TrainResult::kTooManyTokens:
          s.dropped[2]->Inc();
          break;
        case TrainResult::kMatched:
        case TrainResult::kThrottled:
          break;
      }
      if (uint64_t n = dit->second->TakeEvicted()) s.evicted->Inc(static_cast<double>(n));
    }
    s.bytes = s.DrainBytes();
    total_bytes_.fetch_add(s.bytes - before, std::memory_order_relaxed);
  }
  if (total_bytes_.load(std::memory_order_relaxed) > static_cast<int64_t>(options_.memory_budget)) {
    EvictForMemory();
  }
  int64_t due = next_prune_ns_.load(std::memory_order_relaxed);
  if (now >= due && next_prune_ns_.compare_exchange_strong(due, now + kPruneIntervalNs)) Prune();
  Metrics().memory_bytes->Set(static_cast<double>(memory_bytes()));
  Metrics().streams->Set(static_cast<double>(streams()));
}

void Miner::Prune() {
  const int64_t cutoff_ms = (clock_->NowNanos() - options_.retain_for_ns) / kNanosPerMilli;
  for (Shard& shard : shards_) {
    MutexLock lock(&shard.mu);
    for (auto tit = shard.tenants.begin(); tit != shard.tenants.end();) {
      auto& streams = tit->second;
      for (auto sit = streams.begin(); sit != streams.end();) {
        StreamState& s = *sit->second;
        const int64_t before = s.bytes;
        for (auto dit = s.by_level.begin(); dit != s.by_level.end();) {
          if (size_t n = dit->second->Prune(cutoff_ms)) s.pruned->Inc(static_cast<double>(n));
          dit = dit->second->clusters() == 0 ? s.by_level.erase(dit) : std::next(dit);
        }
        s.bytes = s.DrainBytes();
        total_bytes_.fetch_add(s.bytes - before, std::memory_order_relaxed);
        if (s.by_level.empty()) {
          total_bytes_.fetch_sub(s.bytes, std::memory_order_relaxed);
          num_streams_.fetch_sub(1, std::memory_order_relaxed);
          sit = streams.erase(sit);
        } else {
          ++sit;
        }
      }
      tit = streams.empty() ? shard.tenants.erase(tit) : std::next(tit);
    }
  }
}

void Miner::EvictForMemory() {
  if (!evict_mu_.TryLock()) return;  // another thread is already evicting
  struct Victim {
    int64_t last_push_ns;
    size_t shard;
    std::string tenant;
    uint64_t fingerprint;
    int64_t bytes;
  };
  std::vector<Victim> all;
  for (size_t i = 0; i < shards_.size(); ++i) {
    MutexLock lock(&shards_[i].mu);
    for (const auto& [tenant, streams] : shards_[i].tenants) {
      for (const auto& [fp, s] : streams) all.push_back({s->last_push_ns, i, tenant, fp, s->bytes});
    }
  }
  std::sort(all.begin(), all.end(), [](const Victim& a, const Victim& b) {
    return std::tie(a.last_push_ns, a.fingerprint) < std::tie(b.last_push_ns, b.fingerprint);
  });
  const auto target = static_cast<int64_t>(options_.memory_budget / 4 * 3);
  auto* evicted = Metrics().streams_evicted->WithLabels({});
  for (const Victim& v : all) {
    if (total_bytes_.load(std::memory_order_relaxed) <= target) break;
    Shard& shard = shards_[v.shard];
    MutexLock lock(&shard.mu);
    auto tit = shard.tenants.find(v.tenant);
    if (tit == shard.tenants.end()) continue;
    auto sit = tit->second.find(v.fingerprint);
    if (sit == tit->second.end()) continue;
    total_bytes_.fetch_sub(sit->second->bytes, std::memory_order_relaxed);
    num_streams_.fetch_sub(1, std::memory_order_relaxed);
    tit->second.erase(sit);
    if (tit->second.empty()) shard.tenants.erase(tit);
    evicted->Inc();
  }
  evict_mu_.Unlock();
}

std::vector<PatternSeries> Miner::Query(std::span<const std::string> tenants,
                                        const std::vector<model::LabelMatcher>& matchers,
                                        int64_t start_ns, int64_t end_ns, int64_t step_ns) {
  const int64_t start_ms = start_ns / kNanosPerMilli;
  const int64_t end_ms = end_ns / kNanosPerMilli;
  const int64_t step_ms = std::max<int64_t>(1, step_ns / kNanosPerMilli);
  // (level, pattern) -> step start -> count
  std::map<std::pair<std::string, std::string>, std::map<int64_t, int64_t>> merged;
  for (Shard& shard : shards_) {
    MutexLock lock(&shard.mu);
    for (const std::string& tenant : tenants) {
      auto tit = shard.tenants.find(tenant);
      if (tit == shard.tenants.end()) continue;
      for (const auto& [_, s] : tit->second) {
        if (!model::MatchesAll(matchers, s->labels->labels)) continue;
        for (const auto& by_level : s->by_level) {
          const std::string& level = by_level.first;  // named: lambdas cannot capture bindings
          const auto& drain = by_level.second;
          drain->ForEachCluster([&](const Cluster& c) {
            std::map<int64_t, int64_t>* points = nullptr;
            c.ForEachSample([&](const Sample& sample) {
              if (sample.ts_ms < start_ms || sample.ts_ms >= end_ms) return;
              if (points == nullptr) points = &merged[{level, c.Pattern()}];
              // Loki's Chunk.ForRange: steps other than the sample interval are aligned to
              // multiples of the step from the epoch.
              int64_t at = sample.ts_ms;
              if (step_ms != options_.drain.sample_interval_ms) at -= at % step_ms;
              (*points)[at] += sample.count;
            });
          });
        }
      }
    }
  }
  std::vector<PatternSeries> out;
  for (auto& [key, points] : merged) {
    if (key.second.empty()) continue;
    PatternSeries series{key.second, key.first, {}, 0};
    for (auto [ts, n] : points) {
      series.samples.push_back({ts, n});
      series.total += n;
    }
    if (series.total >= kMinPatternCount) out.push_back(std::move(series));
  }
  std::stable_sort(out.begin(), out.end(), [](const PatternSeries& a, const PatternSeries& b) {
    return a.total > b.total;
  });
  if (out.size() > kMaxPatterns) out.resize(kMaxPatterns);
  return out;
}

Status TeePusher::Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) {
  Status st = next_->Push(tenant, streams);
  // Unavailable: the ingester stored nothing (stopping, replaying), or the WAL write failed and
  // the push is not acknowledged. Mining nothing then undercounts rather than double counts.
  if (st.code() == StatusCode::kUnavailable) return st;
  for (const auto& vs : streams) miner_->Observe(tenant, vs);
  return st;
}

}  // namespace sluice::pattern
