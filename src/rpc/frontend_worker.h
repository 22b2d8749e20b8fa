#pragma once

// The querier's side of proto/frontend.proto (Loki's frontend_worker, frontend v1): the querier
// dials the query frontend and pulls work from it, so queriers can come and go without the
// frontend knowing their addresses.
//
//   concurrency() threads, one Process call each (worker slots), sharing one gRPC channel:
//     Hello -> { receive Job -> run it -> send JobResult }*
//   a QueryJob runs on the local querier::Querier::Exec, under the query's deadline as the
//   frontend sent it (a Cancel lowers it, and Exec stops at its next deadline check);
//   an HttpJob is answered by the querier's own http::Router, as if it had come over HTTP
//   (Cancel does not reach it: those reads are short).
//
// When the frontend is down or the call breaks, the slot reconnects after a jittered
// exponential backoff (backoff_min_ns doubling to backoff_max_ns, reset once a session got a
// job); the channel's own reconnect backoff is set to the same bounds so a frontend that is
// back is seen within backoff_max_ns.
//
// A result larger than max_send_msg_size is answered with an error naming the limit instead of
// breaking the call (which the frontend would retry on another querier, to the same end).
//
// Thread safety: Start and Stop from one thread; everything else is internal.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rpc/grpc.h"

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "frontend.grpc.pb.h"
#include "http/server.h"
#include "querier/querier.h"

namespace sluice::rpc {

struct FrontendWorkerOptions {
  // frontend_worker.frontend_address: the frontend's gRPC host:port.
  std::string frontend_address;
  // frontend_worker.parallelism: Process calls (jobs at a time) per querier.
  int parallelism = 10;
  // frontend_worker.match_max_concurrent: run querier.max_concurrent calls instead of
  // `parallelism` (Loki's default: true).
  bool match_max_concurrent = true;
  int max_concurrent = 4;  // querier.max_concurrent
  // frontend_worker.id: how the frontend names this querier; "" is the host name.
  std::string querier_id;
  // Reconnection backoff (frontend_worker.grpc_client_config.backoff_config.min_period /
  // max_period).
  int64_t backoff_min_ns = 250'000'000;
  int64_t backoff_max_ns = 2'000'000'000;
  // frontend_worker.grpc_client_config.max_send_msg_size / max_recv_msg_size (Loki: 100MB).
  uint64_t max_send_msg_size = 100ull << 20;
  uint64_t max_recv_msg_size = 100ull << 20;
  // Seeds the backoff jitter; 0 seeds from the clock.
  uint64_t seed = 0;
};

class FrontendWorker {
 public:
  struct Counters {
    std::atomic<int64_t> connected{0};   // calls past their Hello
    std::atomic<uint64_t> sessions{0};   // calls started, including failed ones
    std::atomic<uint64_t> jobs_done{0};  // answers sent
    std::atomic<uint64_t> cancels_received{0};
  };

  // `router` (nullable) answers pass-through jobs: the querier process's HTTP router with its
  // read routes (http::RegisterQueryRoutes); without one they fail with 500. REQUIRES: *querier,
  // *router and *clock outlive the worker; `clock` is the querier's (deadlines are compared on
  // it, so in a deployment it is the system clock, as the frontend's).
  FrontendWorker(FrontendWorkerOptions options, querier::Querier* querier,
                 const http::Router* router, const Clock* clock = SystemClock::Default());
  // Stop(0) if not stopped before.
  ~FrontendWorker();

  FrontendWorker(const FrontendWorker&) = delete;
  FrontendWorker& operator=(const FrontendWorker&) = delete;

  // Starts the slots; they connect in the background. InvalidArgument without an address.
  Status Start();
  // Takes no more jobs, lets the jobs running finish and answer for up to `grace_ns`, then
  // breaks every call (the frontend requeues what was still running) and returns once the slots'
  // threads ended. A job still running after the grace is asked to stop (its deadline lowered)
  // and waited for.
  void Stop(int64_t grace_ns);

  // Process calls this worker runs.
  int concurrency() const;
  const Counters& counters() const { return counters_; }

 private:
  struct Slot {
    grpc::ClientContext* ctx = nullptr;  // the call in progress
    bool busy = false;                   // a job is running on it
    std::thread thread;
  };
  // A slot's thread: sessions with backoff between them, until Stop.
  void RunSlot(size_t index) EXCLUDES(mu_);
  // One Process call. True when it got at least one job (the backoff starts over).
  bool Session(size_t index) EXCLUDES(mu_);

  const FrontendWorkerOptions options_;
  querier::Querier* querier_;
  const http::Router* router_;
  const Clock* clock_;
  std::string querier_id_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::sluice::frontend::v1::Frontend::Stub> stub_;
  Counters counters_;

  mutable Mutex mu_;
  CondVar cv_;  // stopping, or a slot finished its job
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<Slot> slots_ GUARDED_BY(mu_);
};

}  // namespace sluice::rpc
