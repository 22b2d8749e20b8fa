#pragma once

// An ObjectStore that answers Get of immutable objects from a cache: Loki's chunk cache
// (chunk_store_config.chunk_cache_config), extended to index objects.
//
// Which objects may be cached: those under `cached_prefixes` (plain string prefixes, as List
// takes them), which must be objects never rewritten with different bytes: chunks ("chunks/",
// content-addressed: a key names its bytes) and index objects ("index/", written once under a
// fresh name, only ever deleted). What the querier reads is exactly those, by Get
// (querier/store_source.cc fetches whole chunks, index/index_reader.cc whole index objects).
//
//   Get       cached prefix: the cache, else the inner store (then cached); others: inner
//   GetRange  a slice of the cached object when the cache has it, else the inner store (a
//             partial read is not cached)
//   Put       written through; on success the cache is filled too (a flushed chunk is likely
//             read soon, and with a shared memcached every querier sees it)
//   Delete    deleted, then removed from the cache (best effort: see cache::Cache::Remove)
//   List      always the inner store: listings decide what exists, and they change
//
// A cache failure is a miss; errors come only from the inner store. Thread safety: as the inner
// store and the cache, both of which must outlive this store.

#include <string>
#include <vector>

#include "cache/cache.h"
#include "storage/object_store.h"

namespace sluice::storage {

// The usual prefixes: every immutable object sluice writes.
inline std::vector<std::string> ImmutablePrefixes() { return {"chunks/", "index/"}; }

// REQUIRES: inner and cache non-null.
ObjectStorePtr NewCachingStore(ObjectStore* inner, cache::Cache* cache,
                               std::vector<std::string> cached_prefixes);

}  // namespace sluice::storage
