#include "main/app.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

#include "common/clock.h"
#include "config/overrides.h"
#include "distributor/distributor.h"
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
#include "metrics/metrics.h"
#include "pattern/miner.h"
#include "querier/frontend.h"
#include "querier/querier.h"
#include "querier/store_source.h"
#include "ring/from_config.h"
#include "ring/status_page.h"
#include "storage/filesystem_store.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_writer.h"
#include "syslog/server.h"

namespace sluice {

struct App::Impl {
  config::Config config;
  std::unique_ptr<config::Overrides> overrides;
  storage::ObjectStorePtr store;
  std::unique_ptr<storage::index::IndexWriter> index_writer;
  std::unique_ptr<storage::index::IndexReader> index_reader;
  std::unique_ptr<ingester::Ingester> ingester;
  std::unique_ptr<pattern::Miner> pattern_miner;  // null unless pattern_ingester.enabled
  std::unique_ptr<pattern::TeePusher> pattern_tee;
  std::unique_ptr<distributor::Distributor> distributor;
  std::unique_ptr<querier::StoreSource> store_source;
  std::unique_ptr<read::FanOut> fan_out;
  std::unique_ptr<querier::Querier> querier;
  std::unique_ptr<querier::QueryFrontend> frontend;  // before the server: outlives its handlers
  // -target=all's one-instance in-memory ring, shown at /ring. Nothing routes by it yet.
  std::unique_ptr<ring::KvStore> ring_kv;
  std::unique_ptr<ring::Ring> ring;
  std::unique_ptr<ring::Lifecycler> lifecycler;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<syslog::Server> syslog_server;  // only with syslog.listeners configured
  std::function<void()> request_exit;
  std::atomic<bool> shutting_down{false};

  void RegisterRoutes();
  Status StartRing();
};

Status App::Impl::StartRing() {
  std::string addr =
      config.ring.instance_addr.empty() ? std::string("127.0.0.1") : config.ring.instance_addr;
  addr += ":" + std::to_string(server->port());
  ring::LifecyclerOptions lo = ring::LifecyclerOptionsFrom(config.ring, addr);
  lo.registry = &metrics::DefaultRegistry();
  lifecycler = std::make_unique<ring::Lifecycler>(ring_kv.get(), lo, SystemClock::Default());
  SLUICE_RETURN_IF_ERROR(lifecycler->Start());
  // The WAL was replayed by ingester->Start() before this.
  lifecycler->MarkReplayDone();
  return ring->Start();
}

App::App(config::Config config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

App::~App() = default;

void App::SetExitRequester(std::function<void()> request_exit) {
  impl_->request_exit = std::move(request_exit);
}

int App::http_port() const { return impl_->server ? impl_->server->port() : 0; }

void App::Impl::RegisterRoutes() {
  http::PushDecodeOptions decode_options;
  decode_options.max_compressed_bytes = config.distributor.max_recv_msg_size;
  decode_options.max_decompressed_bytes = config.distributor.max_decompressed_size;

  auto push = [this, decode_options](http::Request& req) {
    auto tenant = http::TenantForWrite(req, config.auth_enabled);
    if (!tenant.ok()) return http::Response::Error(tenant.status());
    if (!ingester->ready())
      return http::Response::Error(
          Status::Unavailable("Ingester not ready: WAL replay in progress"));
    auto decoded = http::DecodePush(req.body, req.Header("content-type"),
                                    req.Header("content-encoding"), decode_options);
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
    if (!ingester->ready())
      return otlp_error(Status::Unavailable("Ingester not ready: WAL replay in progress"));
    std::shared_ptr<const config::Limits> limits = overrides->ForTenant(*tenant);
    auto decoded =
        http::DecodeOtlpLogs(req.body, req.Header("content-type"), req.Header("content-encoding"),
                             decode_options, *limits, SystemClock::Default()->NowNanos());
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
    if (!ingester->ready()) {
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

  router.Handle({"GET"}, "/ready", [this](http::Request&) {
    if (shutting_down || ingester->stopping())
      return http::Response::Text("Application is stopping\n", 503);
    if (!ingester->ready())
      return http::Response::Text("Ingester not ready: waiting for WAL replay to finish\n", 503);
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
  router.Handle({"GET", "POST"}, "/flush", [this](http::Request&) {
    ingester->RequestFlush();
    return http::Response::NoContent();
  });
  router.Handle({"GET", "POST"}, "/ingester/shutdown", [this](http::Request& req) {
    if (ingester->stopping())
      return http::Response::Text("Ingester is stopping or already stopped.", 503);
    bool flush = req.Param("flush", "true") != "false";
    bool terminate = req.Param("terminate", "true") != "false";
    Status st = ingester->Shutdown(flush);
    if (!st.ok()) return http::Response::Error(Status::Internal(st.message()));
    if (terminate && request_exit) request_exit();
    return http::Response::NoContent();
  });
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
  http::RegisterQueryRoutes(&router, querier.get(), config.auth_enabled, SystemClock::Default(),
                            frontend.get());
  http::RegisterPatternRoutes(&router, pattern_miner.get(), config.auth_enabled);
}

Status App::Start() {
  auto& c = impl_->config;
  std::error_code ec;
  std::filesystem::create_directories(c.storage.chunks_directory, ec);
  if (ec)
    return Status::IOError(
        fmt::format("cannot create {}: {}", c.storage.chunks_directory, ec.message()));

  impl_->overrides = std::make_unique<config::Overrides>(c.limits_config, c.runtime_config.file,
                                                         c.runtime_config.period);
  if (!c.runtime_config.file.empty()) {
    Status st = impl_->overrides->Reload();
    if (!st.ok()) return Status::InvalidArgument("runtime_config.file: " + st.message());
    impl_->overrides->Start();
  }
  impl_->store = storage::NewFilesystemStore(c.storage.chunks_directory);
  char host[256] = "sluice";
  gethostname(host, sizeof host - 1);
  impl_->index_writer = std::make_unique<storage::index::IndexWriter>(impl_->store.get(), host);
  impl_->index_reader = std::make_unique<storage::index::IndexReader>(
      impl_->store.get(), c.querier.index_refresh_interval);
  impl_->ingester =
      std::make_unique<ingester::Ingester>(c.ingester, impl_->overrides.get(), impl_->store.get(),
                                           impl_->index_writer.get(), SystemClock::Default());
  write::Pusher* pusher = impl_->ingester.get();
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
    impl_->pattern_miner = std::make_unique<pattern::Miner>(options, SystemClock::Default());
    impl_->pattern_tee = std::make_unique<pattern::TeePusher>(pusher, impl_->pattern_miner.get());
    pusher = impl_->pattern_tee.get();
  }
  impl_->distributor = std::make_unique<distributor::Distributor>(impl_->overrides.get(), pusher,
                                                                  SystemClock::Default());
  impl_->store_source =
      std::make_unique<querier::StoreSource>(impl_->store.get(), impl_->index_reader.get());
  // The ingester is asked before the store: a chunk flushed and dropped from memory between the
  // two calls is then already in the index the store reads.
  impl_->fan_out = std::make_unique<read::FanOut>(
      std::vector<read::StreamSource*>{impl_->ingester.get(), impl_->store_source.get()});
  impl_->querier = std::make_unique<querier::Querier>(impl_->fan_out.get(), impl_->overrides.get());
  // Query work runs on the frontend's own pool (querier.max_concurrent threads), apart from the
  // HTTP io threads that also serve pushes.
  querier::FrontendOptions frontend_options;
  frontend_options.workers = c.querier.max_concurrent;
  impl_->frontend = std::make_unique<querier::QueryFrontend>(
      impl_->querier.get(), impl_->overrides.get(), frontend_options);
  if (c.ring.lifecycler.kvstore.store == "inmemory") {
    SLUICE_ASSIGN_OR_RETURN(impl_->ring_kv, ring::NewKvStore(c.ring.lifecycler.kvstore));
    ring::RingOptions ro = ring::RingOptionsFrom(c.ring);
    ro.registry = &metrics::DefaultRegistry();
    impl_->ring = std::make_unique<ring::Ring>(impl_->ring_kv.get(), ro, SystemClock::Default());
  }
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
  SLUICE_RETURN_IF_ERROR(impl_->ingester->Start());
  // Syslog listeners start after WAL replay: a listener has no "not ready" answer to give.
  if (!c.syslog.listeners.empty()) {
    distributor::Distributor* distributor = impl_->distributor.get();
    impl_->syslog_server = std::make_unique<syslog::Server>(
        c.syslog.listeners, impl_->overrides.get(),
        [distributor](std::string_view tenant, model::PushRequest& request) {
          return distributor->Push(tenant, request);
        },
        SystemClock::Default(), syslog::ServerOptions{});
    SLUICE_RETURN_IF_ERROR(impl_->syslog_server->Start());
  }
  if (impl_->ring) SLUICE_RETURN_IF_ERROR(impl_->StartRing());
  spdlog::info("msg=\"sluice is ready\" target={} data={}", c.target, c.common.path_prefix);
  return Status::OK();
}

void App::Shutdown() {
  if (impl_->shutting_down.exchange(true)) return;
  // Syslog first: its last batches are pushed while the ingester still takes them.
  if (impl_->syslog_server) impl_->syslog_server->Stop();
  spdlog::info("msg=\"shutting down: flushing chunks\"");
  // LEAVING while the chunks are flushed (reads only), out of the ring afterwards.
  if (impl_->lifecycler) {
    Status st = impl_->lifecycler->Leave();
    if (!st.ok()) spdlog::warn("msg=\"ring LEAVING failed\" err=\"{}\"", st.message());
  }
  if (impl_->ingester) {
    Status st = impl_->ingester->Shutdown(impl_->config.ingester.wal.flush_on_shutdown ||
                                          !impl_->config.ingester.wal.enabled);
    if (!st.ok()) spdlog::error("msg=\"shutdown flush failed\" err=\"{}\"", st.message());
  }
  if (impl_->lifecycler) {
    Status st = impl_->lifecycler->Unregister();
    if (!st.ok()) spdlog::warn("msg=\"leaving the ring failed\" err=\"{}\"", st.message());
  }
  if (impl_->server) impl_->server->Stop();
  if (impl_->ring) impl_->ring->Stop();
  if (impl_->overrides) impl_->overrides->Stop();
  spdlog::info("msg=\"shutdown complete\"");
}

}  // namespace sluice
