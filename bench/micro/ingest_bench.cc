// The ingester's write path below the HTTP layer.
//   BlockBuilderAppend  encoding entries into a head block (no compression)
//   StreamAppend        ingester::Stream::Append: dedupe/order checks, head block, block cuts
//                       with the codec (arg: 0 none, 4 zstd), chunk cuts
//   InProcessPush       DecodePush + Distributor + Ingester (+ WAL with fsync=never when arg 1):
//                       the whole server path except HTTP, per request of ~1,000 lines

#include <benchmark/benchmark.h>

#include <memory>

#include "common/clock.h"
#include "http/push/push_decoder.h"
#include "ingester/stream.h"
#include "micro/micro_util.h"

namespace sluice::bench::micro {
namespace {

void BM_BlockBuilderAppend(benchmark::State& state) {
  const auto& entries = AllEntries();
  chunk::BlockBuilder b;
  size_t i = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    const auto& e = entries[i];
    b.Append(e.timestamp_ns, e.line, e.metadata);
    bytes += e.line.size();
    if (b.raw_bytes() >= chunk::kTargetBlockRawSize)
      benchmark::DoNotOptimize(b.Finish(chunk::Codec::kNone));
    if (++i == entries.size()) {
      i = 0;
      if (!b.empty()) benchmark::DoNotOptimize(b.Finish(chunk::Codec::kNone));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_BlockBuilderAppend);

void BM_StreamAppend(benchmark::State& state) {
  const auto& entries = AllEntries();
  ingester::StreamOptions opts;
  opts.codec = static_cast<chunk::Codec>(state.range(0));
  auto labels = std::make_shared<const model::LabelSet>(
      model::ParseLabels(Corpus().streams[0].labels).value());
  auto make = [&] {
    return std::make_unique<ingester::Stream>(labels, labels->ToString(), labels->Fingerprint(),
                                              &opts);
  };
  auto stream = make();
  const int64_t now = SystemClock::Default()->NowNanos();
  const int64_t window = kNanosPerHour;  // max_chunk_age / 2 by default
  size_t i = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    const auto& e = entries[i];
    benchmark::DoNotOptimize(stream->Append(model::EntryView::Of(e), now, true, window));
    bytes += e.line.size();
    if (++i == entries.size()) {
      state.PauseTiming();
      i = 0;
      stream = make();
      state.ResumeTiming();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(std::string(chunk::CodecName(opts.codec)));
}
BENCHMARK(BM_StreamAppend)
    ->Arg(static_cast<int>(chunk::Codec::kNone))
    ->Arg(static_cast<int>(chunk::Codec::kZstd));

void BM_InProcessPush(benchmark::State& state) {
  static const auto bodies = ProtoBodies(Corpus().batches.size());
  const bool wal = state.range(0) != 0;
  auto server = std::make_unique<InProcessServer>(wal);
  if (!server->start_status.ok()) {
    state.SkipWithError(server->start_status.message().c_str());
    return;
  }
  http::PushDecodeOptions opts;
  size_t i = 0;
  uint64_t bytes = 0, lines = 0;
  for (auto _ : state) {
    auto req = http::DecodePush(bodies[i], "application/x-protobuf", "", opts);
    Status st = req.ok() ? server->dist->Push(Corpus().batches[i].tenant, *req) : req.status();
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
    bytes += Corpus().batches[i].raw_bytes;
    lines += Corpus().batches[i].lines;
    // Every request once per ingester: a second round would only hit the duplicate check.
    if (++i == bodies.size()) {
      state.PauseTiming();
      i = 0;
      server.reset();
      server = std::make_unique<InProcessServer>(wal);
      state.ResumeTiming();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(lines));
  state.SetLabel(wal ? "wal fsync=never" : "no wal");
}
BENCHMARK(BM_InProcessPush)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice::bench::micro
