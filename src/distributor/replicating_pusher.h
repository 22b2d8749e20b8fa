#pragma once

// The scaled-out distributor's write::Pusher: shards each stream onto the ingester ring and
// replicates it to the replication set's ingesters, succeeding per stream on a write quorum, as
// Loki's distributor does (pkg/distributor: sendStreams and its stream and push trackers).
//
//   ReplicatingPusher::Push(tenant, streams)
//     for each stream: key = ring::TokenFor(tenant, labels); set = ring->Get(key, kWrite)
//     group the streams by ingester: ONE request per ingester, all sent in parallel
//     return once every stream has set.quorum acknowledgements (or one stream cannot get them)
//
// Push does not wait for the slowest replica: once each stream has its quorum it returns, and
// the sends still running finish in the background (a hung ingester adds no latency). So the
// requests own their bytes: Push encodes the streams once, in the write path's wire format
// (write/push_wire.h), into one buffer the call owns, and each ingester's request is the pieces of
// its streams (write::Pusher::PushEncoded; rpc::RemoteIngester sends them as they are). One
// encoding and one copy of the lines, whatever the replication factor.
//
// Answers, per replica of a stream:
//   OK                          acknowledged.
//   4xx (InvalidArgument, RateLimited ...): the ingester stored what it accepted and refused the
//                               rest (write::Pusher's contract), so it counts as acknowledged;
//                               Push returns that error (identical messages from several replicas
//                               once) when every stream has its quorum: 400 / 429 as from the
//                               single binary.
//   Unavailable, DeadlineExceeded, Internal, IOError: the ingester did not answer (the same set
//                               rpc::RemoteIngester's circuit breaker counts): retried up to
//                               max_retries times, with exponential backoff and full jitter, inside
//                               push_timeout_ns; then a failed replica.
//   anything else (Corruption): a failed replica, not retried.
// A stream fails when more than set.max_errors of its replicas failed; Push then returns 503
// naming how many replicas acknowledged it, at once (as Loki).
//
// Re-sending is safe: an ingester drops an entry identical (timestamp and line) to one still in
// its stream's head (ingester::Stream::Append, AppendOutcome::kDuplicate), and the query path's
// merge drops exact duplicates that got past that (a head cut between two attempts).
//
// On return the streams' `entries` are left as given: what each replica stored is known only once
// all of them answered, which Push does not wait for. (pattern::TeePusher, the one reader of the
// stored entries, sits in front of an in-process ingester, never in front of this.)
//
// Thread safety: Push may be called from many threads at once. The sends run on a pool of
// send_threads threads owned by the pusher; a send whose budget ran out while it was queued fails
// without being sent, so a backlog behind hung ingesters drains. (A remote ingester's own
// protections, its bulkhead and circuit breaker, refuse sends to a hung ingester at once.)

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "metrics/metrics.h"
#include "ring/desc.h"
#include "ring/ring.h"
#include "write/pusher.h"

namespace sluice::distributor {

struct ReplicationOptions {
  // Budget of one ingester's part of a push, retries and backoff included, from the start of the
  // Push (Loki's ingester_client.remote_timeout). Push waits at most this long for a quorum.
  int64_t push_timeout_ns = 5 * kNanosPerSecond;
  // Re-sends of an ingester's request after a retryable error (sluice's
  // ingester_client.push_retries; Loki's distributor does not retry).
  int max_retries = 2;
  // Backoff before the first retry, doubled for each next one; the sleep is uniform in
  // [0, backoff] (full jitter) and never past the budget.
  int64_t retry_backoff_ns = 50 * kNanosPerMilli;
  // Threads that send to ingesters in parallel.
  int send_threads = 16;
  // loki_distributor_ingester_appends_total{ingester} and
  // loki_distributor_ingester_append_failures_total{ingester} (ingester = its address; every
  // attempt counts, and every non-OK answer, 4xx included, is a failure, as in Loki). Null: none.
  // One ReplicatingPusher per registry.
  metrics::Registry* registry = nullptr;
};

// The pusher for one ingester of the ring (rpc::IngesterClientPool::Get(desc.addr) in the
// scaled-out targets). Called from the send threads: must be thread-safe. A null answer is an
// unavailable replica.
using IngesterClientFactory =
    std::function<std::shared_ptr<write::Pusher>(const ring::InstanceDesc&)>;

class ReplicatingPusher final : public write::Pusher {
 public:
  // REQUIRES: ring and clock outlive the pusher; the clients the factory returns are kept alive
  // by the sends holding them.
  ReplicatingPusher(const ring::Ring* ring, IngesterClientFactory clients,
                    ReplicationOptions options, const Clock* clock);
  // Waits for the sends still running (each bounded by its ingester client's own timeout);
  // queued ones and pending retries are abandoned. REQUIRES: no Push is running.
  ~ReplicatingPusher() override;

  ReplicatingPusher(const ReplicatingPusher&) = delete;
  ReplicatingPusher& operator=(const ReplicatingPusher&) = delete;

  // OK once every stream has its write quorum. The ring's Unavailable when a stream has no
  // quorum of healthy ingesters (nothing sent then); 503 when a stream cannot reach its quorum;
  // the ingesters' 4xx when they refused some entries (the others stored). `streams` is not
  // changed.
  Status Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) override;

 private:
  struct Call;     // one Push: its encoded streams, per-stream quorum tracking
  struct Send;     // one ingester's part of a Call
  class SendPool;  // the send threads

  void RunSend(const std::shared_ptr<Call>& call, Send& send);

  const ring::Ring* const ring_;
  const IngesterClientFactory clients_;
  const ReplicationOptions options_;
  const Clock* const clock_;
  metrics::Family<metrics::Counter>* appends_ = nullptr;
  metrics::Family<metrics::Counter>* append_failures_ = nullptr;
  std::unique_ptr<SendPool> pool_;  // last: its threads stop before the members they use go
};

}  // namespace sluice::distributor
