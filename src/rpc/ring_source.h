#pragma once

// The querier's read path over the ingester ring: one read::StreamSource that asks every
// ingester of the ring that may hold data in the query's range, over gRPC, so read::FanOut
// merges their answers with the store's like any other source (Loki's IngesterQuerier).
//
//   read::FanOut ─┬─ RingIngesters ──GetAllHealthy(kRead)──> ring::Ring
//                 │      └─ in parallel, one call per ingester (IngesterClientPool::Get(addr))
//                 │           ├─ RemoteIngester 10.0.0.1:9095
//                 │           ├─ RemoteIngester 10.0.0.2:9095
//                 │           └─ RemoteIngester 10.0.0.3:9095
//                 └─ querier::StoreSource
//
// Replicas: a stream lives on replication_factor ingesters, so the answers hold up to RF copies
// of each entry. Nothing is deduplicated here: FanOut's merge drops exact duplicates (same
// stream, timestamp and line) across all iterators, which removes the replicas' copies as it
// removes the copies memory and the store both hold. Series and label answers are unions.
//
// Quorum (dskit's ReplicationSet.Do, which Loki's querier uses): the ring says how many ingesters
// may fail (ReplicationSet::max_errors; for reads that ask every ingester, of max(N, RF), RF/2).
// A read returns as soon as N - max_errors ingesters answered, with every answer in by then:
// a write reached at least floor(RF/2) + 1 replicas, so any N - max_errors ingesters hold every
// stream at least once, and a slow or hung ingester costs nothing. The calls not waited for run
// on until their own deadline; their answers are dropped (a SelectStreams call is cancelled).
// Failures up to max_errors are skipped (logged at warn, counted in
// sluice_querier_ingester_failures_total{operation}); one more fails the read at once:
// Unavailable naming how many failed and the first error (a timed-out query keeps its
// DeadlineExceeded, a request the ingesters refused its InvalidArgument).
//
// Time: with query_ingesters_within > 0 a read whose range ends at or before now - within asks no
// ingester (they flushed that data long ago), as Loki's querier: it compares the query's END
// with now - query_ingesters_within.
//
// Calls run in parallel, one thread each, so a slow ingester costs its own latency, not the sum.
// Each is bounded as RemoteIngester bounds it: unary calls by ingester_client.remote_timeout and
// the query's deadline, SelectStreams by the query's deadline (req.deadline; a read without one
// waits for a quorum as long as the ingesters take).
//
// Thread safety: every method may be called concurrently. SelectStreams' iterators belong to one
// thread, as read::StreamSource's do.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "read/read.h"
#include "ring/ring.h"
#include "rpc/ingester_client.h"

namespace sluice::rpc {

struct RingIngestersOptions {
  // Loki's querier.query_ingesters_within (default 3h): reads ending at or before now - this ask
  // no ingester. 0: always ask.
  int64_t query_ingesters_within_ns = 3 * 3600 * kNanosPerSecond;
  // The ring's replication factor (ingester.lifecycler.ring.replication_factor): how many
  // ingesters hold each chunk, to count chunks once (CountChunks).
  int replication_factor = 3;
  // The Kafka write path (ingester.kafka_ingestion): every stream lives on its partition's
  // owners, so a read asks one owner of each partition (ring::Ring::GetPartitionOwners) instead of
  // every ingester, and needs an answer for every partition. A partition whose owner failed is
  // asked of its next owner at once; one whose owner has not answered after partition_hedge_ns
  // (hung, or slow) too, and the first answer wins: a hung owner costs a read that much, not its
  // deadline.
  bool by_partition = false;
  int64_t partition_hedge_ns = kNanosPerSecond;
};

class RingIngesters final : public read::StreamSource {
 public:
  // REQUIRES: ring, pool and clock outlive this source and its iterators.
  RingIngesters(const ring::Ring* ring, IngesterClientPool* pool, RingIngestersOptions options,
                const Clock* clock);
  // Waits (up to 30 s) for the calls no read waited for to end.
  ~RingIngesters() override;

  read::SourceKind Kind() const override { return read::SourceKind::kIngester; }
  // The iterators of every ingester that answered by the time a quorum did, concatenated
  // (replicas' copies included: the merge drops them). Each remote call counts into
  // req.stats->For(kIngester) through a ReadStats of its own, added to req.stats on the reading
  // thread as its iterators end, so the parallel calls never write req.stats at once.
  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& req,
                                                            std::string_view tenant) override;
  // The union of the ingesters' label sets, without duplicates, sorted.
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& req,
                                                    std::string_view tenant) override;
  // Sorted unique unions.
  Result<std::vector<std::string>> TenantLabelNames(const read::SelectRequest& req,
                                                    std::string_view tenant) override;
  Result<std::vector<std::string>> TenantLabelValues(const read::SelectRequest& req,
                                                     std::string_view tenant,
                                                     std::string_view name) override;
  // The ingesters' unflushed chunks, each counted once: every chunk is held by about
  // min(RF, N) of the N ingesters asked, so by RF' = min(RF, N) * answered / N of those that
  // answered; the sum is divided by RF' and rounded. An estimate: replicas cut their chunks
  // independently, so their counts for one stream may differ by one or two.
  Result<uint64_t> CountChunks(const read::SelectRequest& req, std::string_view tenant) override;

  // Whether a read of [from, through) asks the ingesters at all (query_ingesters_within).
  bool ShouldQuery(const read::SelectRequest& req) const;

 private:
  // What a call over the ring got back: one answer per ingester that answered in time, and how
  // many ingesters were asked.
  template <typename T>
  struct Answers {
    std::vector<T> values;
    size_t asked = 0;
  };
  // Calls `call` on the client of every ingester healthy for reads, each on a thread of its
  // own, until a quorum answered or too many failed. `call` owns what it uses (it may outlive
  // this call). `op` names the calls in logs and metrics.
  template <typename T>
  Result<Answers<T>> ForEachIngester(
      std::string_view op,
      std::function<Result<T>(const std::shared_ptr<RemoteIngester>&)> call) const;
  // ForEachIngester in by_partition mode: an answer per partition, hedged (see the option).
  template <typename T>
  Result<Answers<T>> ForEachPartitionOwner(
      std::string_view op,
      std::function<Result<T>(const std::shared_ptr<RemoteIngester>&)> call) const;

  // The calls running, read or not.
  struct Running {
    Mutex mu;
    CondVar cv;
    int calls GUARDED_BY(mu) = 0;
  };

  const ring::Ring* const ring_;
  IngesterClientPool* const pool_;
  const RingIngestersOptions options_;
  const Clock* const clock_;
  // Shared with the call threads, which may outlive a read (never this source: see ~).
  const std::shared_ptr<Running> running_ = std::make_shared<Running>();
};

}  // namespace sluice::rpc
