// The query frontend's gRPC service: one worker slot per Process call (proto/frontend.proto).

#include "rpc/frontend_service.h"

#include <chrono>
#include <limits>
#include <memory>
#include <thread>
#include <utility>

#include "rpc/frontend_convert.h"

namespace sluice::rpc {

namespace {

// How often a call's watcher looks at the deadline of the job out (real time; the deadline is
// on the frontend's clock).
constexpr auto kWatchEvery = std::chrono::milliseconds(20);

using Stream = grpc::ServerReaderWriter<fpb::FrontendToQuerier, fpb::QuerierToFrontend>;

// The job out on one call, watched for its deadline by a thread of the call's own: sends Cancel
// once the query is past its deadline, and drops the call if no answer comes within the grace.
class Watcher {
 public:
  Watcher(grpc::ServerContext* ctx, Stream* stream, Mutex* write_mu, const Clock* clock,
          int64_t grace_ns, FrontendService::Counters* counters)
      : ctx_(ctx),
        stream_(stream),
        write_mu_(write_mu),
        clock_(clock),
        grace_(std::chrono::nanoseconds(grace_ns)),
        counters_(counters) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Watcher() {
    {
      MutexLock lock(&mu_);
      done_ = true;
    }
    cv_.SignalAll();
    thread_.join();
  }

  // REQUIRES: the job was written to the stream.
  void Watch(uint64_t id, std::shared_ptr<const std::atomic<int64_t>> deadline) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    id_ = id;
    deadline_ = std::move(deadline);
    cancel_sent_ = false;
  }
  void Clear() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    id_ = 0;
    deadline_.reset();
  }

 private:
  void Run() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (!done_) {
      cv_.WaitFor(&mu_, kWatchEvery);
      if (id_ == 0 || deadline_ == nullptr) continue;
      if (clock_->NowNanos() <= deadline_->load()) continue;
      if (!cancel_sent_) {
        fpb::FrontendToQuerier msg;
        msg.mutable_cancel()->set_id(id_);
        {
          // Lock order: mu_ then the write lock (the call's thread never holds both).
          MutexLock write(write_mu_);
          (void)stream_->Write(msg);
        }
        ++counters_->cancels_sent;
        cancel_sent_ = true;
        cancelled_at_ = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - cancelled_at_ > grace_) {
        ctx_->TryCancel();  // the call's Read returns false: the job is requeued (or dropped)
        id_ = 0;
      }
    }
  }

  grpc::ServerContext* ctx_;
  Stream* stream_;
  Mutex* write_mu_;
  const Clock* clock_;
  const std::chrono::nanoseconds grace_;
  FrontendService::Counters* counters_;

  Mutex mu_;
  CondVar cv_;
  bool done_ GUARDED_BY(mu_) = false;
  uint64_t id_ GUARDED_BY(mu_) = 0;  // the job out; 0: none
  std::shared_ptr<const std::atomic<int64_t>> deadline_ GUARDED_BY(mu_);
  bool cancel_sent_ GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point cancelled_at_ GUARDED_BY(mu_);
  std::thread thread_;
};

// Hands the querier's answer to the frontend. InvalidArgument when the answer does not fit the
// job (a querier bug): the job is then requeued by the caller.
Status CompleteJob(querier::QueryFrontend* frontend, const querier::PulledJob& job,
                   const fpb::JobResult& result, const std::string& querier) {
  const bool http = job.http.has_value();
  switch (result.outcome_case()) {
    case fpb::JobResult::kError: {
      Status st = FromProto(result.error(), querier);
      if (http) {
        frontend->Complete(job.handle, Result<querier::HttpReply>(std::move(st)));
      } else {
        frontend->Complete(job.handle, Result<querier::QueryResult>(std::move(st)));
      }
      return Status::OK();
    }
    case fpb::JobResult::kQuery:
      if (http) break;
      frontend->Complete(job.handle, Result<querier::QueryResult>(FromProto(result.query())));
      return Status::OK();
    case fpb::JobResult::kHttp:
      if (!http) break;
      frontend->Complete(job.handle, Result<querier::HttpReply>(FromProto(result.http())));
      return Status::OK();
    default:
      break;
  }
  return Status::InvalidArgument("querier " + querier + " answered job " +
                                 std::to_string(job.handle) + " with the wrong kind of result");
}

}  // namespace

FrontendService::FrontendService(querier::QueryFrontend* frontend, const Clock* clock,
                                 Options options)
    : frontend_(frontend), clock_(clock), options_(options) {}

grpc::Status FrontendService::Process(grpc::ServerContext* ctx, Stream* stream) {
  fpb::QuerierToFrontend in;
  if (!stream->Read(&in)) return grpc::Status::OK;  // gone before saying hello
  if (in.msg_case() != fpb::QuerierToFrontend::kHello) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be Hello");
  }
  const std::string querier =
      in.hello().querier_id().empty() ? ctx->peer() : in.hello().querier_id();
  ++counters_.connected;
  struct Disconnect {
    std::atomic<int64_t>* connected;
    ~Disconnect() { --*connected; }
  } disconnect{&counters_.connected};

  Mutex write_mu;  // the call's writes: jobs here, cancels from the watcher
  Watcher watcher(ctx, stream, &write_mu, clock_, options_.cancel_grace_ns, &counters_);
  while (!stopping_.load() && !ctx->IsCancelled()) {
    Result<querier::PulledJob> job = frontend_->Next(options_.poll_ns);
    if (!job.ok()) {
      if (job.status().code() == StatusCode::kUnavailable) break;  // the frontend is stopping
      continue;                                                    // nothing queued yet
    }
    fpb::FrontendToQuerier out;
    ToProto(*job, out.mutable_job());
    bool sent = false;
    {
      MutexLock lock(&write_mu);
      sent = stream->Write(out);
    }
    if (!sent) {
      ++counters_.jobs_requeued;
      frontend_->Requeue(job->handle, "the connection to querier " + querier + " broke");
      return grpc::Status::OK;
    }
    ++counters_.jobs_sent;
    watcher.Watch(job->handle, job->deadline);
    const bool answered = stream->Read(&in);
    watcher.Clear();
    if (!answered) {
      ++counters_.jobs_requeued;
      frontend_->Requeue(job->handle,
                         "querier " + querier + " went away while running the sub-query");
      return grpc::Status::OK;
    }
    Status st = in.msg_case() == fpb::QuerierToFrontend::kResult && in.result().id() == job->handle
                    ? CompleteJob(frontend_, *job, in.result(), querier)
                    : Status::InvalidArgument("querier " + querier +
                                              " sent something else than the answer to job " +
                                              std::to_string(job->handle));
    if (!st.ok()) {
      ++counters_.jobs_requeued;
      frontend_->Requeue(job->handle, st.message());
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, st.message());
    }
    ++counters_.jobs_completed;
  }
  return grpc::Status::OK;
}

}  // namespace sluice::rpc
