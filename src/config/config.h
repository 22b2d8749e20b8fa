#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/limits.h"

namespace sluice::config {

// Where a ring lives (Loki's kvstore block). An empty store means "as common.ring.kvstore".
struct KvStoreConfig {
  std::string store;                   // inmemory | etcd
  std::string prefix = "collectors/";  // the ring is the key <prefix>ring
  struct Etcd {
    std::vector<std::string> endpoints;
    int64_t dial_timeout = 10LL * 1'000'000'000;
    std::string username;
    std::string password;
  } etcd;
};

// A cache, as Loki's cache blocks name it (chunk_store_config.chunk_cache_config,
// query_range.results_cache.cache, storage_config.index_queries_cache_config). Neither part
// enabled = no cache.
struct CacheConfig {
  struct EmbeddedCache {
    bool enabled = false;
    uint64_t max_size_mb = 100;
    int64_t ttl = 3600LL * 1'000'000'000;
  } embedded_cache;
  struct Memcached {
    int64_t expiration = 0;  // 0 = memcached's default (never, until evicted)
    int batch_size = 256;
    int parallelism = 10;
  } memcached;
  struct MemcachedClient {
    std::string addresses;  // comma-separated host:port; the cache is on when set
    std::string host;       // with `service`: host:port from these when addresses is empty
    std::string service = "memcached";
    int64_t timeout = 100LL * 1'000'000;
    uint64_t max_item_size = 0;  // 0 = memcached's 1 MB
  } memcached_client;
  int64_t default_validity = 0;
  bool enabled() const {
    return embedded_cache.enabled || !memcached_client.addresses.empty() ||
           !memcached_client.host.empty();
  }
};

// The hash ring of ingesters (src/ring), read by the cluster targets. Loki's keys: common.*,
// ingester.lifecycler.*, distributor.ring.kvstore.
struct RingConfig {
  int common_replication_factor = 0;  // common.replication_factor; 0 = not set
  std::string instance_addr;          // common.instance_addr (or common.ring.instance_addr)
  KvStoreConfig common_kvstore;       // common.ring.kvstore (store defaults to inmemory)
  // common.ring.* and distributor.zone_awareness_enabled: defaults for the lifecycler's own keys.
  std::string common_ring_instance_addr;
  std::string common_instance_id;
  std::string common_availability_zone;
  bool common_zone_awareness_enabled = false;
  bool distributor_zone_awareness_enabled = false;
  struct Lifecycler {
    std::string id;  // default: the host name
    int num_tokens = 128;
    int64_t heartbeat_period = 5LL * 1'000'000'000;
    int64_t join_after = 0;
    int64_t min_ready_duration = 15LL * 1'000'000'000;
    int64_t final_sleep = 0;
    std::string availability_zone;
    std::string tokens_file_path;
    // ingester.lifecycler.ring
    KvStoreConfig kvstore;
    int64_t heartbeat_timeout = 60LL * 1'000'000'000;
    int replication_factor = 3;  // common.replication_factor overrides it
    bool zone_awareness_enabled = false;
  } lifecycler;
  KvStoreConfig distributor_kvstore;  // distributor.ring.kvstore

  // Fills the defaults that come from elsewhere (common.*, the host name) and checks values.
  // Loki's other KV stores (memberlist, consul, multi) become inmemory, each named in *ignored:
  // a Loki config starts the single binary, whose one-instance ring needs no shared store.
  Status Finalize(std::vector<std::string>* ignored);
};

// The whole process configuration. YAML section and key names follow Loki where the concept
// matches (server, auth_enabled, common, limits_config, ingester, ingester.wal, runtime_config)
// so an existing Loki config needs few changes. Durations are nanoseconds, sizes bytes.
// What -target asks this process to run: Loki's module names, or a comma-separated list of them
// (-target=distributor,query-frontend). "all" is every component in one process with
// in-process calls; the others talk to each other over gRPC and find ingesters in the ring.
struct Targets {
  bool all = false;
  bool distributor = false;
  bool ingester = false;
  bool querier = false;
  bool query_frontend = false;
  bool compactor = false;
  bool backend = false;  // the compactor (and the ruler, when it exists)

  // all | distributor | ingester | querier | query-frontend | compactor | write (distributor,
  // ingester) | read (query-frontend, querier) | backend (compactor), or a comma-separated list.
  static Result<Targets> Parse(std::string_view target);
  bool serves_queries() const { return querier || query_frontend; }
};

struct Config {
  std::string target = "all";
  Targets targets;  // parsed from `target` by Finalize
  bool auth_enabled = false;

  struct Server {
    std::string http_listen_address = "0.0.0.0";
    int http_listen_port = 3100;
    int http_threads = 0;  // 0 = max(4, 2 x cores)
    std::string log_level = "info";
    std::string log_format = "logfmt";
    int64_t http_server_read_timeout = 30LL * 1'000'000'000;
    // The gRPC server of the scaled-out targets (src/rpc); Loki's names and defaults ("": every
    // interface). Messages larger than these fail with RESOURCE_EXHAUSTED.
    std::string grpc_listen_address;
    int grpc_listen_port = 9095;
    uint64_t grpc_server_max_recv_msg_size = 4ull << 20;
    uint64_t grpc_server_max_send_msg_size = 4ull << 20;
  } server;

  struct Common {
    std::string path_prefix = "./data";
  } common;

  struct Distributor {
    // Caps on a push body, before and after decompression: a decompression bomb stops here.
    uint64_t max_recv_msg_size = 100ull << 20;
    uint64_t max_decompressed_size = 100ull << 20;
    // Loki's: pushes go to Kafka (kafka_config) instead of straight to the ingesters.
    bool kafka_writes_enabled = false;
  } distributor;

  // kafka_config (Loki's names): the Kafka write path, used by distributors when
  // distributor.kafka_writes_enabled and by ingesters when ingester.kafka_ingestion.enabled.
  struct Kafka {
    std::string address = "localhost:9092";  // bootstrap brokers, comma-separated
    std::string topic;                       // required when Kafka is used
    std::string client_id;
    int64_t dial_timeout = 2LL * 1'000'000'000;
    int64_t write_timeout = 10LL * 1'000'000'000;
    std::string sasl_username;
    std::string sasl_password;
    // "" = the ingester's instance id; "<partition>" in it is replaced by the partition id.
    std::string consumer_group;
    int64_t consumer_group_offset_commit_interval = 1LL * 1'000'000'000;
    bool auto_create_topic_enabled = true;
    int auto_create_topic_default_partitions = 1000;
    uint64_t producer_max_record_size_bytes = 15'983'616;
    uint64_t producer_max_buffered_bytes = 1ull << 30;
    int64_t max_consumer_lag_at_startup = 15LL * 1'000'000'000;
    // sluice's: how long a produced record may wait to be batched with others (librdkafka
    // linger.ms), and any other librdkafka property (TLS: security.protocol, ssl.ca.location ...).
    int64_t producer_linger = 5LL * 1'000'000;
    std::map<std::string, std::string> librdkafka;
  } kafka_config;

  struct Ingester {
    int64_t chunk_idle_period = 30LL * 60 * 1'000'000'000;
    // sluice's own: an idle chunk smaller than this (compressed) is not flushed at
    // chunk_idle_period but kept (in memory and the WAL) until max_chunk_age, so streams that
    // write a line now and then do not fill the bucket with tiny objects. 0: flush when idle.
    uint64_t chunk_idle_min_size = 32ull << 10;
    uint64_t chunk_block_size = 262144;
    uint64_t chunk_target_size = 1572864;
    std::string chunk_encoding = "zstd";
    // Flush-time recompaction (sluice's own knobs: cost vs disk vs query speed). Blocks are cut
    // small and fast on the push path; at flush a chunk's entries are re-cut into blocks of
    // chunk_flush_block_size raw bytes, recompressed at chunk_flush_compression_level (zstd,
    // gzip) and, with chunk_flush_blooms, given the n-gram bloom filters that let `|=` queries
    // skip blocks. Level 0 stores the blocks as they were cut (no recompaction, no blooms).
    uint64_t chunk_flush_block_size = 1ull << 20;
    int chunk_flush_compression_level = 1;
    bool chunk_flush_blooms = true;
    // Memory bounds (sluice's own): raw head bytes past head_memory_budget (at least 16KB per
    // stream) are cut into compressed blocks early; past chunk_memory_budget more, the largest
    // open chunks are flushed early (reason "memory").
    uint64_t head_memory_budget = 48ull << 20;
    uint64_t chunk_memory_budget = 256ull << 20;
    int64_t max_chunk_age = 2LL * 3600 * 1'000'000'000;
    int64_t chunk_retain_period = 0;
    int64_t flush_check_period = 30LL * 1'000'000'000;
    int concurrent_flushes = 4;
    // A failed flush is retried after a jittered backoff doubling from min_period to max_period
    // (Loki's flush_op_backoff), for as long as it takes: chunks stay in memory and in the WAL
    // until stored. max_retries is accepted for Loki's configs; sluice never gives a chunk up.
    struct FlushOpBackoff {
      int64_t min_period = 10LL * 1'000'000'000;
      int64_t max_period = 60LL * 1'000'000'000;
      int max_retries = 10;
    } flush_op_backoff;
    int concurrency = 0;  // stream shards; 0 = 4 x cores
    uint64_t max_returned_stream_errors = 10;
    // Loki's ingester.kafka_ingestion: consume the Kafka partitions this ingester owns instead
    // of taking pushes over gRPC.
    struct KafkaIngestion {
      bool enabled = false;
      // sluice's: the partitions this ingester owns, e.g. "0,1" or "all". "" = the number at
      // the end of the instance id (Loki's rule: ingester-3 owns partition 3); "all" is the
      // default of the single binary (-target=all).
      std::string partitions;
    } kafka_ingestion;
    struct Wal {
      bool enabled = true;
      std::string dir;  // default <path_prefix>/wal
      int64_t checkpoint_duration = 5LL * 60 * 1'000'000'000;
      bool flush_on_shutdown = true;
      uint64_t replay_memory_ceiling = 4ull << 30;
      std::string fsync = "batch";  // batch | interval | never
      int64_t fsync_interval = 1'000'000'000;
      uint64_t segment_size = 128ull << 20;
    } wal;
  } ingester;

  struct Storage {
    std::string chunks_directory;  // default <path_prefix>/chunks (common.storage.filesystem)
    // common.storage.s3 and storage_config.aws (the same block): chunks, index and delete
    // requests go to this bucket instead of chunks_directory when `bucketnames` is set.
    struct S3 {
      // Loki's URL form, applied by Finalize to the fields below: s3://[key:secret@]region/bucket
      // (AWS) or http(s)://[key:secret@]host[:port]/bucket (any S3-compatible store, path style).
      std::string s3;
      std::string endpoint;  // host[:port] or URL; "" = s3.<region>.amazonaws.com
      std::string region;    // "" = AWS_REGION / AWS_DEFAULT_REGION, else us-east-1
      std::string bucketnames;
      // "" = AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN from the environment.
      std::string access_key_id;
      std::string secret_access_key;
      std::string session_token;
      bool s3forcepathstyle = false;  // http(s)://endpoint/bucket/key, not bucket.endpoint/key
      bool insecure = false;          // http instead of https
      struct HttpConfig {
        int64_t idle_conn_timeout = 90LL * 1'000'000'000;
        int64_t response_header_timeout = 0;  // 0 = none beyond the request's own time bound
        bool insecure_skip_verify = false;
        std::string ca_file;
      } http_config;
      struct BackoffConfig {
        int64_t min_period = 100LL * 1'000'000;
        int64_t max_period = 3LL * 1'000'000'000;
        int max_retries = 5;
      } backoff_config;
    } s3;
    bool uses_s3() const { return !s3.bucketnames.empty(); }
    // storage_config.index_queries_cache_config: decoded index objects (off: only the index
    // reader's own bounded in-memory set).
    CacheConfig index_queries_cache_config;
  } storage;

  // chunk_store_config.chunk_cache_config: chunk objects read by queries. With S3 and no cache
  // configured, an embedded cache of embedded_cache.max_size_mb is used (as Loki does).
  struct ChunkStore {
    CacheConfig chunk_cache_config;
  } chunk_store_config;

  // query_range: the results cache of metric range queries, per split (src/querier/frontend.h).
  struct QueryRange {
    bool cache_results = false;
    struct ResultsCache {
      CacheConfig cache;
    } results_cache;
  } query_range;

  // The compactor (-target=compactor, also in all and backend): index compaction, replica merge,
  // retention and deletes (src/compactor/). One instance is active at a time (a lease in the
  // ring's KV store).
  struct Compactor {
    std::string working_directory;  // default <path_prefix>/compactor
    int64_t compaction_interval = 10LL * 60 * 1'000'000'000;
    bool retention_enabled = false;
    int64_t retention_delete_delay = 2LL * 3600 * 1'000'000'000;
    int retention_delete_worker_count = 150;
    std::string delete_request_store;  // accepted; delete requests live in the chunk store
    int64_t delete_request_cancel_period = 24LL * 3600 * 1'000'000'000;
  } compactor;

  struct Querier {
    int max_concurrent = 0;  // query worker threads; 0 = cores
    // 0: list new index files on every query. Together with asking the ingester before the store,
    // this means a chunk flushed (and dropped from memory) mid-query is never missed.
    int64_t index_refresh_interval = 0;
    // Ingesters are asked only for queries whose end is within this of now (they hold the last
    // few hours; older data is in the store). 0: always ask them.
    int64_t query_ingesters_within = 3LL * 3600 * 1'000'000'000;
  } querier;

  // The query frontend as a process of its own (-target=query-frontend): queriers connect to
  // its gRPC port and pull split queries from its per-tenant queues.
  struct Frontend {
    // Sub-queries queued per tenant before new queries get 429.
    int max_outstanding_per_tenant = 2048;
  } frontend;
  struct FrontendWorker {
    std::string frontend_address;  // host:port of the frontend's gRPC server; "" = none
    int parallelism = 0;           // queries pulled at once; 0 = querier.max_concurrent
  } frontend_worker;

  // How distributors and queriers call ingesters over gRPC (src/rpc/ingester_client.h). Loki's
  // names where Loki has the knob; the bulkhead and the circuit breaker are sluice's.
  struct IngesterClient {
    int64_t remote_timeout = 5LL * 1'000'000'000;  // deadline of each push and unary query call
    struct PoolConfig {
      int64_t client_cleanup_period = 15LL * 1'000'000'000;
      bool health_check_ingesters = true;
      int64_t remote_timeout = 1'000'000'000;  // of a health check
    } pool_config;
    struct GrpcClientConfig {
      uint64_t max_recv_msg_size = 100ull << 20;
      uint64_t max_send_msg_size = 100ull << 20;
    } grpc_client_config;
    // Pushes in flight to one ingester at most; one more fails at once with 503 instead of
    // queueing behind a slow ingester.
    int max_inflight_push_requests = 64;
    struct CircuitBreaker {
      // Consecutive failed calls (unavailable, timed out, internal) that open the breaker;
      // 0 turns it off.
      int failure_threshold = 5;
      // How long an open breaker fails calls at once before one trial call may pass.
      int64_t cooldown = 10LL * 1'000'000'000;
    } circuit_breaker;
    // sluice's own: a push that failed with a retryable error (unavailable, timed out) is sent
    // again up to push_retries times, after a jittered backoff starting at push_retry_backoff,
    // within remote_timeout in all. Ingesters drop exact duplicates, so a retry adds nothing.
    int push_retries = 2;
    int64_t push_retry_backoff = 50LL * 1'000'000;
  } ingester_client;

  struct RuntimeConfig {
    std::string file;
    int64_t period = 10LL * 1'000'000'000;
  } runtime_config;

  // Loki's pattern_ingester block (the keys with a meaning in the single binary): patterns mined
  // from stored lines for /loki/api/v1/patterns (src/pattern/).
  struct PatternIngester {
    bool enabled = false;
    int max_clusters = 300;  // per stream and level
    double max_eviction_ratio = 0.25;
    int max_allowed_line_length = 3000;
    int64_t retain_for = 3LL * 3600 * 1'000'000'000;
    int64_t max_chunk_age = 3600LL * 1'000'000'000;  // checked as Loki does; no other effect
    int64_t pattern_sample_interval = 10LL * 1'000'000'000;
    // sluice's own: past this estimate, the least recently pushed streams' patterns are dropped.
    uint64_t memory_budget = 128ull << 20;
  } pattern_ingester;

  Limits limits_config;

  // Loki's tracing block (`enabled`) and sluice's own keys for the OTLP/HTTP export
  // (src/tracing). The endpoint falls back to $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then to
  // $OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces", as OpenTelemetry's SDKs do.
  struct Tracing {
    bool enabled = false;
    std::string otlp_endpoint;    // "http://collector:4318/v1/traces"
    double sampling_ratio = 0.1;  // of the traces sluice starts; callers' sampled flags win
    std::string service_name = "sluice";
  } tracing;

  // TEST-ONLY fault injection for the incident drills (tests/drills/): off by default, and never
  // to be set in production. Each makes one incident on demand.
  struct Testing {
    struct Fault {
      int64_t ingester_push_delay = 0;  // an ingester sleeps this long in every push it receives
      int64_t store_delay = 0;          // every object-store operation sleeps this long first
      double store_error_ratio = 0;     // and then fails (IOError) with this probability
    } fault;
  } testing;

  // Syslog listeners (src/syslog): none by default. Key names follow promtail's syslog target
  // where it has the concept (listen_address, labels, use_incoming_timestamp, idle_timeout,
  // max_message_length); checked when the listeners start.
  struct SyslogListener {
    std::string protocol = "tcp";  // tcp | udp
    std::string listen_address;    // host:port
    std::string tenant = "fake";
    std::map<std::string, std::string> labels;
    // Which message fields become stream labels; the others are structured metadata.
    std::vector<std::string> label_fields = {"hostname", "app_name"};
    bool use_incoming_timestamp = false;
    int64_t idle_timeout = 120LL * 1'000'000'000;
    uint64_t max_message_length = 8192;
    int max_connections = 256;
  };
  struct Syslog {
    std::vector<SyslogListener> listeners;
  } syslog;
  // Loki keys in the file or flags that sluice accepts but has no use for, by dotted path (not
  // part of the configuration; the server names them in one warning at start).
  std::vector<std::string> ignored_loki_keys;
  RingConfig ring;

  // Fills derived defaults (directories under path_prefix) and checks values.
  Status Finalize();
};

// Parses YAML text. Keys of Loki's configuration reference that sluice has no use for are
// accepted and listed in `ignored_loki_keys`; keys in neither are an error naming the key, its
// section and the key it probably meant (docs/loki-config.md).
Result<Config> ParseConfigYaml(std::string_view yaml);

// Warnings (logfmt fields) for ignored Loki keys that change what a Loki user would expect:
// object storage (the data stays local) and retention (nothing is deleted). Each names its keys.
std::vector<std::string> IgnoredLokiFeatureWarnings(const Config& config);

// Loki's -config.expand-env: replaces ${VAR} and ${VAR:-default} with the environment's value
// (an unset VAR is "" or the default). `getenv` looks a name up (nullptr if unset).
std::string ExpandEnv(std::string_view text, const std::function<const char*(const char*)>& getenv);

// Loads `-config.file` (if given) and applies the other flags on top. Flags are the YAML path
// with '.' between sections and '-' or '_' inside names: `-server.http-listen-port=3101`,
// `-limits_config.ingestion_rate_mb=8`, `-ingester.wal.fsync=never`; plus every Loki flag of
// the reference (`-distributor.ingestion-rate-limit-mb`, `-ingester.wal-enabled`, ...) and
// Loki's `-config.file`, `-config.expand-env`.
// Hand-parsed because Loki's Go-style single-dash long flags are not what CLI11 parses.
Result<Config> LoadConfig(const std::vector<std::string>& args);

// The effective configuration as YAML (GET /config).
std::string DumpConfigYaml(const Config& config);
// One tenant's limits as YAML, keyed as in limits_config (GET /config/tenant/v1/limits).
std::string DumpLimitsYaml(const Limits& limits);

// Per-tenant limits from a runtime overrides file: `overrides: {tenant: {limit: value}}`,
// each tenant starting from `defaults`.
struct TenantOverride {
  std::string tenant;
  Limits limits;
};
Result<std::vector<TenantOverride>> ParseOverridesYaml(std::string_view yaml,
                                                       const Limits& defaults);

}  // namespace sluice::config
