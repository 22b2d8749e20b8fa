#include "agent/agent.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "agent/agent_metrics.h"
#include "agent/batcher.h"
#include "agent/breaker.h"
#include "agent/budget.h"
#include "agent/client.h"
#include "agent/journal.h"
#include "agent/positions.h"
#include "agent/reader.h"
#include "agent/sender.h"
#include "agent/source.h"
#include "common/curl.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "http/server.h"

namespace sluice::agent {

namespace {

int64_t WallNanos() { return SystemClock::Default()->NowNanos(); }

}  // namespace

struct Agent::Impl {
  explicit Impl(AgentConfig c)
      : config(std::move(c)),
        budget(config.limits.memory_limit, 2 * config.client.batch_size),
        positions(config.positions.filename, config.positions.fsync),
        shedder(config.shedding.threshold, config.shedding.rules),
        breaker({config.client.breaker.failure_threshold, config.client.breaker.open_duration},
                &mono, [this](BreakerState s) {
                  metrics.breaker_state->Set(static_cast<double>(s));
                  metrics.breaker_transitions->WithLabels({BreakerStateName(s)})->Inc();
                  if (s == BreakerState::kOpen) {
                    spdlog::warn("msg=\"circuit breaker open: server failing\" open_for=\"{}ms\"",
                                 config.client.breaker.open_duration / 1'000'000);
                  } else {
                    spdlog::info("msg=\"circuit breaker\" state={}", BreakerStateName(s));
                  }
                }) {}

  void BatcherLoop();
  void CutAndSubmit(BatchBuilder& builder);
  void OnDone(Batch& batch, const char* drop_reason);
  void SyncLoop() EXCLUDES(sync_mu);
  void UpdateGauges();

  AgentConfig config;
  AgentMetrics metrics;
  MonotonicClock mono;
  MemoryBudget budget;
  ItemQueue queue;
  Positions positions;
  Shedder shedder;
  CircuitBreaker breaker;
  std::unique_ptr<Sender> sender;
  std::atomic<uint64_t> next_file_id{1};
  uint64_t next_batch_id = 1;  // batcher thread only

  std::unique_ptr<FileReader> file_reader;
  std::unique_ptr<StdinReader> stdin_reader;
  std::vector<std::unique_ptr<JournalReader>> journal_readers;
  std::vector<std::thread> journal_threads;
  std::thread file_thread, stdin_thread, batcher_thread, sync_thread;
  std::atomic<bool> batcher_idle{false};
  bool has_files = false;

  Mutex sync_mu;
  CondVar sync_cv;
  bool sync_stop GUARDED_BY(sync_mu) = false;

  http::Router router;
  std::unique_ptr<http::Server> server;
  int metrics_port = 0;
};

void Agent::Impl::OnDone(Batch& batch, const char* drop_reason) {
  if (drop_reason != nullptr) {
    metrics.dropped_lines->WithLabels({drop_reason})->Inc(static_cast<double>(batch.lines));
    metrics.dropped_bytes->WithLabels({drop_reason})->Inc(static_cast<double>(batch.line_bytes));
  } else if (batch.lines > 0) {
    metrics.sent_lines->Inc(static_cast<double>(batch.lines));
    metrics.sent_bytes->Inc(static_cast<double>(batch.line_bytes));
    metrics.sent_batches->Inc();
    metrics.sent_body_bytes->Inc(static_cast<double>(batch.body.size()));
  }
  positions.Ack(batch.id);
  std::string().swap(batch.body);
  budget.Release(batch.charge);
}

void Agent::Impl::CutAndSubmit(BatchBuilder& builder) {
  Batch batch = builder.Cut(next_batch_id++);
  // The lines are gone; the body stands in for them. JSON escapes can make it larger than what
  // its lines were charged: the difference comes out of the batcher's reserve.
  uint64_t body = batch.body.size();
  if (body < batch.charge) {
    budget.Release(batch.charge - body);
    batch.charge = body;
  } else if (body > batch.charge) {
    uint64_t extra = body - batch.charge;
    if (!budget.TryAcquire(extra)) {
      spdlog::warn(
          "msg=\"encoded batch larger than the memory reserve allows; waiting for deliveries\" "
          "bytes={}",
          extra);
      while (!budget.TryAcquire(extra)) {
        if (budget.closed()) {  // shutting down: deliveries may never come
          budget.ForceAcquire(extra);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    batch.charge = body;
  }
  bool journal = false;
  for (auto& seg : batch.segments) {
    positions.AddSegment(seg.file->id, batch.id, std::move(seg.runs), seg.file->last_ts,
                         std::move(seg.cursor));
    journal = true;
  }
  if (journal) {
    // The timestamps of these lines must be on disk before the server can see them.
    Status st = positions.Save();
    metrics.positions_writes->Inc();
    if (!st.ok()) {
      metrics.positions_errors->Inc();
      spdlog::error(
          "msg=\"cannot write positions journal; a crash now may duplicate lines\" err=\"{}\"",
          st.message());
    }
  }
  batch.segments.clear();
  if (!sender->Submit(std::move(batch))) {
    spdlog::warn("msg=\"sender closed; batch left for the next start\"");
  }
}

void Agent::Impl::BatcherLoop() {
  BatchBuilder builder(
      config.client.batch_size,
      config.client.encoding == "json" ? Encoding::kJson : Encoding::kProtobuf,
      config.client.compression == "gzip" ? Compression::kGzip : Compression::kNone);
  auto first_add = std::chrono::steady_clock::now();
  const auto wait = std::chrono::nanoseconds(config.client.batch_wait);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    auto deadline = builder.empty() ? now + std::chrono::milliseconds(100) : first_add + wait;
    Item item;
    bool got = queue.PopUntil(deadline, &item);
    if (got) {
      batcher_idle = false;
      if (builder.WouldOverflow(item)) CutAndSubmit(builder);
      if (builder.empty()) first_add = std::chrono::steady_clock::now();
      builder.Add(std::move(item), WallNanos());
      if (builder.bytes() >= config.client.batch_size) CutAndSubmit(builder);
      continue;
    }
    if (queue.closed()) {
      if (!builder.empty()) CutAndSubmit(builder);
      return;
    }
    if (!builder.empty() && std::chrono::steady_clock::now() >= first_add + wait)
      CutAndSubmit(builder);
    if (builder.empty()) batcher_idle = true;
  }
}

void Agent::Impl::UpdateGauges() {
  metrics.queue_lines->Set(static_cast<double>(queue.size()));
  metrics.queue_bytes->Set(static_cast<double>(queue.bytes()));
  metrics.buffered_bytes->Set(static_cast<double>(budget.used()));
  metrics.buffered_bytes_high_water->Set(static_cast<double>(budget.high_water()));
  metrics.breaker_state->Set(static_cast<double>(breaker.state()));
  if (file_reader) file_reader->PublishLag();
}

void Agent::Impl::SyncLoop() {
  MutexLock lock(&sync_mu);
  while (!sync_stop) {
    sync_cv.WaitFor(&sync_mu, std::chrono::nanoseconds(config.positions.sync_period),
                    [this]() REQUIRES(sync_mu) { return sync_stop; });
    lock.Unlock();
    Status st = positions.Save();
    if (!st.ok()) {
      metrics.positions_errors->Inc();
      spdlog::error("msg=\"cannot write positions file\" err=\"{}\"", st.message());
    }
    UpdateGauges();
    lock.Lock();
  }
}

Agent::Agent(AgentConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Agent::~Agent() = default;

int Agent::metrics_port() const { return impl_->metrics_port; }

Status Agent::Start() {
  Impl& d = *impl_;
  CurlGlobalInitOnce();
  d.metrics.memory_limit->Set(static_cast<double>(d.config.limits.memory_limit));
  SLUICE_RETURN_IF_ERROR(d.positions.Load());

  Sender::Options so;
  so.max_inflight = d.config.client.max_inflight;
  so.backoff = {d.config.client.backoff.min_period, d.config.client.backoff.max_period,
                d.config.client.backoff.max_retry_after};
  so.max_retries = d.config.client.backoff.max_retries;
  so.seed = static_cast<uint64_t>(WallNanos());
  const AgentConfig::Client client_config = d.config.client;
  d.sender = std::make_unique<Sender>(
      so, [client_config] { return NewCurlPushClient(client_config); }, &d.breaker, &d.metrics,
      [&d](Batch& b, const char* reason) { d.OnDone(b, reason); });
  d.sender->Start();
  d.batcher_thread = std::thread([&d] { d.BatcherLoop(); });

  ReaderContext ctx{&d.config,  &d.positions, &d.budget,      &d.queue,
                    &d.shedder, &d.metrics,   &d.next_file_id};
  for (const auto& s : d.config.scrape_configs) {
    if (s.stdin_source) {
      d.stdin_reader = std::make_unique<StdinReader>(ctx, &s);
    } else if (s.journal) {
      auto reader = std::make_unique<JournalReader>(ctx, &s);
      Status st = reader->Open();
      if (!st.ok()) {
        Stop();
        return Status::InvalidArgument(
            fmt::format("scrape_configs job {}: {}", s.job_name, st.message()));
      }
      d.journal_readers.push_back(std::move(reader));
    } else {
      d.has_files = true;
    }
  }
  for (auto& reader : d.journal_readers) {
    d.journal_threads.emplace_back([r = reader.get()] { r->Run(); });
  }
  if (d.has_files) {
    d.file_reader = std::make_unique<FileReader>(ctx);
    d.file_thread = std::thread([&d] { d.file_reader->Run(); });
  }
  if (d.stdin_reader) d.stdin_thread = std::thread([&d] { d.stdin_reader->Run(); });
  d.sync_thread = std::thread([&d] { d.SyncLoop(); });

  if (d.config.server.http_listen_port >= 0) {
    d.router.Handle({"GET"}, "/metrics", [&d](http::Request&) {
      d.UpdateGauges();
      http::Response r = http::Response::Text(d.metrics.registry.Expose());
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      return r;
    });
    d.router.Handle({"GET"}, "/ready",
                    [](http::Request&) { return http::Response::Text("ready\n"); });
    http::ServerOptions so;
    so.address = d.config.server.http_listen_address;
    so.port = d.config.server.http_listen_port;
    so.threads = 1;
    so.max_body_bytes = 1 << 20;
    d.server = std::make_unique<http::Server>(so, &d.router);
    Status st = d.server->Start();
    if (!st.ok()) {
      Stop();
      return st;
    }
    d.metrics_port = d.server->port();
  }

  spdlog::info("msg=\"agent started\" url=\"{}\" metrics_port={} sources={} memory_limit={}",
               d.config.client.url, d.metrics_port, d.config.scrape_configs.size(),
               d.config.limits.memory_limit);
  return Status::OK();
}

bool Agent::SourcesDone() const {
  const Impl& d = *impl_;
  return !d.has_files && d.journal_readers.empty() && d.stdin_reader && d.stdin_reader->eof() &&
         d.queue.size() == 0 && d.batcher_idle;
}

int Agent::Stop() {
  Impl& d = *impl_;
  spdlog::info("msg=\"agent stopping\"");
  if (d.file_reader) d.file_reader->Stop();
  if (d.stdin_reader) d.stdin_reader->Stop();
  for (auto& r : d.journal_readers) r->Stop();
  d.budget.Close();  // wakes a reader blocked on backpressure
  if (d.file_thread.joinable()) d.file_thread.join();
  if (d.stdin_thread.joinable()) d.stdin_thread.join();
  for (auto& t : d.journal_threads) t.join();
  // shutdown_timeout bounds everything from here: the batcher handing over what is queued and the
  // senders delivering it. What is not delivered by then is re-read on the next start.
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::nanoseconds(d.config.shutdown_timeout);
  d.sender->SetSubmitDeadline(deadline);
  d.queue.Close();
  if (d.batcher_thread.joinable()) d.batcher_thread.join();
  auto remaining = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
  size_t left = d.sender->Shutdown(remaining);
  if (left > 0) {
    spdlog::warn(
        "msg=\"shutdown_timeout passed; undelivered batches will be re-sent on the next start\" "
        "batches={}",
        left);
  }
  {
    MutexLock lock(&d.sync_mu);
    d.sync_stop = true;
  }
  d.sync_cv.SignalAll();
  if (d.sync_thread.joinable()) d.sync_thread.join();
  Status st = d.positions.Save();
  if (!st.ok()) spdlog::error("msg=\"cannot write positions file\" err=\"{}\"", st.message());
  if (d.server) d.server->Stop();
  spdlog::info("msg=\"agent stopped\" undelivered_batches={}", left);
  return st.ok() ? 0 : 1;
}

int RunAgent(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "-h" || a == "-help" || a == "--help") {
      std::printf(
          "usage: sluice agent -config.file=FILE [-client.url=URL] [-client.tenant-id=ID]\n"
          "       [-positions.filename=FILE] [-server.http-listen-port=N] [-log.level=LEVEL]\n"
          "  Tails files (and stdin) and pushes them to sluice or Loki. See docs/agent.md.\n");
      return 0;
    }
  }
  auto config = LoadAgentConfig(args);
  if (!config.ok()) {
    std::fprintf(stderr, "sluice agent: invalid configuration: %s\n",
                 config.status().message().c_str());
    return 1;
  }
  Status st = SetupLogging(config->server.log_level, config->server.log_format);
  if (!st.ok()) {
    std::fprintf(stderr, "sluice agent: %s\n", st.message().c_str());
    return 1;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Agent agent(std::move(config).value());
  st = agent.Start();
  if (!st.ok()) {
    spdlog::critical("msg=\"agent start failed\" err=\"{}\"", st.message());
    return 1;
  }
  while (true) {
    timespec ts{0, 200'000'000};
    int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig > 0) {
      spdlog::info("msg=\"received signal\" signal={}", sig);
      break;
    }
    if (agent.SourcesDone()) {
      spdlog::info("msg=\"stdin finished\"");
      break;
    }
  }
  return agent.Stop();
}

}  // namespace sluice::agent
