// The ingester as a read::StreamSource: the data still in memory (flushed chunks stay
// queryable until they are dropped). Iterators hold no lock: they keep the immutable blocks
// alive, and the head is read from a copy taken under the shard lock.

#include <algorithm>

#include "chunk/blocks_iterator.h"
#include "ingester/ingester.h"

namespace sluice::ingester {

namespace {

bool Overlaps(const MemChunk& c, int64_t from, int64_t through) {
  return c.num_entries > 0 && c.min_ts < through && c.max_ts >= from;
}

// Counts what a head's iterator returns: Loki's headChunkLines and headChunkBytes, the entries
// processed without decompressing anything.
class HeadCountingIterator final : public iter::ForwardingIterator {
 public:
  HeadCountingIterator(iter::EntryIteratorPtr it, read::SourceStats* stats)
      : ForwardingIterator(std::move(it)), stats_(stats) {}

  bool Next() override {
    if (!inner_->Next()) return false;
    // Counted as the stages will count it (read::FanOut's pipeline statistics): the line as
    // returned, loaded or not.
    const model::Entry& e = inner_->At();
    ++stats_->head_lines;
    stats_->head_bytes += e.line.size();
    for (const auto& m : e.metadata) stats_->head_metadata_bytes += m.name.size() + m.value.size();
    return true;
  }

 private:
  read::SourceStats* stats_;
};

}  // namespace

Result<std::vector<iter::EntryIteratorPtr>> Ingester::SelectStreams(const read::SelectRequest& req,
                                                                    std::string_view tenant_id) {
  std::vector<iter::EntryIteratorPtr> out;
  Tenant* tenant = FindTenant(tenant_id);
  if (tenant == nullptr) return out;
  // Shared by the query's iterators: the block readers point at it.
  auto literals = std::make_shared<const std::vector<std::string>>(req.required_literals);
  chunk::ReadOptions options;
  options.lines_needed = req.lines_needed;
  options.required_literals = literals->empty() ? nullptr : literals.get();
  read::SourceStats* stats = req.stats != nullptr ? &req.stats->For(Kind()) : nullptr;
  options.stats = stats != nullptr ? &stats->blocks : nullptr;
  for (auto& shard : tenant->shards) {
    MutexLock lock(&shard.mu);
    for (auto& [fp, stream] : shard.streams) {
      if (!model::MatchesAll(req.matchers, *stream->labels())) continue;
      for (const auto& c : stream->chunks()) {
        if (!Overlaps(c, req.from_ns, req.through_ns)) continue;
        if (stats != nullptr) ++stats->chunks;
        std::vector<std::shared_ptr<const chunk::Block>> blocks;
        for (const auto& b : c.blocks) {
          if (b->min_ts >= req.through_ns || b->max_ts < req.from_ns) continue;
          blocks.push_back(b);
        }
        // The head as an uncompressed block, read by the same iterator as every other block;
        // last, and not counted in the block statistics (they count compressed blocks).
        const size_t cut_blocks = blocks.size();
        if (auto head = SnapshotHead(c, req.from_ns, req.through_ns))
          blocks.push_back(std::move(head));
        for (size_t i = 0; i < blocks.size(); ++i) {
          auto& b = blocks[i];
          const bool is_head = i >= cut_blocks;
          // Cut blocks of an unordered head may overlap in time: one iterator each, merged.
          struct Owner {
            std::shared_ptr<const chunk::Block> block;
            std::shared_ptr<const model::LabelSet> labels;
            std::shared_ptr<const std::vector<std::string>> literals;
          };
          auto owner = std::make_shared<Owner>(Owner{std::move(b), stream->labels(), literals});
          const chunk::Block* block = owner->block.get();
          const model::LabelSet* labels = owner->labels.get();
          chunk::ReadOptions block_options = options;
          if (is_head) block_options.stats = nullptr;
          auto it = chunk::NewBlocksIterator(std::move(owner), {block}, labels, req.from_ns,
                                             req.through_ns, req.direction, block_options);
          if (is_head && stats != nullptr)
            it = std::make_unique<HeadCountingIterator>(std::move(it), stats);
          out.push_back(std::move(it));
        }
      }
    }
  }
  return out;
}

Result<std::vector<model::LabelSet>> Ingester::StreamLabels(const read::SelectRequest& req,
                                                            std::string_view tenant_id) {
  std::vector<model::LabelSet> out;
  Tenant* tenant = FindTenant(tenant_id);
  if (tenant == nullptr) return out;
  for (auto& shard : tenant->shards) {
    MutexLock lock(&shard.mu);
    for (auto& [fp, stream] : shard.streams) {
      if (!model::MatchesAll(req.matchers, *stream->labels())) continue;
      bool in_range =
          std::any_of(stream->chunks().begin(), stream->chunks().end(),
                      [&](const MemChunk& c) { return Overlaps(c, req.from_ns, req.through_ns); });
      if (in_range) out.push_back(*stream->labels());
    }
  }
  return out;
}

Result<uint64_t> Ingester::CountChunks(const read::SelectRequest& req, std::string_view tenant_id) {
  uint64_t n = 0;
  Tenant* tenant = FindTenant(tenant_id);
  if (tenant == nullptr) return n;
  for (auto& shard : tenant->shards) {
    MutexLock lock(&shard.mu);
    for (auto& [fp, stream] : shard.streams) {
      if (!model::MatchesAll(req.matchers, *stream->labels())) continue;
      for (const auto& c : stream->chunks()) {
        if (!c.flushed && Overlaps(c, req.from_ns, req.through_ns)) ++n;
      }
    }
  }
  return n;
}

}  // namespace sluice::ingester
