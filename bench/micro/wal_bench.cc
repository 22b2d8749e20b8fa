// The write-ahead log.
//   WalEncodeEntries  framing one request's entries into kEntries records (caller's thread)
//   WalDecodeEntries  decoding them again (the replay path)
//   WalLog            Writer::Log end to end: queue, group commit by the writer thread, write,
//                     and fdatasync under fsync=batch. Threads > 1 show group commit: several
//                     pushes share one write and one fsync.

#include <benchmark/benchmark.h>

#include <mutex>

#include "ingester/wal/format.h"
#include "ingester/wal/writer.h"
#include "micro/micro_util.h"
#include "model/labels.h"

namespace sluice::bench::micro {
namespace {

// One request (~1,000 lines) in the shape Writer::Log takes.
struct WalBatch {
  std::string tenant;
  std::vector<std::string> labels;
  std::vector<std::vector<model::EntryView>> entries;  // views of the corpus' lines
  std::vector<wal::StreamEntries> streams;             // views of the above
  uint64_t raw_bytes = 0;
};

const std::vector<WalBatch>& Batches() {
  static const std::vector<WalBatch> batches = [] {
    std::vector<WalBatch> out(20);
    const auto& c = Corpus();
    for (size_t i = 0; i < out.size(); ++i) {
      const PushBatch& b = c.batches[i];
      WalBatch& w = out[i];
      w.tenant = b.tenant;
      w.raw_bytes = b.raw_bytes;
      for (const auto& s : b.streams) {
        w.labels.push_back(c.streams[s.stream].labels);
        auto& v = w.entries.emplace_back();
        for (const auto& [ts, line] : s.entries) v.push_back(model::EntryView{ts, line, {}});
      }
      for (size_t j = 0; j < w.labels.size(); ++j) {
        uint64_t ref = model::ParseLabels(w.labels[j]).value().Fingerprint();
        w.streams.push_back(wal::StreamEntries{ref, w.labels[j], w.entries[j]});
      }
    }
    return out;
  }();
  return batches;
}

void BM_WalEncodeEntries(benchmark::State& state) {
  const auto& batches = Batches();
  std::string buf;
  size_t i = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    buf.clear();
    auto n = wal::AppendEntriesRecords(&buf, batches[i].tenant, batches[i].streams);
    benchmark::DoNotOptimize(n);
    bytes += batches[i].raw_bytes;
    i = (i + 1) % batches.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_WalEncodeEntries);

void BM_WalDecodeEntries(benchmark::State& state) {
  const auto& batches = Batches();
  std::vector<std::string> payloads;
  for (const auto& b : batches) {
    std::string rec;
    (void)wal::AppendEntriesRecords(&rec, b.tenant, b.streams);
    payloads.push_back(rec.substr(wal::kHeaderSize));  // one record per batch at this size
  }
  wal::EntriesDecoder dec;
  size_t i = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    Status st = dec.Decode(payloads[i]);
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
    bytes += batches[i].raw_bytes;
    i = (i + 1) % payloads.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_WalDecodeEntries);

struct SharedWriter {
  TempDir dir;
  wal::WriterPtr writer;
  std::mutex truncate_mu;
  uint64_t since_truncate = 0;  // GUARDED_BY(truncate_mu)
};

SharedWriter& WriterFor(wal::FsyncPolicy policy) {
  static SharedWriter never, batch;
  static std::once_flag once_never, once_batch;
  SharedWriter& w = policy == wal::FsyncPolicy::kNever ? never : batch;
  std::call_once(policy == wal::FsyncPolicy::kNever ? once_never : once_batch, [&] {
    wal::WriterOptions opts;
    opts.dir = (w.dir.path() / "wal").string();
    opts.fsync = policy;
    opts.segment_size = 64ull << 20;
    auto r = wal::Writer::Open(opts);
    if (r.ok()) w.writer = std::move(r).value();
  });
  return w;
}

void BM_WalLog(benchmark::State& state, wal::FsyncPolicy policy) {
  SharedWriter& w = WriterFor(policy);
  if (!w.writer) {
    state.SkipWithError("cannot open the WAL");
    return;
  }
  const auto& batches = Batches();
  size_t i = static_cast<size_t>(state.thread_index());
  uint64_t bytes = 0;
  for (auto _ : state) {
    const WalBatch& b = batches[i % batches.size()];
    Status st = w.writer->Log(b.tenant, b.streams);
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
    bytes += b.raw_bytes;
    ++i;
    // Keep the directory small: drop old segments every ~256 MB.
    std::lock_guard lock(w.truncate_mu);
    w.since_truncate += b.raw_bytes;
    if (w.since_truncate > (256ull << 20)) {
      w.since_truncate = 0;
      auto n = w.writer->CutSegment();
      if (n.ok()) (void)w.writer->TruncateBefore(*n);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetLabel(std::string(wal::FsyncPolicyName(policy)));
}
BENCHMARK_CAPTURE(BM_WalLog, fsync_never, wal::FsyncPolicy::kNever)
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_WalLog, fsync_batch, wal::FsyncPolicy::kBatch)
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime();

}  // namespace
}  // namespace sluice::bench::micro
