#pragma once

// The ingester's gRPC side (proto/ingester.proto): serves pushes into a write::Pusher and reads
// from a read::StreamSource, the two interfaces ingester::Ingester implements. Used by the
// scaled-out targets; -target=all does not start it.
//
// Every call takes its tenant from the `x-scope-orgid` metadata. A SelectStreams answer is sent
// in messages of about `select_batch_bytes`, in the order proto/ingester.proto describes; the
// server stops reading as soon as the client cancels or the call's deadline passes (it looks
// at both before every message and every kCheckEvery entries, and a write to a cancelled call
// fails).
//
// Thread safety: gRPC runs calls on its own threads, concurrently; the pusher and the source
// must be thread-safe (the ingester is).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rpc/grpc.h"

#include "common/status.h"
#include "read/read.h"
#include "rpc/convert.h"
#include "write/push_wire.h"
#include "write/pusher.h"

namespace sluice::rpc {

// The methods and messages of ingester.proto's Ingester service, with Push taking the request's
// bytes (grpc::ByteBuffer) instead of a parsed logproto::PushRequest: write::DecodePushRequest
// (write/push_wire.h) reads the lines in place where protobuf would allocate several objects per
// line. Hence a grpc::Service whose methods are registered here, not the generated
// Ingester::Service; clients call it with the generated stub or RemoteIngester alike.
class IngesterService final : public grpc::Service {
 public:
  static constexpr size_t kDefaultSelectBatchBytes = 256 << 10;

  // What the service did, for tests and metrics.
  struct Counters {
    std::atomic<uint64_t> select_calls{0};
    std::atomic<uint64_t> select_cancelled{0};  // stopped because the client went away
    std::atomic<uint64_t> entries_sent{0};
    std::atomic<uint64_t> messages_sent{0};
  };

  // REQUIRES: `pusher` and `source` outlive the service.
  IngesterService(write::Pusher* pusher, read::StreamSource* source,
                  size_t select_batch_bytes = kDefaultSelectBatchBytes);

  // `request`: a serialized logproto.PushRequest.
  grpc::Status Push(grpc::ServerContext* ctx, const grpc::ByteBuffer* request,
                    ::sluice::ingester::v1::PushResponse* response);
  grpc::Status SelectStreams(
      grpc::ServerContext* ctx, const ::sluice::ingester::v1::ReadRequest* request,
      grpc::ServerWriter<::sluice::ingester::v1::SelectStreamsResponse>* writer);
  grpc::Status StreamLabels(grpc::ServerContext* ctx,
                            const ::sluice::ingester::v1::ReadRequest* request,
                            ::sluice::ingester::v1::StreamLabelsResponse* response);
  grpc::Status Label(grpc::ServerContext* ctx, const ::sluice::ingester::v1::LabelRequest* request,
                     ::sluice::ingester::v1::LabelResponse* response);
  grpc::Status CountChunks(grpc::ServerContext* ctx,
                           const ::sluice::ingester::v1::ReadRequest* request,
                           ::sluice::ingester::v1::CountChunksResponse* response);

  const Counters& counters() const { return counters_; }

  // TEST-ONLY (-testing.fault.ingester-push-delay): every Push sleeps `delay_ns` first, a slow
  // ingester for the incident drills. Call before serving.
  void InjectPushDelay(int64_t delay_ns) { push_delay_ns_ = delay_ns; }

 private:
  write::Pusher* pusher_;
  int64_t push_delay_ns_ = 0;
  read::StreamSource* source_;
  const size_t batch_bytes_;
  Counters counters_;
  write::LabelsCache labels_;              // the pushed streams' labels
  std::vector<std::string> method_names_;  // gRPC keeps pointers to them
};

// A gRPC server on one address, serving the services it is given.
class GrpcServer {
 public:
  struct Options {
    std::string address = "127.0.0.1:0";  // host:port; port 0 picks a free one
    uint64_t max_recv_msg_size = 4ull << 20;
    uint64_t max_send_msg_size = 4ull << 20;
  };

  // server.grpc_listen_address / grpc_listen_port as gRPC takes them: "" is every interface
  // (as in Loki), an IPv6 address gets brackets.
  static std::string ListenAddress(const std::string& host, int port);

  // Binds and starts serving. REQUIRES: the services outlive the server.
  static Result<std::unique_ptr<GrpcServer>> Start(const Options& options,
                                                   const std::vector<grpc::Service*>& services);
  ~GrpcServer();

  int port() const { return port_; }
  // Stops taking calls and waits for running ones until `grace_ns` has passed, then cancels
  // them. Called by the destructor if not before.
  void Shutdown(int64_t grace_ns);

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}

  std::unique_ptr<grpc::Server> server_;
  int port_;
  bool shut_down_ = false;
};

}  // namespace sluice::rpc
