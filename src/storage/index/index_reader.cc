#include "storage/index/index_reader.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include "model/tenant.h"
#include "storage/index/format.h"

namespace sluice::storage::index {

namespace {

using SeriesIds = std::vector<uint32_t>;  // Ascending ids into LoadedIndex::series().

SeriesIds Intersect(const SeriesIds& a, const SeriesIds& b) {
  SeriesIds out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

bool AnyChunkOverlaps(const SeriesChunks& s, int64_t from_ns, int64_t through_ns) {
  return std::any_of(s.chunks.begin(), s.chunks.end(),
                     [&](const ChunkRef& c) { return c.Overlaps(from_ns, through_ns); });
}

// A period's folder holds only index objects; anything else (an operator's stray file) is ignored.
bool IsIndexObject(std::string_view key) { return key.ends_with(kIndexSuffix); }

// How many times a period is re-listed when objects vanish between List and Get (a compaction
// replaced them) before the call gives up with the objects it has.
constexpr int kMaxListAttempts = 3;

}  // namespace

// One decoded index object and the postings built from it. Immutable after construction.
class IndexReader::LoadedIndex {
 public:
  explicit LoadedIndex(std::vector<SeriesChunks> series) : series_(std::move(series)) {
    // The views below point into series_, which is never modified after this.
    for (uint32_t id = 0; id < series_.size(); ++id) {
      for (const auto& l : series_[id].labels.labels()) postings_[l.name][l.value].push_back(id);
    }
    bytes_ = static_cast<int64_t>(sizeof(*this));
    for (const auto& s : series_) {
      bytes_ += static_cast<int64_t>(sizeof(SeriesChunks) + s.chunks.capacity() * sizeof(ChunkRef));
      for (const auto& l : s.labels.labels()) {
        bytes_ += static_cast<int64_t>(sizeof(l) + l.name.size() + l.value.size());
      }
      for (const auto& c : s.chunks) bytes_ += static_cast<int64_t>(c.key.size());
    }
    // Map nodes (~64 bytes each) and the ids.
    for (const auto& [name, values] : postings_) {
      bytes_ += 64;
      for (const auto& [value, ids] : values) {
        bytes_ += 64 + static_cast<int64_t>(ids.capacity() * sizeof(uint32_t));
      }
    }
  }
  LoadedIndex(const LoadedIndex&) = delete;
  LoadedIndex& operator=(const LoadedIndex&) = delete;

  const std::vector<SeriesChunks>& series() const { return series_; }
  const auto& postings() const { return postings_; }
  // Approximately what this object occupies in memory.
  int64_t bytes() const { return bytes_; }

  // Ids of the series matching all matchers, ignoring time.
  SeriesIds Match(const std::vector<model::LabelMatcher>& matchers) const {
    std::optional<SeriesIds> candidates;
    // Equality first: one lookup each, and usually the most selective.
    for (const auto& m : matchers) {
      if (m.type() != model::LabelMatcher::Type::kEqual || m.value().empty()) continue;
      const SeriesIds* ids = Postings(m.name(), m.value());
      if (ids == nullptr) return {};
      candidates = candidates ? Intersect(*candidates, *ids) : *ids;
      if (candidates->empty()) return {};
    }
    // Other matchers that reject the empty value only match series that carry the label, so the
    // union of the postings of the values they accept bounds the result. Testing each value once
    // beats testing each series, unless the candidates are already fewer than the values.
    for (const auto& m : matchers) {
      if (m.type() == model::LabelMatcher::Type::kEqual || m.Matches("")) continue;
      auto values = postings_.find(m.name());
      if (values == postings_.end()) return {};
      if (candidates && candidates->size() < values->second.size()) continue;
      SeriesIds ids;
      for (const auto& [value, value_ids] : values->second) {
        if (m.Matches(value)) ids.insert(ids.end(), value_ids.begin(), value_ids.end());
      }
      std::sort(ids.begin(), ids.end());
      candidates = candidates ? Intersect(*candidates, ids) : std::move(ids);
      if (candidates->empty()) return {};
    }
    SeriesIds out;
    if (candidates) {
      for (uint32_t id : *candidates) {
        if (model::MatchesAll(matchers, series_[id].labels)) out.push_back(id);
      }
    } else {
      for (uint32_t id = 0; id < series_.size(); ++id) {
        if (model::MatchesAll(matchers, series_[id].labels)) out.push_back(id);
      }
    }
    return out;
  }

 private:
  const SeriesIds* Postings(std::string_view name, std::string_view value) const {
    auto values = postings_.find(name);
    if (values == postings_.end()) return nullptr;
    auto ids = values->second.find(value);
    return ids == values->second.end() ? nullptr : &ids->second;
  }

  std::vector<SeriesChunks> series_;
  int64_t bytes_ = 0;
  // name -> value -> ascending series ids.
  std::map<std::string_view, std::map<std::string_view, SeriesIds, std::less<>>, std::less<>>
      postings_;
};

IndexReader::IndexReader(ObjectStore* store, int64_t refresh_interval_ns, const Clock* clock,
                         int64_t max_cached_bytes)
    : store_(store),
      refresh_interval_ns_(refresh_interval_ns),
      clock_(clock),
      max_cached_bytes_(max_cached_bytes) {}

IndexReader::~IndexReader() = default;

int64_t IndexReader::cached_bytes() const {
  MutexLock lock(&mu_);
  return cached_bytes_;
}

size_t IndexReader::cached_objects() const {
  MutexLock lock(&mu_);
  return objects_.size();
}

void IndexReader::Touch(CachedObject* object) { lru_.splice(lru_.begin(), lru_, object->lru); }

void IndexReader::AddObject(const std::string& key, std::shared_ptr<const LoadedIndex> index) {
  // A skipped (corrupt) object is remembered at the cost of its key.
  const int64_t bytes =
      static_cast<int64_t>(key.size()) + 64 + (index != nullptr ? index->bytes() : 0);
  lru_.push_front(key);
  objects_.emplace(key, CachedObject{std::move(index), bytes, lru_.begin()});
  cached_bytes_ += bytes;
  while (max_cached_bytes_ > 0 && cached_bytes_ > max_cached_bytes_ && !lru_.empty()) {
    EraseObject(objects_.find(lru_.back()));
  }
}

void IndexReader::EraseObject(Objects::iterator it) {
  cached_bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  objects_.erase(it);
}

Result<IndexReader::LoadedIndexes> IndexReader::Load(std::string_view tenant, int64_t from_ns,
                                                     int64_t through_ns) {
  if (Status st = model::ValidateTenantId(tenant); !st.ok())
    return Status::InvalidArgument(st.message());
  LoadedIndexes out;
  if (through_ns < from_ns) return out;
  int64_t first = PeriodOf(from_ns);
  int64_t last = PeriodOf(through_ns);
  if (last - first >= kMaxQueryPeriods) {
    return Status::InvalidArgument(fmt::format("index query spans {} days; at most {} are allowed",
                                               last - first + 1, kMaxQueryPeriods));
  }
  for (int64_t period = first; period <= last; ++period) {
    SLUICE_RETURN_IF_ERROR(LoadPeriod(tenant, period, &out));
  }
  return out;
}

Status IndexReader::LoadPeriod(std::string_view tenant, int64_t period, LoadedIndexes* out) {
  std::string prefix = PeriodPrefix(tenant, period);
  int64_t now_ns = clock_->NowNanos();
  {
    MutexLock lock(&mu_);
    const PeriodState& state = periods_[prefix];
    bool fresh = state.listed && refresh_interval_ns_ > 0 &&
                 now_ns - state.listed_at_ns < refresh_interval_ns_;
    // A fresh listing whose objects were all kept answers from memory; one the bound evicted
    // from is refreshed (listed again, the evicted objects fetched again).
    bool all_cached = true;  // a loop, not all_of: the analysis cannot see the lock in a lambda
    for (const auto& key : state.keys) all_cached = all_cached && objects_.contains(key);
    if (fresh && all_cached) {
      for (const auto& key : state.keys) {
        CachedObject& object = objects_.find(key)->second;
        Touch(&object);
        if (object.index != nullptr) out->push_back(object.index);
      }
      return Status::OK();
    }
  }
  return RefreshPeriod(prefix, tenant, period, now_ns, out);
}

Status IndexReader::RefreshPeriod(const std::string& prefix, std::string_view tenant,
                                  int64_t period, int64_t now_ns, LoadedIndexes* out) {
  std::vector<std::string> keys;
  // Every listed object this call has a hold on, cached or newly loaded, so a concurrent refresh
  // that evicts one cannot take it from under this call.
  std::unordered_map<std::string, std::shared_ptr<const LoadedIndex>> found;
  std::unordered_set<std::string> loaded;  // Keys of `found` fetched by this call.
  for (int attempt = 1;; ++attempt) {
    SLUICE_ASSIGN_OR_RETURN(keys, store_->List(prefix));
    std::erase_if(keys, [](const std::string& key) { return !IsIndexObject(key); });
    std::vector<std::string> missing;
    {
      MutexLock lock(&mu_);
      for (const auto& key : keys) {
        if (found.contains(key)) continue;
        if (auto it = objects_.find(key); it != objects_.end()) {
          Touch(&it->second);
          found.emplace(key, it->second.index);
        } else {
          missing.push_back(key);
        }
      }
    }
    // Fetch and decode outside the lock: other periods and cached reads go on meanwhile.
    bool vanished = false;
    for (const auto& key : missing) {
      auto data = store_->Get(key);
      if (!data.ok()) {
        if (data.status().code() != StatusCode::kNotFound) return data.status();
        vanished = true;  // Deleted since the listing, by a compaction that wrote its replacement.
        continue;
      }
      std::shared_ptr<const LoadedIndex> index;
      auto file = DecodeIndexFile(*data);
      if (!file.ok()) {
        spdlog::warn("index: skipping corrupt object {}: {}", key, file.status().message());
      } else if (file->tenant != tenant || file->period != period) {
        spdlog::warn(
            "index: skipping object {}: it holds tenant '{}' period {}, not what its key says", key,
            file->tenant, file->period);
      } else {
        index = std::make_shared<const LoadedIndex>(std::move(file->series));
      }
      found.emplace(key, std::move(index));  // nullptr remembers a skipped object.
      loaded.insert(key);
    }
    if (!vanished || attempt == kMaxListAttempts) break;
  }

  for (const auto& key : keys) {
    auto it = found.find(key);
    if (it != found.end() && it->second != nullptr) out->push_back(it->second);
  }

  MutexLock lock(&mu_);
  PeriodState& state = periods_[prefix];
  // A slower concurrent refresh must not replace a newer listing (nor cache what that dropped).
  if (state.listed && now_ns < state.listed_at_ns) return Status::OK();
  std::unordered_set<std::string_view> listed(keys.begin(), keys.end());
  for (const auto& old_key : state.keys) {
    if (listed.contains(old_key)) continue;
    if (auto it = objects_.find(old_key); it != objects_.end()) EraseObject(it);
  }
  for (const auto& key : loaded) {
    // A concurrent refresh of the same period may have cached it meanwhile.
    if (!objects_.contains(key)) AddObject(key, found[key]);
  }
  state.keys = std::move(keys);
  state.listed_at_ns = now_ns;
  state.listed = true;
  return Status::OK();
}

namespace {

// Merges series found in several index objects into one sorted, de-duplicated list.
class SeriesMerger {
 public:
  std::vector<ChunkRef>* ChunksOf(const model::LabelSet& labels) {
    uint64_t fingerprint = labels.Fingerprint();
    auto& slots = by_fingerprint_[fingerprint];
    for (size_t i : slots) {
      if (series_[i].labels == labels) return &series_[i].chunks;
    }
    slots.push_back(series_.size());
    series_.push_back({labels, {}});
    return &series_.back().chunks;
  }

  std::vector<SeriesChunks> Finish() && {
    for (auto& s : series_) {
      auto& c = s.chunks;
      std::sort(c.begin(), c.end(),
                [](const ChunkRef& a, const ChunkRef& b) { return a.key < b.key; });
      c.erase(std::unique(c.begin(), c.end(),
                          [](const ChunkRef& a, const ChunkRef& b) { return a.key == b.key; }),
              c.end());
      std::sort(c.begin(), c.end(), [](const ChunkRef& a, const ChunkRef& b) {
        if (a.from_ns != b.from_ns) return a.from_ns < b.from_ns;
        if (a.through_ns != b.through_ns) return a.through_ns < b.through_ns;
        return a.key < b.key;
      });
    }
    std::sort(series_.begin(), series_.end(),
              [](const SeriesChunks& a, const SeriesChunks& b) { return a.labels < b.labels; });
    return std::move(series_);
  }

 private:
  std::unordered_map<uint64_t, std::vector<size_t>> by_fingerprint_;  // Collisions are possible.
  std::vector<SeriesChunks> series_;
};

}  // namespace

Result<std::vector<SeriesChunks>> IndexReader::Select(
    std::string_view tenant, const std::vector<model::LabelMatcher>& matchers, int64_t from_ns,
    int64_t through_ns) {
  SLUICE_ASSIGN_OR_RETURN(LoadedIndexes indexes, Load(tenant, from_ns, through_ns));
  SeriesMerger merger;
  for (const auto& index : indexes) {
    for (uint32_t id : index->Match(matchers)) {
      const SeriesChunks& s = index->series()[id];
      if (!AnyChunkOverlaps(s, from_ns, through_ns)) continue;
      std::vector<ChunkRef>* chunks = merger.ChunksOf(s.labels);
      for (const auto& c : s.chunks) {
        if (c.Overlaps(from_ns, through_ns)) chunks->push_back(c);
      }
    }
  }
  return std::move(merger).Finish();
}

Result<std::vector<model::LabelSet>> IndexReader::Series(
    std::string_view tenant, const std::vector<model::LabelMatcher>& matchers, int64_t from_ns,
    int64_t through_ns) {
  SLUICE_ASSIGN_OR_RETURN(LoadedIndexes indexes, Load(tenant, from_ns, through_ns));
  std::set<model::LabelSet> series;
  for (const auto& index : indexes) {
    for (uint32_t id : index->Match(matchers)) {
      const SeriesChunks& s = index->series()[id];
      if (AnyChunkOverlaps(s, from_ns, through_ns)) series.insert(s.labels);
    }
  }
  return std::vector<model::LabelSet>(series.begin(), series.end());
}

Result<std::vector<std::string>> IndexReader::LabelNames(std::string_view tenant, int64_t from_ns,
                                                         int64_t through_ns) {
  SLUICE_ASSIGN_OR_RETURN(LoadedIndexes indexes, Load(tenant, from_ns, through_ns));
  std::set<std::string, std::less<>> names;
  for (const auto& index : indexes) {
    for (const auto& [name, values] : index->postings()) {
      if (names.contains(name)) continue;
      bool in_range = std::any_of(values.begin(), values.end(), [&](const auto& value_ids) {
        return std::any_of(value_ids.second.begin(), value_ids.second.end(), [&](uint32_t id) {
          return AnyChunkOverlaps(index->series()[id], from_ns, through_ns);
        });
      });
      if (in_range) names.emplace(name);
    }
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<std::vector<std::string>> IndexReader::LabelValues(
    std::string_view tenant, std::string_view name,
    const std::vector<model::LabelMatcher>& matchers, int64_t from_ns, int64_t through_ns) {
  SLUICE_ASSIGN_OR_RETURN(LoadedIndexes indexes, Load(tenant, from_ns, through_ns));
  std::set<std::string, std::less<>> result;
  for (const auto& index : indexes) {
    if (!matchers.empty()) {
      for (uint32_t id : index->Match(matchers)) {
        const SeriesChunks& s = index->series()[id];
        const std::string* value = s.labels.Get(name);
        if (value != nullptr && !value->empty() && !result.contains(*value) &&
            AnyChunkOverlaps(s, from_ns, through_ns)) {
          result.insert(*value);
        }
      }
      continue;
    }
    auto values = index->postings().find(name);
    if (values == index->postings().end()) continue;
    for (const auto& [value, ids] : values->second) {
      if (value.empty() || result.contains(value)) continue;
      bool in_range = std::any_of(ids.begin(), ids.end(), [&](uint32_t id) {
        return AnyChunkOverlaps(index->series()[id], from_ns, through_ns);
      });
      if (in_range) result.emplace(value);
    }
  }
  return std::vector<std::string>(result.begin(), result.end());
}

}  // namespace sluice::storage::index
