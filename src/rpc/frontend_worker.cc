// The querier's frontend worker: slots pulling jobs over proto/frontend.proto.

#include "rpc/frontend_worker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>
#include <utility>

#include "rpc/frontend_convert.h"
#include "tracing/tracing.h"

namespace sluice::rpc {

namespace {

using Stream = grpc::ClientReaderWriter<fpb::QuerierToFrontend, fpb::FrontendToQuerier>;

int ClampToInt(uint64_t v) {
  return static_cast<int>(std::min<uint64_t>(v, std::numeric_limits<int>::max()));
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "querier";
  return buf;
}

// An HTTP job as the router takes it, and its answer.
http::Request ToRequest(const querier::HttpJob& job) {
  http::Request r;
  r.method = job.method;
  r.path = job.path;
  for (const auto& [k, v] : job.params) r.params.emplace(k, v);
  for (const auto& [k, v] : job.headers) r.headers[k] = v;
  r.body = job.body;
  return r;
}

querier::HttpReply ToReply(http::Response response) {
  querier::HttpReply reply;
  reply.status = response.status;
  reply.content_type = std::move(response.content_type);
  reply.body = std::move(response.body);
  reply.headers = std::move(response.headers);
  return reply;
}

// Runs one job; fills `out` with its answer.
void RunJob(querier::Querier* querier, const http::Router* router, ReceivedJob job,
            const std::atomic<int64_t>* deadline, uint64_t max_bytes, fpb::JobResult* out) {
  out->set_id(job.id);
  // Continues the frontend's trace (a job that carries none is not traced).
  tracing::Span run =
      job.trace ? tracing::Span::Server("querier.exec", job.trace) : tracing::Span();
  tracing::ScopedActive active(run);
  if (job.query.has_value()) {
    querier::QueryRequest req = std::move(*job.query);
    req.shared_deadline_ns = deadline;
    Result<querier::QueryResult> got = querier->Exec(job.tenants, req);
    if (got.ok()) {
      ToProto(*got, out->mutable_query());
    } else {
      ToProto(got.status(), out->mutable_error());
    }
  } else if (router == nullptr) {
    ToProto(Status::Internal("this querier answers no pass-through requests"),
            out->mutable_error());
  } else {
    http::Request req = ToRequest(*job.http);
    std::string route;
    ToProto(ToReply(router->Dispatch(req, &route)), out->mutable_http());
  }
  const size_t size = out->ByteSizeLong();
  if (size > max_bytes) {
    out->Clear();
    out->set_id(job.id);
    ToProto(Status::Internal("the querier's response of " + std::to_string(size) +
                             " bytes is larger than the max message size (" +
                             std::to_string(max_bytes) +
                             " bytes, frontend_worker.grpc_client_config.max_send_msg_size)"),
            out->mutable_error());
  }
}

}  // namespace

FrontendWorker::FrontendWorker(FrontendWorkerOptions options, querier::Querier* querier,
                               const http::Router* router, const Clock* clock)
    : options_(std::move(options)),
      querier_(querier),
      router_(router),
      clock_(clock),
      querier_id_(options_.querier_id.empty() ? HostName() : options_.querier_id) {}

FrontendWorker::~FrontendWorker() { Stop(0); }

int FrontendWorker::concurrency() const {
  return std::max(1,
                  options_.match_max_concurrent ? options_.max_concurrent : options_.parallelism);
}

Status FrontendWorker::Start() {
  if (options_.frontend_address.empty()) {
    return Status::InvalidArgument("frontend_worker.frontend_address is not set");
  }
  MutexLock lock(&mu_);
  if (started_) return Status::OK();
  started_ = true;
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(ClampToInt(options_.max_send_msg_size + (1 << 20)));
  args.SetMaxReceiveMessageSize(ClampToInt(options_.max_recv_msg_size));
  // The channel retries connecting on its own schedule (up to 2 minutes apart by default) and
  // fails calls at once meanwhile: keep it within our backoff so a frontend back up is found.
  const int min_ms = ClampToInt(std::max<int64_t>(options_.backoff_min_ns / 1'000'000, 1));
  const int max_ms = std::max(min_ms, ClampToInt(options_.backoff_max_ns / 1'000'000));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, min_ms);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, min_ms);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  channel_ = grpc::CreateCustomChannel(options_.frontend_address,
                                       grpc::InsecureChannelCredentials(), args);
  stub_ = fpb::Frontend::NewStub(channel_);
  const int n = concurrency();
  slots_ = std::vector<Slot>(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    slots_[i].thread = std::thread([this, i] { RunSlot(static_cast<size_t>(i)); });
  }
  return Status::OK();
}

void FrontendWorker::Stop(int64_t grace_ns) {
  std::vector<std::thread> threads;
  {
    MutexLock lock(&mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    // Idle calls end now; busy ones after their job (the job's thread ends its call).
    for (Slot& s : slots_) {
      if (!s.busy && s.ctx != nullptr) s.ctx->TryCancel();
    }
    cv_.SignalAll();
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(grace_ns);
    cv_.WaitUntil(&mu_, until, [this]() REQUIRES(mu_) {
      return std::none_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.busy; });
    });
    for (Slot& s : slots_) {
      if (s.ctx != nullptr) s.ctx->TryCancel();
      threads.push_back(std::move(s.thread));
    }
  }
  for (auto& t : threads) t.join();
}

void FrontendWorker::RunSlot(size_t index) {
  std::mt19937_64 rng(options_.seed != 0 ? options_.seed + index
                                         : static_cast<uint64_t>(clock_->NowNanos()) ^
                                               (index * 0x9e3779b97f4a7c15));
  int64_t backoff = std::max<int64_t>(options_.backoff_min_ns, 1);
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (Session(index)) backoff = std::max<int64_t>(options_.backoff_min_ns, 1);
    // Full jitter over [backoff/2, backoff]: slots (and queriers) do not reconnect in step.
    const int64_t wait =
        backoff / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff / 2 + 1));
    backoff = std::min(backoff * 2, std::max(options_.backoff_max_ns, options_.backoff_min_ns));
    MutexLock lock(&mu_);
    cv_.WaitFor(&mu_, std::chrono::nanoseconds(wait), [this]() REQUIRES(mu_) { return stopping_; });
  }
}

bool FrontendWorker::Session(size_t index) {
  grpc::ClientContext ctx;
  {
    MutexLock lock(&mu_);
    if (stopping_) return false;
    slots_[index].ctx = &ctx;
  }
  ++counters_.sessions;
  std::unique_ptr<Stream> stream = stub_->Process(&ctx);
  Mutex write_mu;  // answers from the job's thread; the hello from here, before any job
  std::atomic<int64_t> deadline{std::numeric_limits<int64_t>::max()};
  std::atomic<uint64_t> running_id{0};
  std::thread job_thread;
  bool got_job = false;

  fpb::QuerierToFrontend hello;
  hello.mutable_hello()->set_querier_id(querier_id_);
  hello.mutable_hello()->set_version(1);
  bool connected = stream->Write(hello);
  if (connected) ++counters_.connected;
  fpb::FrontendToQuerier msg;
  while (connected && stream->Read(&msg)) {
    if (msg.msg_case() == fpb::FrontendToQuerier::kCancel) {
      if (msg.cancel().id() == running_id.load()) {
        ++counters_.cancels_received;
        deadline.store(std::numeric_limits<int64_t>::min());
      }
      continue;
    }
    if (msg.msg_case() != fpb::FrontendToQuerier::kJob) continue;  // a newer frontend's message
    // The frontend sends a job only once it has the previous answer: that job's thread is done.
    if (job_thread.joinable()) job_thread.join();
    Result<ReceivedJob> job = FromProto(msg.job());
    {
      MutexLock lock(&mu_);
      if (stopping_) break;  // the frontend requeues it when the call ends
      slots_[index].busy = true;
    }
    got_job = true;
    if (!job.ok()) {
      fpb::QuerierToFrontend out;
      out.mutable_result()->set_id(msg.job().id());
      ToProto(job.status(), out.mutable_result()->mutable_error());
      {
        MutexLock lock(&write_mu);
        (void)stream->Write(out);
      }
      MutexLock lock(&mu_);
      slots_[index].busy = false;
      cv_.SignalAll();
      continue;
    }
    deadline.store(job->deadline_ns != 0 ? job->deadline_ns : std::numeric_limits<int64_t>::max());
    running_id.store(job->id);
    job_thread = std::thread([this, index, &stream, &write_mu, &deadline, &running_id, &ctx,
                              j = std::move(job).value()]() mutable {
      fpb::QuerierToFrontend out;
      RunJob(querier_, router_, std::move(j), &deadline, options_.max_send_msg_size,
             out.mutable_result());
      running_id.store(0);
      {
        MutexLock lock(&write_mu);
        if (stream->Write(out)) ++counters_.jobs_done;
      }
      MutexLock lock(&mu_);
      slots_[index].busy = false;
      // Stopping: this call takes no further job.
      if (stopping_) ctx.TryCancel();
      cv_.SignalAll();
    });
  }
  // The call is over (broken, cancelled, or ended by the frontend): a job still running has no
  // one to answer to.
  deadline.store(std::numeric_limits<int64_t>::min());
  if (job_thread.joinable()) job_thread.join();
  if (connected) --counters_.connected;
  ctx.TryCancel();
  (void)stream->Finish();
  MutexLock lock(&mu_);
  slots_[index].ctx = nullptr;
  slots_[index].busy = false;
  cv_.SignalAll();
  return got_job;
}

}  // namespace sluice::rpc
