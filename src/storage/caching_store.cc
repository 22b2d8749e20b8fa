#include "storage/caching_store.h"

#include <algorithm>
#include <future>
#include <unordered_map>

#include "common/check.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::storage {

namespace {

class CachingStore final : public ObjectStore {
 public:
  CachingStore(ObjectStore* inner, cache::Cache* cache, std::vector<std::string> prefixes)
      : inner_(inner), cache_(cache), prefixes_(std::move(prefixes)) {
    SLUICE_CHECK(inner_ != nullptr && cache_ != nullptr);
  }

  Status Put(std::string_view key, std::string_view data) override {
    SLUICE_RETURN_IF_ERROR(inner_->Put(key, data));
    if (Cached(key)) cache_->Put(std::string(key), std::string(data));
    return Status::OK();
  }

  Result<std::string> Get(std::string_view key) override {
    if (!Cached(key)) return inner_->Get(key);
    // Invalid keys go to the inner store, which refuses them: the cache never sees them.
    if (Status st = ValidateKey(key); !st.ok()) return st;
    std::string k(key), value;
    if (cache_->Get(k, &value)) return value;
    // Concurrent misses of one key share one fetch: a query's splits run in parallel and read
    // the same chunks, and without this each would GET every chunk from the store.
    std::promise<Result<std::string>> leader;
    std::shared_future<Result<std::string>> flight;
    {
      MutexLock lock(&flights_mu_);
      auto [it, inserted] = flights_.try_emplace(k);
      if (inserted) it->second = leader.get_future().share();
      flight = it->second;
      if (!inserted) {
        lock.Unlock();
        return flight.get();
      }
    }
    Result<std::string> fetched = inner_->Get(key);
    if (fetched.ok()) cache_->Put(k, *fetched);
    leader.set_value(fetched);
    MutexLock lock(&flights_mu_);
    flights_.erase(k);
    return fetched;
  }

  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    if (Cached(key) && ValidateKey(key).ok()) {
      std::string value;
      if (cache_->Get(std::string(key), &value)) {
        if (offset >= value.size()) return std::string();
        return value.substr(offset, std::min<uint64_t>(length, value.size() - offset));
      }
    }
    return inner_->GetRange(key, offset, length);
  }

  Result<std::vector<std::string>> List(std::string_view prefix) override {
    return inner_->List(prefix);
  }

  Status Delete(std::string_view key) override {
    SLUICE_RETURN_IF_ERROR(inner_->Delete(key));
    if (Cached(key)) cache_->Remove({std::string(key)});
    return Status::OK();
  }

 private:
  bool Cached(std::string_view key) const {
    return std::any_of(prefixes_.begin(), prefixes_.end(),
                       [&](const std::string& p) { return key.starts_with(p); });
  }

  ObjectStore* const inner_;
  cache::Cache* const cache_;
  const std::vector<std::string> prefixes_;
  Mutex flights_mu_;
  // Fetches in progress, by key.
  std::unordered_map<std::string, std::shared_future<Result<std::string>>> flights_
      GUARDED_BY(flights_mu_);
};

}  // namespace

ObjectStorePtr NewCachingStore(ObjectStore* inner, cache::Cache* cache,
                               std::vector<std::string> cached_prefixes) {
  return std::make_unique<CachingStore>(inner, cache, std::move(cached_prefixes));
}

}  // namespace sluice::storage
