#include "ingester/ingester.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "common/checksum.h"
#include "common/duration.h"
#include "ingester/ingester_metrics.h"
#include "metrics/metrics.h"
#include "tracing/tracing.h"
#include "write/discard.h"

namespace sluice::ingester {

namespace {

// Loki's texts for entries the ingester refuses (pkg/validation, pkg/ingester).
constexpr std::string_view kStreamLimitMessage =
    "Maximum active stream limit exceeded when trying to create stream {}, reduce the number of "
    "active "
    "streams (reduce labels or reduce label values), or contact your Loki administrator to see if "
    "the "
    "limit can be increased, user: '{}'";
constexpr std::string_view kPerStreamRateLimitMessage =
    "Per stream rate limit exceeded (limit: {}/sec) while attempting to ingest for stream '{}' "
    "totaling {}, "
    "consider splitting a stream via additional labels or contact your Loki administrator to see "
    "if the "
    "limit can be increased";
constexpr std::string_view kOutOfOrderMessage = "entry out of order";
constexpr std::string_view kTooFarBehindMessage =
    "entry too far behind, entry timestamp is: {}, oldest acceptable timestamp is: {}";
constexpr std::string_view kIgnoredEntryMessage =
    "entry with timestamp {} ignored, reason: '{}',\n";
constexpr std::string_view kIgnoredTotalMessage =
    "user '{}', total ignored: {} out of {} for stream: {}";

// Go's time.Time.String() in UTC, as Loki prints an ignored entry's timestamp.
std::string GoTimeString(int64_t ns) {
  std::string s = FormatRfc3339Nano(ns);  // 2006-01-02T15:04:05.999999999Z
  s[10] = ' ';
  s.pop_back();
  return s + " +0000 UTC";
}

}  // namespace

Ingester::Ingester(const config::Config::Ingester& config, config::Overrides* overrides,
                   storage::ObjectStore* store, storage::index::IndexWriter* index_writer,
                   Clock* clock)
    : config_(config),
      overrides_(overrides),
      store_(store),
      index_writer_(index_writer),
      clock_(clock) {
  stream_options_.block_size = config.chunk_block_size;
  stream_options_.target_size = config.chunk_target_size;
}

Ingester::~Ingester() {
  {
    MutexLock lock(&loop_mu_);
    loops_stop_ = true;
  }
  loop_cv_.SignalAll();
  if (flush_thread_.joinable()) flush_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

Ingester::Tenant* Ingester::FindTenant(std::string_view tenant) {
  ReaderMutexLock lock(&tenants_mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : it->second.get();
}

Ingester::Tenant* Ingester::GetOrCreateTenant(std::string_view tenant) {
  if (Tenant* t = FindTenant(tenant)) return t;
  WriterMutexLock lock(&tenants_mu_);
  auto& slot = tenants_[std::string(tenant)];
  if (!slot)
    slot = std::make_unique<Tenant>(std::string(tenant),
                                    static_cast<size_t>(std::max(1, config_.concurrency)));
  return slot.get();
}

std::vector<Ingester::Tenant*> Ingester::AllTenants() {
  ReaderMutexLock lock(&tenants_mu_);
  std::vector<Tenant*> out;
  for (auto& [_, t] : tenants_) out.push_back(t.get());
  return out;
}

Status Ingester::Start() {
  auto codec = chunk::ParseCodec(config_.chunk_encoding);
  if (!codec.ok())
    return Status::InvalidArgument("ingester.chunk_encoding: " + codec.status().message());
  stream_options_.codec = *codec;
  // Consuming Kafka, the ingester keeps checkpoints even without the WAL: Kafka is then the log
  // of what came after the last one (the reader commits offsets only up to a checkpoint).
  if (config_.wal.enabled || config_.kafka_ingestion.enabled) {
    SLUICE_RETURN_IF_ERROR(Replay());
    auto policy = wal::ParseFsyncPolicy(config_.wal.fsync);
    if (!policy.ok()) return policy.status();
    wal::WriterOptions opts;
    opts.dir = config_.wal.dir;
    opts.fsync = *policy;
    opts.fsync_interval_ns = config_.wal.fsync_interval;
    opts.segment_size = config_.wal.segment_size;
    SLUICE_ASSIGN_OR_RETURN(wal_, wal::Writer::Open(opts));
    auto* fsync_hist = Metrics().wal_fsync->WithLabels({});
    wal_->SetFsyncObserver([fsync_hist](double secs) { fsync_hist->Observe(secs); });
    auto* records = Metrics().wal_records->WithLabels({});
    auto* bytes = Metrics().wal_bytes->WithLabels({});
    wal_->SetWriteObserver([records, bytes](uint64_t n, uint64_t b) {
      records->Inc(static_cast<double>(n));
      bytes->Inc(static_cast<double>(b));
    });
  }
  flush_thread_ = std::thread([this] { FlushLoop(); });
  if (wal_) checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  ready_ = true;
  return Status::OK();
}

namespace {
// Heads hold raw lines until they reach the block size. Once all heads together pass
// ingester.head_memory_budget (at least kHeadBudgetPerStream per stream), a head is cut into a
// compressed block as soon as it holds more than its share, so memory follows the budget, not
// the stream count. Past ingester.chunk_memory_budget more (heads and the blocks of chunks not
// flushed yet together), the largest open chunks are closed and flushed before they are full
// (reason "memory"), so memory stays bounded however long chunks stay open.
constexpr uint64_t kHeadBudgetPerStream = 16ull << 10;
}  // namespace

uint64_t Ingester::HeadBudget() const {
  const uint64_t streams = std::max<uint64_t>(1, total_streams_.load(std::memory_order_relaxed));
  return std::max(config_.head_memory_budget, streams * kHeadBudgetPerStream);
}

void Ingester::Charge(Stream* stream, StreamMemory before, MemoryDelta* delta) {
  const auto head = static_cast<int64_t>(stream->head_bytes());
  delta->heads += head - static_cast<int64_t>(before.head);
  const uint64_t streams = std::max<uint64_t>(1, total_streams_.load(std::memory_order_relaxed));
  const uint64_t head_budget = HeadBudget();
  if (head_bytes_.load(std::memory_order_relaxed) + delta->heads >
          static_cast<int64_t>(head_budget) &&
      static_cast<uint64_t>(head) >= head_budget / streams) {
    stream->CutHead();
    delta->heads -= head - static_cast<int64_t>(stream->head_bytes());
  }
  delta->blocks += static_cast<int64_t>(stream->cut_bytes() - before.cut);
}

void Ingester::Settle(const MemoryDelta& delta) {
  const int64_t heads = head_bytes_.fetch_add(delta.heads) + delta.heads;
  const int64_t blocks = block_bytes_.fetch_add(delta.blocks) + delta.blocks;
  Metrics().unflushed_bytes->WithLabels({})->Set(static_cast<double>(heads + blocks));
  const uint64_t budget = HeadBudget() + config_.chunk_memory_budget;
  Metrics().memory_budget->WithLabels({})->Set(static_cast<double>(budget));
  if (heads + blocks > static_cast<int64_t>(budget) && !memory_flush_wanted_.load() &&
      !memory_flush_wanted_.exchange(true)) {
    MutexLock lock(&loop_mu_);
    loop_cv_.SignalAll();
  }
}

Status Ingester::MemoryPushback() {
  const int64_t used =
      head_bytes_.load(std::memory_order_relaxed) + block_bytes_.load(std::memory_order_relaxed);
  const auto budget = static_cast<int64_t>(HeadBudget() + config_.chunk_memory_budget);
  const bool failing = flush_failing_.load(std::memory_order_relaxed);
  if (used < budget || (!failing && used < 2 * budget)) return Status::OK();
  Metrics().pushes_refused->WithLabels({})->Inc();
  std::string cause = "flushes are not keeping up";
  if (failing) {
    MutexLock lock(&flush_error_mu_);
    cause = "the object store is failing: " + last_flush_error_;
  }
  return Status::Unavailable(
      fmt::format("ingester memory budget exhausted: {} MiB of chunks are waiting to be flushed "
                  "(budget {} MiB) because {}; retry later",
                  used >> 20, budget >> 20, cause));
}

Status Ingester::Push(std::string_view tenant_id, std::vector<write::ValidatedStream>& streams) {
  if (stopping_) return Status::Unavailable("Ingester is stopping or already stopped.");
  if (!ready_) return Status::Unavailable("Ingester not ready: WAL replay in progress");
  if (wal_broken_.load()) SLUICE_RETURN_IF_ERROR(RepairWal());
  SLUICE_RETURN_IF_ERROR(MemoryPushback());
  std::shared_ptr<const config::Limits> limits = overrides_->ForTenant(tenant_id);
  Tenant* tenant = GetOrCreateTenant(tenant_id);
  const int64_t now = clock_->NowNanos();
  const int64_t window = config_.max_chunk_age / 2;
  uint64_t stream_limit = limits->max_global_streams_per_user;
  if (stream_limit > 0 && global_limit_share_) {
    const double share = std::clamp(global_limit_share_(), 0.0, 1.0);
    stream_limit =
        std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(stream_limit) * share));
  }
  if (limits->max_streams_per_user > 0 &&
      (stream_limit == 0 || limits->max_streams_per_user < stream_limit)) {
    stream_limit = limits->max_streams_per_user;
  }
  auto& m = Metrics();
  write::ErrorCollector errors;
  std::vector<wal::StreamEntries> wal_batch;
  wal_batch.reserve(streams.size());
  MemoryDelta memory;
  uint64_t duplicates = 0;

  for (auto& vs : streams) {
    struct Failure {
      int64_t ts;
      std::string reason;
      bool rate_limited;
    };
    std::vector<Failure> failures;
    const size_t total = vs.entries.size();
    {
      Shard& shard = ShardFor(tenant, vs.fingerprint());
      MutexLock lock(&shard.mu);
      auto it = shard.streams.find(vs.fingerprint());
      if (it == shard.streams.end()) {
        if (stream_limit > 0 && tenant->num_streams.load() >= stream_limit) {
          uint64_t bytes = 0;
          for (const auto& e : vs.entries) bytes += e.line.size();
          write::RecordDiscarded(write::reason::kStreamLimit, tenant_id, total, bytes);
          errors.Add(
              Status::RateLimited(fmt::format(kStreamLimitMessage, vs.labels_text(), tenant_id)));
          vs.entries.clear();
          continue;
        }
        // Shares the distributor's parsed labels rather than copying them.
        auto stream = std::make_unique<Stream>(
            std::shared_ptr<const model::LabelSet>(vs.labels, &vs.labels->labels), vs.labels_text(),
            vs.fingerprint(), &stream_options_);
        it = shard.streams.emplace(vs.fingerprint(), std::move(stream)).first;
        tenant->num_streams.fetch_add(1);
        total_streams_.fetch_add(1);
        m.streams_created->WithLabels({tenant->id})->Inc();
        m.memory_streams->WithLabels({tenant->id})->Add(1);
      }
      Stream* stream = it->second.get();
      auto rate = static_cast<double>(limits->per_stream_rate_limit);
      auto burst = static_cast<double>(
          std::max(limits->per_stream_rate_limit_burst, limits->per_stream_rate_limit));
      if (stream->rate_limiter() == nullptr) {
        stream->set_rate_limiter(std::make_unique<TokenBucket>(rate, burst, now));
      } else if (stream->rate_limiter()->rate() != rate ||
                 stream->rate_limiter()->burst() != burst) {
        stream->rate_limiter()->SetLimits(rate, burst);
      }
      const StreamMemory before = MemoryOf(*stream);
      size_t kept = 0;
      for (size_t i = 0; i < total; ++i) {
        model::EntryView& e = vs.entries[i];
        if (limits->per_stream_rate_limit > 0 &&
            !stream->rate_limiter()->TryTake(static_cast<double>(e.line.size()), now)) {
          write::RecordDiscarded(write::reason::kPerStreamRateLimit, tenant_id, 1, e.line.size());
          failures.push_back({e.timestamp_ns,
                              fmt::format(kPerStreamRateLimitMessage,
                                          FormatByteSize(limits->per_stream_rate_limit),
                                          vs.labels_text(), FormatByteSize(e.line.size())),
                              true});
          continue;
        }
        const int64_t highest = stream->highest_ts();
        switch (stream->Append(e, now, limits->unordered_writes, window)) {
          case AppendOutcome::kAppended:
            if (kept != i) vs.entries[kept] = e;
            ++kept;
            break;
          case AppendOutcome::kDuplicate:
            ++duplicates;  // Already stored: a retry or a replay. Not an error, as in Loki.
            break;
          case AppendOutcome::kOutOfOrder:
            write::RecordDiscarded(write::reason::kOutOfOrder, tenant_id, 1, e.line.size());
            failures.push_back({e.timestamp_ns, std::string(kOutOfOrderMessage), false});
            break;
          case AppendOutcome::kTooFarBehind: {
            write::RecordDiscarded(write::reason::kTooFarBehind, tenant_id, 1, e.line.size());
            auto secs = [](int64_t ns) {
              return FormatRfc3339Nano(ns - ((ns % kNanosPerSecond) + kNanosPerSecond) %
                                                kNanosPerSecond);
            };
            failures.push_back(
                {e.timestamp_ns,
                 fmt::format(kTooFarBehindMessage, secs(e.timestamp_ns), secs(highest - window)),
                 false});
            break;
          }
        }
      }
      vs.entries.resize(kept);
      Charge(stream, before, &memory);
    }
    if (!failures.empty()) {
      std::string msg;
      size_t shown = 0;
      for (const auto& f : failures) {
        if (config_.max_returned_stream_errors > 0 && shown >= config_.max_returned_stream_errors)
          break;
        msg += fmt::format(kIgnoredEntryMessage, GoTimeString(f.ts), f.reason);
        ++shown;
      }
      msg += fmt::format(kIgnoredTotalMessage, tenant_id, failures.size(), total, vs.labels_text());
      errors.Add(failures.back().rate_limited ? Status::RateLimited(msg)
                                              : Status::InvalidArgument(msg));
    }
    if (!vs.entries.empty())
      wal_batch.push_back(wal::StreamEntries{vs.fingerprint(), vs.labels_text(), vs.entries});
  }

  Settle(memory);
  if (duplicates > 0)
    Metrics().duplicate_entries->WithLabels({})->Inc(static_cast<double>(duplicates));
  if (wal_ && config_.wal.enabled && !wal_batch.empty()) {
    tracing::Span span = tracing::StartSpan("ingester.wal");
    if (span.recording()) {
      size_t entries = 0;
      for (const auto& batch : wal_batch) entries += batch.entries.size();
      span.SetAttribute("streams", wal_batch.size());
      span.SetAttribute("entries", entries);
      span.SetAttribute("fsync", config_.wal.fsync);
    }
    Status logged = wal_->Log(tenant_id, wal_batch);
    if (!logged.ok()) {
      span.SetError(logged.message());
      wal_broken_ = true;
      Metrics().wal_failing->WithLabels({})->Set(1);
      {
        MutexLock lock(&loop_mu_);
        loop_cv_.SignalAll();  // the checkpoint loop starts repairing
      }
      spdlog::error("msg=\"WAL write failed; push not acknowledged\" tenant={} err=\"{}\"",
                    tenant_id, logged.message());
      return Status::Unavailable("failed to write to the WAL: " + logged.message());
    }
  }
  return errors.ToStatus();
}

Status Ingester::RepairWal() {
  MutexLock lock(&wal_repair_mu_);
  if (!wal_broken_.load()) return Status::OK();  // repaired while this call waited
  const int64_t now = clock_->NowNanos();
  if (now < wal_repair_not_before_ns_) {
    return Status::Unavailable("the WAL failed; pushes resume once a checkpoint succeeds");
  }
  wal_repair_not_before_ns_ = now + kNanosPerSecond;
  Status st = Checkpoint();
  if (!st.ok()) {
    // Tried every second while the disk stays full: one line per 30 s says it still is.
    if (now - wal_repair_logged_ns_ >= 30 * kNanosPerSecond) {
      wal_repair_logged_ns_ = now;
      spdlog::error("msg=\"checkpoint after a WAL failure failed\" err=\"{}\"", st.message());
    }
    return Status::Unavailable("the WAL failed and a checkpoint failed too: " + st.message());
  }
  spdlog::info("msg=\"WAL repaired: a checkpoint holds everything in memory\"");
  wal_broken_ = false;
  Metrics().wal_failing->WithLabels({})->Set(0);
  return Status::OK();
}

Status Ingester::Shutdown(bool flush) {
  if (stopping_.exchange(true)) return Status::OK();
  {
    MutexLock lock(&loop_mu_);
    loops_stop_ = true;
  }
  loop_cv_.SignalAll();
  if (flush_thread_.joinable()) flush_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  Status result;
  if (flush) {
    result = FlushAll();
    if (!result.ok())
      spdlog::error("msg=\"flush on shutdown failed\" err=\"{}\"", result.message());
  }
  if (wal_) {
    // What could not be flushed stays recoverable through this checkpoint.
    Status st = Checkpoint();
    if (!st.ok()) spdlog::error("msg=\"final checkpoint failed\" err=\"{}\"", st.message());
    st = wal_->Close();
    if (!st.ok() && result.ok()) result = st;
  }
  return result;
}

}  // namespace sluice::ingester
