#include "querier/store_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "chunk/blocks_iterator.h"
#include "chunk/chunk.h"
#include "iter/merge.h"

namespace sluice::querier {

// One stream's entries from its chunks, fetched group by group: a group is a run of chunks
// whose time ranges overlap (usually a single chunk).
class StoreSource::SeriesIterator final : public iter::EntryIterator {
 public:
  SeriesIterator(StoreSource* source, model::LabelSet labels,
                 std::vector<storage::index::ChunkRef> refs, int64_t from_ns, int64_t through_ns,
                 model::Direction direction,
                 std::shared_ptr<const std::vector<std::string>> literals,
                 const chunk::ReadOptions& options, read::SourceStats* stats)
      : source_(source),
        labels_(std::move(labels)),
        refs_(std::move(refs)),
        from_(from_ns),
        through_(through_ns),
        direction_(direction),
        literals_(std::move(literals)),
        options_(options),
        stats_(stats) {
    options_.required_literals = literals_->empty() ? nullptr : literals_.get();
    const bool forward = direction_ == model::Direction::kForward;
    // In iteration order: forward by start, backward by end (latest first).
    std::sort(refs_.begin(), refs_.end(), [forward](const auto& a, const auto& b) {
      if (forward)
        return std::tie(a.from_ns, a.through_ns, a.key) < std::tie(b.from_ns, b.through_ns, b.key);
      return std::tie(b.through_ns, b.from_ns, b.key) < std::tie(a.through_ns, a.from_ns, a.key);
    });
    // Group refs that overlap (inclusive ranges: equal timestamps across a boundary must be merged
    // too, for ordering and de-duplication).
    size_t start = 0;
    while (start < refs_.size()) {
      size_t end = start + 1;
      int64_t edge = forward ? refs_[start].through_ns : refs_[start].from_ns;
      while (end < refs_.size()) {
        const auto& r = refs_[end];
        if (forward ? r.from_ns > edge : r.through_ns < edge) break;
        edge = forward ? std::max(edge, r.through_ns) : std::min(edge, r.from_ns);
        ++end;
      }
      groups_.emplace_back(start, end);
      start = end;
    }
  }

  bool Next() override {
    if (!status_.ok()) return false;
    while (true) {
      if (current_) {
        if (current_->Next()) return true;
        Status st = current_->Error();
        if (!st.ok()) {
          status_ = std::move(st);
          return false;
        }
      }
      if (next_group_ >= groups_.size()) {
        Release();
        return false;
      }
      Status st = OpenGroup(groups_[next_group_++]);
      if (!st.ok()) {
        status_ = std::move(st);
        Release();
        return false;
      }
    }
  }
  const model::Entry& At() const override { return current_->At(); }
  const model::LabelSet& Labels() const override { return labels_; }
  Status Error() const override { return status_; }
  bool LineLoaded() const override { return current_->LineLoaded(); }
  Status LoadLine() override { return current_->LoadLine(); }

 private:
  void Release() {
    current_.reset();  // before the chunks it reads
    chunks_.clear();
  }

  Status OpenGroup(std::pair<size_t, size_t> group) {
    Release();
    std::vector<iter::EntryIteratorPtr> its;
    for (size_t i = group.first; i < group.second; ++i) {
      const auto& ref = refs_[i];
      const int64_t started = source_->clock_->NowNanos();
      auto bytes = source_->store_->Get(ref.key);
      if (stats_ != nullptr) {
        ++stats_->chunks_downloaded;
        stats_->chunks_download_ns += std::max<int64_t>(0, source_->clock_->NowNanos() - started);
      }
      if (!bytes.ok()) {
        return Status::IOError(
            fmt::format("fetching chunk {}: {}", ref.key, bytes.status().message()));
      }
      source_->chunks_downloaded_.fetch_add(1, std::memory_order_relaxed);
      source_->bytes_downloaded_.fetch_add(bytes->size(), std::memory_order_relaxed);
      auto decoded = chunk::Chunk::Decode(std::move(bytes).value());
      if (!decoded.ok()) {
        return Status::Corruption(
            fmt::format("decoding chunk {}: {}", ref.key, decoded.status().message()));
      }
      // Held by pointer: the iterator reads its blocks in place.
      chunks_.push_back(std::make_unique<chunk::Chunk>(std::move(decoded).value()));
      std::vector<const chunk::Block*> blocks;
      blocks.reserve(chunks_.back()->blocks().size());
      for (const auto& b : chunks_.back()->blocks()) blocks.push_back(&b);
      its.push_back(chunk::NewBlocksIterator(nullptr, std::move(blocks), &labels_, from_, through_,
                                             direction_, options_));
    }
    current_ =
        its.size() == 1 ? std::move(its[0]) : iter::NewMergeIterator(std::move(its), direction_);
    return Status::OK();
  }

  StoreSource* source_;
  model::LabelSet labels_;
  std::vector<storage::index::ChunkRef> refs_;
  int64_t from_, through_;
  model::Direction direction_;
  std::shared_ptr<const std::vector<std::string>> literals_;  // shared by a query's iterators
  chunk::ReadOptions options_;
  read::SourceStats* stats_;                       // nullable
  std::vector<std::pair<size_t, size_t>> groups_;  // [first, last) indexes into refs_
  size_t next_group_ = 0;
  std::vector<std::unique_ptr<chunk::Chunk>> chunks_;  // the open group's chunks
  iter::EntryIteratorPtr current_;
  Status status_;
};

StoreSource::StoreSource(storage::ObjectStore* store, storage::index::IndexReader* index,
                         const Clock* clock)
    : store_(store), index_(index), clock_(clock) {}

// Requests' ranges are [from, through); the index's are inclusive.
Result<std::vector<iter::EntryIteratorPtr>> StoreSource::SelectStreams(
    const read::SelectRequest& req, std::string_view tenant) {
  std::vector<iter::EntryIteratorPtr> out;
  if (req.through_ns <= req.from_ns) return out;
  read::SourceStats* stats = req.stats != nullptr ? &req.stats->For(Kind()) : nullptr;
  const int64_t started = clock_->NowNanos();
  SLUICE_ASSIGN_OR_RETURN(auto series,
                          index_->Select(tenant, req.matchers, req.from_ns, req.through_ns - 1));
  if (stats != nullptr)
    stats->chunk_refs_fetch_ns += std::max<int64_t>(0, clock_->NowNanos() - started);
  out.reserve(series.size());
  auto literals = std::make_shared<const std::vector<std::string>>(req.required_literals);
  chunk::ReadOptions options;
  options.lines_needed = req.lines_needed;
  options.stats = stats != nullptr ? &stats->blocks : nullptr;
  for (auto& s : series) {
    std::vector<storage::index::ChunkRef> refs;
    for (auto& ref : s.chunks) {
      if (ref.Overlaps(req.from_ns, req.through_ns - 1)) refs.push_back(std::move(ref));
    }
    if (refs.empty()) continue;
    if (stats != nullptr) stats->chunks += refs.size();
    out.push_back(std::make_unique<SeriesIterator>(this, std::move(s.labels), std::move(refs),
                                                   req.from_ns, req.through_ns, req.direction,
                                                   literals, options, stats));
  }
  return out;
}

Result<std::vector<model::LabelSet>> StoreSource::StreamLabels(const read::SelectRequest& req,
                                                               std::string_view tenant) {
  if (req.through_ns <= req.from_ns) return std::vector<model::LabelSet>{};
  return index_->Series(tenant, req.matchers, req.from_ns, req.through_ns - 1);
}

Result<std::vector<std::string>> StoreSource::TenantLabelNames(const read::SelectRequest& req,
                                                               std::string_view tenant) {
  if (req.through_ns <= req.from_ns) return std::vector<std::string>{};
  // The index answers names for all series; with matchers, take them from the series.
  if (!req.matchers.empty()) return StreamSource::TenantLabelNames(req, tenant);
  return index_->LabelNames(tenant, req.from_ns, req.through_ns - 1);
}

Result<std::vector<std::string>> StoreSource::TenantLabelValues(const read::SelectRequest& req,
                                                                std::string_view tenant,
                                                                std::string_view name) {
  if (req.through_ns <= req.from_ns) return std::vector<std::string>{};
  return index_->LabelValues(tenant, name, req.matchers, req.from_ns, req.through_ns - 1);
}

Result<uint64_t> StoreSource::CountChunks(const read::SelectRequest& req, std::string_view tenant) {
  if (req.through_ns <= req.from_ns) return uint64_t{0};
  SLUICE_ASSIGN_OR_RETURN(auto series,
                          index_->Select(tenant, req.matchers, req.from_ns, req.through_ns - 1));
  // A chunk flushed again after a crash is indexed twice under the same content-addressed key.
  std::set<std::string_view> keys;
  for (const auto& s : series) {
    for (const auto& ref : s.chunks) {
      if (ref.Overlaps(req.from_ns, req.through_ns - 1)) keys.insert(ref.key);
    }
  }
  return static_cast<uint64_t>(keys.size());
}

}  // namespace sluice::querier
