#include "ring/lifecycler.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace sluice::ring {

namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Lifecycler::Lifecycler(KvStore* kv, LifecyclerOptions options, const Clock* clock)
    : kv_(kv), options_(std::move(options)), clock_(clock) {
  MutexLock lock(&mu_);
  rng_state_ = options_.seed != 0 ? options_.seed : std::random_device{}();
  partitions_ = options_.partitions;
  std::sort(partitions_.begin(), partitions_.end());
  if (options_.registry != nullptr) {
    heartbeat_counter_ =
        options_.registry
            ->NewCounter("loki_member_consul_heartbeats_total",
                         "The total number of heartbeats sent to consul.", {"name"})
            ->WithLabels({options_.ring_name});
  }
}

Lifecycler::~Lifecycler() { Stop(); }

std::vector<uint32_t> Lifecycler::NewTokens(const std::vector<uint32_t>& taken) {
  std::vector<uint32_t> sorted_taken = taken;
  std::sort(sorted_taken.begin(), sorted_taken.end());
  std::vector<uint32_t> out;
  // Bounded: each draw collides with probability (taken + 128) / 2^32.
  for (int draws = 0; static_cast<int>(out.size()) < options_.num_tokens && draws < 1'000'000;
       ++draws) {
    auto t = static_cast<uint32_t>(SplitMix64(&rng_state_));
    if (std::binary_search(sorted_taken.begin(), sorted_taken.end(), t)) continue;
    if (std::find(out.begin(), out.end(), t) != out.end()) continue;
    out.push_back(t);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint32_t> Lifecycler::LoadTokensFile() const {
  if (options_.tokens_file_path.empty()) return {};
  std::ifstream in(options_.tokens_file_path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  std::vector<uint32_t> out;
  if (parser.parse(ss.str())["tokens"].get_array().get(arr) != simdjson::SUCCESS) {
    spdlog::warn("msg=\"ignoring unreadable tokens file\" path={}", options_.tokens_file_path);
    return {};
  }
  for (auto v : arr) {
    uint64_t t = 0;
    if (v.get_uint64().get(t) == simdjson::SUCCESS && t <= UINT32_MAX) {
      out.push_back(static_cast<uint32_t>(t));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status Lifecycler::StoreTokensFile(const std::vector<uint32_t>& tokens) const {
  if (options_.tokens_file_path.empty()) return Status::OK();
  std::string tmp = options_.tokens_file_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << fmt::format("{{\"tokens\":[{}]}}", fmt::join(tokens, ","));
    if (!out.flush()) return Status::IOError("cannot write tokens file " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.tokens_file_path, ec);
  if (ec) return Status::IOError("cannot write tokens file: " + ec.message());
  return Status::OK();
}

Status Lifecycler::Register() {
  std::vector<uint32_t> from_file = LoadTokensFile();
  const int64_t now = clock_->NowNanos();
  auto written = UpdateDesc(kv_, options_.key, [&](Desc& d) {
    MutexLock lock(&mu_);
    auto it = d.instances.find(options_.id);
    if (it != d.instances.end() && !it->second.tokens.empty()) {
      tokens_ = it->second.tokens;  // a restart: the same tokens as before
      registered_timestamp_ = it->second.registered_timestamp;
    } else if (tokens_.empty()) {
      tokens_ = from_file;
    }
    if (registered_timestamp_ == 0) registered_timestamp_ = now / 1'000'000'000;
    InstanceDesc& e = d.instances[options_.id];
    e.id = options_.id;
    e.addr = options_.addr;
    e.zone = options_.zone;
    e.state = InstanceState::kPending;
    e.tokens = tokens_;
    e.partitions = partitions_;
    d.NotePartitions(partitions_);
    e.timestamp = now / 1'000'000'000;
    e.registered_timestamp = registered_timestamp_;
    return Status::OK();
  });
  SLUICE_RETURN_IF_ERROR(written.status());
  MutexLock lock(&mu_);
  state_ = InstanceState::kPending;
  registered_at_ns_ = now;
  last_heartbeat_ns_ = now;
  spdlog::info("msg=\"registered in the ring\" ring={} id={} tokens={}", options_.ring_name,
               options_.id, tokens_.size());
  return Status::OK();
}

Status Lifecycler::WriteEntry() {
  const int64_t now = clock_->NowNanos();
  bool new_tokens = false;
  std::vector<uint32_t> tokens;
  auto written = UpdateDesc(kv_, options_.key, [&](Desc& d) {
    MutexLock lock(&mu_);
    if (tokens_.empty() && state_ != InstanceState::kPending) {
      std::vector<uint32_t> taken;
      for (const auto& [id, inst] : d.instances) {
        if (id != options_.id) taken.insert(taken.end(), inst.tokens.begin(), inst.tokens.end());
      }
      tokens_ = NewTokens(taken);
      new_tokens = true;
    }
    InstanceDesc& e = d.instances[options_.id];
    e.id = options_.id;
    e.addr = options_.addr;
    e.zone = options_.zone;
    e.state = state_;
    e.tokens = tokens_;
    e.partitions = partitions_;
    d.NotePartitions(partitions_);
    e.timestamp = now / 1'000'000'000;
    e.registered_timestamp = registered_timestamp_;
    tokens = tokens_;
    return Status::OK();
  });
  SLUICE_RETURN_IF_ERROR(written.status());
  {
    MutexLock lock(&mu_);
    last_heartbeat_ns_ = now;
  }
  heartbeats_.fetch_add(1);
  if (heartbeat_counter_ != nullptr) heartbeat_counter_->Inc();
  if (new_tokens || (!tokens.empty() && !options_.tokens_file_path.empty() &&
                     !std::filesystem::exists(options_.tokens_file_path))) {
    SLUICE_RETURN_IF_ERROR(StoreTokensFile(tokens));
  }
  return Status::OK();
}

Status Lifecycler::Tick() {
  const int64_t now = clock_->NowNanos();
  bool due;
  {
    MutexLock lock(&mu_);
    InstanceState before = state_;
    if (state_ == InstanceState::kPending && now - registered_at_ns_ >= options_.join_after_ns) {
      state_ = InstanceState::kJoining;
    } else if (state_ == InstanceState::kJoining && replay_done_) {
      state_ = InstanceState::kActive;
      active_since_ns_ = now;
    }
    due = state_ != before || now - last_heartbeat_ns_ >= options_.heartbeat_period_ns;
    if (state_ != before) {
      spdlog::info("msg=\"ring state change\" ring={} id={} from={} to={}", options_.ring_name,
                   options_.id, StateName(before), StateName(state_));
    }
  }
  return due ? WriteEntry() : Status::OK();
}

void Lifecycler::SetPartitions(std::vector<int32_t> partitions) {
  std::sort(partitions.begin(), partitions.end());
  MutexLock lock(&mu_);
  partitions_ = std::move(partitions);
}

void Lifecycler::MarkReplayDone() {
  MutexLock lock(&mu_);
  replay_done_ = true;
}

bool Lifecycler::Ready() const {
  MutexLock lock(&mu_);
  return state_ == InstanceState::kActive &&
         clock_->NowNanos() - active_since_ns_ >= options_.min_ready_duration_ns;
}

Status Lifecycler::Leave() {
  {
    MutexLock lock(&mu_);
    state_ = InstanceState::kLeaving;
  }
  spdlog::info("msg=\"ring state change\" ring={} id={} to=LEAVING", options_.ring_name,
               options_.id);
  return WriteEntry();
}

Status Lifecycler::Unregister() {
  Stop();
  auto written = UpdateDesc(kv_, options_.key, [&](Desc& d) {
    d.instances.erase(options_.id);
    return Status::OK();
  });
  {
    MutexLock lock(&mu_);
    state_ = InstanceState::kLeft;
  }
  spdlog::info("msg=\"left the ring\" ring={} id={}", options_.ring_name, options_.id);
  if (options_.final_sleep_ns > 0) {
    if (options_.sleep) {
      options_.sleep(options_.final_sleep_ns);
    } else {
      std::this_thread::sleep_for(std::chrono::nanoseconds(options_.final_sleep_ns));
    }
  }
  return written.status();
}

Status Lifecycler::Start() {
  SLUICE_RETURN_IF_ERROR(Register());
  stop_ = false;
  ticker_ = std::thread([this] {
    int failures = 0;
    while (!stop_) {
      Status st = Tick();
      if (!st.ok()) {
        // Logged once per outage, then every 100th failure: the KV store may be down for a while.
        if (failures++ % 100 == 0) {
          spdlog::warn("msg=\"ring heartbeat failed\" ring={} id={} err=\"{}\"", options_.ring_name,
                       options_.id, st.message());
        }
      } else {
        failures = 0;
      }
      for (int64_t slept = 0; slept < options_.tick_interval_ns && !stop_; slept += 20'000'000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  });
  return Status::OK();
}

void Lifecycler::Stop() {
  stop_ = true;
  if (ticker_.joinable() && ticker_.get_id() != std::this_thread::get_id()) ticker_.join();
}

InstanceState Lifecycler::state() const {
  MutexLock lock(&mu_);
  return state_;
}

std::vector<uint32_t> Lifecycler::tokens() const {
  MutexLock lock(&mu_);
  return tokens_;
}

}  // namespace sluice::ring
