#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "model/labels.h"
#include "storage/index/chunk_ref.h"
#include "storage/object_store.h"

namespace sluice::storage::index {

// The write side of the index. The ingester Puts a batch of chunks into the object store, then
// calls WriteBatch with their refs; WriteBatch writes one new immutable index object per period
// the batch touches (format.h). Objects are never modified; CompactPeriod (compactor.h) merges
// them.
//
// Thread safety: WriteBatch may be called concurrently. `store` and `clock` must outlive the
// writer.
class IndexWriter {
 public:
  // `writer_id` distinguishes writers (ingester instance ids) sharing a store; characters outside
  // [A-Za-z0-9._-] are replaced with '_'.
  IndexWriter(ObjectStore* store, std::string writer_id,
              const Clock* clock = SystemClock::Default());

  // Writes the index objects for these chunk refs of one tenant. A chunk whose [from, through]
  // spans several periods is listed in each of them (at most kMaxPeriodsPerChunk). Object names are
  // unique (writer id, wall-clock ns, sequence number), so writers never overwrite each other.
  //
  // InvalidArgument, with nothing written, for an invalid tenant id, a ref whose fingerprint is not
  // its labels' Fingerprint(), through < from, an empty key, or too long a span. On a store error
  // some periods may have been written: retrying the whole batch is safe, because readers
  // deduplicate chunk refs by key.
  Status WriteBatch(std::string_view tenant,
                    const std::vector<std::pair<model::LabelSet, ChunkRef>>& refs);

  // A chunk is expected to cover hours, not months; a longer one is a bug upstream (entries outside
  // the ingester's accepted time window), and listing it in every day would bloat the index.
  static constexpr int64_t kMaxPeriodsPerChunk = 31;

 private:
  ObjectStore* const store_;
  const std::string writer_id_;
  const Clock* const clock_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace sluice::storage::index
