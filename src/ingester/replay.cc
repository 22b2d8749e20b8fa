// The ingester's durability side: checkpoints of its memory, and WAL replay on start.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "ingester/ingester.h"
#include "ingester/ingester_metrics.h"
#include "ingester/wal/checkpoint.h"
#include "ingester/wal/reader.h"

namespace sluice::ingester {

void Ingester::CheckpointLoop() {
  using SteadyClock = std::chrono::steady_clock;
  const auto period = std::chrono::nanoseconds(config_.wal.checkpoint_duration);
  auto next_checkpoint = SteadyClock::now() + period;
  MutexLock lock(&loop_mu_);
  while (!loops_stop_) {
    // While the WAL is failing a repair is tried every second, pushes or not: an ingester that
    // /ready took off its load balancer gets no push to trigger one. The condition variable is
    // shared with the flush loop, so wake on the deadline (or a WAL failure), not any signal.
    const bool broken = wal_broken_.load();
    const auto wake = broken
                          ? std::min(next_checkpoint, SteadyClock::now() + std::chrono::seconds(1))
                          : next_checkpoint;
    loop_cv_.WaitUntil(&loop_mu_, wake, [this, broken]() REQUIRES(loop_mu_) {
      return loops_stop_ || (!broken && wal_broken_.load());
    });
    if (loops_stop_) break;
    lock.Unlock();
    if (wal_broken_.load()) {
      (void)RepairWal();  // says why it failed itself
    } else if (SteadyClock::now() >= next_checkpoint) {
      Status st = Checkpoint();
      if (!st.ok()) spdlog::warn("msg=\"checkpoint failed\" err=\"{}\"", st.message());
      next_checkpoint = SteadyClock::now() + period;
    }
    lock.Lock();
  }
}

Status Ingester::Checkpoint() {
  if (!wal_) return Status::OK();
  MutexLock lock(&checkpoint_mu_);
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
  // Taken before memory is read: whatever was applied before this call is in the snapshot.
  std::function<void()> on_durable = checkpoint_hook_ ? checkpoint_hook_() : nullptr;
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
        MutexLock shard_lock(&shard.mu);
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
        entries.insert(entries.end(), std::make_move_iterator(s.head.begin()),
                       std::make_move_iterator(s.head.end()));
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
  if (on_durable) on_durable();
  st = wal_->TruncateBefore(*segment);
  if (!st.ok()) return fail(st);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("msg=\"checkpoint written\" segment={} streams={} bytes={} duration={:.3f}s",
               *segment, streams, (*writer)->bytes_written(), secs);
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
    void Submit(std::unique_ptr<Batch>* batch) EXCLUDES(mu_) {
      MutexLock lock(&mu_);
      cv_.Wait(&mu_, [this]() REQUIRES(mu_) { return queue_.size() < kReplayQueuedBatches; });
      queue_.push_back(std::move(*batch));
      if (free_.empty()) {
        *batch = std::make_unique<Batch>();
      } else {
        *batch = std::move(free_.back());
        free_.pop_back();
      }
      cv_.SignalAll();
    }
    // Returns when every batch submitted so far is applied.
    void Drain() EXCLUDES(mu_) {
      MutexLock lock(&mu_);
      cv_.Wait(&mu_, [this]() REQUIRES(mu_) { return queue_.empty() && !busy_; });
    }
    void Stop() EXCLUDES(mu_) {
      {
        MutexLock lock(&mu_);
        stop_ = true;
      }
      cv_.SignalAll();
      if (thread_.joinable()) thread_.join();
    }
    // Entries appended (duplicates are not). Call after Stop().
    uint64_t entries() const EXCLUDES(mu_) {
      MutexLock lock(&mu_);
      return entries_;
    }

   private:
    void Run() EXCLUDES(mu_) {
      MutexLock lock(&mu_);
      while (true) {
        cv_.Wait(&mu_, [this]() REQUIRES(mu_) { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything is applied
        std::unique_ptr<Batch> batch = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        cv_.SignalAll();  // room in the queue
        lock.Unlock();
        uint64_t appended = Apply(*batch);
        batch->Clear();
        lock.Lock();
        entries_ += appended;
        free_.push_back(std::move(batch));
        busy_ = false;
        cv_.SignalAll();
      }
    }

    uint64_t Apply(const Batch& batch) {
      static const std::vector<model::Label> kNone;
      uint64_t appended = 0;
      MemoryDelta memory;
      for (const auto& g : batch.groups) {
        const int64_t now = ing_->clock_->NowNanos();
        Shard& shard = ing_->ShardFor(g.tenant, g.fingerprint);
        MutexLock lock(&shard.mu);
        auto s = shard.streams.find(g.fingerprint);
        if (s == shard.streams.end()) continue;
        const StreamMemory before = MemoryOf(*s->second);
        for (size_t i = g.begin; i < g.end; ++i) {
          const Batch::Item& it = batch.items[i];
          const auto& md = it.metadata == kReplayNoMetadata ? kNone : batch.metadata[it.metadata];
          model::EntryView e{it.timestamp_ns,
                             std::string_view(batch.lines).substr(it.offset, it.size), md};
          // Replay takes everything back, whatever its order: it was accepted once.
          if (s->second->Append(e, now, true, INT64_MAX / 2) == AppendOutcome::kAppended)
            ++appended;
        }
        ing_->Charge(s->second.get(), before, &memory);
      }
      ing_->Settle(memory);
      return appended;
    }

    Ingester* ing_;
    mutable Mutex mu_;
    CondVar cv_;
    std::deque<std::unique_ptr<Batch>> queue_ GUARDED_BY(mu_);
    std::vector<std::unique_ptr<Batch>> free_ GUARDED_BY(mu_);
    bool busy_ GUARDED_BY(mu_) = false;
    bool stop_ GUARDED_BY(mu_) = false;
    uint64_t entries_ GUARDED_BY(mu_) = 0;
    std::thread thread_;  // last: starts once the rest is set up
  };

  class Handler final : public wal::ReplayHandler {
   public:
    explicit Handler(Ingester* ingester) : ing_(ingester) {
      const size_t workers =
          std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), kMaxReplayWorkers);
      for (size_t i = 0; i < workers; ++i) {
        workers_.push_back(std::make_unique<Worker>(ingester));
        pending_.push_back(std::make_unique<Batch>());
      }
    }

    void OnSeries(std::string_view tenant, uint64_t ref, std::string_view labels) override {
      auto parsed = model::ParseLabels(labels);
      if (!parsed.ok()) {
        spdlog::warn("msg=\"WAL series with unparsable labels skipped\" tenant={} labels={}",
                     tenant, labels);
        return;
      }
      uint64_t fp = parsed->Fingerprint();
      Tenant* t = ing_->GetOrCreateTenant(tenant);
      Shard& shard = ing_->ShardFor(t, fp);
      MutexLock lock(&shard.mu);
      if (!shard.streams.contains(fp)) {
        std::string text = parsed->ToString();
        shard.streams.emplace(fp, std::make_unique<Stream>(
                                      std::make_shared<const model::LabelSet>(std::move(*parsed)),
                                      std::move(text), fp, &ing_->stream_options_));
        t->num_streams.fetch_add(1);
        ing_->total_streams_.fetch_add(1);
        Metrics().memory_streams->WithLabels({t->id})->Add(1);
      }
      refs_[{std::string(tenant), ref}] = fp;
    }

    void OnEntries(std::string_view tenant, uint64_t ref,
                   std::span<const model::Entry> entries) override {
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
        spdlog::warn("msg=\"WAL replay memory ceiling reached; flushing to storage\" bytes={}",
                     bytes_in_memory_);
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

}  // namespace sluice::ingester
