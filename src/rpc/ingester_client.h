#pragma once

// The distributor's and the querier's side of proto/ingester.proto: one remote ingester as a
// write::Pusher and a read::StreamSource, so the distributor pushes to it as to the in-process
// ingester and read::FanOut merges it with the store like any other source.
//
// Connection: one gRPC channel per ingester, shared by every call (HTTP/2 multiplexes them), so
// a connection is set up once and reused; IngesterClientPool keeps one client per address.
//
// Deadlines (ingester_client.remote_timeout): each push and each unary read call (series,
// labels, chunk counts) gets remote_timeout, or less when the query's own deadline is nearer.
// A SelectStreams call runs under the query's deadline only: its length grows with the result.
//
// Push protections: a bulkhead (ingester_client.max_inflight_push_requests) and a circuit breaker
// (ingester_client.circuit_breaker) refuse a push at once, 503, instead of waiting on an
// ingester that is not answering.
//
// Thread safety: every call may run concurrently. SelectStreams' iterators share their call's
// connection stream and belong to one thread, as read::StreamSource's iterators do.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rpc/grpc.h"

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "read/read.h"
#include "rpc/circuit_breaker.h"
#include "write/pusher.h"

namespace sluice::rpc {

class RemoteIngester final : public read::StreamSource, public write::Pusher {
 public:
  // `address`: host:port of the ingester's gRPC server. Connects lazily, on the first call.
  // REQUIRES: `clock` outlives the client.
  RemoteIngester(std::string address, const config::Config::IngesterClient& config,
                 const Clock* clock);

  // write::Pusher: the ingester's answer (OK once its WAL has the entries, or its error).
  Status Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) override;
  // The pieces sent as one request, copied into it as they are (no re-encoding).
  Status PushEncoded(std::string_view tenant, std::span<const std::string_view> encoded) override;

  // read::StreamSource. Its reads count into the stats' ingester section; what the remote
  // ingester read (chunks, head lines) does not travel back yet.
  read::SourceKind Kind() const override { return read::SourceKind::kIngester; }
  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& req,
                                                            std::string_view tenant) override;
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& req,
                                                    std::string_view tenant) override;
  Result<std::vector<std::string>> TenantLabelNames(const read::SelectRequest& req,
                                                    std::string_view tenant) override;
  Result<std::vector<std::string>> TenantLabelValues(const read::SelectRequest& req,
                                                     std::string_view tenant,
                                                     std::string_view name) override;
  Result<uint64_t> CountChunks(const read::SelectRequest& req, std::string_view tenant) override;

  // The ring says the ingester heartbeated at `unix_seconds`. A heartbeat newer than the failures
  // that opened the breaker means the ingester is back (restarted after a crash, say): the
  // breaker closes and the connection retries at once, instead of after the cool-down and
  // gRPC's reconnect backoff. A hung ingester does not heartbeat, so its breaker stays open.
  void NoteHeartbeat(int64_t unix_seconds);

  const std::string& address() const { return address_; }
  const CircuitBreaker& breaker() const { return breaker_; }
  const Bulkhead& bulkhead() const { return bulkhead_; }
  // The most entries one SelectStreams call has held received but not yet read: what the
  // answer's order (proto/ingester.proto) keeps small.
  uint64_t peak_buffered_entries() const { return peak_buffered_.load(); }

 private:
  // One push request of `size` bytes, written by `write` into gRPC's buffer, under the
  // bulkhead, the circuit breaker and remote_timeout.
  Status SendPush(std::string_view tenant, size_t size, const std::function<void(char*)>& write);
  Result<std::vector<std::string>> Label(const read::SelectRequest& req, std::string_view tenant,
                                         bool values, std::string_view name);

  const std::string address_;
  const int64_t remote_timeout_ns_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::sluice::ingester::v1::Ingester::Stub> stub_;
  // Ingester.Push called with the request's bytes as encoded by write::PushRequestWriter
  // (write/push_wire.h), where the stub would build a logproto::PushRequest first: the same method,
  // the same bytes.
  std::unique_ptr<grpc::internal::RpcMethod> push_method_;
  CircuitBreaker breaker_;
  Bulkhead bulkhead_;
  std::atomic<uint64_t> peak_buffered_{0};
  // loki_ingester_client_request_duration_seconds of this ingester's pushes, by outcome.
  metrics::Histogram* push_ok_duration_;
  metrics::Histogram* push_error_duration_;
};

// One client per ingester address, made on first use and shared: a call in flight keeps its
// client alive after the ring forgets the ingester. Thread-safe.
class IngesterClientPool {
 public:
  // REQUIRES: `clock` outlives the pool and its clients.
  IngesterClientPool(const config::Config::IngesterClient& config, const Clock* clock)
      : config_(config), clock_(clock) {}

  std::shared_ptr<RemoteIngester> Get(const std::string& address) EXCLUDES(mu_);
  // Drops the client of an ingester that left (its calls in flight finish).
  void Remove(const std::string& address) EXCLUDES(mu_);
  size_t size() const EXCLUDES(mu_);

 private:
  const config::Config::IngesterClient config_;
  const Clock* clock_;
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<RemoteIngester>> clients_ GUARDED_BY(mu_);
};

}  // namespace sluice::rpc
