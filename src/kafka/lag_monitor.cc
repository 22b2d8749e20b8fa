// The consumer-group lag monitor (lag_monitor.h has the contract).
//
// Threads: rounds run under round_mu, on the background thread or a Refresh() caller; round_mu
// also guards the librdkafka handles (created on first use) and the last known values behind the
// gauges. mu guards what Last() reads and the thread's lifecycle.
//
// Handles: one producer for the watermarks (ListOffsets needs no group, and a producer never
// joins one), and one consumer per group for its committed offsets (rd_kafka_committed: an
// OffsetFetch to the group's coordinator; the consumer never subscribes, so it never joins the
// group nor disturbs the ingester that owns it). Not the admin API's ListConsumerGroupOffsets:
// in librdkafka (2.0.2 here; the upstream fix is still open) a coordinator request whose
// connection drops aborts the process (assertion `eonce->refcnt > 0`,
// confluentinc/librdkafka#4605), which the outage test here triggered. The group consumers are kept
// while their group is returned, so a round costs one OffsetFetch per group and no reconnects.

#include "kafka/lag_monitor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::kafka {
namespace {

// The most a failing monitor logs: the first failed round, then one line per this period.
constexpr auto kLogEvery = std::chrono::seconds(60);

// librdkafka's own lines go to debug: while Kafka is down they repeat for every connection
// attempt, and the monitor's rate-limited warning already says what failed.
void LogCallback(const rd_kafka_t* /*rk*/, int /*level*/, const char* fac, const char* buf) {
  spdlog::debug("kafka lag monitor: librdkafka {}: {}", fac, buf);
}

// Closes a group's consumer. It never subscribed: there is no group membership to leave.
void CloseGroupClient(KafkaHandle client) { rd_kafka_consumer_close(client.get()); }

}  // namespace

struct LagMonitor::Impl {
  Impl(LagMonitorOptions o, std::function<std::vector<ConsumerGroupPartitions>()> g)
      : options(std::move(o)), groups(std::move(g)) {
    if (options.registry == nullptr) return;
    lag_gauge = options.registry->NewGauge(
        "sluice_kafka_consumer_group_lag_records",
        "Records of the partition that its consumer group has not committed yet, read from Kafka "
        "(everything retained when the group never committed).",
        {"group", "partition"});
    committed_gauge = options.registry->NewGauge(
        "sluice_kafka_consumer_group_committed_offset",
        "The offset the consumer group committed for the partition (-1: none).",
        {"group", "partition"});
    high_watermark_gauge = options.registry->NewGauge(
        "sluice_kafka_partition_high_watermark",
        "The partition's high watermark (the offset of its next record).", {"partition"});
    errors =
        options.registry
            ->NewCounter("sluice_kafka_lag_monitor_errors_total",
                         "Failures of the lag monitor's requests to Kafka (an error, no answer in "
                         "time, or a round out of time before asking).")
            ->WithLabels({});
  }

  ~Impl() {
    for (auto& [group, client] : group_clients) CloseGroupClient(std::move(client));
  }

  int TimeoutMs() const {
    // socket.timeout.ms accepts 10 ms .. 300 s.
    return static_cast<int>(
        std::clamp<int64_t>(options.request_timeout_ns / 1'000'000, 10, 300'000));
  }
  Status EnsureHandle() REQUIRES(round_mu);
  Result<rd_kafka_t*> GroupClient(const std::string& group) REQUIRES(round_mu);
  Status Round() REQUIRES(round_mu);
  void Publish(const std::map<std::string, std::set<int32_t>>& assigned,
               const std::set<int32_t>& partitions, const std::vector<GroupLag>& fresh,
               const std::map<int32_t, int64_t>& high_watermarks) REQUIRES(round_mu);
  void NoteRound(size_t requests, const std::vector<std::string>& errors) REQUIRES(round_mu);
  void Run() EXCLUDES(mu, round_mu);

  const LagMonitorOptions options;
  const std::function<std::vector<ConsumerGroupPartitions>()> groups;

  metrics::Family<metrics::Gauge>* lag_gauge = nullptr;
  metrics::Family<metrics::Gauge>* committed_gauge = nullptr;
  metrics::Family<metrics::Gauge>* high_watermark_gauge = nullptr;
  metrics::Counter* errors = nullptr;

  Mutex round_mu;
  KafkaHandle handle GUARDED_BY(round_mu);  // the watermarks'
  std::map<std::string, KafkaHandle> group_clients GUARDED_BY(round_mu);
  // The values behind the exported series, kept across rounds so that a series whose request
  // failed keeps its last value, and so that the series of what is no longer assigned can be
  // found and removed.
  std::map<std::pair<std::string, int32_t>, GroupLag> known GUARDED_BY(round_mu);
  std::map<int32_t, int64_t> known_high_watermarks GUARDED_BY(round_mu);
  int failed_rounds GUARDED_BY(round_mu) = 0;  // in a row
  std::chrono::steady_clock::time_point last_log GUARDED_BY(round_mu);

  mutable Mutex mu;
  CondVar cv;
  std::vector<GroupLag> last GUARDED_BY(mu);
  bool stop GUARDED_BY(mu) = false;
  std::thread thread GUARDED_BY(mu);
};

Status LagMonitor::Impl::EnsureHandle() {
  if (handle != nullptr) return Status::OK();
  if (options.topic.empty()) return Status::InvalidArgument("kafka lag monitor: topic is empty");
  // A request that outlives its round (its answer is no longer awaited) should not linger for
  // socket.timeout.ms's default 60 s: this handle's requests get the round's timeout.
  SLUICE_ASSIGN_OR_RETURN(
      ConfPtr conf, NewConf(options.client, {{"socket.timeout.ms", std::to_string(TimeoutMs())}}));
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  SLUICE_ASSIGN_OR_RETURN(handle, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  return Status::OK();
}

Result<rd_kafka_t*> LagMonitor::Impl::GroupClient(const std::string& group) {
  if (auto it = group_clients.find(group); it != group_clients.end()) return it->second.get();
  SLUICE_ASSIGN_OR_RETURN(
      ConfPtr conf, NewConf(options.client, {
                                                {"group.id", group},
                                                {"enable.auto.commit", "false"},
                                                {"socket.timeout.ms", std::to_string(TimeoutMs())},
                                                // It never fetches; a long fetch wait next to a
                                                // short socket timeout only earns a warning.
                                                {"fetch.wait.max.ms", "10"},
                                            }));
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  SLUICE_ASSIGN_OR_RETURN(KafkaHandle client, NewClient(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_t* raw = client.get();
  group_clients.emplace(group, std::move(client));
  return raw;
}

Status LagMonitor::Impl::Round() {
  if (Status s = EnsureHandle(); !s.ok()) {
    NoteRound(1, {s.message()});
    return s;
  }
  rd_kafka_t* rk = handle.get();

  std::map<std::string, std::set<int32_t>> assigned;
  std::set<int32_t> partitions;
  if (groups) {
    for (const ConsumerGroupPartitions& g : groups()) {
      if (g.group.empty()) continue;
      for (int32_t p : g.partitions) {
        if (p < 0) continue;
        assigned[g.group].insert(p);
        partitions.insert(p);
      }
    }
  }
  for (auto it = group_clients.begin(); it != group_clients.end();) {
    if (assigned.count(it->first) == 0) {
      CloseGroupClient(std::move(it->second));
      it = group_clients.erase(it);
    } else {
      ++it;
    }
  }
  // Errors and logs queue up on a handle's main queue until served (logs then reach LogCallback).
  rd_kafka_poll(rk, 0);
  for (auto& [group, client] : group_clients) rd_kafka_poll(client.get(), 0);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(TimeoutMs());
  std::vector<std::string> failures;
  size_t requests = 0;

  // Committed offsets first, then the ends: read in this order, a lag is never below the truth.
  // One group at a time, each within what is left of the round; the groups the round has no time
  // left for wait for the next one.
  std::map<std::string, std::map<int32_t, int64_t>> committed;
  size_t unasked = 0;
  for (const auto& [group, parts] : assigned) {
    if (RemainingMs(deadline) == 0) {
      ++unasked;
      continue;
    }
    ++requests;
    const std::string what = "committed offsets of group " + group + ": ";
    Result<rd_kafka_t*> client = GroupClient(group);
    if (!client.ok()) {
      failures.push_back(what + client.status().message());
      continue;
    }
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
    for (int32_t p : parts) rd_kafka_topic_partition_list_add(list.get(), options.topic.c_str(), p);
    rd_kafka_resp_err_t err =
        rd_kafka_committed(*client, list.get(), std::max(1, RemainingMs(deadline)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failures.push_back(what + rd_kafka_err2str(err));
      continue;
    }
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failures.push_back(what + "partition " + std::to_string(tp.partition) + ": " +
                           rd_kafka_err2str(tp.err));
        continue;
      }
      // Nothing committed reads as RD_KAFKA_OFFSET_INVALID.
      committed[group][tp.partition] = tp.offset < 0 ? -1 : tp.offset;
    }
  }
  if (unasked > 0) {
    failures.push_back(std::to_string(unasked) + " groups not asked: the round's time ran out");
  }

  // Every partition's first and next offsets: ListOffsets "earliest" and "latest", one request
  // per leader broker. (Not rd_kafka_query_watermark_offsets: in librdkafka 2.0.2 it does not
  // return while the broker is down, whatever its timeout.)
  std::map<int32_t, std::pair<int64_t, int64_t>> watermarks;  // partition -> (low, high)
  if (!partitions.empty()) {
    std::map<int32_t, int64_t> found[2];
    const int64_t which[2] = {RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_END};
    for (int i = 0; i < 2; ++i) {
      ++requests;
      const std::string what = i == 0 ? "earliest offsets: " : "latest offsets: ";
      PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
      for (int32_t p : partitions) {
        rd_kafka_topic_partition_list_add(list.get(), options.topic.c_str(), p)->offset = which[i];
      }
      rd_kafka_resp_err_t err =
          rd_kafka_offsets_for_times(rk, list.get(), std::max(1, RemainingMs(deadline)));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failures.push_back(what + rd_kafka_err2str(err));
        continue;
      }
      for (int j = 0; j < list->cnt; ++j) {
        const rd_kafka_topic_partition_t& tp = list->elems[j];
        if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR || tp.offset < 0) {
          failures.push_back(what + "partition " + std::to_string(tp.partition) + ": " +
                             rd_kafka_err2str(tp.err));
          continue;
        }
        found[i][tp.partition] = tp.offset;
      }
    }
    for (const auto& [p, high] : found[1]) {
      auto low = found[0].find(p);
      if (low != found[0].end()) watermarks[p] = {low->second, high};
    }
  }

  std::vector<GroupLag> fresh;
  for (const auto& [group, parts] : assigned) {
    auto by_group = committed.find(group);
    if (by_group == committed.end()) continue;
    for (int32_t p : parts) {
      auto c = by_group->second.find(p);
      auto w = watermarks.find(p);
      if (c == by_group->second.end() || w == watermarks.end()) continue;
      const auto [low, high] = w->second;
      // Never committed: everything Kafka still has is unread.
      const int64_t from = c->second < 0 ? low : c->second;
      fresh.push_back({group, p, c->second, high, std::max<int64_t>(0, high - from)});
    }
  }
  std::map<int32_t, int64_t> high_watermarks;
  for (const auto& [p, w] : watermarks) high_watermarks[p] = w.second;
  Publish(assigned, partitions, fresh, high_watermarks);
  {
    MutexLock lock(&mu);
    last = std::move(fresh);
  }

  NoteRound(requests, failures);
  if (failures.empty()) return Status::OK();
  return Status::Unavailable("kafka lag monitor: " + std::to_string(failures.size()) +
                             " failures; first: " + failures.front());
}

void LagMonitor::Impl::Publish(const std::map<std::string, std::set<int32_t>>& assigned,
                               const std::set<int32_t>& partitions,
                               const std::vector<GroupLag>& fresh,
                               const std::map<int32_t, int64_t>& high_watermarks) {
  for (const GroupLag& l : fresh) known[{l.group, l.partition}] = l;
  for (const auto& [p, high] : high_watermarks) known_high_watermarks[p] = high;

  // The metrics API removes series by one label value: a group that lost a partition has all its
  // series removed and those it keeps set again below (a scrape in between misses them once).
  std::set<std::string> removed_groups;
  for (auto it = known.begin(); it != known.end();) {
    auto g = assigned.find(it->first.first);
    if (g == assigned.end() || g->second.count(it->first.second) == 0) {
      removed_groups.insert(it->first.first);
      it = known.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<int32_t> removed_partitions;
  for (auto it = known_high_watermarks.begin(); it != known_high_watermarks.end();) {
    if (partitions.count(it->first) == 0) {
      removed_partitions.push_back(it->first);
      it = known_high_watermarks.erase(it);
    } else {
      ++it;
    }
  }
  if (lag_gauge == nullptr) return;

  for (const std::string& g : removed_groups) {
    lag_gauge->RemoveMatching(0, g);
    committed_gauge->RemoveMatching(0, g);
  }
  for (int32_t p : removed_partitions) high_watermark_gauge->RemoveMatching(0, std::to_string(p));
  for (const auto& [key, l] : known) {
    const std::vector<std::string> labels = {l.group, std::to_string(l.partition)};
    lag_gauge->WithLabels(labels)->Set(static_cast<double>(l.lag_records));
    committed_gauge->WithLabels(labels)->Set(static_cast<double>(l.committed));
  }
  for (const auto& [p, high] : known_high_watermarks) {
    high_watermark_gauge->WithLabels({std::to_string(p)})->Set(static_cast<double>(high));
  }
}

void LagMonitor::Impl::NoteRound(size_t requests, const std::vector<std::string>& failures) {
  if (failures.empty()) {
    if (failed_rounds > 0) {
      spdlog::info("kafka lag monitor: Kafka answers again after {} failed rounds", failed_rounds);
    }
    failed_rounds = 0;
    return;
  }
  if (errors != nullptr) errors->Inc(static_cast<double>(failures.size()));
  ++failed_rounds;
  const auto now = std::chrono::steady_clock::now();
  if (failed_rounds == 1 || now - last_log >= kLogEvery) {
    last_log = now;
    spdlog::warn(
        "kafka lag monitor: {} failures in {} requests ({} rounds in a row failed); first: {}",
        failures.size(), requests, failed_rounds, failures.front());
  }
}

void LagMonitor::Impl::Run() {
  const auto interval = std::chrono::nanoseconds(std::max<int64_t>(1'000'000, options.interval_ns));
  MutexLock lock(&mu);
  while (!stop) {
    lock.Unlock();
    {
      MutexLock round(&round_mu);
      (void)Round();  // counted and logged by Round; the next round tries again
    }
    lock.Lock();
    cv.WaitFor(&mu, interval, [this]() REQUIRES(mu) { return stop; });
  }
}

LagMonitor::LagMonitor(LagMonitorOptions options,
                       std::function<std::vector<ConsumerGroupPartitions>()> groups)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(groups))) {}

LagMonitor::~LagMonitor() { Stop(); }

Status LagMonitor::Start() {
  {
    MutexLock round(&impl_->round_mu);
    SLUICE_RETURN_IF_ERROR(impl_->EnsureHandle());
  }
  MutexLock lock(&impl_->mu);
  if (impl_->thread.joinable()) return Status::OK();
  impl_->stop = false;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
  return Status::OK();
}

void LagMonitor::Stop() {
  std::thread thread;
  {
    MutexLock lock(&impl_->mu);
    impl_->stop = true;
    thread = std::move(impl_->thread);
  }
  impl_->cv.SignalAll();
  if (thread.joinable()) thread.join();
}

Status LagMonitor::Refresh() {
  MutexLock round(&impl_->round_mu);
  return impl_->Round();
}

std::vector<GroupLag> LagMonitor::Last() const {
  MutexLock lock(&impl_->mu);
  return impl_->last;
}

}  // namespace sluice::kafka
