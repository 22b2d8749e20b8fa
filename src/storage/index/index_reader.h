#pragma once

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
// built at load time. A (tenant, period) folder is re-listed to find new objects (and forget
// deleted ones) at most every `refresh_interval_ns`, or on every call when it is 0. Corrupt objects
// are logged and skipped; a store error fails the call.
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
  IndexReader(ObjectStore* store, int64_t refresh_interval_ns,
              const Clock* clock = SystemClock::Default());
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

  ObjectStore* const store_;
  const int64_t refresh_interval_ns_;
  const Clock* const clock_;

  Mutex mu_;
  std::unordered_map<std::string, PeriodState> periods_ GUARDED_BY(mu_);  // by PeriodPrefix
  // By object key; nullptr marks an object skipped as corrupt. Shared with the calls that are
  // using an object while a refresh drops it.
  std::unordered_map<std::string, std::shared_ptr<const LoadedIndex>> objects_ GUARDED_BY(mu_);
};

}  // namespace sluice::storage::index
