#pragma once

// The flushed half of the data: a read::StreamSource over the index (labels -> series -> chunk
// refs) and the object store (chunk bytes).
//
// Memory is bounded by fetching lazily: SelectStreams only reads the index; each stream's iterator
// downloads and decodes its chunks one at a time, in the query's direction, when iteration
// reaches them, and frees a chunk once it moves past it. Chunks of one stream whose time ranges
// overlap (re-flushes, out-of-order writes) are opened together and merged, so entries still
// come out in order and exact duplicates are dropped.
//
// Thread safety: the source may be used by concurrent queries; each returned iterator belongs
// to the thread reading it.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "read/read.h"
#include "storage/index/index_reader.h"
#include "storage/object_store.h"

namespace sluice::querier {

class StoreSource final : public read::StreamSource {
 public:
  // REQUIRES: *store, *index and *clock outlive the source and every iterator it returns.
  // `clock` times index lookups and chunk downloads for the query statistics.
  StoreSource(storage::ObjectStore* store, storage::index::IndexReader* index,
              const Clock* clock = SystemClock::Default());

  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& req,
                                                            std::string_view tenant) override;
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& req,
                                                    std::string_view tenant) override;
  // From the index, without reading the series.
  Result<std::vector<std::string>> TenantLabelNames(const read::SelectRequest& req,
                                                    std::string_view tenant) override;
  Result<std::vector<std::string>> TenantLabelValues(const read::SelectRequest& req,
                                                     std::string_view tenant,
                                                     std::string_view name) override;
  // The distinct chunk references (by object key) of the matching series overlapping the range.
  Result<uint64_t> CountChunks(const read::SelectRequest& req, std::string_view tenant) override;

  // Totals since start, for tests and metrics.
  uint64_t chunks_downloaded() const { return chunks_downloaded_.load(std::memory_order_relaxed); }
  uint64_t bytes_downloaded() const { return bytes_downloaded_.load(std::memory_order_relaxed); }

 private:
  class SeriesIterator;

  storage::ObjectStore* store_;
  storage::index::IndexReader* index_;
  const Clock* clock_;
  std::atomic<uint64_t> chunks_downloaded_{0};
  std::atomic<uint64_t> bytes_downloaded_{0};
};

}  // namespace sluice::querier
