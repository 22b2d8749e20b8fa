#include "ingester/ingester.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string.h>  // memmem
#include <thread>

#include "chunk/chunk.h"
#include "common/checksum.h"
#include "common/duration.h"
#include "distributor/discard.h"
#include "distributor/distributor.h"
#include "ingester/wal/checkpoint.h"
#include "ingester/wal/reader.h"
#include "metrics/metrics.h"
#include "querier/block_iterator.h"

namespace sluice::ingester {

namespace {

struct IngesterMetrics {
  metrics::Registry& r = metrics::DefaultRegistry();
  metrics::Family<metrics::Gauge>* memory_streams =
      r.NewGauge("loki_ingester_memory_streams", "The total number of streams in memory per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* streams_created =
      r.NewCounter("loki_ingester_streams_created_total", "The total number of streams created per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* streams_removed =
      r.NewCounter("loki_ingester_streams_removed_total", "The total number of streams removed per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* chunks_flushed =
      r.NewCounter("loki_ingester_chunks_flushed_total", "Total flushed chunks per reason.", {"reason"});
  metrics::Family<metrics::Counter>* chunks_stored =
      r.NewCounter("loki_ingester_chunks_stored_total", "Total stored chunks per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* chunk_stored_bytes = r.NewCounter(
      "loki_ingester_chunk_stored_bytes_total", "Total bytes stored in chunks per tenant.", {"tenant"});
  metrics::Family<metrics::Counter>* flush_failures =
      r.NewCounter("sluice_ingester_flush_failures_total", "Chunk flushes that failed and will be retried.");
  metrics::Family<metrics::Counter>* wal_records =
      r.NewCounter("loki_ingester_wal_records_logged_total", "Total number of WAL records logged.");
  metrics::Family<metrics::Counter>* wal_bytes =
      r.NewCounter("loki_ingester_wal_logged_bytes_total", "Total number of bytes written to disk for WAL records.");
  metrics::Family<metrics::Histogram>* wal_fsync = r.NewHistogram(
      "loki_ingester_wal_fsync_duration_seconds", "Duration of WAL fsyncs.", {},
      metrics::ExponentialBuckets(0.0001, 2, 16));
  metrics::Family<metrics::Gauge>* replay_active =
      r.NewGauge("loki_ingester_wal_replay_active", "Whether the WAL is replaying");
  metrics::Family<metrics::Gauge>* replay_flushing = r.NewGauge(
      "loki_ingester_wal_replay_flushing", "Whether the wal replay is in a flushing phase due to backpressure");
  metrics::Family<metrics::Gauge>* replay_progress = r.NewGauge(
      "sluice_ingester_wal_replay_progress_ratio", "Fraction of the WAL (checkpoint and segments) replayed so far.");
  metrics::Family<metrics::Gauge>* replay_duration = r.NewGauge(
      "loki_ingester_wal_replay_duration_seconds", "Time taken to replay the checkpoint and the WAL.");
  metrics::Family<metrics::Counter>* recovered_entries =
      r.NewCounter("loki_ingester_wal_recovered_entries_total", "Total number of entries recovered from the WAL.");
  metrics::Family<metrics::Counter>* recovered_bytes =
      r.NewCounter("loki_ingester_wal_recovered_bytes_total", "Total number of bytes recovered from the WAL.");
  metrics::Family<metrics::Counter>* corruptions = r.NewCounter(
      "loki_ingester_wal_corruptions_total", "Total number of WAL corruptions encountered (torn tails truncated).");
  metrics::Family<metrics::Counter>* checkpoints =
      r.NewCounter("loki_ingester_checkpoint_creations_total", "Total number of checkpoints attempted.");
  metrics::Family<metrics::Counter>* checkpoint_failures =
      r.NewCounter("loki_ingester_checkpoint_creations_failed_total", "Total number of checkpoint creations failed.");
  metrics::Family<metrics::Counter>* checkpoint_bytes =
      r.NewCounter("loki_ingester_checkpoint_logged_bytes_total", "Total number of bytes written to checkpoints.");
};
IngesterMetrics& Metrics() {
  static IngesterMetrics m;
  return m;
}

// Go's time.Time.String() in UTC, as Loki prints an ignored entry's timestamp.
std::string GoTimeString(int64_t ns) {
  std::string s = FormatRfc3339Nano(ns);  // 2006-01-02T15:04:05.999999999Z
  s[10] = ' ';
  s.pop_back();
  return s + " +0000 UTC";
}

// A query's copy of the entries of a head in range, read without the shard lock: the index
// entries and one copy of the span of bytes their lines occupy (no allocation per line).
// Lines lacking a required literal are skipped; timestamps-only reads load a line only for
// entries whose timestamp another entry shares (see iter::EntryIterator::LineLoaded).
class HeadIterator final : public iter::EntryIterator {
 public:
  // REQUIRES: the shard lock is held during the constructor only.
  HeadIterator(const MemChunk& c, int64_t from, int64_t through, std::shared_ptr<const model::LabelSet> labels,
               model::Direction dir, std::shared_ptr<const std::vector<std::string>> literals, bool lines_needed)
      : labels_(std::move(labels)),
        literals_(std::move(literals)),
        backward_(dir == model::Direction::kBackward),
        lines_needed_(lines_needed) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const auto& e : c.head) {
      if (e.timestamp_ns < from || e.timestamp_ns >= through) continue;
      HeadEntry copy = e;
      if (e.metadata != HeadEntry::kNoMetadata) {
        copy.metadata = static_cast<uint32_t>(metadata_.size());
        metadata_.push_back(c.head_metadata[e.metadata]);
      }
      entries_.push_back(copy);
      lo = std::min(lo, e.offset);
      hi = std::max(hi, e.offset + e.size);
    }
    if (entries_.empty()) return;
    lines_.assign(c.head_lines, lo, hi - lo);
    for (auto& e : entries_) e.offset -= lo;
    if (!c.head_sorted) {
      std::stable_sort(entries_.begin(), entries_.end(),
                       [](const HeadEntry& a, const HeadEntry& b) { return a.timestamp_ns < b.timestamp_ns; });
    }
  }
  bool empty() const { return entries_.empty(); }

  bool Next() override {
    while (next_ < entries_.size()) {
      current_ = backward_ ? entries_.size() - 1 - next_ : next_;
      ++next_;
      if (!HasLiterals(Line(entries_[current_]))) continue;
      const HeadEntry& e = entries_[current_];
      entry_.timestamp_ns = e.timestamp_ns;
      entry_.line.clear();
      entry_.metadata.clear();
      loaded_ = false;
      // Metadata labels metric samples, so an entry that has some is always loaded.
      if (lines_needed_ || e.metadata != HeadEntry::kNoMetadata || SharesTimestamp(current_)) LoadCurrent();
      return true;
    }
    return false;
  }
  const model::Entry& At() const override { return entry_; }
  const model::LabelSet& Labels() const override { return *labels_; }
  bool LineLoaded() const override { return loaded_; }
  Status LoadLine() override {
    if (!loaded_) LoadCurrent();
    return Status::OK();
  }

 private:
  std::string_view Line(const HeadEntry& e) const { return {lines_.data() + e.offset, e.size}; }
  bool HasLiterals(std::string_view line) const {
    for (const auto& lit : *literals_) {
      if (line.size() < lit.size() || memmem(line.data(), line.size(), lit.data(), lit.size()) == nullptr)
        return false;
    }
    return true;
  }
  bool SharesTimestamp(size_t i) const {
    int64_t ts = entries_[i].timestamp_ns;
    return (i > 0 && entries_[i - 1].timestamp_ns == ts) ||
           (i + 1 < entries_.size() && entries_[i + 1].timestamp_ns == ts);
  }
  void LoadCurrent() {
    const HeadEntry& e = entries_[current_];
    entry_.line.assign(Line(e));
    if (e.metadata == HeadEntry::kNoMetadata) {
      entry_.metadata.clear();
    } else {
      entry_.metadata = metadata_[e.metadata];
    }
    loaded_ = true;
  }

  std::vector<HeadEntry> entries_;  // sorted ascending; offsets into lines_, metadata into metadata_
  std::string lines_;
  std::vector<std::vector<model::Label>> metadata_;
  std::shared_ptr<const model::LabelSet> labels_;
  std::shared_ptr<const std::vector<std::string>> literals_;
  bool backward_;
  bool lines_needed_;
  size_t next_ = 0, current_ = 0;
  model::Entry entry_;
  bool loaded_ = false;
};

// Blocks cut from an unordered head may overlap in time; a stored chunk's blocks must not,
// so its iterator can read them in sequence. Re-sorts the chunk only when needed.
Result<std::vector<chunk::Block>> OrderedBlocks(const std::vector<std::shared_ptr<const chunk::Block>>& blocks,
                                                const StreamOptions& options) {
  bool overlap = false;
  for (size_t i = 1; i < blocks.size(); ++i) {
    if (blocks[i]->min_ts < blocks[i - 1]->max_ts) overlap = true;
  }
  std::vector<chunk::Block> out;
  if (!overlap) {
    out.reserve(blocks.size());
    for (const auto& b : blocks) out.push_back(*b);
    return out;
  }
  std::vector<model::Entry> entries;
  for (const auto& b : blocks) SLUICE_RETURN_IF_ERROR(chunk::DecodeBlock(*b, &entries));
  SortEntries(&entries);
  chunk::BlockBuilder builder;
  for (const auto& e : entries) {
    builder.Append(e.timestamp_ns, e.line, e.metadata);
    if (builder.raw_bytes() >= options.block_size) out.push_back(builder.Finish(options.codec));
  }
  if (!builder.empty()) out.push_back(builder.Finish(options.codec));
  return out;
}

bool Overlaps(const MemChunk& c, int64_t from, int64_t through) {
  return c.num_entries > 0 && c.min_ts < through && c.max_ts >= from;
}

}  // namespace

struct Ingester::FlushItem {
  std::string tenant;
  uint64_t fingerprint;
  std::shared_ptr<const model::LabelSet> labels;
  std::vector<std::shared_ptr<const chunk::Block>> blocks;
  uint64_t chunk_id;
  std::string reason;
  bool ok = false;
};

Ingester::Ingester(const config::Config::Ingester& config, config::Overrides* overrides, storage::ObjectStore* store,
                   storage::index::IndexWriter* index_writer, Clock* clock)
    : config_(config), overrides_(overrides), store_(store), index_writer_(index_writer), clock_(clock) {
  stream_options_.block_size = config.chunk_block_size;
  stream_options_.target_size = config.chunk_target_size;
}

Ingester::~Ingester() {
  {
    std::lock_guard lock(loop_mu_);
    loops_stop_ = true;
  }
  loop_cv_.notify_all();
  if (flush_thread_.joinable()) flush_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

Ingester::Tenant* Ingester::FindTenant(std::string_view tenant) {
  std::shared_lock lock(tenants_mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : it->second.get();
}

Ingester::Tenant* Ingester::GetOrCreateTenant(std::string_view tenant) {
  if (Tenant* t = FindTenant(tenant)) return t;
  std::unique_lock lock(tenants_mu_);
  auto& slot = tenants_[std::string(tenant)];
  if (!slot) slot = std::make_unique<Tenant>(std::string(tenant), static_cast<size_t>(std::max(1, config_.concurrency)));
  return slot.get();
}

std::vector<Ingester::Tenant*> Ingester::AllTenants() {
  std::shared_lock lock(tenants_mu_);
  std::vector<Tenant*> out;
  for (auto& [_, t] : tenants_) out.push_back(t.get());
  return out;
}

Status Ingester::Start() {
  auto codec = chunk::ParseCodec(config_.chunk_encoding);
  if (!codec.ok()) return Status::InvalidArgument("ingester.chunk_encoding: " + codec.status().message());
  stream_options_.codec = *codec;
  if (config_.wal.enabled) {
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
  if (head_bytes_.load(std::memory_order_relaxed) + delta->heads > static_cast<int64_t>(head_budget) &&
      static_cast<uint64_t>(head) >= head_budget / streams) {
    stream->CutHead();
    delta->heads -= head - static_cast<int64_t>(stream->head_bytes());
  }
  delta->blocks += static_cast<int64_t>(stream->cut_bytes() - before.cut);
}

void Ingester::Settle(const MemoryDelta& delta) {
  const int64_t heads = head_bytes_.fetch_add(delta.heads) + delta.heads;
  const int64_t blocks = block_bytes_.fetch_add(delta.blocks) + delta.blocks;
  const uint64_t budget = HeadBudget() + config_.chunk_memory_budget;
  if (heads + blocks > static_cast<int64_t>(budget) && !memory_flush_wanted_.load() &&
      !memory_flush_wanted_.exchange(true)) {
    std::lock_guard lock(loop_mu_);
    loop_cv_.notify_all();
  }
}

Status Ingester::Push(std::string_view tenant_id, std::vector<distributor::ValidatedStream>& streams) {
  if (stopping_) return Status::Unavailable("Ingester is stopping or already stopped.");
  if (!ready_) return Status::Unavailable("Ingester not ready: WAL replay in progress");
  std::shared_ptr<const config::Limits> limits = overrides_->ForTenant(tenant_id);
  Tenant* tenant = GetOrCreateTenant(tenant_id);
  const int64_t now = clock_->NowNanos();
  const int64_t window = config_.max_chunk_age / 2;
  uint64_t stream_limit = limits->max_global_streams_per_user;
  if (limits->max_streams_per_user > 0 && (stream_limit == 0 || limits->max_streams_per_user < stream_limit)) {
    stream_limit = limits->max_streams_per_user;
  }
  auto& m = Metrics();
  distributor::ErrorCollector errors;
  std::vector<wal::StreamEntries> wal_batch;
  wal_batch.reserve(streams.size());
  MemoryDelta memory;

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
      std::lock_guard lock(shard.mu);
      auto it = shard.streams.find(vs.fingerprint());
      if (it == shard.streams.end()) {
        if (stream_limit > 0 && tenant->num_streams.load() >= stream_limit) {
          uint64_t bytes = 0;
          for (const auto& e : vs.entries) bytes += e.line.size();
          distributor::RecordDiscarded(distributor::reason::kStreamLimit, tenant_id, total, bytes);
          errors.Add(Status::RateLimited(fmt::format(
              "Maximum active stream limit exceeded when trying to create stream {}, reduce the number of active "
              "streams (reduce labels or reduce label values), or contact your Loki administrator to see if the "
              "limit can be increased, user: '{}'",
              vs.labels_text(), tenant_id)));
          vs.entries.clear();
          continue;
        }
        // Shares the distributor's parsed labels rather than copying them.
        auto stream = std::make_unique<Stream>(std::shared_ptr<const model::LabelSet>(vs.labels, &vs.labels->labels),
                                               vs.labels_text(), vs.fingerprint(), &stream_options_);
        it = shard.streams.emplace(vs.fingerprint(), std::move(stream)).first;
        tenant->num_streams.fetch_add(1);
        total_streams_.fetch_add(1);
        m.streams_created->WithLabels({tenant->id})->Inc();
        m.memory_streams->WithLabels({tenant->id})->Add(1);
      }
      Stream* stream = it->second.get();
      auto rate = static_cast<double>(limits->per_stream_rate_limit);
      auto burst = static_cast<double>(std::max(limits->per_stream_rate_limit_burst, limits->per_stream_rate_limit));
      if (stream->rate_limiter() == nullptr) {
        stream->set_rate_limiter(std::make_unique<TokenBucket>(rate, burst, now));
      } else if (stream->rate_limiter()->rate() != rate || stream->rate_limiter()->burst() != burst) {
        stream->rate_limiter()->SetLimits(rate, burst);
      }
      const StreamMemory before = MemoryOf(*stream);
      size_t kept = 0;
      for (size_t i = 0; i < total; ++i) {
        model::EntryView& e = vs.entries[i];
        if (limits->per_stream_rate_limit > 0 &&
            !stream->rate_limiter()->TryTake(static_cast<double>(e.line.size()), now)) {
          distributor::RecordDiscarded(distributor::reason::kPerStreamRateLimit, tenant_id, 1, e.line.size());
          failures.push_back({e.timestamp_ns,
                              fmt::format("Per stream rate limit exceeded (limit: {}/sec) while attempting to ingest "
                                          "for stream '{}' totaling {}, consider splitting a stream via additional "
                                          "labels or contact your Loki administrator to see if the limit can be "
                                          "increased",
                                          FormatByteSize(limits->per_stream_rate_limit), vs.labels_text(),
                                          FormatByteSize(e.line.size())),
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
            break;  // Already stored: a retry or a replay. Not an error, as in Loki.
          case AppendOutcome::kOutOfOrder:
            distributor::RecordDiscarded(distributor::reason::kOutOfOrder, tenant_id, 1, e.line.size());
            failures.push_back({e.timestamp_ns, "entry out of order", false});
            break;
          case AppendOutcome::kTooFarBehind: {
            distributor::RecordDiscarded(distributor::reason::kTooFarBehind, tenant_id, 1, e.line.size());
            auto secs = [](int64_t ns) { return FormatRfc3339Nano(ns - ((ns % kNanosPerSecond) + kNanosPerSecond) % kNanosPerSecond); };
            failures.push_back({e.timestamp_ns,
                                fmt::format("entry too far behind, entry timestamp is: {}, oldest acceptable "
                                            "timestamp is: {}",
                                            secs(e.timestamp_ns), secs(highest - window)),
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
        if (config_.max_returned_stream_errors > 0 && shown >= config_.max_returned_stream_errors) break;
        msg += fmt::format("entry with timestamp {} ignored, reason: '{}',\n", GoTimeString(f.ts), f.reason);
        ++shown;
      }
      msg += fmt::format("user '{}', total ignored: {} out of {} for stream: {}", tenant_id, failures.size(), total,
                         vs.labels_text());
      errors.Add(failures.back().rate_limited ? Status::RateLimited(msg) : Status::InvalidArgument(msg));
    }
    if (!vs.entries.empty()) wal_batch.push_back(wal::StreamEntries{vs.fingerprint(), vs.labels_text(), vs.entries});
  }

  Settle(memory);
  if (wal_ && !wal_batch.empty()) {
    Status logged = wal_->Log(tenant_id, wal_batch);
    if (!logged.ok()) {
      spdlog::error("msg=\"WAL write failed; push not acknowledged\" tenant={} err=\"{}\"", tenant_id,
                    logged.message());
      return Status::Unavailable("failed to write to the WAL: " + logged.message());
    }
  }
  return errors.ToStatus();
}

Result<std::vector<iter::EntryIteratorPtr>> Ingester::SelectLogs(const querier::SelectParams& params) {
  std::vector<iter::EntryIteratorPtr> out;
  Tenant* tenant = FindTenant(params.tenant);
  if (tenant == nullptr) return out;
  auto literals = std::make_shared<const std::vector<std::string>>(params.required_literals);
  chunk::ReadOptions options;
  options.lines_needed = params.lines_needed;
  options.required_literals = literals->empty() ? nullptr : literals.get();
  options.stats = params.block_stats;
  for (auto& shard : tenant->shards) {
    std::lock_guard lock(shard.mu);
    for (auto& [fp, stream] : shard.streams) {
      if (!model::MatchesAll(params.matchers, *stream->labels())) continue;
      for (const auto& c : stream->chunks()) {
        if (!Overlaps(c, params.from_ns, params.through_ns)) continue;
        for (const auto& b : c.blocks) {
          if (b->min_ts >= params.through_ns || b->max_ts < params.from_ns) continue;
          // The iterator holds no lock: it keeps the immutable block and the labels alive.
          auto owner = std::make_shared<std::pair<std::shared_ptr<const chunk::Block>,
                                                  std::shared_ptr<const model::LabelSet>>>(b, stream->labels());
          out.push_back(querier::NewBlocksIterator(owner, {b.get()}, owner->second.get(), params.from_ns,
                                                   params.through_ns, params.direction, options));
        }
        auto head = std::make_unique<HeadIterator>(c, params.from_ns, params.through_ns, stream->labels(),
                                                   params.direction, literals, params.lines_needed);
        if (!head->empty()) out.push_back(std::move(head));
      }
    }
  }
  return out;
}

Result<std::vector<model::LabelSet>> Ingester::Series(const querier::SelectParams& params) {
  std::vector<model::LabelSet> out;
  Tenant* tenant = FindTenant(params.tenant);
  if (tenant == nullptr) return out;
  for (auto& shard : tenant->shards) {
    std::lock_guard lock(shard.mu);
    for (auto& [fp, stream] : shard.streams) {
      if (!model::MatchesAll(params.matchers, *stream->labels())) continue;
      bool in_range = std::any_of(stream->chunks().begin(), stream->chunks().end(),
                                  [&](const MemChunk& c) { return Overlaps(c, params.from_ns, params.through_ns); });
      if (in_range) out.push_back(*stream->labels());
    }
  }
  return out;
}

Result<std::vector<std::string>> Ingester::LabelNames(const querier::SelectParams& params) {
  SLUICE_ASSIGN_OR_RETURN(auto series, Series(params));
  std::set<std::string> names;
  for (const auto& s : series) {
    for (const auto& l : s.labels()) names.insert(l.name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<std::vector<std::string>> Ingester::LabelValues(const querier::SelectParams& params, std::string_view name) {
  SLUICE_ASSIGN_OR_RETURN(auto series, Series(params));
  std::set<std::string> values;
  for (const auto& s : series) {
    if (const std::string* v = s.Get(name)) values.insert(*v);
  }
  return std::vector<std::string>(values.begin(), values.end());
}

Ingester::StreamMap::iterator Ingester::DropRetired(Tenant* tenant, Shard& shard, StreamMap::iterator it,
                                                    int64_t now) {
  auto& chunks = it->second->chunks();
  std::erase_if(chunks, [&](const MemChunk& c) {
    return c.flushed && now - c.flushed_at_ns >= config_.chunk_retain_period;
  });
  if (!chunks.empty()) return std::next(it);
  tenant->num_streams.fetch_sub(1);
  total_streams_.fetch_sub(1);
  Metrics().streams_removed->WithLabels({tenant->id})->Inc();
  Metrics().memory_streams->WithLabels({tenant->id})->Add(-1);
  return shard.streams.erase(it);
}

Status Ingester::Sweep(bool force, bool memory) {
  std::lock_guard flush_lock(flush_mu_);
  const int64_t now = clock_->NowNanos();
  auto& m = Metrics();
  // Under memory pressure, open chunks of at least `memory_cut` bytes are closed: the largest
  // ones, together enough to bring memory down to half the budget.
  uint64_t memory_cut = UINT64_MAX;
  if (memory && !force) {
    const uint64_t budget = HeadBudget() + config_.chunk_memory_budget;
    const int64_t used = head_bytes_.load() + block_bytes_.load();
    if (used > static_cast<int64_t>(budget / 2)) {
      std::vector<uint64_t> sizes;
      for (Tenant* tenant : AllTenants()) {
        for (auto& shard : tenant->shards) {
          std::lock_guard lock(shard.mu);
          for (const auto& [fp, stream] : shard.streams) {
            const auto& chunks = stream->chunks();
            if (!chunks.empty() && !chunks.back().closed) {
              sizes.push_back(chunks.back().compressed_bytes + chunks.back().head_bytes);
            }
          }
        }
      }
      std::sort(sizes.begin(), sizes.end(), std::greater<>());
      uint64_t freed = 0;
      for (uint64_t size : sizes) {
        if (freed >= static_cast<uint64_t>(used) - budget / 2) break;
        freed += size;
        memory_cut = size;
      }
    }
  }
  std::vector<FlushItem> items;
  for (Tenant* tenant : AllTenants()) {
    for (auto& shard : tenant->shards) {
      std::lock_guard lock(shard.mu);
      for (auto it = shard.streams.begin(); it != shard.streams.end();) {
        Stream& stream = *it->second;
        auto& chunks = stream.chunks();
        if (!chunks.empty() && !chunks.back().closed) {
          const MemChunk& open = chunks.back();
          const StreamMemory before = MemoryOf(stream);
          if (force) {
            stream.CloseOpenChunk("forced");
          } else if (now - open.last_append_ns > config_.chunk_idle_period) {
            stream.CloseOpenChunk("idle");
          } else if (now - open.first_append_ns > config_.max_chunk_age) {
            stream.CloseOpenChunk("max_age");
          } else if (open.compressed_bytes + open.head_bytes >= memory_cut) {
            stream.CloseOpenChunk("memory");
          }
          MemoryDelta delta;
          Charge(&stream, before, &delta);
          Settle(delta);
        }
        for (auto& c : chunks) {
          if (!c.closed || c.flushing || c.flushed) continue;
          if (c.num_entries == 0) {
            c.flushed = true;
            c.flushed_at_ns = now;
            continue;
          }
          c.flushing = true;
          items.push_back(FlushItem{tenant->id, stream.fingerprint(), stream.labels(), c.blocks, c.id,
                                    c.close_reason});
        }
        it = DropRetired(tenant, shard, it, now);
      }
    }
  }
  if (items.empty()) return Status::OK();
  Status st = FlushItems(items);
  // Mark the outcome; a failed chunk is retried by the next sweep.
  const int64_t done = clock_->NowNanos();
  for (const auto& item : items) {
    Tenant* tenant = FindTenant(item.tenant);
    Shard& shard = ShardFor(tenant, item.fingerprint);
    std::lock_guard lock(shard.mu);
    auto it = shard.streams.find(item.fingerprint);
    if (it == shard.streams.end()) continue;
    for (auto& c : it->second->chunks()) {
      if (c.id != item.chunk_id || !c.flushing) continue;
      c.flushing = false;
      if (item.ok) {
        c.flushed = true;
        c.flushed_at_ns = done;
        block_bytes_.fetch_sub(static_cast<int64_t>(c.compressed_bytes));
        m.chunks_flushed->WithLabels({item.reason})->Inc();
      }
    }
    DropRetired(tenant, shard, it, done);  // a zero retain period drops at once
  }
  return st;
}

Status Ingester::FlushItems(std::vector<FlushItem>& items) {
  auto& m = Metrics();
  // Encoding and storing the chunks (each Put fsyncs) run on up to `concurrent_flushes` threads;
  // what they produce is then collected in item order, so the index is written as before.
  struct Stored {
    Status status;
    storage::index::ChunkRef ref;
  };
  std::vector<Stored> stored(items.size());
  auto store_one = [&](size_t i) {
    FlushItem& item = items[i];
    auto blocks = OrderedBlocks(item.blocks, stream_options_);
    // Blocks were cut small and fast for the push path; what is stored is read for months, so
    // it is re-cut larger, compressed harder and given blooms (ingester.chunk_flush_*).
    if (blocks.ok() && config_.chunk_flush_compression_level > 0) {
      chunk::RecompactOptions recompact{.codec = stream_options_.codec,
                                        .level = config_.chunk_flush_compression_level,
                                        .target_block_raw_size = config_.chunk_flush_block_size,
                                        .bloom = config_.chunk_flush_blooms};
      blocks = chunk::Recompact(*blocks, recompact);
    }
    if (!blocks.ok()) {
      stored[i].status = blocks.status();
      return;
    }
    storage::index::ChunkRef& ref = stored[i].ref;
    ref.fingerprint = item.fingerprint;
    ref.from_ns = blocks->front().min_ts;
    ref.through_ns = blocks->front().max_ts;
    for (const auto& b : *blocks) {
      ref.from_ns = std::min(ref.from_ns, b.min_ts);
      ref.through_ns = std::max(ref.through_ns, b.max_ts);
      ref.num_entries += b.num_entries;
      ref.raw_bytes += b.raw_len;
    }
    std::string data = chunk::EncodeChunk(*item.labels, *blocks);
    ref.stored_bytes = data.size();
    // One folder per tenant, not per stream: on a filesystem store a folder per stream costs a
    // 4KB directory block each (about 20 MB per GB raw with 1,000 streams of a 2h chunk).
    ref.key = fmt::format("chunks/{}/{:016x}-{:x}-{:x}-{:08x}", item.tenant, item.fingerprint, ref.from_ns,
                          ref.through_ns, Crc32(data));
    stored[i].status = store_->Put(ref.key, data);
  };
  const size_t workers =
      std::min(items.size(), static_cast<size_t>(std::max(1, config_.concurrent_flushes)));
  if (workers <= 1) {
    for (size_t i = 0; i < items.size(); ++i) store_one(i);
  } else {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    threads.reserve(workers);
    for (size_t w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        for (size_t i = next.fetch_add(1); i < items.size(); i = next.fetch_add(1)) store_one(i);
      });
    }
    for (auto& t : threads) t.join();
  }

  std::map<std::string, std::vector<std::pair<model::LabelSet, storage::index::ChunkRef>>> refs;
  std::map<std::string, std::vector<FlushItem*>> by_tenant;
  Status first_error;
  for (size_t i = 0; i < items.size(); ++i) {
    FlushItem& item = items[i];
    Stored& s = stored[i];
    if (!s.status.ok()) {
      if (!s.ref.key.empty()) {  // the Put failed (an encoding failure has no key yet)
        m.flush_failures->WithLabels({})->Inc();
        spdlog::error("msg=\"chunk flush failed\" tenant={} key={} err=\"{}\"", item.tenant, s.ref.key,
                      s.status.message());
      }
      if (first_error.ok()) first_error = s.status;
      continue;
    }
    m.chunks_stored->WithLabels({item.tenant})->Inc();
    m.chunk_stored_bytes->WithLabels({item.tenant})->Inc(static_cast<double>(s.ref.stored_bytes));
    refs[item.tenant].emplace_back(*item.labels, std::move(s.ref));
    by_tenant[item.tenant].push_back(&item);
  }
  // The index is written after its chunks, so it never points at a missing object.
  for (auto& [tenant, tenant_refs] : refs) {
    Status st = index_writer_->WriteBatch(tenant, tenant_refs);
    if (!st.ok()) {
      m.flush_failures->WithLabels({})->Inc();
      spdlog::error("msg=\"index write failed\" tenant={} err=\"{}\"", tenant, st.message());
      if (first_error.ok()) first_error = st;
      continue;
    }
    for (FlushItem* item : by_tenant[tenant]) item->ok = true;
  }
  return first_error;
}

Status Ingester::FlushAll() { return Sweep(true); }

void Ingester::RequestFlush() {
  {
    std::lock_guard lock(loop_mu_);
    flush_requested_ = true;
  }
  loop_cv_.notify_all();
}

void Ingester::FlushLoop() {
  std::unique_lock lock(loop_mu_);
  while (!loops_stop_) {
    loop_cv_.wait_for(lock, std::chrono::nanoseconds(config_.flush_check_period),
                      [this] { return loops_stop_ || flush_requested_ || memory_flush_wanted_.load(); });
    if (loops_stop_) break;
    bool force = flush_requested_;
    flush_requested_ = false;
    bool memory = memory_flush_wanted_.exchange(false);
    lock.unlock();
    Status st = Sweep(force, memory);
    if (!st.ok()) spdlog::warn("msg=\"flush sweep failed; will retry\" err=\"{}\"", st.message());
    if (memory && wal_) {
      // The WAL still holds what the sweep just flushed: a crash now would replay it into
      // memory and flush it a second time. A checkpoint leaves flushed chunks out and lets the
      // segments before it go.
      st = Checkpoint();
      if (!st.ok()) spdlog::warn("msg=\"checkpoint after a memory flush failed\" err=\"{}\"", st.message());
    }
    lock.lock();
  }
}

void Ingester::CheckpointLoop() {
  std::unique_lock lock(loop_mu_);
  while (!loops_stop_) {
    // The condition variable is shared with the flush loop: wait for the deadline, not a wake-up.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(config_.wal.checkpoint_duration);
    loop_cv_.wait_until(lock, deadline, [this] { return loops_stop_; });
    if (loops_stop_) break;
    lock.unlock();
    Status st = Checkpoint();
    if (!st.ok()) spdlog::warn("msg=\"checkpoint failed\" err=\"{}\"", st.message());
    lock.lock();
  }
}

Status Ingester::Checkpoint() {
  if (!wal_) return Status::OK();
  std::lock_guard lock(checkpoint_mu_);
  auto& m = Metrics();
  m.checkpoints->WithLabels({})->Inc();
  auto fail = [&](Status st) {
    m.checkpoint_failures->WithLabels({})->Inc();
    return st;
  };
  auto start = std::chrono::steady_clock::now();
  // Every record logged after the cut lands in segment >= `segment`; everything applied to
  // memory before the cut is in the snapshot below, so segments < `segment` become redundant.
  auto segment = wal_->CutSegment();
  if (!segment.ok()) return fail(segment.status());
  auto writer = wal::CheckpointWriter::Create(config_.wal.dir, *segment);
  if (!writer.ok()) return fail(writer.status());
  uint64_t streams = 0;
  struct Snapshot {
    uint64_t fingerprint;
    std::string labels_text;
    std::vector<std::shared_ptr<const chunk::Block>> blocks;
    std::vector<model::Entry> head;
  };
  for (Tenant* tenant : AllTenants()) {
    for (auto& shard : tenant->shards) {
      std::vector<Snapshot> snapshots;
      {
        std::lock_guard shard_lock(shard.mu);
        for (auto& [fp, stream] : shard.streams) {
          Snapshot s{fp, stream->labels_text(), {}, {}};
          for (const auto& c : stream->chunks()) {
            if (c.flushed) continue;
            s.blocks.insert(s.blocks.end(), c.blocks.begin(), c.blocks.end());
            c.AppendHeadEntries(&s.head);
          }
          if (!s.blocks.empty() || !s.head.empty()) snapshots.push_back(std::move(s));
        }
      }
      for (auto& s : snapshots) {
        std::vector<model::Entry> entries;
        for (const auto& b : s.blocks) {
          Status st = chunk::DecodeBlock(*b, &entries);
          if (!st.ok()) return fail(st);
        }
        entries.insert(entries.end(), std::make_move_iterator(s.head.begin()), std::make_move_iterator(s.head.end()));
        SortEntries(&entries);
        Status st = (*writer)->AddStream(tenant->id, s.fingerprint, s.labels_text, entries);
        if (!st.ok()) return fail(st);
        ++streams;
      }
    }
  }
  Status st = (*writer)->Commit();
  if (!st.ok()) return fail(st);
  m.checkpoint_bytes->WithLabels({})->Inc(static_cast<double>((*writer)->bytes_written()));
  st = wal_->TruncateBefore(*segment);
  if (!st.ok()) return fail(st);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("msg=\"checkpoint written\" segment={} streams={} bytes={} duration={:.3f}s", *segment, streams,
               (*writer)->bytes_written(), secs);
  return Status::OK();
}

namespace {
// Replay hands decoded entries to at most this many appending threads, in batches of about
// kReplayBatchBytes of lines, with up to kReplayQueuedBatches waiting per thread.
constexpr size_t kMaxReplayWorkers = 4;
constexpr size_t kReplayBatchBytes = 1 << 20;
constexpr size_t kReplayQueuedBatches = 2;
constexpr size_t kReplayNoMetadata = SIZE_MAX;
}  // namespace

Status Ingester::Replay() {
  auto& m = Metrics();
  m.replay_active->WithLabels({})->Set(1);
  auto start = std::chrono::steady_clock::now();

  // Appending replayed entries cuts and compresses blocks, most of replay's CPU, so it runs on
  // worker threads, each owning the streams whose fingerprint maps to it (a stream's entries
  // keep their order); the replaying thread reads and decodes the WAL and hands the entries
  // over in batches.
  struct Batch {
    struct Group {
      Tenant* tenant;
      uint64_t fingerprint;
      size_t begin, end;  // into items
    };
    struct Item {
      int64_t timestamp_ns;
      size_t offset, size;  // into lines
      size_t metadata;      // into metadata, or kReplayNoMetadata
    };
    std::vector<Group> groups;
    std::vector<Item> items;
    std::string lines;
    std::vector<std::vector<model::Label>> metadata;

    void Add(Tenant* tenant, uint64_t fingerprint, std::span<const model::Entry> entries) {
      groups.push_back({tenant, fingerprint, items.size(), items.size() + entries.size()});
      for (const auto& e : entries) {
        size_t md = kReplayNoMetadata;
        if (!e.metadata.empty()) {
          md = metadata.size();
          metadata.push_back(e.metadata);
        }
        items.push_back({e.timestamp_ns, lines.size(), e.line.size(), md});
        lines.append(e.line);
      }
    }
    void Clear() {
      groups.clear();
      items.clear();
      lines.clear();
      metadata.clear();
    }
  };

  class Worker {
   public:
    explicit Worker(Ingester* ingester) : ing_(ingester), thread_([this] { Run(); }) {}
    ~Worker() { Stop(); }

    // Queues *batch and replaces it with an empty one; blocks while the queue is full.
    void Submit(std::unique_ptr<Batch>* batch) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return queue_.size() < kReplayQueuedBatches; });
      queue_.push_back(std::move(*batch));
      if (free_.empty()) {
        *batch = std::make_unique<Batch>();
      } else {
        *batch = std::move(free_.back());
        free_.pop_back();
      }
      cv_.notify_all();
    }
    // Returns when every batch submitted so far is applied.
    void Drain() {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
    }
    void Stop() {
      {
        std::lock_guard lock(mu_);
        stop_ = true;
      }
      cv_.notify_all();
      if (thread_.joinable()) thread_.join();
    }
    // Entries appended (duplicates are not). Call after Stop().
    uint64_t entries() const { return entries_; }

   private:
    void Run() {
      std::unique_lock lock(mu_);
      while (true) {
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything is applied
        std::unique_ptr<Batch> batch = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        cv_.notify_all();  // room in the queue
        lock.unlock();
        uint64_t appended = Apply(*batch);
        batch->Clear();
        lock.lock();
        entries_ += appended;
        free_.push_back(std::move(batch));
        busy_ = false;
        cv_.notify_all();
      }
    }

    uint64_t Apply(const Batch& batch) {
      static const std::vector<model::Label> kNone;
      uint64_t appended = 0;
      MemoryDelta memory;
      for (const auto& g : batch.groups) {
        const int64_t now = ing_->clock_->NowNanos();
        Shard& shard = ing_->ShardFor(g.tenant, g.fingerprint);
        std::lock_guard lock(shard.mu);
        auto s = shard.streams.find(g.fingerprint);
        if (s == shard.streams.end()) continue;
        const StreamMemory before = MemoryOf(*s->second);
        for (size_t i = g.begin; i < g.end; ++i) {
          const Batch::Item& it = batch.items[i];
          const auto& md = it.metadata == kReplayNoMetadata ? kNone : batch.metadata[it.metadata];
          model::EntryView e{it.timestamp_ns, std::string_view(batch.lines).substr(it.offset, it.size), md};
          // Replay takes everything back, whatever its order: it was accepted once.
          if (s->second->Append(e, now, true, INT64_MAX / 2) == AppendOutcome::kAppended) ++appended;
        }
        ing_->Charge(s->second.get(), before, &memory);
      }
      ing_->Settle(memory);
      return appended;
    }

    Ingester* ing_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Batch>> queue_;  // GUARDED_BY(mu_)
    std::vector<std::unique_ptr<Batch>> free_;  // GUARDED_BY(mu_)
    bool busy_ = false;                         // GUARDED_BY(mu_)
    bool stop_ = false;                         // GUARDED_BY(mu_)
    uint64_t entries_ = 0;                      // GUARDED_BY(mu_)
    std::thread thread_;                        // last: starts once the rest is set up
  };

  class Handler final : public wal::ReplayHandler {
   public:
    explicit Handler(Ingester* ingester) : ing_(ingester) {
      const size_t workers = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), kMaxReplayWorkers);
      for (size_t i = 0; i < workers; ++i) {
        workers_.push_back(std::make_unique<Worker>(ingester));
        pending_.push_back(std::make_unique<Batch>());
      }
    }

    void OnSeries(std::string_view tenant, uint64_t ref, std::string_view labels) override {
      auto parsed = model::ParseLabels(labels);
      if (!parsed.ok()) {
        spdlog::warn("msg=\"WAL series with unparsable labels skipped\" tenant={} labels={}", tenant, labels);
        return;
      }
      uint64_t fp = parsed->Fingerprint();
      Tenant* t = ing_->GetOrCreateTenant(tenant);
      Shard& shard = ing_->ShardFor(t, fp);
      std::lock_guard lock(shard.mu);
      if (!shard.streams.contains(fp)) {
        std::string text = parsed->ToString();
        shard.streams.emplace(fp, std::make_unique<Stream>(std::make_shared<const model::LabelSet>(std::move(*parsed)),
                                                           std::move(text), fp, &ing_->stream_options_));
        t->num_streams.fetch_add(1);
        ing_->total_streams_.fetch_add(1);
        Metrics().memory_streams->WithLabels({t->id})->Add(1);
      }
      refs_[{std::string(tenant), ref}] = fp;
    }

    void OnEntries(std::string_view tenant, uint64_t ref, std::span<const model::Entry> entries) override {
      auto it = refs_.find({std::string(tenant), ref});
      if (it == refs_.end()) {
        ++orphans_;
        return;
      }
      const uint64_t fp = it->second;
      Tenant* t = ing_->GetOrCreateTenant(tenant);
      const size_t w = fp % workers_.size();
      pending_[w]->Add(t, fp, entries);
      for (const auto& e : entries) bytes_in_memory_ += e.line.size();
      if (pending_[w]->lines.size() >= kReplayBatchBytes) workers_[w]->Submit(&pending_[w]);
      if (bytes_in_memory_ > ing_->config_.wal.replay_memory_ceiling) {
        Finish();
        // Past the ceiling, replayed data goes to storage instead of staying in memory, so an
        // ingester that died under memory pressure does not die again replaying.
        spdlog::warn("msg=\"WAL replay memory ceiling reached; flushing to storage\" bytes={}", bytes_in_memory_);
        Metrics().replay_flushing->WithLabels({})->Set(1);
        Status st = ing_->Sweep(true);
        if (!st.ok()) spdlog::error("msg=\"flush during replay failed\" err=\"{}\"", st.message());
        Metrics().replay_flushing->WithLabels({})->Set(0);
        bytes_in_memory_ = 0;
      }
    }

    // Applies everything handed over so far.
    void Finish() {
      for (size_t w = 0; w < workers_.size(); ++w) {
        if (!pending_[w]->groups.empty()) workers_[w]->Submit(&pending_[w]);
      }
      for (auto& worker : workers_) worker->Drain();
    }
    // Finishes and stops the workers.
    void Stop() {
      Finish();
      for (auto& worker : workers_) worker->Stop();
    }

    uint64_t entries() const {
      uint64_t n = 0;
      for (const auto& worker : workers_) n += worker->entries();
      return n;
    }
    uint64_t orphans() const { return orphans_; }

   private:
    Ingester* ing_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::unique_ptr<Batch>> pending_;  // per worker, being filled
    std::map<std::pair<std::string, uint64_t>, uint64_t> refs_;
    uint64_t bytes_in_memory_ = 0;
    uint64_t orphans_ = 0;
  };

  spdlog::info("msg=\"replaying WAL\" dir={}", config_.wal.dir);
  Handler handler(this);
  auto last_log = std::chrono::steady_clock::now();
  auto* progress = m.replay_progress->WithLabels({});
  progress->Set(0);
  auto stats = wal::Replay(config_.wal.dir, &handler, [&](uint64_t done, uint64_t total) {
    progress->Set(total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total));
    auto now = std::chrono::steady_clock::now();
    if (now - last_log > std::chrono::seconds(5)) {
      spdlog::info("msg=\"WAL replay progress\" done_bytes={} total_bytes={}", done, total);
      last_log = now;
    }
  });
  handler.Stop();
  m.replay_active->WithLabels({})->Set(0);
  if (!stats.ok()) return stats.status();
  progress->Set(1);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.replay_duration->WithLabels({})->Set(secs);
  m.recovered_entries->WithLabels({})->Inc(static_cast<double>(handler.entries()));
  m.recovered_bytes->WithLabels({})->Inc(static_cast<double>(stats->bytes));
  m.corruptions->WithLabels({})->Inc(static_cast<double>(stats->corrupt_truncations));
  spdlog::info(
      "msg=\"WAL replay done\" segments={} records={} entries={} bytes={} corrupt_truncations={} "
      "orphan_records={} duration={:.3f}s",
      stats->segments, stats->records, handler.entries(), stats->bytes, stats->corrupt_truncations,
      handler.orphans(), secs);
  return Status::OK();
}

Status Ingester::Shutdown(bool flush) {
  if (stopping_.exchange(true)) return Status::OK();
  {
    std::lock_guard lock(loop_mu_);
    loops_stop_ = true;
  }
  loop_cv_.notify_all();
  if (flush_thread_.joinable()) flush_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  Status result;
  if (flush) {
    result = FlushAll();
    if (!result.ok()) spdlog::error("msg=\"flush on shutdown failed\" err=\"{}\"", result.message());
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
