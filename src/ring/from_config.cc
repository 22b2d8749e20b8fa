#include "ring/from_config.h"

#include "ring/etcd_kv.h"

namespace sluice::ring {

Result<KvStorePtr> NewKvStore(const config::KvStoreConfig& kvstore) {
  if (kvstore.store == "inmemory") return KvStorePtr(std::make_unique<MemoryKv>());
  if (kvstore.store == "etcd") {
    EtcdOptions options;
    options.endpoints = kvstore.etcd.endpoints;
    options.dial_timeout_ns = kvstore.etcd.dial_timeout;
    options.username = kvstore.etcd.username;
    options.password = kvstore.etcd.password;
    return KvStorePtr(std::make_unique<EtcdKv>(std::move(options)));
  }
  return Status::InvalidArgument("kvstore.store: \"" + kvstore.store +
                                 "\" is not one of inmemory, etcd");
}

std::string RingKey(const config::KvStoreConfig& kvstore) { return kvstore.prefix + "ring"; }

std::string DistributorRingKey(const config::KvStoreConfig& kvstore) {
  return kvstore.prefix + "distributor";
}

RingOptions RingOptionsFrom(const config::RingConfig& config) {
  RingOptions o;
  o.key = RingKey(config.lifecycler.kvstore);
  o.heartbeat_timeout_ns = config.lifecycler.heartbeat_timeout;
  o.replication_factor = config.lifecycler.replication_factor;
  o.zone_awareness_enabled = config.lifecycler.zone_awareness_enabled;
  return o;
}

LifecyclerOptions LifecyclerOptionsFrom(const config::RingConfig& config, std::string addr) {
  const auto& l = config.lifecycler;
  LifecyclerOptions o;
  o.key = RingKey(l.kvstore);
  o.id = l.id;
  o.addr = std::move(addr);
  o.zone = l.availability_zone;
  o.num_tokens = l.num_tokens;
  o.heartbeat_period_ns = l.heartbeat_period;
  o.join_after_ns = l.join_after;
  o.min_ready_duration_ns = l.min_ready_duration;
  o.final_sleep_ns = l.final_sleep;
  o.tokens_file_path = l.tokens_file_path;
  return o;
}

}  // namespace sluice::ring
