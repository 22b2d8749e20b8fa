#pragma once

// How the process's storage is built from its configuration: the object store (S3 or a local
// directory), the caches in front of it, and the compactor's options. Apart from app.cc so that
// the mapping of Loki's keys onto each component's options reads in one place.

#include <string>

#include "cache/cache.h"
#include "compactor/compactor.h"
#include "config/config.h"
#include "deletion/compactor_deletes.h"
#include "storage/object_store.h"

namespace sluice {

// S3 when a bucket is configured (common.storage.s3 / storage_config.aws), else the local
// directory common.storage.filesystem.chunks_directory (created when missing).
Result<storage::ObjectStorePtr> BuildObjectStore(const config::Config& config);

// Loki's cache block (embedded_cache, memcached, memcached_client) as cache::NewCache takes it.
cache::CacheOptions CacheOptionsFrom(const config::CacheConfig& config);

// The chunk cache's block; with S3 and no cache configured, Loki's default: an embedded cache
// (the filesystem store has the page cache and needs none).
config::CacheConfig EffectiveChunkCache(const config::Config& config);

// The compactor's options from compactor.* and the ingester's flush encoding (rewritten chunks
// are encoded as flushed ones are).
Result<compactor::Options> CompactorOptionsFrom(const config::Config& config);

// The compactor's view of retention and delete requests: the deletion layer's answers.
class CompactorPolicy final : public compactor::Policy {
 public:
  // REQUIRES: *deletes outlives the policy.
  explicit CompactorPolicy(deletion::CompactorDeletes* deletes) : deletes_(deletes) {}
  int64_t RetentionPeriod(std::string_view tenant, const model::LabelSet& labels) override {
    return deletes_->RetentionPeriod(tenant, labels);
  }
  std::function<bool(int64_t ts, std::string_view line)> DeletedEntries(
      std::string_view tenant, const model::LabelSet& labels, int64_t from,
      int64_t through) override {
    return deletes_->DeletedEntries(tenant, labels, from, through);
  }
  void DeletesApplied(std::string_view tenant) override;

 private:
  deletion::CompactorDeletes* deletes_;
};

}  // namespace sluice
