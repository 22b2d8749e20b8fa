#pragma once

// The query frontend's gRPC side (proto/frontend.proto): queriers' workers dial it and pull jobs
// from a querier::QueryFrontend. Used by the scaled-out targets (-target=query-frontend);
// -target=all runs its frontend's own workers instead.
//
// Each Process call is one worker slot: after the querier's Hello it loops
//   job = frontend.Next() -> send -> await the answer -> frontend.Complete(job)
// and one job at a time is out on it. If the call breaks while a job is out (the querier was
// killed, its connection dropped, it stopped), the job goes back to the front of its tenant's
// queue (QueryFrontend::Requeue) for another querier. While a job is out, a watcher looks at the
// job's deadline: once the query is past it (timed out, or its caller gave up, which lowers it),
// the querier is sent Cancel; if it has not answered `cancel_grace_ns` after that, the call is
// dropped, so a hung querier holds a slot no longer than its query's deadline plus the grace.
//
// Thread safety: gRPC runs calls on its own threads, concurrently; Stop may be called from any
// thread.

#include <atomic>
#include <cstdint>
#include <string>

#include "rpc/grpc.h"

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "frontend.grpc.pb.h"
#include "querier/frontend.h"

namespace sluice::rpc {

// The protocol version within frontend.v1 this build speaks (Hello.version).
inline constexpr uint32_t kFrontendProtocolVersion = 1;

class FrontendService final : public ::sluice::frontend::v1::Frontend::Service {
 public:
  struct Options {
    // How long an idle slot waits for a job before it looks at Stop and the call again.
    int64_t poll_ns = 100'000'000;
    // After Cancel, how long the querier has to answer before its call is dropped.
    int64_t cancel_grace_ns = 5'000'000'000;
  };

  // What the service did, for tests and metrics.
  struct Counters {
    std::atomic<int64_t> connected{0};  // Process calls past their Hello
    std::atomic<uint64_t> jobs_sent{0};
    std::atomic<uint64_t> jobs_completed{0};
    std::atomic<uint64_t> jobs_requeued{0};  // the call broke while the job was out
    std::atomic<uint64_t> cancels_sent{0};
  };

  // REQUIRES: *frontend and *clock (the frontend's: job deadlines are on it) outlive the
  // service; the gRPC server serving it is shut down before the frontend is destroyed.
  FrontendService(querier::QueryFrontend* frontend, const Clock* clock, Options options);
  FrontendService(querier::QueryFrontend* frontend, const Clock* clock)
      : FrontendService(frontend, clock, Options{}) {}

  grpc::Status Process(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<::sluice::frontend::v1::FrontendToQuerier,
                               ::sluice::frontend::v1::QuerierToFrontend>* stream) override;

  // No slot takes another job: idle calls end (status OK) within poll_ns, and calls with a job
  // out end once it is answered. Call before shutting the gRPC server down.
  void Stop() { stopping_.store(true); }

  const Counters& counters() const { return counters_; }

 private:
  querier::QueryFrontend* frontend_;
  const Clock* clock_;
  const Options options_;
  std::atomic<bool> stopping_{false};
  Counters counters_;
};

}  // namespace sluice::rpc
