// The ingester's flush side: closing chunks (idle, too old, full, over the memory budget, or
// all of them), uploading them with their index entries, and dropping what has been flushed.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "chunk/chunk.h"
#include "common/checksum.h"
#include "common/duration.h"
#include "ingester/ingester.h"
#include "ingester/ingester_metrics.h"

namespace sluice::ingester {

namespace {

// Blocks cut from an unordered head may overlap in time; a stored chunk's blocks must not,
// so its iterator can read them in sequence. Re-sorts the chunk only when needed.
Result<std::vector<chunk::Block>> OrderedBlocks(
    const std::vector<std::shared_ptr<const chunk::Block>>& blocks, const StreamOptions& options) {
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

Ingester::StreamMap::iterator Ingester::DropRetired(Tenant* tenant, Shard& shard,
                                                    StreamMap::iterator it, int64_t now) {
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
  MutexLock flush_lock(&flush_mu_);
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
          MutexLock lock(&shard.mu);
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
      MutexLock lock(&shard.mu);
      for (auto it = shard.streams.begin(); it != shard.streams.end();) {
        Stream& stream = *it->second;
        auto& chunks = stream.chunks();
        if (!chunks.empty() && !chunks.back().closed) {
          const MemChunk& open = chunks.back();
          const StreamMemory before = MemoryOf(stream);
          if (force) {
            stream.CloseOpenChunk("forced");
          } else if (now - open.last_append_ns > config_.chunk_idle_period &&
                     open.compressed_bytes + open.head_bytes >= config_.chunk_idle_min_size) {
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
          items.push_back(FlushItem{tenant->id, stream.fingerprint(), stream.labels(), c.blocks,
                                    c.id, c.close_reason});
        }
        it = DropRetired(tenant, shard, it, now);
      }
    }
  }
  if (items.empty()) {
    flush_failing_ = false;
    m.flush_queue_length->WithLabels({})->Set(0);
    return Status::OK();
  }
  m.flush_queue_length->WithLabels({})->Set(static_cast<double>(items.size()));
  Status st = FlushItems(items);
  if (!st.ok()) {
    MutexLock lock(&flush_error_mu_);
    last_flush_error_ = st.message();
  }
  flush_failing_ = !st.ok();
  // Mark the outcome; a failed chunk is retried by the next sweep.
  const int64_t done = clock_->NowNanos();
  for (const auto& item : items) {
    Tenant* tenant = FindTenant(item.tenant);
    Shard& shard = ShardFor(tenant, item.fingerprint);
    MutexLock lock(&shard.mu);
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
  m.unflushed_bytes->WithLabels({})->Set(
      static_cast<double>(head_bytes_.load() + block_bytes_.load()));
  m.flush_queue_length->WithLabels({})->Set(static_cast<double>(
      std::count_if(items.begin(), items.end(), [](const FlushItem& i) { return !i.ok; })));
  return st;
}

Status Ingester::FlushItems(std::vector<FlushItem>& items) {
  auto& m = Metrics();
  // Encoding and storing the chunks (each Put fsyncs) run on up to `concurrent_flushes` threads;
  // what they produce is then collected in item order, so the index is written as before.
  struct Stored {
    Status status;
    bool skipped = false;  // not attempted because an earlier Put failed
    storage::index::ChunkRef ref;
  };
  std::vector<Stored> stored(items.size());
  // Once one Put has failed the store is assumed down for the rest of this sweep: each later Put
  // would spend the store's whole retry budget too, and the sweep must end so the flush loop can
  // back off (and pushes are refused once memory fills).
  std::atomic<bool> store_failed{false};
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
    ref.key = fmt::format("chunks/{}/{:016x}-{:x}-{:x}-{:08x}", item.tenant, item.fingerprint,
                          ref.from_ns, ref.through_ns, Crc32(data));
    if (store_failed.load()) {
      stored[i].status = Status::Unavailable("not attempted: an earlier flush failed");
      stored[i].skipped = true;
      return;
    }
    stored[i].status = store_->Put(ref.key, data);
    if (!stored[i].status.ok()) store_failed = true;
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
      if (!s.ref.key.empty() && !s.skipped) {  // the Put failed (encoding failures have no key)
        m.flush_failures->WithLabels({})->Inc();
        spdlog::error("msg=\"chunk flush failed\" tenant={} key={} err=\"{}\"", item.tenant,
                      s.ref.key, s.status.message());
      }
      if (first_error.ok() && !s.skipped) first_error = s.status;
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
    MutexLock lock(&loop_mu_);
    flush_requested_ = true;
  }
  loop_cv_.SignalAll();
}

void Ingester::FlushLoop() {
  // After a failed sweep the next one waits a jittered, doubling backoff (not the check
  // period, and not woken by memory pressure), so a store outage is retried promptly but not
  // hammered.
  int64_t backoff = 0;
  std::minstd_rand jitter(std::random_device{}());
  MutexLock lock(&loop_mu_);
  while (!loops_stop_) {
    const int64_t wait = backoff > 0 ? backoff : config_.flush_check_period;
    loop_cv_.WaitFor(
        &loop_mu_, std::chrono::nanoseconds(wait), [this, backoff]() REQUIRES(loop_mu_) {
          return loops_stop_ || flush_requested_ || (backoff == 0 && memory_flush_wanted_.load());
        });
    if (loops_stop_) break;
    bool force = flush_requested_;
    flush_requested_ = false;
    bool memory = memory_flush_wanted_.exchange(false);
    lock.Unlock();
    Status st = Sweep(force, memory);
    if (st.ok()) {
      backoff = 0;
    } else {
      const auto& b = config_.flush_op_backoff;
      backoff = backoff == 0 ? b.min_period : std::min(2 * backoff, b.max_period);
      // Up to a quarter less, so ingesters that failed together do not retry together.
      backoff -= static_cast<int64_t>(jitter() % static_cast<uint64_t>(backoff / 4 + 1));
      spdlog::warn("msg=\"flush sweep failed; will retry\" backoff={} err=\"{}\"",
                   FormatDuration(backoff), st.message());
    }
    if (memory && wal_) {
      // The WAL still holds what the sweep just flushed: a crash now would replay it into
      // memory and flush it a second time. A checkpoint leaves flushed chunks out and lets the
      // segments before it go.
      st = Checkpoint();
      if (!st.ok())
        spdlog::warn("msg=\"checkpoint after a memory flush failed\" err=\"{}\"", st.message());
    }
    lock.Lock();
  }
}

}  // namespace sluice::ingester
