#include "main/storage.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "chunk/chunk.h"
#include "common/duration.h"
#include "common/strings.h"
#include "storage/filesystem_store.h"
#include "storage/instrumented_store.h"
#include "storage/s3_store.h"

namespace sluice {

namespace {

Result<storage::ObjectStorePtr> BuildBackend(const config::Config& c) {
  if (!c.storage.uses_s3()) {
    std::error_code ec;
    std::filesystem::create_directories(c.storage.chunks_directory, ec);
    if (ec) {
      return Status::IOError(
          fmt::format("cannot create {}: {}", c.storage.chunks_directory, ec.message()));
    }
    return storage::NewFilesystemStore(c.storage.chunks_directory);
  }
  const auto& s3 = c.storage.s3;
  storage::S3Options o;
  o.endpoint = s3.endpoint;
  o.region = s3.region;
  o.bucket = s3.bucketnames;
  o.access_key_id = s3.access_key_id;
  o.secret_access_key = s3.secret_access_key;
  o.session_token = s3.session_token;
  o.force_path_style = s3.s3forcepathstyle;
  o.insecure = s3.insecure;
  o.ca_file = s3.http_config.ca_file;
  o.insecure_skip_verify = s3.http_config.insecure_skip_verify;
  if (s3.http_config.response_header_timeout > 0) {
    o.response_header_timeout_ns = s3.http_config.response_header_timeout;
  }
  o.idle_conn_timeout_ns = s3.http_config.idle_conn_timeout;
  o.min_backoff_ns = s3.backoff_config.min_period;
  o.max_backoff_ns = s3.backoff_config.max_period;
  o.max_retries = s3.backoff_config.max_retries;
  SLUICE_ASSIGN_OR_RETURN(storage::ObjectStorePtr store, storage::NewS3Store(std::move(o)));
  spdlog::info("msg=\"storing in S3\" bucket={} endpoint={}", s3.bucketnames,
               s3.endpoint.empty() ? "(AWS)" : s3.endpoint);
  return store;
}

}  // namespace

Result<storage::ObjectStorePtr> BuildObjectStore(const config::Config& c) {
  SLUICE_ASSIGN_OR_RETURN(storage::ObjectStorePtr store, BuildBackend(c));
  const auto& fault = c.testing.fault;
  storage::StoreFaults faults{fault.store_delay, fault.store_error_ratio};
  if (faults.any()) {
    spdlog::warn("msg=\"TEST-ONLY object store faults injected\" delay={} error_ratio={}",
                 FormatDuration(faults.delay_ns), faults.error_ratio);
    store = storage::InjectStoreFaults(std::move(store), faults);
  }
  // Loki's bucket label: the S3 bucket, or "filesystem" as Loki's filesystem client names it.
  return storage::InstrumentStore(std::move(store),
                                  c.storage.uses_s3() ? c.storage.s3.bucketnames : "filesystem");
}

cache::CacheOptions CacheOptionsFrom(const config::CacheConfig& c) {
  cache::CacheOptions o;
  o.embedded_cache.enabled = c.embedded_cache.enabled;
  o.embedded_cache.max_size_bytes = static_cast<int64_t>(c.embedded_cache.max_size_mb) << 20;
  o.embedded_cache.ttl_ns = c.embedded_cache.ttl;
  std::string addresses = c.memcached_client.addresses;
  if (addresses.empty() && !c.memcached_client.host.empty()) {
    // Loki resolves host + service through DNS SRV; sluice takes host:11211 (memcached's port).
    addresses = c.memcached_client.host + ":11211";
  }
  for (std::string_view address : SplitCommaList(addresses)) {
    o.memcached.addresses.emplace_back(address);
  }
  o.memcached.timeout_ns = c.memcached_client.timeout;
  // 0 is memcached's own item limit, 1 MB.
  o.memcached.max_item_size = c.memcached_client.max_item_size > 0
                                  ? static_cast<int64_t>(c.memcached_client.max_item_size)
                                  : int64_t{1} << 20;
  o.memcached.expiration_ns =
      c.memcached.expiration > 0 ? c.memcached.expiration : c.default_validity;
  o.memcached.batch_size = c.memcached.batch_size;
  return o;
}

config::CacheConfig EffectiveChunkCache(const config::Config& c) {
  config::CacheConfig cache = c.chunk_store_config.chunk_cache_config;
  if (c.storage.uses_s3() && !cache.enabled()) cache.embedded_cache.enabled = true;
  return cache;
}

Result<compactor::Options> CompactorOptionsFrom(const config::Config& c) {
  compactor::Options o;
  o.compaction_interval_ns = c.compactor.compaction_interval;
  o.retention_enabled = c.compactor.retention_enabled;
  o.retention_delete_delay_ns = c.compactor.retention_delete_delay;
  o.retention_delete_worker_count = c.compactor.retention_delete_worker_count;
  auto codec = chunk::ParseCodec(c.ingester.chunk_encoding);
  if (!codec.ok()) {
    return Status::InvalidArgument("ingester.chunk_encoding: " + codec.status().message());
  }
  o.codec = *codec;
  o.compression_level = std::max(1, c.ingester.chunk_flush_compression_level);
  o.flush_block_size = c.ingester.chunk_flush_block_size;
  o.blooms = c.ingester.chunk_flush_blooms;
  // chunk_target_size is compressed bytes; the compactor cuts by raw bytes. Log lines compress
  // about 8x at level 1 (bench/RESULTS.md), so merged chunks come out near the flushed size.
  o.target_chunk_size = c.ingester.chunk_target_size * 8;
  o.instance_id = c.ring.lifecycler.id;
  // The loop wakes every renew interval to renew the lease and see whether a run is due.
  o.lease_renew_interval_ns = std::min(o.lease_renew_interval_ns, o.compaction_interval_ns);
  return o;
}

void CompactorPolicy::DeletesApplied(std::string_view tenant) {
  Status st = deletes_->DeletesApplied(tenant);
  // The requests stay "received" and are applied again by the next run (deleting is idempotent).
  if (!st.ok()) {
    spdlog::warn("msg=\"marking delete requests processed failed\" tenant={} err=\"{}\"", tenant,
                 st.message());
  }
}

}  // namespace sluice
