#include "main/app.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include <xxhash.h>

#include "common/clock.h"
#include "common/duration.h"
#include "compactor/compactor.h"
#include "config/overrides.h"
#include "deletion/delete_request_store.h"
#include "distributor/distributor.h"
#include "distributor/replicating_pusher.h"
#include "http/delete_api.h"
#include "http/limits_api.h"
#include "http/patterns_api.h"
#include "http/push/json_ingest.h"
#include "http/push/otlp.h"
#include "http/push/push_decoder.h"
#include "http/query_api.h"
#include "http/server.h"
#include "http/tenant.h"
#include "ingester/ingester.h"
#include "main/build_info.h"
#include "main/kafka.h"
#include "main/storage.h"
#include "metrics/metrics.h"
#include "metrics/process.h"
#include "pattern/miner.h"
#include "querier/deletion_source.h"
#include "querier/frontend.h"
#include "querier/querier.h"
#include "querier/store_source.h"
#include "ring/from_config.h"
#include "ring/status_page.h"
#include "rpc/frontend_service.h"
#include "rpc/frontend_worker.h"
#include "rpc/ingester_client.h"
#include "rpc/ingester_server.h"
#include "rpc/ring_source.h"
#include "storage/caching_store.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_writer.h"
#include "syslog/server.h"
#include "tracing/tracing.h"

namespace sluice {

namespace {

// tracing.* onto the tracer. Enabled without an endpoint (Loki's `tracing: {enabled: true}`
// alone, which Loki's Jaeger client sends nowhere useful either) is a warning, not an error.
Status StartTracing(const config::Config& c, const std::string& instance_id) {
  if (!c.tracing.enabled) return Status::OK();
  tracing::Options o;
  o.enabled = true;
  o.endpoint = c.tracing.otlp_endpoint;
  if (o.endpoint.empty()) {
    if (const char* traces = std::getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
      o.endpoint = traces;
    } else if (const char* base = std::getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) {
      o.endpoint = std::string(base);
      if (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
      if (!o.endpoint.empty()) o.endpoint += "/v1/traces";
    }
  }
  if (o.endpoint.empty()) {
    spdlog::warn(
        "msg=\"tracing.enabled is set but no OTLP endpoint is: no spans are exported\" "
        "hint=\"set tracing.otlp_endpoint or OTEL_EXPORTER_OTLP_ENDPOINT\"");
    return Status::OK();
  }
  o.sampling_ratio = c.tracing.sampling_ratio;
  o.service_name = c.tracing.service_name;
  o.resource_attributes["sluice.target"] = c.target;
  o.resource_attributes["service.instance.id"] = instance_id;
  return tracing::Start(o);
}

// The push.decode span's figures, and its end (the distributor's span follows it).
void EndDecodeSpan(tracing::Span& span, const http::Request& req,
                   const Result<model::PushRequest>& decoded) {
  if (span.recording()) {
    span.SetAttribute("bytes", req.body.size());
    span.SetAttribute("content_type", req.Header("content-type"));
    if (decoded.ok()) {
      span.SetAttribute("streams", decoded->streams.size());
    } else {
      span.SetError(decoded.status().message());
    }
  }
  span.End();
}

}  // namespace

// Which components a process runs comes from config.targets. -target=all wires them in
// process (the distributor pushes into the ingester, the querier reads its memory); every other
// target finds ingesters in the ring and calls them over gRPC:
//
//   distributor --ReplicatingPusher--> rpc::RemoteIngester (one per ring instance) --> ingester
//   querier ------rpc::RingIngesters---> the same clients, read side; plus the shared store
//
// Members are declared in dependency order, so they are destroyed users first.
struct App::Impl {
  config::Config config;
  const config::Targets& targets() const { return config.targets; }
  bool cluster() const { return !targets().all; }

  std::unique_ptr<config::Overrides> overrides;
  storage::ObjectStorePtr store;
  // Loki's delete requests, kept in the store: every process that reads (queries filter the
  // lines out), serves the API or compacts has one.
  std::unique_ptr<deletion::DeleteRequestStore> delete_requests;
  // Queries read through the caches (chunk_cache_config, index_queries_cache_config), when
  // configured: read_store is the outermost layer, or `store` itself.
  cache::CachePtr chunk_cache;
  cache::CachePtr index_cache;
  storage::ObjectStorePtr cached_chunks;
  storage::ObjectStorePtr cached_index;
  storage::ObjectStore* read_store = nullptr;
  cache::CachePtr results_cache;  // query_range.results_cache, when cache_results

  // The ingester ring. -target=all: a one-instance in-memory ring shown at /ring, which nothing
  // routes by. Cluster targets: the ring in common.ring.kvstore (etcd), watched.
  std::unique_ptr<ring::KvStore> ring_kv;
  std::unique_ptr<ring::Ring> ring;
  std::unique_ptr<ring::Lifecycler> lifecycler;  // this ingester's entry
  // Distributors' own ring (Loki's "distributor" key): how many share a global ingestion rate.
  std::unique_ptr<ring::KvStore> distributor_kv;
  std::unique_ptr<ring::Ring> distributor_ring;
  std::unique_ptr<ring::Lifecycler> distributor_lifecycler;
  std::unique_ptr<rpc::IngesterClientPool> ingester_clients;

  // Write path.
  std::unique_ptr<storage::index::IndexWriter> index_writer;
  std::unique_ptr<ingester::Ingester> ingester;
  std::unique_ptr<pattern::Miner> pattern_miner;  // null unless pattern_ingester.enabled
  std::unique_ptr<pattern::TeePusher> pattern_tee;
  std::unique_ptr<distributor::ReplicatingPusher> replicator;
  // distributor.kafka_writes_enabled: pushes go to Kafka, which the ingesters consume.
  std::unique_ptr<kafka::KafkaPusher> kafka_pusher;
  // A distributor's view of the ingesters' consumer-group lag (they may be too slow or stopped to
  // report it themselves): the groups of the ring's partition owners.
  std::unique_ptr<kafka::LagMonitor> kafka_lag;
  std::unique_ptr<distributor::Distributor> distributor;
  // ingester.kafka_ingestion.enabled: the reader of this ingester's partitions, pushing into
  // kafka_target (the ingester, or the pattern tee in front of it). Built and started (retried
  // while Kafka does not answer) by kafka_starter, which marks the ingester ACTIVE in the ring
  // once the reader caught up; kafka_reader_started publishes it to the checkpoint hook. Other
  // threads touch kafka_reader only after joining kafka_starter.
  write::Pusher* kafka_target = nullptr;
  std::unique_ptr<kafka::PartitionReader> kafka_reader;
  std::atomic<kafka::PartitionReader*> kafka_reader_started{nullptr};
  std::thread kafka_starter;
  std::atomic<bool> kafka_stop{false};
  std::atomic<bool> kafka_caught_up{false};
  std::string instance_id;  // the ring id (the host name in the single binary)

  // Read path.
  std::unique_ptr<storage::index::IndexReader> index_reader;
  std::unique_ptr<querier::StoreSource> store_source;
  std::unique_ptr<rpc::RingIngesters> ring_ingesters;
  // Retention and delete requests applied to what each source returns.
  std::unique_ptr<querier::DeletionSource> memory_filter;
  std::unique_ptr<querier::DeletionSource> store_filter;
  std::unique_ptr<read::FanOut> fan_out;
  std::unique_ptr<querier::Querier> querier;
  std::unique_ptr<querier::QueryFrontend> frontend;  // before the server: outlives its handlers
  // -target=query-frontend without a querier: queriers connect and pull its queued work.
  std::unique_ptr<rpc::FrontendService> frontend_service;
  // A querier with frontend_worker.frontend_address: pulls work from that frontend.
  std::unique_ptr<rpc::FrontendWorker> frontend_worker;

  // The compactor (targets compactor, backend, all): active while it holds its lease in the
  // ring's KV store (compactor_kv when the ring has none: the single binary with etcd unset).
  std::unique_ptr<ring::KvStore> compactor_kv;
  std::unique_ptr<deletion::CompactorDeletes> compactor_deletes;
  std::unique_ptr<compactor::Policy> compactor_policy;
  std::unique_ptr<compactor::Compactor> compactor;

  std::unique_ptr<rpc::IngesterService> ingester_service;
  std::unique_ptr<rpc::GrpcServer> grpc_server;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<syslog::Server> syslog_server;  // only with syslog.listeners configured
  std::function<void()> request_exit;
  std::atomic<bool> shutting_down{false};
  std::atomic<bool> left_ring{false};

  Status BuildCaches();
  Status BuildCompactor();
  Status BuildRings();
  Status BuildWritePath();
  Status BuildReadPath();
  Status StartGrpc();
  Status StartLifecyclers();
  // Resolves the owned partitions, starts the reader and waits for it to catch up.
  void RunKafkaStarter();
  void RegisterRoutes();
  void RegisterWriteRoutes();
  // What a process without the component answers on its routes: 404 naming the target to ask.
  void RegisterNotServed(const std::vector<std::string>& paths, const std::string& message);
  bool Ready(std::string* why) const;
  // LEAVING in the ring, flush, out of the ring (SIGTERM and POST /ingester/shutdown).
  Status LeaveAndFlush(bool flush);
};

namespace {

// What other components dial to reach this process's `port`: common.instance_addr:port.
std::string InstanceAddr(const config::Config& c, int port) {
  std::string host = c.ring.instance_addr.empty() ? std::string("127.0.0.1") : c.ring.instance_addr;
  return host + ":" + std::to_string(port);
}

}  // namespace

Status App::Impl::BuildCaches() {
  read_store = store.get();
  SLUICE_ASSIGN_OR_RETURN(chunk_cache,
                          cache::NewCache(CacheOptionsFrom(EffectiveChunkCache(config)), "chunks"));
  if (chunk_cache) {
    cached_chunks = storage::NewCachingStore(read_store, chunk_cache.get(), {"chunks/"});
    read_store = cached_chunks.get();
  }
  SLUICE_ASSIGN_OR_RETURN(
      index_cache, cache::NewCache(CacheOptionsFrom(config.storage.index_queries_cache_config),
                                   "index-queries"));
  if (index_cache) {
    cached_index = storage::NewCachingStore(read_store, index_cache.get(), {"index/"});
    read_store = cached_index.get();
  }
  if (config.query_range.cache_results) {
    SLUICE_ASSIGN_OR_RETURN(
        results_cache, cache::NewCache(CacheOptionsFrom(config.query_range.results_cache.cache),
                                       "frontend.results-cache"));
    if (!results_cache) {
      return Status::InvalidArgument(
          "query_range.cache_results is true but query_range.results_cache.cache configures no "
          "cache: enable embedded_cache or set memcached_client.addresses");
    }
  }
  return Status::OK();
}

Status App::Impl::BuildCompactor() {
  if (!targets().compactor) return Status::OK();
  SLUICE_ASSIGN_OR_RETURN(compactor::Options options, CompactorOptionsFrom(config));
  compactor_deletes =
      std::make_unique<deletion::CompactorDeletes>(delete_requests.get(), overrides.get());
  compactor_policy = std::make_unique<CompactorPolicy>(compactor_deletes.get());
  ring::KvStore* kv = ring_kv.get();
  if (kv == nullptr) {
    compactor_kv = std::make_unique<ring::MemoryKv>();
    kv = compactor_kv.get();
  }
  compactor =
      std::make_unique<compactor::Compactor>(options, store.get(), kv, compactor_policy.get());
  return Status::OK();
}

Status App::Impl::BuildRings() {
  const config::RingConfig& rc = config.ring;
  if (!cluster() && rc.lifecycler.kvstore.store != "inmemory") return Status::OK();
  SLUICE_ASSIGN_OR_RETURN(ring_kv, ring::NewKvStore(rc.lifecycler.kvstore));
  ring::RingOptions ro = ring::RingOptionsFrom(rc);
  ro.registry = &metrics::DefaultRegistry();
  ring = std::make_unique<ring::Ring>(ring_kv.get(), ro, SystemClock::Default());
  if (!cluster()) return Status::OK();
  ingester_clients =
      std::make_unique<rpc::IngesterClientPool>(config.ingester_client, SystemClock::Default());
  if (targets().distributor) {
    SLUICE_ASSIGN_OR_RETURN(distributor_kv, ring::NewKvStore(rc.distributor_kvstore));
    ring::RingOptions dro;
    dro.key = ring::DistributorRingKey(rc.distributor_kvstore);
    dro.name = "distributor";
    dro.heartbeat_timeout_ns = rc.lifecycler.heartbeat_timeout;
    dro.replication_factor = 1;
    distributor_ring =
        std::make_unique<ring::Ring>(distributor_kv.get(), dro, SystemClock::Default());
  }
  return Status::OK();
}

Status App::Impl::BuildWritePath() {
  auto& c = config;
  write::Pusher* pusher = nullptr;
  if (targets().ingester) {
    // In a cluster each ingester's index objects carry its ring id: they share the store.
    index_writer = std::make_unique<storage::index::IndexWriter>(store.get(), instance_id);
    ingester = std::make_unique<ingester::Ingester>(c.ingester, overrides.get(), store.get(),
                                                    index_writer.get(), SystemClock::Default());
    if (cluster()) {
      // Loki's limiter: each of N ingesters holds RF/N of the tenant's global stream limit.
      const int rf = c.ring.lifecycler.replication_factor;
      ring::Ring* r = ring.get();
      ingester->SetGlobalLimitShare([r, rf] {
        const int n = r->HealthyActiveCount();
        return n <= 0 ? 1.0 : static_cast<double>(rf) / n;
      });
    }
    pusher = ingester.get();
    if (c.pattern_ingester.enabled) {
      const auto& p = c.pattern_ingester;
      pattern::MinerOptions options;
      options.drain.max_clusters = p.max_clusters;
      options.drain.max_eviction_ratio = p.max_eviction_ratio;
      options.drain.max_line_length = static_cast<size_t>(std::max(0, p.max_allowed_line_length));
      options.drain.sample_interval_ms = p.pattern_sample_interval / 1'000'000;
      options.drain.max_samples = static_cast<size_t>(p.retain_for / p.pattern_sample_interval) + 1;
      options.retain_for_ns = p.retain_for;
      options.memory_budget = p.memory_budget;
      pattern_miner = std::make_unique<pattern::Miner>(options, SystemClock::Default());
      pattern_tee = std::make_unique<pattern::TeePusher>(pusher, pattern_miner.get());
      pusher = pattern_tee.get();
    }
    if (c.ingester.kafka_ingestion.enabled) {
      // Checked now (a wrong setting fails the start); "all" is resolved by the starter.
      if (auto owned = OwnedPartitions(c, instance_id, 0);
          !owned.ok() && owned.status().code() == StatusCode::kInvalidArgument) {
        return owned.status();
      }
      kafka_target = pusher;
      // Without the WAL, offsets become committable as checkpoints make what was read durable.
      ingester->SetCheckpointHook([this]() -> std::function<void()> {
        kafka::PartitionReader* reader = kafka_reader_started.load();
        return reader != nullptr ? reader->BeginCheckpoint() : nullptr;
      });
    }
  }
  if (!targets().distributor) return Status::OK();
  if (c.distributor.kafka_writes_enabled) {
    SLUICE_ASSIGN_OR_RETURN(kafka_pusher, kafka::KafkaPusher::Create(KafkaProducerOptionsFrom(c),
                                                                     SystemClock::Default()));
    pusher = kafka_pusher.get();
    if (ring) {
      kafka_lag = std::make_unique<kafka::LagMonitor>(
          KafkaLagMonitorOptionsFrom(c), [r = ring.get(), &c] { return ConsumerGroupsOf(c, *r); });
    }
  } else if (cluster()) {
    distributor::ReplicationOptions ro;
    ro.push_timeout_ns = c.ingester_client.remote_timeout;
    ro.max_retries = c.ingester_client.push_retries;
    ro.retry_backoff_ns = c.ingester_client.push_retry_backoff;
    ro.registry = &metrics::DefaultRegistry();
    rpc::IngesterClientPool* pool = ingester_clients.get();
    replicator = std::make_unique<distributor::ReplicatingPusher>(
        ring.get(),
        [pool](const ring::InstanceDesc& instance) -> std::shared_ptr<write::Pusher> {
          std::shared_ptr<rpc::RemoteIngester> client = pool->Get(instance.addr);
          client->NoteHeartbeat(instance.timestamp);
          return client;
        },
        ro, SystemClock::Default());
    pusher = replicator.get();
  }
  distributor =
      std::make_unique<distributor::Distributor>(overrides.get(), pusher, SystemClock::Default());
  if (distributor_ring) {
    ring::Ring* r = distributor_ring.get();
    distributor->SetDistributorCount([r] { return r->HealthyActiveCount(); });
  }
  return Status::OK();
}

Status App::Impl::BuildReadPath() {
  auto& c = config;
  if (!targets().serves_queries()) return Status::OK();
  if (targets().querier) {
    index_reader =
        std::make_unique<storage::index::IndexReader>(read_store, c.querier.index_refresh_interval);
    store_source = std::make_unique<querier::StoreSource>(read_store, index_reader.get());
    // The ingesters are asked before the store: a chunk flushed and dropped from memory between
    // the two calls is then already in the index the store reads.
    read::StreamSource* memory = ingester.get();
    if (cluster()) {
      rpc::RingIngestersOptions ro;
      ro.query_ingesters_within_ns = c.querier.query_ingesters_within;
      ro.replication_factor = c.ring.lifecycler.replication_factor;
      ro.by_partition = c.ingester.kafka_ingestion.enabled;
      ring_ingesters = std::make_unique<rpc::RingIngesters>(ring.get(), ingester_clients.get(), ro,
                                                            SystemClock::Default());
      memory = ring_ingesters.get();
    }
    memory_filter =
        std::make_unique<querier::DeletionSource>(memory, overrides.get(), delete_requests.get());
    store_filter = std::make_unique<querier::DeletionSource>(store_source.get(), overrides.get(),
                                                             delete_requests.get());
    fan_out = std::make_unique<read::FanOut>(
        std::vector<read::StreamSource*>{memory_filter.get(), store_filter.get()});
    querier = std::make_unique<querier::Querier>(fan_out.get(), overrides.get());
  }
  // Query work runs on the frontend's own pool (querier.max_concurrent threads), apart from the
  // HTTP io threads that also serve pushes. A frontend without a querier has no pool: remote
  // queriers pull its sub-queries over gRPC.
  querier::FrontendOptions frontend_options;
  frontend_options.workers = querier ? c.querier.max_concurrent : 0;
  frontend_options.max_outstanding_per_tenant =
      static_cast<size_t>(std::max(1, c.frontend.max_outstanding_per_tenant));
  frontend_options.cache_results = results_cache != nullptr;
  frontend_options.results_cache = results_cache.get();
  frontend_options.max_cache_freshness_ns = c.limits_config.max_cache_freshness_per_query;
  if (delete_requests) {
    // A new or cancelled delete request changes which lines a final split counts: the tenants'
    // request ids are part of the key, so such a change misses the cache.
    deletion::DeleteRequestStore* deletes = delete_requests.get();
    frontend_options.cache_generation = [deletes](const std::vector<std::string>& tenants) {
      std::string ids;
      for (const std::string& tenant : tenants) {
        for (const auto& request : deletes->List(tenant)) ids += request.request_id + ",";
      }
      return ids.empty() ? std::string()
                         : fmt::format("{:016x}", XXH3_64bits(ids.data(), ids.size()));
    };
  }
  frontend =
      std::make_unique<querier::QueryFrontend>(querier.get(), overrides.get(), frontend_options);
  if (!querier) {
    frontend_service =
        std::make_unique<rpc::FrontendService>(frontend.get(), SystemClock::Default());
  }
  return Status::OK();
}

Status App::Impl::StartGrpc() {
  std::vector<grpc::Service*> services;
  if (cluster() && targets().ingester) {
    ingester_service = std::make_unique<rpc::IngesterService>(ingester.get(), ingester.get());
    if (config.testing.fault.ingester_push_delay > 0) {
      spdlog::warn("msg=\"TEST-ONLY ingester push delay injected\" delay={}",
                   FormatDuration(config.testing.fault.ingester_push_delay));
      ingester_service->InjectPushDelay(config.testing.fault.ingester_push_delay);
    }
    services.push_back(ingester_service.get());
  }
  rpc::FrontendWorkerOptions worker_defaults;
  uint64_t min_recv = 0;
  if (frontend_service) {
    services.push_back(frontend_service.get());
    // Queriers send whole sub-query results: what they may send must be receivable.
    min_recv = worker_defaults.max_send_msg_size;
  }
  if (services.empty()) return Status::OK();
  rpc::GrpcServer::Options go;
  go.address = rpc::GrpcServer::ListenAddress(config.server.grpc_listen_address,
                                              config.server.grpc_listen_port);
  go.max_recv_msg_size = std::max(config.server.grpc_server_max_recv_msg_size, min_recv);
  go.max_send_msg_size = config.server.grpc_server_max_send_msg_size;
  SLUICE_ASSIGN_OR_RETURN(grpc_server, rpc::GrpcServer::Start(go, services));
  spdlog::info("msg=\"serving gRPC\" address={} port={}", go.address, grpc_server->port());
  return Status::OK();
}

// Registers this process in the rings it belongs to. An ingester goes PENDING -> JOINING here;
// it becomes ACTIVE once MarkReplayDone is called after the WAL replay.
Status App::Impl::StartLifecyclers() {
  if (ingester && ring_kv) {
    const int port = cluster() ? grpc_server->port() : server->port();
    ring::LifecyclerOptions lo =
        ring::LifecyclerOptionsFrom(config.ring, InstanceAddr(config, port));
    lo.registry = &metrics::DefaultRegistry();
    if (kafka_target != nullptr) {
      // Known now unless every partition is owned ("all"): the starter sets those.
      auto owned = OwnedPartitions(config, instance_id, 0);
      if (owned.ok()) lo.partitions = *owned;
    }
    lifecycler = std::make_unique<ring::Lifecycler>(ring_kv.get(), lo, SystemClock::Default());
    SLUICE_RETURN_IF_ERROR(lifecycler->Start());
  }
  if (distributor_kv) {
    ring::LifecyclerOptions lo;
    lo.key = ring::DistributorRingKey(config.ring.distributor_kvstore);
    lo.ring_name = "distributor";
    lo.id = config.ring.lifecycler.id;
    lo.addr = InstanceAddr(config, server->port());
    lo.num_tokens = 1;
    lo.heartbeat_period_ns = config.ring.lifecycler.heartbeat_period;
    lo.min_ready_duration_ns = 0;
    distributor_lifecycler =
        std::make_unique<ring::Lifecycler>(distributor_kv.get(), lo, SystemClock::Default());
    SLUICE_RETURN_IF_ERROR(distributor_lifecycler->Start());
    distributor_lifecycler->MarkReplayDone();
    SLUICE_RETURN_IF_ERROR(distributor_ring->Start());
  }
  return Status::OK();
}

void App::Impl::RunKafkaStarter() {
  const auto& c = config;
  auto wait = [this](int64_t ns) {
    for (int64_t slept = 0; slept < ns && !kafka_stop; slept += 100'000'000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  std::vector<int32_t> partitions;
  // The topic's partition count: from the producer in the same process, else from metadata.
  kafka::KafkaHandle metadata_client;
  for (int attempt = 0; !kafka_stop; ++attempt, wait(kNanosPerSecond)) {
    int32_t count = kafka_pusher ? kafka_pusher->partitions() : 0;
    Status why = Status::Unavailable("waiting for the distributor to learn the topic");
    if (count == 0 && !kafka_pusher) {
      if (!metadata_client) {
        auto conf = kafka::NewConf(KafkaClientOptionsFrom(c), {});
        auto client = conf.ok() ? kafka::NewClient(RD_KAFKA_PRODUCER, std::move(*conf))
                                : Result<kafka::KafkaHandle>(conf.status());
        if (!client.ok()) {
          spdlog::error("msg=\"cannot create a Kafka client\" err=\"{}\"",
                        client.status().message());
          return;
        }
        metadata_client = std::move(*client);
      }
      auto n = kafka::TopicPartitions(metadata_client.get(), c.kafka_config.topic,
                                      c.kafka_config.dial_timeout);
      if (n.ok())
        count = *n;
      else
        why = n.status();
    }
    auto owned = OwnedPartitions(c, instance_id, count);
    if (owned.ok()) {
      partitions = std::move(*owned);
      break;
    }
    if (owned.status().code() == StatusCode::kInvalidArgument) {
      spdlog::error("msg=\"Kafka partitions\" err=\"{}\"", owned.status().message());
      return;
    }
    if (attempt % 10 == 0) {
      spdlog::warn("msg=\"waiting for Kafka topic\" topic={} err=\"{}\"", c.kafka_config.topic,
                   why.message());
    }
  }
  metadata_client.reset();
  if (kafka_stop) return;
  if (lifecycler) lifecycler->SetPartitions(partitions);
  spdlog::info("msg=\"consuming Kafka\" topic={} partitions={} group={}", c.kafka_config.topic,
               fmt::join(partitions, ","),
               c.kafka_config.consumer_group.empty() ? instance_id : c.kafka_config.consumer_group);
  kafka_reader = std::make_unique<kafka::PartitionReader>(
      KafkaReaderOptionsFrom(c, instance_id, partitions), kafka_target, SystemClock::Default());
  bool started = false;
  for (int attempt = 0; !kafka_stop && !started; ++attempt) {
    Status st = kafka_reader->Start();
    started = st.ok();
    if (!started && attempt % 10 == 0) {
      spdlog::warn("msg=\"cannot start reading Kafka; retrying\" err=\"{}\"", st.message());
    }
    if (!started) wait(kNanosPerSecond);
  }
  if (!started) return;
  // Published even if a stop came meanwhile: whoever stops the ingester stops the reader first.
  kafka_reader_started = kafka_reader.get();
  while (!kafka_stop && !kafka_reader->caught_up()) wait(100'000'000);
  if (kafka_stop) return;
  spdlog::info("msg=\"caught up with Kafka\" partitions={}", fmt::join(partitions, ","));
  kafka_caught_up = true;
  if (lifecycler) lifecycler->MarkReplayDone();
}

bool App::Impl::Ready(std::string* why) const {
  if (shutting_down || (ingester && ingester->stopping())) {
    *why = "Application is stopping";
    return false;
  }
  if (ingester && !ingester->ready()) {
    *why = "Ingester not ready: waiting for WAL replay to finish";
    return false;
  }
  if (ingester && ingester->wal_failing()) {
    // Off the load balancer while pushes would be refused; ready again once a write succeeds.
    *why = "Ingester not ready: the WAL is failing (disk full or I/O errors); pushes are refused";
    return false;
  }
  if (kafka_target != nullptr && !kafka_caught_up) {
    *why =
        "Ingester not ready: catching up with its Kafka partitions (lag above "
        "kafka_config.max_consumer_lag_at_startup)";
    return false;
  }
  // Loki's frontend readiness: queries would only queue until a querier connects.
  if (frontend_service && frontend_service->counters().connected.load() == 0) {
    *why = "not ready: number of queriers connected to query-frontend is 0";
    return false;
  }
  if (cluster() && lifecycler && !lifecycler->Ready()) {
    *why = fmt::format("Ingester not ready: this instance is {} in the ring",
                       ring::StateName(lifecycler->state()));
    if (lifecycler->state() == ring::InstanceState::kActive) {
      *why += " for less than ingester.lifecycler.min_ready_duration";
    }
    return false;
  }
  return true;
}

Status App::Impl::LeaveAndFlush(bool flush) {
  if (lifecycler) {
    Status st = lifecycler->Leave();
    if (!st.ok()) spdlog::warn("msg=\"ring LEAVING failed\" err=\"{}\"", st.message());
  }
  // Kafka: stop reading first; once everything read is flushed the next owner of these
  // partitions may start where this ingester ends (kafka::PartitionReader::Handover).
  kafka_stop = true;
  if (kafka_starter.joinable()) kafka_starter.join();
  if (kafka_reader_started.load() != nullptr) kafka_reader->Stop();
  Status flushed = ingester->Shutdown(flush);
  if (kafka_reader_started.load() != nullptr && flush && flushed.ok()) {
    Status st = kafka_reader->Handover();
    if (!st.ok()) spdlog::warn("msg=\"Kafka handover commit failed\" err=\"{}\"", st.message());
  }
  if (lifecycler && !left_ring.exchange(true)) {
    Status st = lifecycler->Unregister();
    if (!st.ok()) spdlog::warn("msg=\"leaving the ring failed\" err=\"{}\"", st.message());
  }
  return flushed;
}

void App::Impl::RegisterNotServed(const std::vector<std::string>& paths,
                                  const std::string& message) {
  for (const std::string& path : paths) {
    router.Handle({"GET", "POST"}, path,
                  [message](http::Request&) { return http::Response::Text(message + "\n", 404); });
  }
}

App::App(config::Config config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

App::~App() = default;

void App::SetExitRequester(std::function<void()> request_exit) {
  impl_->request_exit = std::move(request_exit);
}

int App::http_port() const { return impl_->server ? impl_->server->port() : 0; }

void App::Impl::RegisterWriteRoutes() {
  http::PushDecodeOptions decode_options;
  decode_options.max_compressed_bytes = config.distributor.max_recv_msg_size;
  decode_options.max_decompressed_bytes = config.distributor.max_decompressed_size;

  auto push = [this, decode_options](http::Request& req) {
    auto tenant = http::TenantForWrite(req, config.auth_enabled);
    if (!tenant.ok()) return http::Response::Error(tenant.status());
    if (ingester && !cluster() && !ingester->ready())
      return http::Response::Error(
          Status::Unavailable("Ingester not ready: WAL replay in progress"));
    tracing::Span decode = tracing::StartSpan("push.decode");
    auto decoded = http::DecodePush(req.body, req.Header("content-type"),
                                    req.Header("content-encoding"), decode_options);
    EndDecodeSpan(decode, req, decoded);
    if (!decoded.ok()) return http::Response::Error(decoded.status());
    Status st = distributor->Push(*tenant, *decoded);
    if (!st.ok()) return http::Response::Error(st);
    return http::Response::NoContent();
  };
  router.Handle({"POST"}, "/loki/api/v1/push", push);
  router.Handle({"POST"}, "/api/prom/push", push);

  // OTLP/HTTP logs. Errors after the tenant is known are written as Loki's OTLP handler writes
  // them: the status code, and a google.rpc.Status carrying the message (500 becomes 503, which
  // OTLP clients retry).
  auto otlp = [this, decode_options](http::Request& req) {
    auto tenant = http::TenantForWrite(req, config.auth_enabled);
    if (!tenant.ok()) return http::Response::Error(tenant.status());
    auto otlp_error = [](const Status& st) {
      int code = HttpStatusFor(st.code());
      if (code == 500) code = 503;
      return http::Response{
          code, "application/octet-stream", http::OtlpErrorBody(st.message()), {}};
    };
    if (ingester && !cluster() && !ingester->ready())
      return otlp_error(Status::Unavailable("Ingester not ready: WAL replay in progress"));
    std::shared_ptr<const config::Limits> limits = overrides->ForTenant(*tenant);
    tracing::Span decode = tracing::StartSpan("push.decode");
    auto decoded =
        http::DecodeOtlpLogs(req.body, req.Header("content-type"), req.Header("content-encoding"),
                             decode_options, *limits, SystemClock::Default()->NowNanos());
    EndDecodeSpan(decode, req, decoded);
    if (!decoded.ok()) return otlp_error(decoded.status());
    Status st = distributor->Push(*tenant, *decoded);
    if (!st.ok()) return otlp_error(st);
    return http::Response::NoContent();
  };
  router.Handle({"POST"}, "/otlp/v1/logs", otlp);

  // JSON documents at VictoriaLogs' paths (http/push/json_ingest.h): JSON lines, and
  // Elasticsearch's bulk API with what Elasticsearch clients check before and after it (every
  // answer carries X-Elastic-Product, which the official clients require; GET answers the
  // cluster's version).
  auto json_ingest = [this, decode_options](
                         http::Request& req,
                         http::JsonIngestFormat format) -> Result<http::JsonIngestResult> {
    SLUICE_ASSIGN_OR_RETURN(std::string tenant, http::TenantForWrite(req, config.auth_enabled));
    if (ingester && !cluster() && !ingester->ready()) {
      return Status::Unavailable("Ingester not ready: WAL replay in progress");
    }
    std::shared_ptr<const config::Limits> limits = overrides->ForTenant(tenant);
    SLUICE_ASSIGN_OR_RETURN(http::JsonIngestResult decoded,
                            http::DecodeJsonIngest(format, req.body, req.Header("content-encoding"),
                                                   http::JsonIngestParamsFrom(req), decode_options,
                                                   *limits, SystemClock::Default()->NowNanos()));
    SLUICE_RETURN_IF_ERROR(distributor->Push(tenant, decoded.request));
    return decoded;
  };
  router.Handle({"POST"}, "/insert/jsonline", [json_ingest](http::Request& req) {
    auto done = json_ingest(req, http::JsonIngestFormat::kJsonLines);
    if (!done.ok()) return http::Response::Error(done.status());
    return http::Response::NoContent();
  });
  auto elastic = [](http::Response resp) {
    resp.headers.emplace_back("X-Elastic-Product", "Elasticsearch");
    return resp;
  };
  // /{index}/_bulk names the index of actions that do not name one.
  auto bulk = [json_ingest, elastic](http::Request& req) {
    const int64_t start = SystemClock::Default()->NowNanos();
    auto done = json_ingest(req, http::JsonIngestFormat::kElasticsearchBulk);
    if (!done.ok()) {
      return elastic(http::Response::Json(http::ElasticsearchErrorBody(done.status()),
                                          HttpStatusFor(done.status().code())));
    }
    auto index = req.path_vars.find("index");
    for (auto& item : done->bulk_items) {
      if (item.index.empty() && index != req.path_vars.end()) item.index = index->second;
    }
    const int64_t took_ms = (SystemClock::Default()->NowNanos() - start) / 1'000'000;
    return elastic(http::Response::Json(http::ElasticsearchBulkResponse(*done, took_ms)));
  };
  router.Handle({"POST", "PUT"}, "/insert/elasticsearch/_bulk", bulk);
  router.Handle({"POST", "PUT"}, "/insert/elasticsearch/{index}/_bulk", bulk);
  router.Handle({"GET", "HEAD"}, "/insert/elasticsearch", [elastic](http::Request& req) {
    if (req.method == "HEAD") return elastic(http::Response{200, "application/json", "", {}});
    return elastic(http::Response::Json(http::ElasticsearchInfoBody()));
  });
}

void App::Impl::RegisterRoutes() {
  if (targets().distributor) {
    RegisterWriteRoutes();
  } else {
    RegisterNotServed({"/loki/api/v1/push", "/api/prom/push", "/otlp/v1/logs", "/insert/jsonline",
                       "/insert/elasticsearch/_bulk"},
                      fmt::format("this sluice process runs -target={}, which takes no pushes: "
                                  "send them to a distributor (-target=distributor or write)",
                                  config.target));
  }
  router.Handle({"GET"}, "/ready", [this](http::Request&) {
    std::string why;
    if (!Ready(&why)) return http::Response::Text(why + "\n", 503);
    return http::Response::Text("ready\n");
  });
  router.Handle({"GET"}, "/metrics", [](http::Request&) {
    auto r = http::Response::Text(metrics::DefaultRegistry().Expose());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
  router.Handle({"GET"}, "/config", [this](http::Request&) {
    return http::Response::Text(config::DumpConfigYaml(config));
  });
  if (ingester) {
    router.Handle({"GET", "POST"}, "/flush", [this](http::Request&) {
      ingester->RequestFlush();
      return http::Response::NoContent();
    });
    // Loki's: LEAVING, flush every chunk, out of the ring, and (by default) exit.
    router.Handle({"GET", "POST"}, "/ingester/shutdown", [this](http::Request& req) {
      if (ingester->stopping())
        return http::Response::Text("Ingester is stopping or already stopped.", 503);
      bool flush = req.Param("flush", "true") != "false";
      bool terminate = req.Param("terminate", "true") != "false";
      Status st = LeaveAndFlush(flush);
      if (!st.ok()) return http::Response::Error(Status::Internal(st.message()));
      if (terminate && request_exit) request_exit();
      return http::Response::NoContent();
    });
  }
  router.Handle({"GET", "POST"}, "/ring", [this](http::Request& req) {
    if (!ring) return http::Response::Text("the ring is not in use\n", 404);
    ring::StatusPageRequest page{
        .method = req.method,
        .forget = req.Param("forget"),
        .json = req.Param("format") == "json" ||
                req.Header("accept").find("application/json") != std::string::npos};
    ring::StatusPageResponse out = ring::RenderStatusPage(*ring, page);
    return http::Response{out.status, out.content_type, std::move(out.body),
                          std::move(out.headers)};
  });
  router.Handle({"GET"}, "/loki/api/v1/status/buildinfo",
                [](http::Request&) { return http::Response::Json(BuildInfoJson()); });
  http::RegisterLimitsRoutes(&router, overrides.get(),
                             {.auth_enabled = config.auth_enabled,
                              .pattern_ingester_enabled = pattern_miner != nullptr,
                              .version = std::string(GetBuildInfo().version)});
  if (querier) {
    http::RegisterQueryRoutes(&router, querier.get(), config.auth_enabled, SystemClock::Default(),
                              frontend.get());
  } else if (frontend) {
    http::RegisterFrontendQueryRoutes(&router, frontend.get(), config.auth_enabled,
                                      SystemClock::Default(), overrides.get());
  } else {
    RegisterNotServed(
        {"/loki/api/v1/query", "/loki/api/v1/query_range", "/loki/api/v1/labels",
         "/loki/api/v1/label", "/loki/api/v1/label/{name}/values", "/loki/api/v1/series",
         "/loki/api/v1/tail", "/loki/api/v1/index/stats", "/loki/api/v1/index/volume",
         "/loki/api/v1/index/volume_range", "/loki/api/v1/detected_labels",
         "/loki/api/v1/detected_fields", "/loki/api/v1/detected_field/{name}/values",
         "/loki/api/v1/patterns", "/api/prom/query", "/api/prom/label",
         "/api/prom/label/{name}/values"},
        fmt::format("this sluice process runs -target={}, which answers no queries: send them to "
                    "the query frontend or a querier (-target=query-frontend, querier or read)",
                    config.target));
  }
  if (querier) http::RegisterPatternRoutes(&router, pattern_miner.get(), config.auth_enabled);
  http::RegisterDeleteRoutes(
      &router, delete_requests.get(), overrides.get(),
      {.auth_enabled = config.auth_enabled,
       .not_served_message = fmt::format(
           "this sluice process runs -target={}, which keeps no delete requests: send them to "
           "the query frontend, a querier or the compactor",
           config.target)});
}

Status App::Start() {
  auto& c = impl_->config;

  impl_->overrides = std::make_unique<config::Overrides>(c.limits_config, c.runtime_config.file,
                                                         c.runtime_config.period);
  if (!c.runtime_config.file.empty()) {
    Status st = impl_->overrides->Reload();
    if (!st.ok()) return Status::InvalidArgument("runtime_config.file: " + st.message());
    impl_->overrides->Start();
  }
  static std::once_flag process_metrics;
  std::call_once(process_metrics,
                 [] { metrics::RegisterProcessMetrics(metrics::DefaultRegistry()); });
  SLUICE_ASSIGN_OR_RETURN(impl_->store, BuildObjectStore(c));
  SLUICE_RETURN_IF_ERROR(impl_->BuildCaches());
  if (c.targets.serves_queries() || c.targets.compactor) {
    deletion::DeleteRequestStoreOptions delete_options;
    delete_options.cancel_period_ns = c.compactor.delete_request_cancel_period;
    impl_->delete_requests = std::make_unique<deletion::DeleteRequestStore>(
        impl_->store.get(), delete_options, SystemClock::Default());
    SLUICE_RETURN_IF_ERROR(impl_->delete_requests->Load());
  }
  impl_->instance_id = c.ring.lifecycler.id;
  if (c.targets.all || impl_->instance_id.empty()) {
    char host[256] = "sluice";
    gethostname(host, sizeof host - 1);
    impl_->instance_id = host;
  }
  SLUICE_RETURN_IF_ERROR(StartTracing(c, impl_->instance_id));
  SLUICE_RETURN_IF_ERROR(impl_->BuildRings());
  SLUICE_RETURN_IF_ERROR(impl_->BuildCompactor());
  SLUICE_RETURN_IF_ERROR(impl_->BuildWritePath());
  SLUICE_RETURN_IF_ERROR(impl_->BuildReadPath());
  impl_->RegisterRoutes();

  http::ServerOptions opts;
  opts.address = c.server.http_listen_address;
  opts.port = c.server.http_listen_port;
  opts.threads = c.server.http_threads;
  opts.max_body_bytes = c.distributor.max_recv_msg_size;
  opts.read_timeout_ns = c.server.http_server_read_timeout;
  impl_->server = std::make_unique<http::Server>(opts, &impl_->router);
  SLUICE_RETURN_IF_ERROR(impl_->server->Start());
  spdlog::info("msg=\"serving HTTP\" address={} port={}", opts.address, impl_->server->port());
  SLUICE_RETURN_IF_ERROR(impl_->StartGrpc());
  if (impl_->ring) {
    // Distributors and queriers route by the ring from the start; an ingester registers and
    // stays JOINING (no writes routed to it) while it replays its WAL.
    SLUICE_RETURN_IF_ERROR(impl_->ring->Start());
    SLUICE_RETURN_IF_ERROR(impl_->StartLifecyclers());
  }
  if (impl_->ingester) SLUICE_RETURN_IF_ERROR(impl_->ingester->Start());
  if (impl_->kafka_target != nullptr) {
    impl_->kafka_starter = std::thread([impl = impl_.get()] { impl->RunKafkaStarter(); });
  } else if (impl_->lifecycler) {
    impl_->lifecycler->MarkReplayDone();
  }
  if (impl_->compactor) impl_->compactor->Start();
  if (impl_->kafka_lag) SLUICE_RETURN_IF_ERROR(impl_->kafka_lag->Start());
  if (impl_->querier && !c.frontend_worker.frontend_address.empty()) {
    rpc::FrontendWorkerOptions wo;
    wo.frontend_address = c.frontend_worker.frontend_address;
    wo.match_max_concurrent = c.frontend_worker.parallelism <= 0;
    if (c.frontend_worker.parallelism > 0) wo.parallelism = c.frontend_worker.parallelism;
    wo.max_concurrent = c.querier.max_concurrent;
    wo.querier_id = c.ring.lifecycler.id;
    impl_->frontend_worker = std::make_unique<rpc::FrontendWorker>(
        wo, impl_->querier.get(), &impl_->router, SystemClock::Default());
    SLUICE_RETURN_IF_ERROR(impl_->frontend_worker->Start());
  }
  // Syslog listeners start after WAL replay: a listener has no "not ready" answer to give.
  if (!c.syslog.listeners.empty() && impl_->distributor) {
    distributor::Distributor* distributor = impl_->distributor.get();
    impl_->syslog_server = std::make_unique<syslog::Server>(
        c.syslog.listeners, impl_->overrides.get(),
        [distributor](std::string_view tenant, model::PushRequest& request) {
          return distributor->Push(tenant, request);
        },
        SystemClock::Default(), syslog::ServerOptions{});
    SLUICE_RETURN_IF_ERROR(impl_->syslog_server->Start());
  }
  spdlog::info("msg=\"sluice is ready\" target={} data={}", c.target, c.common.path_prefix);
  return Status::OK();
}

void App::Shutdown() {
  if (impl_->shutting_down.exchange(true)) return;
  // Syslog first: its last batches are pushed while the ingester still takes them.
  if (impl_->syslog_server) impl_->syslog_server->Stop();
  if (impl_->distributor_lifecycler) {
    Status st = impl_->distributor_lifecycler->Unregister();
    if (!st.ok()) {
      spdlog::warn("msg=\"leaving the distributor ring failed\" err=\"{}\"", st.message());
    }
  }
  // An ingester: LEAVING while the chunks are flushed (reads only), out of the ring afterwards.
  if (impl_->ingester && !impl_->ingester->stopping()) {
    spdlog::info("msg=\"shutting down: flushing chunks\"");
    Status st = impl_->LeaveAndFlush(impl_->config.ingester.wal.flush_on_shutdown ||
                                     !impl_->config.ingester.wal.enabled);
    if (!st.ok()) spdlog::error("msg=\"shutdown flush failed\" err=\"{}\"", st.message());
  }
  impl_->kafka_stop = true;
  if (impl_->kafka_starter.joinable()) impl_->kafka_starter.join();
  if (impl_->kafka_lag) impl_->kafka_lag->Stop();
  if (impl_->compactor) impl_->compactor->Stop();  // gives its lease to another instance
  // Queries: the worker finishes what it runs, then the frontend stops handing out work.
  if (impl_->frontend_worker) impl_->frontend_worker->Stop(5'000'000'000);
  if (impl_->server) impl_->server->Stop();
  if (impl_->frontend_service) impl_->frontend_service->Stop();
  if (impl_->grpc_server) impl_->grpc_server->Shutdown(1'000'000'000);
  if (impl_->ring) impl_->ring->Stop();
  if (impl_->distributor_ring) impl_->distributor_ring->Stop();
  if (impl_->overrides) impl_->overrides->Stop();
  tracing::Stop();  // exports the spans still queued
  spdlog::info("msg=\"shutdown complete\"");
}

}  // namespace sluice
