#pragma once

#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "model/labels.h"
#include "model/matcher.h"
#include "storage/index/chunk_ref.h"
#include "storage/object_store.h"

namespace sluice::storage::index {

// The read side of the index: label matchers and a time range -> series -> chunk refs.
//
// Index objects are loaded on first use and cached in memory by object key, with label postings
// built at load time. The decoded objects kept are bounded by `max_cached_bytes` (an approximate
// size of each decoded object and its postings): past it, the least recently used ones are
// dropped and simply fetched and decoded again when next needed (a call that is using one keeps
// it alive until it ends). One period's objects larger than the bound still work, uncached. A
// (tenant, period) folder is re-listed to find new objects (and forget deleted ones) at most every
// `refresh_interval_ns`, or on every call when it is 0. Corrupt objects are logged and skipped; a
// store error fails the call.
//
// All time ranges are inclusive [from_ns, through_ns]; an empty range (through < from) matches
// nothing. A range may cover at most kMaxQueryPeriods periods (InvalidArgument otherwise).
// Results are sorted (series by labels, chunk refs by from/through/key, names and values
// ascending) and de-duplicated (series by labels, chunk refs by key, across objects and periods).
//
// Thread safety: every method may be called concurrently. `store` and `clock` must outlive the
// reader.
class IndexReader {
 public:
  // 256MB of decoded index objects: a few hundred tenant-days of a busy tenant.
  static constexpr int64_t kDefaultMaxCachedBytes = 256LL << 20;

  // `max_cached_bytes` <= 0: no bound (everything listed stays decoded).
  IndexReader(ObjectStore* store, int64_t refresh_interval_ns,
              const Clock* clock = SystemClock::Default(),
              int64_t max_cached_bytes = kDefaultMaxCachedBytes);
  ~IndexReader();
  IndexReader(const IndexReader&) = delete;
  IndexReader& operator=(const IndexReader&) = delete;

  // Series matching all `matchers` with at least one chunk overlapping the range, and those chunks.
  // '=' matchers (and other matchers that reject the empty value) narrow through the postings.
  Result<std::vector<SeriesChunks>> Select(std::string_view tenant,
                                           const std::vector<model::LabelMatcher>& matchers,
                                           int64_t from_ns, int64_t through_ns);
  // Label names of series with a chunk in the range.
  Result<std::vector<std::string>> LabelNames(std::string_view tenant, int64_t from_ns,
                                              int64_t through_ns);
  // Non-empty values of label `name` among series with a chunk in the range that match `matchers`
  // (all series when empty).
  Result<std::vector<std::string>> LabelValues(std::string_view tenant, std::string_view name,
                                               const std::vector<model::LabelMatcher>& matchers,
                                               int64_t from_ns, int64_t through_ns);
  // Label sets of the series Select would return.
  Result<std::vector<model::LabelSet>> Series(std::string_view tenant,
                                              const std::vector<model::LabelMatcher>& matchers,
                                              int64_t from_ns, int64_t through_ns);

  // The approximate bytes of decoded objects held, and how many: for tests and metrics.
  int64_t cached_bytes() const EXCLUDES(mu_);
  size_t cached_objects() const EXCLUDES(mu_);

  // About 2.7 years of days: far beyond any query-length limit, but stops a stray from=0 from
  // listing twenty thousand folders.
  static constexpr int64_t kMaxQueryPeriods = 1000;

 private:
  class LoadedIndex;  // One decoded object plus its postings (index_reader.cc).
  using LoadedIndexes = std::vector<std::shared_ptr<const LoadedIndex>>;

  struct PeriodState {
    bool listed = false;
    int64_t listed_at_ns = 0;
    std::vector<std::string> keys;  // Index objects found by the last listing.
  };

  // The loaded objects of every period the range touches.
  Result<LoadedIndexes> Load(std::string_view tenant, int64_t from_ns, int64_t through_ns);
  Status LoadPeriod(std::string_view tenant, int64_t period, LoadedIndexes* out) EXCLUDES(mu_);
  // Lists the period folder and loads objects not cached yet; appends the period's objects to *out.
  Status RefreshPeriod(const std::string& prefix, std::string_view tenant, int64_t period,
                       int64_t now_ns, LoadedIndexes* out) EXCLUDES(mu_);

  struct CachedObject {
    // nullptr marks an object skipped as corrupt. Shared with the calls that are using the object
    // while a refresh or the bound drops it.
    std::shared_ptr<const LoadedIndex> index;
    int64_t bytes = 0;
    std::list<std::string>::iterator lru;  // its key's place in lru_
  };
  using Objects = std::unordered_map<std::string, CachedObject>;

  // Caches a newly loaded object (REQUIRES: not cached yet), then evicts past the bound.
  void AddObject(const std::string& key, std::shared_ptr<const LoadedIndex> index) REQUIRES(mu_);
  void EraseObject(Objects::iterator it) REQUIRES(mu_);
  // Marks an object as just used.
  void Touch(CachedObject* object) REQUIRES(mu_);

  ObjectStore* const store_;
  const int64_t refresh_interval_ns_;
  const Clock* const clock_;
  const int64_t max_cached_bytes_;

  mutable Mutex mu_;
  std::unordered_map<std::string, PeriodState> periods_ GUARDED_BY(mu_);  // by PeriodPrefix
  Objects objects_ GUARDED_BY(mu_);                                       // by object key
  std::list<std::string> lru_ GUARDED_BY(mu_);  // keys of objects_, most recently used first
  int64_t cached_bytes_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::storage::index
