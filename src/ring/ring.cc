#include "ring/ring.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

namespace sluice::ring {

uint32_t TokenFor(std::string_view tenant, std::string_view labels) {
  // FNV-1: multiply, then xor (Go's fnv.New32).
  uint32_t h = 2166136261u;
  for (std::string_view part : {tenant, labels}) {
    for (unsigned char c : part) {
      h *= 16777619u;
      h ^= c;
    }
  }
  return h;
}

bool StateServes(InstanceState state, Op op) {
  switch (op) {
    case Op::kWrite:
      return state == InstanceState::kActive;
    case Op::kRead:
      return state == InstanceState::kActive || state == InstanceState::kPending ||
             state == InstanceState::kLeaving;
    case Op::kReporting:
      return true;
  }
  return false;
}

int QuorumFor(int replication_factor) { return replication_factor / 2 + 1; }

struct Ring::State {
  Desc desc;
  int64_t revision = 0;
  // Every token with the id of its owner, sorted by token.
  std::vector<std::pair<uint32_t, const InstanceDesc*>> tokens;
};

Ring::Ring(KvStore* kv, RingOptions options, const Clock* clock)
    : kv_(kv), options_(std::move(options)), clock_(clock) {
  if (options_.registry != nullptr) {
    members_ = options_.registry->NewGauge("loki_ring_members", "Number of members in the ring",
                                           {"name", "state"});
    tokens_ = options_.registry->NewGauge("loki_ring_tokens_total", "Number of tokens in the ring",
                                          {"name"});
    // loki_ring_members by availability zone: a lost zone is every member of one zone unhealthy.
    zone_members_ = options_.registry->NewGauge(
        "sluice_ring_zone_members", "Number of members in the ring per availability zone",
        {"name", "zone", "state"});
  }
  Set(Desc{}, 0);
}

Ring::~Ring() { Stop(); }

void Ring::Set(Desc desc, int64_t revision) {
  auto state = std::make_shared<State>();
  state->desc = std::move(desc);
  state->revision = revision;
  for (const auto& [id, inst] : state->desc.instances) {
    for (uint32_t t : inst.tokens) state->tokens.emplace_back(t, &inst);
  }
  // Equal tokens (two instances drew the same one) are ordered by id so every reader walks alike.
  std::sort(state->tokens.begin(), state->tokens.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->id < b.second->id;
  });
  MutexLock lock(&mu_);
  if (members_ != nullptr) {
    const int64_t now = clock_->NowNanos();
    const std::map<std::string, int> no_members = {
        {"ACTIVE", 0}, {"LEAVING", 0}, {"PENDING", 0}, {"JOINING", 0}, {"Unhealthy", 0}};
    std::map<std::string, int> counts = no_members;
    std::map<std::string, std::map<std::string, int>> by_zone;
    for (const std::string& zone : zones_seen_) by_zone[zone] = no_members;
    for (const auto& [id, inst] : state->desc.instances) {
      const std::string state_name = !inst.HeartbeatFresh(now, options_.heartbeat_timeout_ns)
                                         ? "Unhealthy"
                                         : std::string(StateName(inst.state));
      counts[state_name]++;
      auto [zone, added] = by_zone.try_emplace(inst.zone, no_members);
      zone->second[state_name]++;
      if (added) zones_seen_.insert(inst.zone);
    }
    for (const auto& [s, n] : counts) members_->WithLabels({options_.name, s})->Set(n);
    for (const auto& [zone, zone_counts] : by_zone) {
      for (const auto& [s, n] : zone_counts) {
        zone_members_->WithLabels({options_.name, zone, s})->Set(n);
      }
    }
    tokens_->WithLabels({options_.name})->Set(static_cast<double>(state->tokens.size()));
  }
  state_ = std::move(state);
}

std::shared_ptr<const Ring::State> Ring::Current() const {
  MutexLock lock(&mu_);
  return state_;
}

Desc Ring::Snapshot(int64_t* revision) const {
  auto s = Current();
  if (revision != nullptr) *revision = s->revision;
  return s->desc;
}

Status Ring::Refresh() {
  SLUICE_ASSIGN_OR_RETURN(KvValue v, kv_->Get(options_.key));
  SLUICE_ASSIGN_OR_RETURN(Desc desc, Desc::Decode(v.value));
  Set(std::move(desc), v.revision);
  return Status::OK();
}

Status Ring::Start() {
  SLUICE_RETURN_IF_ERROR(Refresh());
  stop_ = false;
  watcher_ = std::thread([this] { WatchLoop(); });
  return Status::OK();
}

void Ring::Stop() {
  stop_ = true;
  if (watcher_.joinable()) watcher_.join();
}

void Ring::WatchLoop() {
  constexpr int64_t kWatchWindowNs = 30LL * 1'000'000'000;
  int64_t backoff_ms = 100;
  bool synced = true;  // Start just read the ring
  while (!stop_) {
    if (!synced) {
      Status st = Refresh();
      if (!st.ok()) {
        MarkKvLost();
        spdlog::warn("msg=\"ring read failed, using the cached ring\" ring={} err=\"{}\"",
                     options_.name, st.message());
        // Sleep in short steps so Stop() is prompt.
        for (int64_t slept = 0; slept < backoff_ms && !stop_; slept += 20) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        backoff_ms = std::min<int64_t>(backoff_ms * 2, 2000);
        continue;
      }
      MarkKvReached();
      backoff_ms = 100;
    }
    int64_t revision = Current()->revision;
    Status st = kv_->Watch(
        options_.key, revision,
        [this](const KvValue& v) {
          MarkKvReached();
          auto desc = Desc::Decode(v.value);
          if (desc.ok()) {
            Set(std::move(desc).value(), v.revision);
          } else {
            spdlog::warn("msg=\"ignoring undecodable ring\" ring={} err=\"{}\"", options_.name,
                         desc.status().message());
          }
          return !stop_;
        },
        &stop_, kWatchWindowNs);
    // A watch window that ended normally needs no re-read; a broken one does (changes may have
    // been missed while it was down).
    synced = st.ok();
    if (!st.ok() && !stop_) {
      MarkKvLost();
      spdlog::warn("msg=\"ring watch broke\" ring={} err=\"{}\"", options_.name, st.message());
    }
  }
}

void Ring::MarkKvLost() {
  int64_t expected = 0;
  kv_lost_at_ns_.compare_exchange_strong(expected, clock_->NowNanos());
}

void Ring::MarkKvReached() {
  const int64_t lost_at = kv_lost_at_ns_.exchange(0);
  if (lost_at == 0) return;
  const int64_t now = clock_->NowNanos();
  outage_ns_ = now - lost_at;
  reached_again_at_ns_ = now;
}

// Lock-free: every Get (one per stream of a push) asks. The two values change together only
// once per outage; a read that mixes them judges against now, as without an outage.
int64_t Ring::HealthNow() const {
  const int64_t lost_at = kv_lost_at_ns_.load();
  if (lost_at != 0) return lost_at;
  const int64_t now = clock_->NowNanos();
  const int64_t outage = outage_ns_.load();
  if (outage > 0 && now - reached_again_at_ns_.load() < options_.heartbeat_timeout_ns) {
    return now - outage;
  }
  return now;
}

Result<ReplicationSet> Ring::Get(uint32_t key, Op op) const {
  return Get(key, op, options_.replication_factor);
}

Result<ReplicationSet> Ring::Get(uint32_t key, Op op, int rf) const {
  auto s = Current();
  if (s->tokens.empty()) return Status::Unavailable("empty ring");
  if (rf < 1) rf = 1;
  const int64_t now = HealthNow();
  ReplicationSet set;
  set.quorum = QuorumFor(rf);
  std::set<std::string_view> ids, zones;
  std::vector<std::string> unhealthy;
  // First token strictly greater than the key, wrapping around.
  size_t start = std::upper_bound(s->tokens.begin(), s->tokens.end(), key,
                                  [](uint32_t k, const auto& t) { return k < t.first; }) -
                 s->tokens.begin();
  const size_t n = s->tokens.size();
  for (size_t i = 0; i < n && static_cast<int>(set.instances.size()) < rf; ++i) {
    const InstanceDesc* inst = s->tokens[(start + i) % n].second;
    if (ids.count(inst->id)) continue;
    if (options_.zone_awareness_enabled && zones.count(inst->zone)) continue;
    ids.insert(inst->id);
    if (!StateServes(inst->state, op) ||
        !inst->HeartbeatFresh(now, options_.heartbeat_timeout_ns)) {
      unhealthy.push_back(inst->addr.empty() ? inst->id : inst->addr);
      continue;  // skipped: the set extends to the next instance
    }
    // Only a healthy replica claims its zone: a dead instance's zone-mates may stand in.
    zones.insert(inst->zone);
    set.instances.push_back(*inst);
  }
  const int found = static_cast<int>(set.instances.size());
  if (found < set.quorum) {
    std::string suffix;
    if (!unhealthy.empty())
      suffix = " - unhealthy instances: " + fmt::format("{}", fmt::join(unhealthy, ","));
    return Status::Unavailable(
        fmt::format("at least {} live replicas required{}, could only find {}{}", set.quorum,
                    options_.zone_awareness_enabled ? " across different availability zones" : "",
                    found, suffix));
  }
  set.max_errors = found - set.quorum;
  return set;
}

Result<PartitionOwners> Ring::GetPartitionOwners() const {
  auto s = Current();
  const int64_t now = HealthNow();
  // Partitions whose owners all left are still partitions: their data is missing, not empty.
  std::set<int32_t> partitions(s->desc.kafka_partitions.begin(), s->desc.kafka_partitions.end());
  // Owners of each partition: ACTIVE ones, then LEAVING ones; unhealthy ones left out.
  std::map<int32_t, std::vector<const InstanceDesc*>> active, leaving;
  for (const auto& [id, inst] : s->desc.instances) {
    const bool fresh = inst.HeartbeatFresh(now, options_.heartbeat_timeout_ns);
    for (int32_t p : inst.partitions) {
      partitions.insert(p);
      if (!fresh) continue;
      if (inst.state == InstanceState::kActive) active[p].push_back(&inst);
      if (inst.state == InstanceState::kLeaving) leaving[p].push_back(&inst);
    }
  }
  const uint64_t turn = partition_read_turn_.fetch_add(1, std::memory_order_relaxed);
  PartitionOwners out;
  std::map<std::string, size_t> index;  // instance id -> position in out.instances
  auto add = [&](const InstanceDesc* inst) {
    auto [it, added] = index.emplace(inst->id, out.instances.size());
    if (added) out.instances.push_back(*inst);
    return it->second;
  };
  for (int32_t p : partitions) {
    std::vector<size_t>& owners = out.by_partition.emplace_back();
    for (const auto* group : {&active[p], &leaving[p]}) {
      for (size_t k = 0; k < group->size(); ++k) {
        owners.push_back(add((*group)[(turn + k) % group->size()]));
      }
    }
    if (owners.empty()) {
      return Status::Unavailable(
          fmt::format("no healthy ingester owns Kafka partition {}: its recent data cannot be "
                      "read until an owner is ACTIVE",
                      p));
    }
  }
  return out;
}

Result<ReplicationSet> Ring::GetAllHealthy(Op op) const {
  auto s = Current();
  const int64_t now = HealthNow();
  ReplicationSet set;
  std::set<std::string> unhealthy_zones;
  for (const auto& [id, inst] : s->desc.instances) {
    if (StateServes(inst.state, op) && inst.HeartbeatFresh(now, options_.heartbeat_timeout_ns)) {
      set.instances.push_back(inst);
    } else {
      unhealthy_zones.insert(inst.zone);
    }
  }
  if (options_.zone_awareness_enabled) {
    // Every key has a replica in RF distinct zones, so whole zones may be missing: up to RF/2 of
    // them (Loki's max unavailable zones), however many instances they hold.
    const int allowed = options_.replication_factor / 2;
    const int failed = static_cast<int>(unhealthy_zones.size());
    if (failed > allowed || set.instances.empty()) {
      return Status::Unavailable(fmt::format(
          "too many unhealthy zones in the ring: {} zones have unhealthy instances, {} allowed",
          failed, allowed));
    }
    // Further failures are tolerated only as long as they cannot span more zones than remain.
    set.max_errors = allowed - failed;
    set.quorum = static_cast<int>(set.instances.size()) - set.max_errors;
    return set;
  }
  const int total = static_cast<int>(s->desc.instances.size());
  int required = std::max(total, options_.replication_factor) - options_.replication_factor / 2;
  const int healthy = static_cast<int>(set.instances.size());
  if (healthy < required || healthy == 0) {
    return Status::Unavailable(
        fmt::format("too many unhealthy instances in the ring: {} of {} healthy, {} required",
                    healthy, total, required));
  }
  set.quorum = required;
  set.max_errors = healthy - required;
  return set;
}

int Ring::HealthyActiveCount() const {
  auto s = Current();
  const int64_t now = HealthNow();
  int n = 0;
  for (const auto& [id, inst] : s->desc.instances) {
    n += inst.state == InstanceState::kActive &&
         inst.HeartbeatFresh(now, options_.heartbeat_timeout_ns);
  }
  return n;
}

std::map<std::string, double> Ring::Ownership() const {
  auto s = Current();
  std::map<std::string, double> out;
  for (const auto& [id, inst] : s->desc.instances) out[id] = 0;
  const size_t n = s->tokens.size();
  if (n == 0) return out;
  // A token owns the range from the previous token (exclusive) up to itself; the first token
  // also owns the wrap-around range after the last.
  for (size_t i = 0; i < n; ++i) {
    uint32_t prev = s->tokens[(i + n - 1) % n].first;
    uint32_t range = s->tokens[i].first - prev;  // modulo 2^32
    if (n == 1) {
      out[s->tokens[i].second->id] = 1.0;
      return out;
    }
    out[s->tokens[i].second->id] += static_cast<double>(range) / 4294967296.0;
  }
  return out;
}

Status Ring::Forget(const std::string& id) {
  SLUICE_ASSIGN_OR_RETURN(
      Desc desc, UpdateDesc(kv_, options_.key, [&](Desc& d) {
        if (d.instances.erase(id) == 0) {
          return Status::NotFound(fmt::format("instance {} is not in the ring", id));
        }
        return Status::OK();
      }));
  int64_t revision = Current()->revision;
  Set(std::move(desc), revision);
  return Status::OK();
}

}  // namespace sluice::ring
