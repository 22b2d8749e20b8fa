// Push decoding and validation: the first CPU a push costs after the HTTP layer.
//   DecodePush      body -> model::PushRequest (protobuf+snappy, JSON)
//   DistributorPush validation, label parsing + fingerprinting per stream, rate limiting,
//                   handing over to a Pusher that does nothing; with Loki's defaults
//                   (discover_log_levels on: the corpus streams have a `level` label) and with
//                   level discovery off
//   DetectLevelFromLine  discover_log_levels' cost for a line whose stream has no level label

#include <benchmark/benchmark.h>

#include "common/clock.h"
#include "config/overrides.h"
#include "distributor/distributor.h"
#include "distributor/level_detection.h"
#include "http/push/push_decoder.h"
#include "micro/micro_util.h"

namespace sluice::bench::micro {
namespace {

constexpr size_t kRequests = 20;  // 20,000 lines, ~4 MB raw

void DecodeBodies(benchmark::State& state, const std::vector<std::string>& bodies,
                  std::string_view content_type) {
  http::PushDecodeOptions opts;
  size_t i = 0;
  for (auto _ : state) {
    auto r = http::DecodePush(bodies[i], content_type, "", opts);
    if (!r.ok()) {
      state.SkipWithError(r.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
    i = (i + 1) % bodies.size();
  }
  // Per iteration: one request of ~1,000 lines.
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * RawBytesOfBatches(kRequests) / kRequests));
  state.SetItemsProcessed(
      static_cast<int64_t>(state.iterations() * LinesOfBatches(kRequests) / kRequests));
}

void BM_DecodePush_ProtoSnappy(benchmark::State& state) {
  static const auto bodies = ProtoBodies(kRequests);
  DecodeBodies(state, bodies, "application/x-protobuf");
}
BENCHMARK(BM_DecodePush_ProtoSnappy);

void BM_DecodePush_Json(benchmark::State& state) {
  static const auto bodies = JsonBodies(kRequests);
  DecodeBodies(state, bodies, "application/json");
}
BENCHMARK(BM_DecodePush_Json);

class NullPusher final : public write::Pusher {
 public:
  Status Push(std::string_view, std::vector<write::ValidatedStream>& streams) override {
    benchmark::DoNotOptimize(streams.data());
    return Status::OK();
  }
};

// Decoded requests are consumed by Push (moved from), so each iteration decodes a fresh copy
// outside the timed region.
void DistributorPush(benchmark::State& state, bool discover_log_levels) {
  static const auto bodies = ProtoBodies(kRequests);
  config::Limits limits;
  limits.discover_log_levels = discover_log_levels;
  limits.ingestion_rate_mb = 1e9;
  limits.ingestion_burst_size_mb = 1e9;
  limits.reject_old_samples = false;
  config::Overrides overrides(limits, "", 0);
  NullPusher pusher;
  distributor::Distributor d(&overrides, &pusher, SystemClock::Default());
  http::PushDecodeOptions opts;
  size_t i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto req = http::DecodePush(bodies[i], "application/x-protobuf", "", opts);
    const std::string& tenant = Corpus().batches[i].tenant;
    state.ResumeTiming();
    Status st = d.Push(tenant, *req);
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
    i = (i + 1) % bodies.size();
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * RawBytesOfBatches(kRequests) / kRequests));
  state.SetItemsProcessed(
      static_cast<int64_t>(state.iterations() * LinesOfBatches(kRequests) / kRequests));
}
void BM_DistributorPush(benchmark::State& state) { DistributorPush(state, true); }
BENCHMARK(BM_DistributorPush);

void BM_DistributorPush_NoLevelDiscovery(benchmark::State& state) { DistributorPush(state, false); }
BENCHMARK(BM_DistributorPush_NoLevelDiscovery);

// Arg: 0 all corpus lines, 1 JSON, 2 logfmt, 3 nginx.
void BM_DetectLevelFromLine(benchmark::State& state) {
  static constexpr std::string_view kFormats[] = {"", "json", "logfmt", "nginx"};
  std::string_view format = kFormats[state.range(0)];
  const std::vector<model::Entry>& entries =
      format.empty() ? AllEntries() : EntriesOfFormat(format);
  distributor::LevelDetector detector(config::DefaultLogLevelFields(), 2);
  for (auto _ : state) {
    for (const model::Entry& e : entries) benchmark::DoNotOptimize(detector.FromLine(e.line));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * RawBytes(entries)));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries.size()));
}
BENCHMARK(BM_DetectLevelFromLine)->DenseRange(0, 3);

}  // namespace
}  // namespace sluice::bench::micro
