#include "kafka/producer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <span>
#include <thread>
#include <utility>

#include "common/coding.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "kafka/record.h"

// Threads and who owns what:
//   - Push callers (any number): split and produce their streams, then wait on their own Waiter.
//   - the poll thread: rd_kafka_poll, so librdkafka runs the delivery report (OnDelivery), error
//     (OnError) and log callbacks there. It touches only Waiters (their own lock) and atomics.
//   - the topic thread: learns the partition count (and creates the topic when allowed), then
//     refreshes it; it owns the metadata/admin calls, so they never block a Push.
//
// Failing fast during an outage (a circuit breaker, half-open by time): `outage` is set when
// librdkafka reports every broker down (error callback, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) or
// a record fails for a transport or timeout reason, and cleared by any successful delivery.
// While it is set, Push answers 503 at once instead of queueing records that would only time out
// after write_timeout (holding the client and buffer space that long), except one request per
// second, measured from the last failure: that probe is produced normally, so the first
// acknowledged record after the brokers return clears the flag for everyone. (A probe produced
// while the brokers are still down waits in librdkafka's queue and is delivered as soon as they
// return, so recovery is noticed without waiting for the next probe.)
//
// Not handled: a fatal error of the idempotent producer (rd_kafka_fatal_error, e.g. the broker
// lost acknowledged records) leaves the handle unusable; it is logged and every later write
// answers 503 with it until the process restarts.

namespace sluice::kafka {
namespace {

constexpr auto kTopicRetry = std::chrono::seconds(1);
constexpr auto kTopicRefresh = std::chrono::seconds(30);
constexpr int64_t kProbeIntervalNs = kNanosPerSecond;
// Beyond write_timeout: librdkafka times a record out on its own timer (message.timeout.ms =
// write_timeout), whose report may arrive a little after that.
constexpr auto kDeliverySlack = std::chrono::seconds(1);
// Room in a Kafka message (message.max.bytes) for the key and the record batch's framing beside
// the largest value we produce.
constexpr uint64_t kMessageOverhead = 64 * 1024;
constexpr const char* kNotLookedUp = "partition count not looked up yet";

int64_t ToMillis(int64_t ns) { return std::max<int64_t>(1, ns / kNanosPerMilli); }

// Errors that mean "Kafka is not reachable" rather than "this record is bad".
bool IsOutageError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
      return true;
    default:
      return false;
  }
}

// loki_kafka_client_produce_failures_total's reason.
const char* FailureReason(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return "buffer-full";
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return "timeout";
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return "record-too-large";
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      return "unavailable";
    default:
      return "other";
  }
}

// The encoded size of one entry of a record whose previous entry has timestamp `prev` (0 for
// the first): record.h's `entry` production, byte for byte.
size_t EntrySize(const model::EntryView& e, uint64_t prev) {
  auto delta = static_cast<int64_t>(static_cast<uint64_t>(e.timestamp_ns) - prev);
  uint64_t zigzag = (static_cast<uint64_t>(delta) << 1) ^ static_cast<uint64_t>(delta >> 63);
  size_t n = coding::VarintLength(zigzag) + coding::VarintLength(e.line.size()) + e.line.size() +
             coding::VarintLength(e.metadata.size());
  for (const model::Label& m : e.metadata) {
    n += coding::VarintLength(m.name.size()) + m.name.size() +
         coding::VarintLength(m.value.size()) + m.value.size();
  }
  return n;
}

size_t LengthPrefixedSize(std::string_view s) { return coding::VarintLength(s.size()) + s.size(); }

// One request's records in flight. Shared by the Push that waits and the delivery reports of its
// records (each record's opaque holds a reference), so a Push that gave up waiting leaves it to
// the reports still to come.
struct Waiter {
  Mutex mu;
  CondVar cv;
  int outstanding GUARDED_BY(mu) = 0;
  rd_kafka_resp_err_t first_error GUARDED_BY(mu) = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string first_error_text GUARDED_BY(mu);
};
using WaiterRef = std::shared_ptr<Waiter>;

}  // namespace

struct KafkaPusher::Impl {
  ProducerOptions options;
  const Clock* clock;
  KafkaHandle rk;
  rd_kafka_topic_t* rkt = nullptr;  // owned; destroyed before rk

  std::atomic<int32_t> partitions{0};
  // Bytes of records produced and not yet reported (for the 429 message); librdkafka enforces
  // the bound itself (queue.buffering.max.kbytes).
  std::atomic<int64_t> buffered_bytes{0};
  std::atomic<bool> outage{false};
  // When the last failure was seen or the last probe let through (clock ns).
  std::atomic<int64_t> last_probe_ns{0};

  Mutex mu;
  CondVar cv;  // topic known, or stopping
  std::string topic_error GUARDED_BY(mu) = kNotLookedUp;
  bool stopping GUARDED_BY(mu) = false;
  // The CreateTopics result queue while the topic thread waits on it, so that the destructor can
  // wake it (rd_kafka_queue_yield) instead of waiting out the admin request.
  rd_kafka_queue_t* admin_queue GUARDED_BY(mu) = nullptr;

  std::atomic<bool> stop_polling{false};
  std::thread poll_thread;
  std::thread topic_thread;

  // Metrics, null without a registry.
  metrics::Family<metrics::Counter>* appends = nullptr;
  metrics::Histogram* latency = nullptr;
  metrics::Family<metrics::Counter>* sent_bytes = nullptr;
  metrics::Histogram* records_per_request = nullptr;
  metrics::Counter* produce_requests = nullptr;
  metrics::Family<metrics::Counter>* produce_failures = nullptr;

  void RegisterMetrics(metrics::Registry* r) {
    if (r == nullptr) {
      return;
    }
    appends = r->NewCounter("loki_distributor_kafka_appends_total",
                            "Total number of appends sent to Kafka, by partition and status.",
                            {"partition", "status"});
    latency = r->NewHistogram("loki_distributor_kafka_latency_seconds",
                              "Latency to write an incoming push request to Kafka.", {},
                              metrics::DefaultBuckets())
                  ->WithLabels({});
    sent_bytes = r->NewCounter("loki_distributor_kafka_sent_bytes_total",
                               "Total number of bytes sent to Kafka, by partition.", {"partition"});
    records_per_request = r->NewHistogram("loki_distributor_kafka_records_per_write_request",
                                          "The number of records a single per-partition write "
                                          "request (one stream of a push) has been split into.",
                                          {}, metrics::ExponentialBuckets(1, 2, 8))
                              ->WithLabels({});
    produce_requests = r->NewCounter("loki_kafka_client_produce_requests_total",
                                     "Total number of produce requests issued to Kafka.")
                           ->WithLabels({});
    produce_failures =
        r->NewCounter("loki_kafka_client_produce_failures_total",
                      "Total number of failed produce requests issued to Kafka.", {"reason"});
    r->NewGauge("loki_kafka_client_buffered_produce_bytes_limit",
                "The bytes limit on buffered produce records. Produce requests fail once this "
                "limit is reached.")
        ->WithLabels({})
        ->Set(static_cast<double>(options.max_buffered_bytes));
  }

  void CountFailure(rd_kafka_resp_err_t err, int records = 1) const {
    if (produce_failures != nullptr) {
      produce_failures->WithLabels({FailureReason(err)})->Inc(records);
    }
  }

  void EnterOutage() {
    outage.store(true, std::memory_order_relaxed);
    last_probe_ns.store(clock->NowNanos(), std::memory_order_relaxed);
  }

  // True when a Push may go to Kafka: no outage, or this is the second's probe.
  bool AdmitDuringOutage() {
    if (!outage.load(std::memory_order_relaxed)) {
      return true;
    }
    int64_t now = clock->NowNanos();
    int64_t last = last_probe_ns.load(std::memory_order_relaxed);
    return now - last >= kProbeIntervalNs &&
           last_probe_ns.compare_exchange_strong(last, now, std::memory_order_relaxed);
  }

  // librdkafka callbacks (poll thread).
  static void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    std::unique_ptr<WaiterRef> ref(static_cast<WaiterRef*>(m->_private));
    self->buffered_bytes.fetch_sub(static_cast<int64_t>(m->len), std::memory_order_relaxed);
    bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (ok) {
      self->outage.store(false, std::memory_order_relaxed);
    } else {
      self->CountFailure(m->err);
      if (IsOutageError(m->err)) {
        self->EnterOutage();
      }
    }
    if (self->appends != nullptr) {
      std::string partition = std::to_string(m->partition);
      self->appends->WithLabels({partition, ok ? "success" : "fail"})->Inc();
      if (ok) {
        self->sent_bytes->WithLabels({partition})->Inc(static_cast<double>(m->len));
      }
    }
    if (ref == nullptr) {
      return;
    }
    Waiter& w = **ref;
    MutexLock lock(&w.mu);
    if (!ok && w.first_error == RD_KAFKA_RESP_ERR_NO_ERROR) {
      w.first_error = m->err;
      w.first_error_text = rd_kafka_err2str(m->err);
    }
    if (--w.outstanding == 0) {
      w.cv.SignalAll();
    }
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      self->EnterOutage();
      spdlog::warn("msg=\"kafka producer: all brokers are down\" reason=\"{}\"", reason);
    } else if (code == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
      spdlog::error("msg=\"kafka producer: fatal error, writes will fail\" reason=\"{}\"", fatal);
    } else {
      spdlog::debug("msg=\"kafka producer error\" err=\"{}\" reason=\"{}\"",
                    rd_kafka_err2name(code), reason);
    }
  }

  static void OnLog(const rd_kafka_t* /*rk*/, int level, const char* facility, const char* buf) {
    LogLibrdkafka("kafka producer", level, facility, buf);
  }

  void PollLoop() {
    while (!stop_polling.load(std::memory_order_relaxed)) {
      rd_kafka_poll(rk.get(), 100);
    }
  }

  // One attempt at the partition count: metadata, and when the topic is missing and we may,
  // CreateTopics then metadata again. Returns the count, or 0 with *why set.
  int32_t LookUpPartitions(std::string* why) {
    const int64_t timeout_ns =
        std::clamp<int64_t>(options.write_timeout_ns, kNanosPerSecond, 5 * kNanosPerSecond);
    Result<int32_t> count = TopicPartitions(rk.get(), options.topic, timeout_ns);
    if (!count.ok() && count.status().code() == StatusCode::kNotFound &&
        options.auto_create_topic_enabled) {
      {
        // Say so while the first creation is under way; later, the last failure stays the reason.
        MutexLock lock(&mu);
        if (topic_error == kNotLookedUp) {
          topic_error = count.status().message() + "; creating it with " +
                        std::to_string(options.auto_create_topic_default_partitions) +
                        " partitions";
        }
      }
      if (!CreateTopic(static_cast<int>(timeout_ns / kNanosPerMilli), why)) return 0;
      count = TopicPartitions(rk.get(), options.topic, timeout_ns);
    }
    if (!count.ok()) {
      *why = count.status().message();
      return 0;
    }
    why->clear();
    return *count;
  }

  bool CreateTopic(int timeout_ms, std::string* why) {
    char err[512];
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
        options.topic.c_str(), options.auto_create_topic_default_partitions, -1, err, sizeof(err));
    if (topic == nullptr) {
      *why = std::string("cannot create it: ") + err;
      return false;
    }
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk.get());
    {
      MutexLock lock(&mu);
      if (stopping) {
        rd_kafka_queue_destroy(queue);
        rd_kafka_NewTopic_destroy(topic);
        *why = "shutting down";
        return false;
      }
      admin_queue = queue;
    }
    rd_kafka_AdminOptions_t* admin =
        rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(admin, timeout_ms, err, sizeof(err));
    rd_kafka_CreateTopics(rk.get(), &topic, 1, admin, queue);
    // The admin request's own timeout answers before this one.
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms + 1000);
    bool ok = false;
    if (ev == nullptr) {
      *why = "creating it timed out (or shutting down)";
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      *why = std::string("creating it failed: ") + rd_kafka_event_error_string(ev);
    } else if (const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
               res == nullptr) {
      *why = "creating it failed: unexpected admin result";
    } else {
      size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
      ok = true;
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        // Another distributor may have created it first.
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          const char* msg = rd_kafka_topic_result_error_string(results[i]);
          *why = std::string("creating it failed: ") + (msg != nullptr ? msg : rd_kafka_err2str(e));
          ok = false;
        }
      }
      if (ok) {
        spdlog::info("msg=\"kafka producer: created topic\" topic={} partitions={}", options.topic,
                     options.auto_create_topic_default_partitions);
      }
    }
    if (ev != nullptr) {
      rd_kafka_event_destroy(ev);
    }
    {
      MutexLock lock(&mu);
      admin_queue = nullptr;
    }
    rd_kafka_AdminOptions_destroy(admin);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(topic);
    return ok;
  }

  // Until the count is known, retries every second; then refreshes it every 30 s (a grown
  // topic's new partitions take streams from then on; a failed refresh keeps the known count).
  void TopicLoop() {
    MutexLock lock(&mu);
    while (!stopping) {
      lock.Unlock();
      std::string why;
      int32_t count = LookUpPartitions(&why);
      lock.Lock();
      if (count > 0) {
        int32_t before = partitions.exchange(count);
        if (before != count) {
          spdlog::info("msg=\"kafka producer: topic partitions\" topic={} partitions={}",
                       options.topic, count);
        }
        topic_error.clear();
        cv.SignalAll();
      } else {
        topic_error = why;
      }
      auto wait = partitions.load() > 0
                      ? std::chrono::duration_cast<std::chrono::milliseconds>(kTopicRefresh)
                      : std::chrono::duration_cast<std::chrono::milliseconds>(kTopicRetry);
      cv.WaitFor(&mu, wait, [this]() REQUIRES(mu) { return stopping; });
    }
  }

  Status TopicUnavailable() {
    MutexLock lock(&mu);
    return Status::Unavailable("Kafka topic " + options.topic +
                               " is not available yet: " + topic_error);
  }

  // One record to produce: entries [begin, end) of a stream. Encoded only when produced, so a
  // request holds one encoded record at a time beside librdkafka's copy.
  struct Outgoing {
    const write::ValidatedStream* stream;
    int32_t partition;
    size_t begin;
    size_t end;
  };

  // Splits one stream into records of at most max_record_size_bytes (sizes computed exactly, as
  // EncodeStreamRecord would write them), entries whole and in order. InvalidArgument when an
  // entry alone does not fit; then nothing of the stream is produced.
  Status Split(std::string_view tenant, const write::ValidatedStream& stream, int32_t partition,
               std::vector<Outgoing>* out) const {
    const std::string& labels = stream.labels_text();
    const size_t header = 1 + LengthPrefixedSize(tenant) + LengthPrefixedSize(labels);
    const uint64_t max = options.max_record_size_bytes;
    const std::vector<model::EntryView>& entries = stream.entries;
    size_t first = out->size();
    size_t begin = 0;
    while (begin < entries.size()) {
      size_t size = header;
      uint64_t prev = 0;
      size_t end = begin;
      for (; end < entries.size(); ++end) {
        size_t next = size + EntrySize(entries[end], prev);
        if (next + coding::VarintLength(end - begin + 1) > max) {
          break;
        }
        size = next;
        prev = static_cast<uint64_t>(entries[end].timestamp_ns);
      }
      if (end == begin) {
        out->resize(first);
        size_t alone = header + EntrySize(entries[begin], 0) + coding::VarintLength(1);
        return Status::InvalidArgument("stream " + labels + ": entry of " + std::to_string(alone) +
                                       " bytes (encoded) exceeds the Kafka record size limit " +
                                       "producer_max_record_size_bytes " + std::to_string(max));
      }
      out->push_back({&stream, partition, begin, end});
      begin = end;
    }
    if (records_per_request != nullptr) {
      records_per_request->Observe(static_cast<double>(out->size() - first));
    }
    return Status::OK();
  }

  Status Push(std::string_view tenant, const std::vector<write::ValidatedStream>& streams) {
    int64_t start_ns = clock->NowNanos();
    int32_t count = partitions.load(std::memory_order_relaxed);
    if (count <= 0) {
      return TopicUnavailable();
    }
    write::ErrorCollector invalid;
    std::vector<Outgoing> records;
    for (const write::ValidatedStream& s : streams) {
      if (s.entries.empty()) {
        continue;
      }
      Status st = Split(tenant, s, PartitionFor(tenant, s.labels_text(), count), &records);
      if (!st.ok()) {
        CountFailure(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        invalid.Add(st);
      }
    }
    if (records.empty()) {
      return invalid.ToStatus();
    }
    if (produce_requests != nullptr) {
      produce_requests->Inc(static_cast<double>(records.size()));
    }
    if (!AdmitDuringOutage()) {
      CountFailure(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, static_cast<int>(records.size()));
      return WithInvalid(Status::Unavailable("Kafka write failed: Kafka is unavailable (all "
                                             "brokers down or timing out); failing fast until a "
                                             "write succeeds, retry later"),
                         invalid);
    }

    auto waiter = std::make_shared<Waiter>();
    Status produce_error;
    std::string key;
    std::string value;
    const write::ValidatedStream* keyed = nullptr;
    for (const Outgoing& r : records) {
      if (r.stream != keyed) {
        keyed = r.stream;
        key = RecordKey(tenant, r.stream->labels_text());
      }
      std::span<const model::EntryView> entries(r.stream->entries);
      value = EncodeStreamRecord(tenant, r.stream->labels_text(),
                                 entries.subspan(r.begin, r.end - r.begin));
      {
        MutexLock lock(&waiter->mu);
        ++waiter->outstanding;
      }
      auto ref = std::make_unique<WaiterRef>(waiter);
      buffered_bytes.fetch_add(static_cast<int64_t>(value.size()), std::memory_order_relaxed);
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk.get(), RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_OPAQUE(ref.get()),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        (void)ref.release();  // OnDelivery takes it back
        continue;
      }
      buffered_bytes.fetch_sub(static_cast<int64_t>(value.size()), std::memory_order_relaxed);
      {
        MutexLock lock(&waiter->mu);
        --waiter->outstanding;
      }
      CountFailure(err);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        produce_error =
            Status::RateLimited("Kafka produce buffer full (" +
                                std::to_string(buffered_bytes.load(std::memory_order_relaxed)) +
                                " bytes buffered, producer_max_buffered_bytes " +
                                std::to_string(options.max_buffered_bytes) + "): retry later");
      } else {
        produce_error =
            Status::Unavailable(std::string("Kafka write failed: ") + rd_kafka_err2str(err));
      }
      // The records already produced stay in flight; their reports find the waiter (shared).
      break;
    }
    if (!produce_error.ok()) {
      ObserveLatency(start_ns);
      return WithInvalid(produce_error, invalid);
    }

    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::nanoseconds(options.write_timeout_ns) + kDeliverySlack;
    Status result;
    {
      MutexLock lock(&waiter->mu);
      bool done = waiter->cv.WaitUntil(&waiter->mu, deadline, [&waiter]() REQUIRES(waiter->mu) {
        return waiter->outstanding == 0;
      });
      if (!done) {
        result = Status::Unavailable("Kafka write failed: no acknowledgement within " +
                                     std::to_string(options.write_timeout_ns / kNanosPerMilli) +
                                     " ms (kafka_config.write_timeout)");
      } else if (waiter->first_error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = Status::Unavailable("Kafka write failed: " + waiter->first_error_text);
      }
    }
    ObserveLatency(start_ns);
    if (!result.ok()) {
      return WithInvalid(result, invalid);
    }
    return invalid.ToStatus();
  }

  static Status WithInvalid(const Status& failure, const write::ErrorCollector& invalid) {
    if (invalid.empty()) {
      return failure;
    }
    return Status::FromCode(failure.code(),
                            failure.message() + "; " + invalid.ToStatus().message());
  }

  void ObserveLatency(int64_t start_ns) const {
    if (latency != nullptr) {
      latency->Observe(static_cast<double>(clock->NowNanos() - start_ns) / kNanosPerSecond);
    }
  }
};

Result<std::unique_ptr<KafkaPusher>> KafkaPusher::Create(ProducerOptions options,
                                                         const Clock* clock) {
  if (options.topic.empty()) {
    return Status::InvalidArgument("kafka_config.topic is empty");
  }
  if (options.write_timeout_ns <= 0) {
    return Status::InvalidArgument("kafka_config.write_timeout must be positive");
  }
  if (options.linger_ns < 0 || options.linger_ns >= options.write_timeout_ns) {
    return Status::InvalidArgument("kafka producer linger must be in [0, write_timeout)");
  }
  if (options.max_record_size_bytes < 1024) {
    return Status::InvalidArgument("kafka_config.producer_max_record_size_bytes must be >= 1024");
  }
  if (options.max_buffered_bytes < 1024) {
    return Status::InvalidArgument("kafka_config.producer_max_buffered_bytes must be >= 1024");
  }
  if (options.auto_create_topic_enabled && options.auto_create_topic_default_partitions <= 0) {
    return Status::InvalidArgument(
        "kafka_config.auto_create_topic_default_partitions must be positive");
  }

  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->clock = clock != nullptr ? clock : SystemClock::Default();
  const ProducerOptions& o = impl->options;

  // queue.buffering.max.kbytes takes KiB (at most INT_MAX).
  uint64_t kbytes = std::min<uint64_t>((o.max_buffered_bytes + 1023) / 1024, 2147483647);
  uint64_t message_max = std::min<uint64_t>(o.max_record_size_bytes + kMessageOverhead, 1000000000);
  std::map<std::string, std::string> extra = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", std::to_string(o.linger_ns / kNanosPerMilli)},
      {"queue.buffering.max.kbytes", std::to_string(kbytes)},
      // Bytes are the bound, not the record count.
      {"queue.buffering.max.messages", "2147483647"},
      {"message.timeout.ms", std::to_string(ToMillis(o.write_timeout_ns))},
      {"compression.codec", "lz4"},
      {"message.max.bytes", std::to_string(message_max)},
      // The topic is created by us, with the configured partitions, never by a Metadata request
      // with the broker's default count.
      {"allow.auto.create.topics", "false"},
      // Notice returning brokers within a second (librdkafka's default backs off up to 10 s).
      {"reconnect.backoff.max.ms", "1000"},
  };
  SLUICE_ASSIGN_OR_RETURN(ConfPtr conf, NewConf(o.client, extra));
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::OnError);
  rd_kafka_conf_set_log_cb(conf.get(), &Impl::OnLog);
  SLUICE_ASSIGN_OR_RETURN(impl->rk, NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  impl->rkt = rd_kafka_topic_new(impl->rk.get(), o.topic.c_str(), nullptr);
  if (impl->rkt == nullptr) {
    return Status::InvalidArgument("kafka topic " + o.topic + ": " +
                                   rd_kafka_err2str(rd_kafka_last_error()));
  }
  impl->RegisterMetrics(o.registry);
  Impl* raw = impl.get();
  impl->poll_thread = std::thread([raw] { raw->PollLoop(); });
  impl->topic_thread = std::thread([raw] { raw->TopicLoop(); });
  return std::unique_ptr<KafkaPusher>(new KafkaPusher(std::move(impl)));
}

KafkaPusher::KafkaPusher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaPusher::~KafkaPusher() {
  Impl& i = *impl_;
  {
    MutexLock lock(&i.mu);
    i.stopping = true;
    i.cv.SignalAll();
    if (i.admin_queue != nullptr) {
      rd_kafka_queue_yield(i.admin_queue);
    }
  }
  i.topic_thread.join();
  // Records still in flight get write_timeout to be acknowledged; whatever is left after that is
  // purged, which reports it failed (no waiter remains: Push callers are gone), so every record's
  // opaque is released before the handle goes.
  rd_kafka_flush(i.rk.get(), static_cast<int>(ToMillis(i.options.write_timeout_ns)));
  rd_kafka_purge(i.rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(i.rk.get(), 1000);
  i.stop_polling.store(true);
  i.poll_thread.join();
  rd_kafka_poll(i.rk.get(), 0);
  rd_kafka_topic_destroy(i.rkt);
  i.rk.reset();
}

Status KafkaPusher::Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) {
  return impl_->Push(tenant, streams);
}

int32_t KafkaPusher::partitions() const {
  return impl_->partitions.load(std::memory_order_relaxed);
}

Status KafkaPusher::WaitForTopic(int64_t timeout_ns) {
  Impl& i = *impl_;
  MutexLock lock(&i.mu);
  bool known = i.cv.WaitFor(&i.mu, std::chrono::nanoseconds(timeout_ns),
                            [&i]() REQUIRES(i.mu) { return i.partitions.load() > 0; });
  if (known) {
    return Status::OK();
  }
  return Status::Unavailable("Kafka topic " + i.options.topic +
                             " is not available yet: " + i.topic_error);
}

}  // namespace sluice::kafka
