#pragma once

// The ring's pieces built from the configuration's Loki-named keys (config::RingConfig).

#include "config/config.h"
#include "ring/kv.h"
#include "ring/lifecycler.h"
#include "ring/ring.h"

namespace sluice::ring {

// An in-memory or etcd store for a kvstore block. REQUIRES: config finalized.
Result<KvStorePtr> NewKvStore(const config::KvStoreConfig& kvstore);
// The ingester ring's key: <kvstore.prefix>ring (Loki's "collectors/ring").
std::string RingKey(const config::KvStoreConfig& kvstore);
// The distributors' ring key: <kvstore.prefix>distributor (Loki's).
std::string DistributorRingKey(const config::KvStoreConfig& kvstore);
RingOptions RingOptionsFrom(const config::RingConfig& config);
// `addr` is what other components dial to reach this instance.
LifecyclerOptions LifecyclerOptionsFrom(const config::RingConfig& config, std::string addr);

}  // namespace sluice::ring
