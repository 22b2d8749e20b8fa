// The partition reader (reader.h has the contract: the commit rule, where partitions start).
//
// Threads: one reading thread per partition, which owns the partition's queue and label cache and
// writes its offsets (under Partition::mu); one service thread, which serves librdkafka's events,
// refreshes the lag gauges and commits every commit_interval. Commits (service thread, Stop,
// Handover) take commit_mu, one at a time. Durable offsets live apart (DurableOffsets), raised by
// the reading threads (durable_on_push) or by BeginCheckpoint's callbacks.

#include "kafka/reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "kafka/record.h"
#include "model/labels.h"

namespace sluice::kafka {
namespace {

constexpr int64_t kMaxBackoffNs = 5 * kNanosPerSecond;
// How long a reading thread waits for records before it looks at the stop flag again, and how
// often the service thread serves librdkafka's events and refreshes the lag gauges.
constexpr int kPollMs = 100;
// A commit that Kafka does not answer within this counts as failed (and is retried at the next
// interval); it also bounds Stop() and Handover() when Kafka is down.
constexpr int kCommitTimeoutMs = 10'000;
// Distinct label texts a reading thread keeps parsed; past this the cache starts over.
constexpr size_t kLabelCacheEntries = 16384;

bool Retryable(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded ||
         code == StatusCode::kIOError || code == StatusCode::kInternal;
}

// The `reason` label of sluice_kafka_reader_records_failed_total for a refused push.
std::string ReasonOf(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return "invalid";
    case StatusCode::kRateLimited:
      return "rate_limited";
    case StatusCode::kTooLarge:
      return "too_large";
    default:
      return "refused";
  }
}

void LogCallback(const rd_kafka_t* /*rk*/, int level, const char* fac, const char* buf) {
  LogLibrdkafka("kafka reader", level, fac, buf);
}

void ErrorCallback(rd_kafka_t* /*rk*/, int err, const char* reason, void* /*opaque*/) {
  spdlog::warn("kafka reader: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
               reason);
}

// A consumer handle from the shared client settings with the reader's properties.
Result<KafkaHandle> NewConsumer(const ClientOptions& client, const std::string& group) {
  // Offsets are committed by the reader, explicitly, and only durable ones. An EOF says a
  // partition caught up. An idle fetch returns after fetch.wait.max.ms at most: a broker that does
  // not answer a waiting fetch as soon as records arrive (librdkafka's mock cluster) delays reads
  // by as much.
  const std::map<std::string, std::string> settings = {
      {"group.id", group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "true"},
      {"fetch.wait.max.ms", "100"},
  };
  SLUICE_ASSIGN_OR_RETURN(ConfPtr conf, NewConf(client, settings));
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  rd_kafka_conf_set_error_cb(conf.get(), ErrorCallback);
  SLUICE_ASSIGN_OR_RETURN(KafkaHandle handle, NewClient(RD_KAFKA_CONSUMER, std::move(conf)));
  // The main queue (errors, logs) is served through the consumer queue by ServeEvents; the
  // partitions' records never reach it (their queues are taken out of the forwarding).
  rd_kafka_poll_set_consumer(handle.get());
  return handle;
}

// Commits `offsets` and waits at most timeout_ms for Kafka's answer. On OK, the per-partition
// results are in `*results` (each element's err).
Status CommitOffsets(rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* offsets, int timeout_ms,
                     PartitionListPtr* results) {
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk, offsets, queue.get(), nullptr, nullptr);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable(std::string("kafka commit: ") + rd_kafka_err2str(err));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    EventPtr ev(rd_kafka_queue_poll(queue.get(), RemainingMs(deadline)));
    if (ev == nullptr) return Status::Unavailable("kafka commit: no answer in time");
    if (rd_kafka_event_type(ev.get()) != RD_KAFKA_EVENT_OFFSET_COMMIT) continue;
    err = rd_kafka_event_error(ev.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(std::string("kafka commit: ") + rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_t* got = rd_kafka_event_topic_partition_list(ev.get());
    results->reset(got != nullptr ? rd_kafka_topic_partition_list_copy(got)
                                  : rd_kafka_topic_partition_list_copy(offsets));
    return Status::OK();
  }
}

// Label texts parsed once per reading thread (the same streams come record after record).
class LabelCache {
 public:
  Result<std::shared_ptr<const write::StreamLabels>> Get(std::string_view text) {
    if (auto it = map_.find(text); it != map_.end()) return it->second;
    SLUICE_ASSIGN_OR_RETURN(model::LabelSet labels, model::ParseLabels(text));
    if (labels.empty()) return Status::InvalidArgument("empty label set");
    if (map_.size() >= kLabelCacheEntries) map_.clear();
    auto made = write::StreamLabels::Make(std::move(labels));
    map_.emplace(std::string(text), made);
    return made;
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::shared_ptr<const write::StreamLabels>, Hash, std::equal_to<>>
      map_;
};

// The durable offset of each partition (by index): shared with BeginCheckpoint's callbacks, which
// may run after the reader is gone.
struct DurableOffsets {
  Mutex mu;
  std::vector<int64_t> offsets GUARDED_BY(mu);

  void Raise(size_t index, int64_t offset) EXCLUDES(mu) {
    MutexLock lock(&mu);
    offsets[index] = std::max(offsets[index], offset);
  }
  int64_t Get(size_t index) EXCLUDES(mu) {
    MutexLock lock(&mu);
    return offsets[index];
  }
};

}  // namespace

std::string ConsumerGroupFor(const std::string& pattern, int32_t partition) {
  static constexpr std::string_view kPlaceholder = "<partition>";
  std::string out = pattern;
  const std::string id = std::to_string(partition);
  for (size_t at = out.find(kPlaceholder); at != std::string::npos;
       at = out.find(kPlaceholder, at + id.size())) {
    out.replace(at, kPlaceholder.size(), id);
  }
  return out;
}

struct PartitionReader::Impl {
  struct Partition;

  // One consumer handle: one consumer group (every partition's, or one partition's when the group
  // names "<partition>").
  struct Client {
    std::string group;
    KafkaHandle handle;
    std::vector<Partition*> partitions;
  };

  struct Partition {
    int32_t id = 0;
    size_t index = 0;  // in partitions / DurableOffsets
    std::string label;
    Client* client = nullptr;
    QueuePtr queue;
    int64_t start_high_watermark = -1;
    std::thread thread;
    LabelCache labels;  // the reading thread's

    metrics::Counter* records_total = nullptr;
    metrics::Counter* commit_requests = nullptr;
    metrics::Counter* commit_failures = nullptr;
    metrics::Histogram* commit_duration = nullptr;
    metrics::Gauge* last_committed = nullptr;
    metrics::Gauge* lag_records = nullptr;
    metrics::Gauge* lag_seconds = nullptr;

    mutable Mutex mu;
    int64_t next_offset GUARDED_BY(mu) = -1;
    // What the group holds as far as this reader knows: the start offset, then each commit. A
    // durable offset past it is committed.
    int64_t commit_base GUARDED_BY(mu) = -1;
    int64_t committed GUARDED_BY(mu) = -1;      // last offset this reader committed or found
    int64_t end_seen GUARDED_BY(mu) = -1;       // an EOF's offset: the end when it was reached
    int64_t last_ts_ms GUARDED_BY(mu) = -1;     // Kafka timestamp of the last applied record
    int64_t pending_ts_ms GUARDED_BY(mu) = -1;  // first record of the batch being applied
    // Turns true once (see caught_up()); read without the lock by MarkCaughtUp of other
    // partitions, so that no thread holds two partitions' locks.
    std::atomic<bool> caught_up{false};
  };

  struct Decoded {
    int64_t offset = 0;
    StreamRecord record;
    std::shared_ptr<const write::StreamLabels> labels;
  };

  Impl(ReaderOptions opts, write::Pusher* p, const Clock* c)
      : options(std::move(opts)), pusher(p), clock(c) {
    if (options.max_batch_records < 1) options.max_batch_records = 1;
    if (options.retry_backoff_ns < 1) options.retry_backoff_ns = 1;
    metrics::Registry* r = options.registry;
    if (r == nullptr) return;
    const std::string kPrefix = "loki_kafka_client_partition_reader_";
    commit_requests = r->NewCounter(kPrefix + "offset_commit_requests_total",
                                    "Offset commit requests sent to Kafka.", {"partition"});
    commit_failures = r->NewCounter(kPrefix + "offset_commit_failures_total",
                                    "Offset commit requests that failed.", {"partition"});
    commit_duration = r->NewHistogram(kPrefix + "offset_commit_request_duration_seconds",
                                      "Time an offset commit request took.", {"partition"},
                                      metrics::DefaultBuckets());
    last_committed =
        r->NewGauge(kPrefix + "last_committed_offset",
                    "The last offset committed to Kafka (-1: none yet).", {"partition"});
    consumption_lag =
        r->NewHistogram(kPrefix + "consumption_lag_seconds",
                        "Age of a record (now - its Kafka timestamp) when the ingester applied it.",
                        {}, metrics::ExponentialBuckets(0.125, 2, 18));
    records = r->NewCounter("sluice_kafka_reader_records_total",
                            "Records read from Kafka (applied or failed).", {"partition"});
    records_failed = r->NewCounter(
        "sluice_kafka_reader_records_failed_total",
        "Records not applied: refused by the ingester (invalid, rate_limited, too_large, "
        "refused), corrupt, or lost (deleted by Kafka before they "
        "were read).",
        {"partition", "reason"});
    lag_records = r->NewGauge("sluice_kafka_reader_lag_records",
                              "Records of the partition not applied yet.", {"partition"});
    lag_seconds =
        r->NewGauge("sluice_kafka_reader_lag_seconds",
                    "Age of the last applied record while the partition lags.", {"partition"});
  }

  ~Impl() { Destroy(); }

  Status Start();
  Status Setup(std::chrono::steady_clock::time_point deadline);
  void Stop();
  void Destroy();

  void Read(Partition* p);
  // Applies one batch; false when Stop() interrupted it (nothing after its first record counts
  // as applied then).
  bool Apply(Partition* p, std::vector<MessagePtr>& batch);
  bool WaitBackoff(int64_t ns) EXCLUDES(mu);
  // The partitions are set up (and fixed from then on) once Start succeeded.
  bool Started() EXCLUDES(mu) {
    MutexLock lock(&mu);
    return state != State::kNew;
  }
  bool Stopping() EXCLUDES(mu) {
    MutexLock lock(&mu);
    return stop;
  }
  void CountFailed(Partition* p, const std::string& reason, size_t n);
  void MarkCaughtUp(Partition* p, int64_t offset);

  void Service() EXCLUDES(mu);
  void ServeEvents();
  // Commits each partition's durable offset that moved past what the group holds.
  void CommitDurable() EXCLUDES(commit_mu);
  PartitionStatus StatusOf(const Partition& p) const;
  void UpdateLagMetrics();

  ReaderOptions options;
  write::Pusher* const pusher;
  const Clock* const clock;

  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::unique_ptr<Partition>> partitions;
  std::shared_ptr<DurableOffsets> durable = std::make_shared<DurableOffsets>();
  std::atomic<bool> all_caught_up{false};

  enum class State : uint8_t { kNew, kRunning, kStopped };
  Mutex mu;
  CondVar cv;
  State state GUARDED_BY(mu) = State::kNew;
  bool stop GUARDED_BY(mu) = false;
  std::thread service;

  Mutex commit_mu;  // one commit at a time (the committer, Stop, Handover)

  metrics::Family<metrics::Counter>* commit_requests = nullptr;
  metrics::Family<metrics::Counter>* commit_failures = nullptr;
  metrics::Family<metrics::Histogram>* commit_duration = nullptr;
  metrics::Family<metrics::Gauge>* last_committed = nullptr;
  metrics::Family<metrics::Histogram>* consumption_lag = nullptr;
  metrics::Histogram* consumption_lag_all = nullptr;
  metrics::Family<metrics::Counter>* records = nullptr;
  metrics::Family<metrics::Counter>* records_failed = nullptr;
  metrics::Family<metrics::Gauge>* lag_records = nullptr;
  metrics::Family<metrics::Gauge>* lag_seconds = nullptr;
};

Status PartitionReader::Impl::Start() {
  {
    MutexLock lock(&mu);
    if (state != State::kNew) return Status::InvalidArgument("kafka reader: started twice");
  }
  if (options.topic.empty()) return Status::InvalidArgument("kafka reader: no topic");
  if (options.consumer_group.empty()) options.consumer_group = options.client.client_id;
  if (options.consumer_group.empty()) {
    return Status::InvalidArgument("kafka reader: no consumer group (nor client id)");
  }
  const int64_t dial_ms = options.client.dial_timeout_ns / kNanosPerMilli;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(std::max<int64_t>(2000, 2 * dial_ms));
  Status s = Setup(deadline);
  if (!s.ok()) {
    Destroy();  // Start may be retried
    all_caught_up = false;
    return s;
  }
  for (auto& p : partitions) {
    Partition* raw = p.get();
    p->thread = std::thread([this, raw] { Read(raw); });
  }
  service = std::thread([this] { Service(); });
  MutexLock lock(&mu);
  state = State::kRunning;
  return Status::OK();
}

Status PartitionReader::Impl::Setup(std::chrono::steady_clock::time_point deadline) {
  const bool per_partition_group = options.consumer_group.find("<partition>") != std::string::npos;
  std::vector<int32_t> ids = options.partitions;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  {
    MutexLock lock(&durable->mu);
    durable->offsets.assign(ids.size(), -1);
  }
  for (int32_t id : ids) {
    auto p = std::make_unique<Partition>();
    p->id = id;
    p->index = partitions.size();
    p->label = std::to_string(id);
    if (clients.empty() || per_partition_group) {
      auto c = std::make_unique<Client>();
      c->group = ConsumerGroupFor(options.consumer_group, id);
      SLUICE_ASSIGN_OR_RETURN(c->handle, NewConsumer(options.client, c->group));
      clients.push_back(std::move(c));
    }
    p->client = clients.back().get();
    p->client->partitions.push_back(p.get());
    // Records of this partition go to its own queue, read by its own thread, instead of the
    // consumer queue.
    p->queue.reset(
        rd_kafka_queue_get_partition(p->client->handle.get(), options.topic.c_str(), id));
    if (p->queue == nullptr) {
      return Status::InvalidArgument("kafka reader: no queue for partition " + p->label);
    }
    rd_kafka_queue_forward(p->queue.get(), nullptr);
    if (records != nullptr) {
      p->records_total = records->WithLabels({p->label});
      p->commit_requests = commit_requests->WithLabels({p->label});
      p->commit_failures = commit_failures->WithLabels({p->label});
      p->commit_duration = commit_duration->WithLabels({p->label});
      p->last_committed = last_committed->WithLabels({p->label});
      p->last_committed->Set(-1);
      p->lag_records = lag_records->WithLabels({p->label});
      p->lag_seconds = lag_seconds->WithLabels({p->label});
    }
    partitions.push_back(std::move(p));
  }
  if (consumption_lag != nullptr) consumption_lag_all = consumption_lag->WithLabels({});

  // Where each partition starts: the group's committed offset ...
  std::vector<int64_t> start(partitions.size(), RD_KAFKA_OFFSET_INVALID);
  std::vector<int64_t> group_committed(partitions.size(), -1);
  for (auto& c : clients) {
    PartitionListPtr list(
        rd_kafka_topic_partition_list_new(static_cast<int>(c->partitions.size())));
    for (Partition* p : c->partitions) {
      rd_kafka_topic_partition_list_add(list.get(), options.topic.c_str(), p->id);
    }
    rd_kafka_resp_err_t err =
        rd_kafka_committed(c->handle.get(), list.get(), RemainingMs(deadline));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable("kafka reader: committed offsets of group " + c->group + ": " +
                                 rd_kafka_err2str(err));
    }
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Status::Unavailable("kafka reader: committed offset of partition " +
                                   std::to_string(tp.partition) + ": " + rd_kafka_err2str(tp.err));
      }
      for (Partition* p : c->partitions) {
        if (p->id == tp.partition && tp.offset >= 0) {
          start[p->index] = tp.offset;
          group_committed[p->index] = tp.offset;
        }
      }
    }
  }
  // ... else the handover offset the previous owner left ...
  PartitionListPtr missing(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (auto& p : partitions) {
    if (start[p->index] < 0) {
      rd_kafka_topic_partition_list_add(missing.get(), options.topic.c_str(), p->id);
    }
  }
  if (missing->cnt > 0) {
    SLUICE_ASSIGN_OR_RETURN(KafkaHandle handover,
                            NewConsumer(options.client, std::string(kHandoverGroup)));
    rd_kafka_resp_err_t err =
        rd_kafka_committed(handover.get(), missing.get(), RemainingMs(deadline));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(std::string("kafka reader: handover offsets: ") +
                                 rd_kafka_err2str(err));
    }
    for (int i = 0; i < missing->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = missing->elems[i];
      if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR || tp.offset < 0) continue;
      for (auto& p : partitions) {
        if (p->id == tp.partition) start[p->index] = tp.offset;
      }
    }
  }
  // ... else the earliest record Kafka still has. The partition's ends also tell when the
  // reader caught up with the backlog it started with.
  for (auto& p : partitions) {
    int64_t low = -1;
    int64_t high = -1;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        p->client->handle.get(), options.topic.c_str(), p->id, &low, &high, RemainingMs(deadline));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable("kafka reader: offsets of partition " + p->label + ": " +
                                 rd_kafka_err2str(err));
    }
    p->start_high_watermark = high;
    int64_t next = start[p->index] >= 0 ? start[p->index] : low;
    {
      MutexLock lock(&p->mu);
      p->next_offset = next;
      p->commit_base = next;
      p->committed = group_committed[p->index];
    }
    if (next >= high) MarkCaughtUp(p.get(), next);
    durable->Raise(p->index, next);
    spdlog::info("kafka reader: partition {} of {} starts at offset {} ({}; end {}, group {})",
                 p->id, options.topic, next,
                 group_committed[p->index] >= 0 ? "committed"
                 : start[p->index] >= 0         ? "handover"
                                                : "earliest",
                 high, p->client->group);
  }
  for (auto& c : clients) {
    PartitionListPtr list(
        rd_kafka_topic_partition_list_new(static_cast<int>(c->partitions.size())));
    for (Partition* p : c->partitions) {
      rd_kafka_topic_partition_list_add(list.get(), options.topic.c_str(), p->id)->offset =
          start[p->index] >= 0 ? start[p->index] : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(c->handle.get(), list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(std::string("kafka reader: assign: ") + rd_kafka_err2str(err));
    }
  }
  if (partitions.empty()) all_caught_up = true;
  return Status::OK();
}

void PartitionReader::Impl::MarkCaughtUp(Partition* p, int64_t offset) {
  if (p->caught_up.exchange(true)) return;
  spdlog::info("kafka reader: partition {} caught up at offset {}", p->id, offset);
  // The flags only ever turn true: whoever sets the last one sees all of them set.
  for (auto& other : partitions) {
    if (!other->caught_up.load()) return;
  }
  all_caught_up = true;
}

void PartitionReader::Impl::Read(Partition* p) {
  std::vector<rd_kafka_message_t*> raw(static_cast<size_t>(options.max_batch_records));
  std::vector<MessagePtr> batch;
  while (!Stopping()) {
    ssize_t n = rd_kafka_consume_batch_queue(p->queue.get(), kPollMs, raw.data(), raw.size());
    if (n < 0) {
      spdlog::warn("kafka reader: partition {}: {}", p->id,
                   rd_kafka_err2str(rd_kafka_last_error()));
      if (!WaitBackoff(kPollMs * kNanosPerMilli)) return;
      continue;
    }
    batch.clear();
    for (ssize_t i = 0; i < n; ++i) {
      MessagePtr m(raw[static_cast<size_t>(i)]);
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        bool at_end = false;
        {
          MutexLock lock(&p->mu);
          p->end_seen = std::max(p->end_seen, m->offset);
          at_end = p->next_offset >= m->offset;
        }
        if (at_end) MarkCaughtUp(p, m->offset);
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("kafka reader: partition {}: {}", p->id, rd_kafka_message_errstr(m.get()));
        continue;
      }
      batch.push_back(std::move(m));
    }
    if (batch.empty()) continue;
    if (!Apply(p, batch)) return;
  }
}

bool PartitionReader::Impl::Apply(Partition* p, std::vector<MessagePtr>& batch) {
  int64_t expected = 0;
  {
    MutexLock lock(&p->mu);
    p->pending_ts_ms = rd_kafka_message_timestamp(batch.front().get(), nullptr);
    expected = p->next_offset;
  }
  // Offsets of a partition are consecutive (the producer writes no transactions, the topic is not
  // compacted), so a gap is records Kafka deleted (retention) before they were read: librdkafka
  // then resets to the earliest offset it has. Lost for good; counted and logged, never silent.
  int64_t lost = 0;
  for (const MessagePtr& m : batch) {
    if (expected >= 0 && m->offset > expected) lost += m->offset - expected;
    expected = m->offset + 1;
  }
  if (lost > 0) {
    spdlog::error(
        "kafka reader: partition {}: {} records were deleted by Kafka before they were read (the "
        "topic's retention is shorter than this ingester's lag); they are lost",
        p->id, lost);
    CountFailed(p, "lost", static_cast<size_t>(lost));
  }
  // Decoded records own their bytes; the pushed entries borrow from them until Push returns.
  std::vector<Decoded> decoded;
  decoded.reserve(batch.size());
  for (const MessagePtr& m : batch) {
    Result<StreamRecord> rec = DecodeStreamRecord({static_cast<const char*>(m->payload), m->len});
    Status bad = rec.status();
    std::shared_ptr<const write::StreamLabels> labels;
    if (rec.ok()) {
      auto got = p->labels.Get(rec->labels);
      if (got.ok()) {
        labels = std::move(*got);
      } else {
        bad = Status::Corruption("labels " + rec->labels + ": " + got.status().ToString());
      }
    }
    if (!bad.ok()) {
      spdlog::warn("kafka reader: partition {} offset {}: {}; skipping the record", p->id,
                   m->offset, bad.ToString());
      CountFailed(p, "corrupt", 1);
      continue;
    }
    decoded.push_back({m->offset, std::move(*rec), std::move(labels)});
  }

  // By tenant, in order of first appearance; a stream's records keep their order.
  std::vector<std::pair<std::string_view, std::vector<const Decoded*>>> tenants;
  for (const Decoded& d : decoded) {
    auto it = std::find_if(tenants.begin(), tenants.end(),
                           [&](const auto& t) { return t.first == d.record.tenant; });
    if (it == tenants.end()) {
      tenants.emplace_back(d.record.tenant, std::vector<const Decoded*>{});
      it = tenants.end() - 1;
    }
    it->second.push_back(&d);
  }
  for (const auto& [tenant, recs] : tenants) {
    int64_t backoff = options.retry_backoff_ns;
    for (;;) {
      // Built again for each attempt: Push leaves only the entries it stored in the streams.
      std::vector<write::ValidatedStream> streams;
      std::unordered_map<const write::StreamLabels*, size_t> by_labels;
      for (const Decoded* d : recs) {
        if (d->record.entries.empty()) continue;
        auto [it, added] = by_labels.emplace(d->labels.get(), streams.size());
        if (added) streams.push_back({d->labels, {}});
        auto& entries = streams[it->second].entries;
        for (const model::Entry& e : d->record.entries) entries.push_back(model::EntryView::Of(e));
      }
      if (streams.empty()) break;
      Status s = pusher->Push(tenant, streams);
      if (s.ok()) break;
      if (Retryable(s.code())) {
        spdlog::warn(
            "kafka reader: partition {}: push of {} records of tenant {} refused ({}); "
            "retrying in {} ms",
            p->id, recs.size(), tenant, s.ToString(), backoff / kNanosPerMilli);
        if (!WaitBackoff(backoff)) return false;
        backoff = std::min(backoff * 2, kMaxBackoffNs);
        continue;
      }
      spdlog::debug("kafka reader: partition {}: tenant {}: {}", p->id, tenant, s.ToString());
      CountFailed(p, ReasonOf(s.code()), recs.size());
      break;
    }
  }

  const int64_t now_ns = clock->NowNanos();
  if (consumption_lag_all != nullptr) {
    for (const MessagePtr& m : batch) {
      int64_t ts = rd_kafka_message_timestamp(m.get(), nullptr);
      if (ts >= 0) {
        consumption_lag_all->Observe(
            static_cast<double>(std::max<int64_t>(0, now_ns - ts * kNanosPerMilli)) / 1e9);
      }
    }
  }
  if (p->records_total != nullptr) p->records_total->Inc(static_cast<double>(batch.size()));
  const int64_t next = batch.back()->offset + 1;
  const int64_t last_ts = rd_kafka_message_timestamp(batch.back().get(), nullptr);
  {
    MutexLock lock(&p->mu);
    p->next_offset = next;
    p->pending_ts_ms = -1;
    if (last_ts >= 0) p->last_ts_ms = last_ts;
  }
  if (options.durable_on_push) durable->Raise(p->index, next);
  if ((p->start_high_watermark >= 0 && next >= p->start_high_watermark) ||
      (last_ts >= 0 &&
       now_ns - last_ts * kNanosPerMilli <= options.max_consumer_lag_at_startup_ns)) {
    MarkCaughtUp(p, next);
  }
  return true;
}

void PartitionReader::Impl::CountFailed(Partition* p, const std::string& reason, size_t n) {
  if (records_failed == nullptr) return;
  records_failed->WithLabels({p->label, reason})->Inc(static_cast<double>(n));
}

bool PartitionReader::Impl::WaitBackoff(int64_t ns) {
  MutexLock lock(&mu);
  cv.WaitFor(&mu, std::chrono::nanoseconds(ns), [this]() REQUIRES(mu) { return stop; });
  return !stop;
}

void PartitionReader::Impl::Service() {
  const auto interval = std::chrono::nanoseconds(std::max<int64_t>(0, options.commit_interval_ns));
  auto next_commit = std::chrono::steady_clock::now() + interval;
  MutexLock lock(&mu);
  while (!stop) {
    cv.WaitFor(&mu, std::chrono::milliseconds(kPollMs));
    if (stop) break;
    lock.Unlock();
    ServeEvents();
    UpdateLagMetrics();
    if (std::chrono::steady_clock::now() >= next_commit) {
      CommitDurable();
      next_commit = std::chrono::steady_clock::now() + interval;
    }
    lock.Lock();
  }
}

void PartitionReader::Impl::ServeEvents() {
  for (auto& c : clients) {
    // Errors and logs; records never arrive here (see NewConsumer). Bounded per round.
    for (int i = 0; i < 100; ++i) {
      MessagePtr m(rd_kafka_consumer_poll(c->handle.get(), 0));
      if (m == nullptr) break;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("kafka reader: group {}: {}", c->group, rd_kafka_message_errstr(m.get()));
      }
    }
  }
}

void PartitionReader::Impl::CommitDurable() {
  MutexLock commit_lock(&commit_mu);
  for (auto& c : clients) {
    PartitionListPtr list(
        rd_kafka_topic_partition_list_new(static_cast<int>(c->partitions.size())));
    std::vector<Partition*> sent;
    for (Partition* p : c->partitions) {
      const int64_t offset = durable->Get(p->index);
      MutexLock lock(&p->mu);
      if (offset <= p->commit_base) continue;
      rd_kafka_topic_partition_list_add(list.get(), options.topic.c_str(), p->id)->offset = offset;
      sent.push_back(p);
    }
    if (sent.empty()) continue;
    auto began = std::chrono::steady_clock::now();
    PartitionListPtr results;
    Status s = CommitOffsets(c->handle.get(), list.get(), kCommitTimeoutMs, &results);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    for (size_t i = 0; i < sent.size(); ++i) {
      Partition* p = sent[i];
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
      if (s.ok()) {
        const rd_kafka_topic_partition_t* r =
            rd_kafka_topic_partition_list_find(results.get(), tp.topic, tp.partition);
        if (r != nullptr) err = r->err;
      }
      if (p->commit_requests != nullptr) {
        p->commit_requests->Inc();
        p->commit_duration->Observe(seconds);
      }
      if (!s.ok() || err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (p->commit_failures != nullptr) p->commit_failures->Inc();
        spdlog::warn("kafka reader: commit of offset {} of partition {} to group {} failed: {}",
                     tp.offset, p->id, c->group, s.ok() ? rd_kafka_err2str(err) : s.ToString());
        continue;
      }
      MutexLock lock(&p->mu);
      p->commit_base = std::max(p->commit_base, tp.offset);
      p->committed = tp.offset;
      if (p->last_committed != nullptr) p->last_committed->Set(static_cast<double>(tp.offset));
    }
  }
}

PartitionStatus PartitionReader::Impl::StatusOf(const Partition& p) const {
  int64_t low = -1;
  int64_t high = -1;
  // The end librdkafka saw in its last fetch response: cached, no request.
  if (rd_kafka_get_watermark_offsets(p.client->handle.get(), options.topic.c_str(), p.id, &low,
                                     &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    high = -1;
  }
  PartitionStatus st;
  st.partition = p.id;
  int64_t ts_ms = -1;
  {
    MutexLock lock(&p.mu);
    st.next_offset = p.next_offset;
    st.committed = p.committed;
    high = std::max({high, p.start_high_watermark, p.end_seen, p.next_offset});
    ts_ms = p.last_ts_ms >= 0 ? p.last_ts_ms : p.pending_ts_ms;
  }
  st.high_watermark = high;
  if (high >= 0 && st.next_offset >= 0)
    st.lag_records = std::max<int64_t>(0, high - st.next_offset);
  if (st.lag_records > 0 && ts_ms >= 0) {
    st.lag_seconds =
        static_cast<double>(std::max<int64_t>(0, clock->NowNanos() - ts_ms * kNanosPerMilli)) / 1e9;
  }
  return st;
}

void PartitionReader::Impl::UpdateLagMetrics() {
  for (auto& p : partitions) {
    if (p->lag_records == nullptr) continue;
    PartitionStatus st = StatusOf(*p);
    p->lag_records->Set(static_cast<double>(st.lag_records));
    p->lag_seconds->Set(st.lag_seconds);
  }
}

void PartitionReader::Impl::Stop() {
  {
    MutexLock lock(&mu);
    if (state != State::kRunning) return;
    state = State::kStopped;
    stop = true;
    cv.SignalAll();
  }
  for (auto& p : partitions) {
    if (p->thread.joinable()) p->thread.join();
  }
  if (service.joinable()) service.join();
  CommitDurable();
  UpdateLagMetrics();
  // No more fetching; the handles stay for Handover() and Partitions().
  for (auto& c : clients) rd_kafka_assign(c->handle.get(), nullptr);
}

void PartitionReader::Impl::Destroy() {
  // Queues hold references into their handle: released first.
  for (auto& p : partitions) p->queue.reset();
  for (auto& c : clients) {
    if (c->handle != nullptr) rd_kafka_consumer_close(c->handle.get());
    c->handle.reset();
  }
  partitions.clear();
  clients.clear();
}

PartitionReader::PartitionReader(ReaderOptions options, write::Pusher* pusher, const Clock* clock)
    : impl_(std::make_unique<Impl>(std::move(options), pusher, clock)) {}

PartitionReader::~PartitionReader() { Stop(); }

Status PartitionReader::Start() { return impl_->Start(); }

void PartitionReader::Stop() { impl_->Stop(); }

bool PartitionReader::caught_up() const { return impl_->all_caught_up.load(); }

std::function<void()> PartitionReader::BeginCheckpoint() {
  if (!impl_->Started()) return [] {};
  std::vector<int64_t> snapshot;
  snapshot.reserve(impl_->partitions.size());
  for (auto& p : impl_->partitions) {
    MutexLock lock(&p->mu);
    snapshot.push_back(p->next_offset);
  }
  std::weak_ptr<DurableOffsets> weak = impl_->durable;
  return [weak, snapshot = std::move(snapshot)] {
    std::shared_ptr<DurableOffsets> d = weak.lock();
    if (d == nullptr) return;
    for (size_t i = 0; i < snapshot.size(); ++i) d->Raise(i, snapshot[i]);
  };
}

Status PartitionReader::Handover() {
  Impl& impl = *impl_;
  {
    MutexLock lock(&impl.mu);
    if (impl.state != Impl::State::kStopped) {
      return Status::InvalidArgument("kafka reader: Handover before Stop");
    }
  }
  if (impl.partitions.empty()) return Status::OK();
  MutexLock commit_lock(&impl.commit_mu);
  PartitionListPtr all(rd_kafka_topic_partition_list_new(static_cast<int>(impl.partitions.size())));
  for (auto& p : impl.partitions) {
    MutexLock lock(&p->mu);
    rd_kafka_topic_partition_list_add(all.get(), impl.options.topic.c_str(), p->id)->offset =
        p->next_offset;
  }
  auto check = [](const Status& s, const PartitionListPtr& results,
                  const std::string& group) -> Status {
    SLUICE_RETURN_IF_ERROR(s);
    for (int i = 0; i < results->cnt; ++i) {
      if (results->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Status::Unavailable("kafka reader: handover commit of partition " +
                                   std::to_string(results->elems[i].partition) + " to group " +
                                   group + ": " + rd_kafka_err2str(results->elems[i].err));
      }
    }
    return Status::OK();
  };
  for (auto& c : impl.clients) {
    PartitionListPtr list(
        rd_kafka_topic_partition_list_new(static_cast<int>(c->partitions.size())));
    for (Impl::Partition* p : c->partitions) {
      MutexLock lock(&p->mu);
      rd_kafka_topic_partition_list_add(list.get(), impl.options.topic.c_str(), p->id)->offset =
          p->next_offset;
    }
    PartitionListPtr results;
    SLUICE_RETURN_IF_ERROR(check(
        CommitOffsets(c->handle.get(), list.get(), kCommitTimeoutMs, &results), results, c->group));
    for (Impl::Partition* p : c->partitions) {
      MutexLock lock(&p->mu);
      p->committed = p->next_offset;
      p->commit_base = std::max(p->commit_base, p->next_offset);
      if (p->commit_requests != nullptr) p->commit_requests->Inc();
      if (p->last_committed != nullptr) p->last_committed->Set(static_cast<double>(p->committed));
    }
  }
  SLUICE_ASSIGN_OR_RETURN(KafkaHandle handover,
                          NewConsumer(impl.options.client, std::string(kHandoverGroup)));
  PartitionListPtr results;
  SLUICE_RETURN_IF_ERROR(check(CommitOffsets(handover.get(), all.get(), kCommitTimeoutMs, &results),
                               results, std::string(kHandoverGroup)));
  rd_kafka_consumer_close(handover.get());
  spdlog::info("kafka reader: handed over {} partitions of {}", impl.partitions.size(),
               impl.options.topic);
  return Status::OK();
}

std::vector<PartitionStatus> PartitionReader::Partitions() const {
  std::vector<PartitionStatus> out;
  if (!impl_->Started()) return out;
  out.reserve(impl_->partitions.size());
  for (const auto& p : impl_->partitions) out.push_back(impl_->StatusOf(*p));
  return out;
}

}  // namespace sluice::kafka
