// The read path's inner loops.
//   ChunkScan           decompress and iterate a chunk's blocks; arg 1 adds a `|=` line filter
//                       that matches nothing (the cost of a full-scan literal query per byte)
//   PipelineParse       `| json` / `| logfmt` stages on their own lines; skipped (with the
//                       compile error) while the stage is not implemented
//   MergeIterator       heap merge of N streams (arg) holding 100,000 entries in all
//   RangeAggregation    sum by (level) (count_over_time(...[1m])) through Querier::Exec over an
//                       ingester holding the corpus; skipped while metric queries answer 400
//   RangeAggregationBaseline  the same data read through Querier::SelectLogs and counted per
//                       (level, minute) in the benchmark: the floor under any engine

#include <benchmark/benchmark.h>

#include <map>

#include "chunk/chunk.h"
#include "iter/merge.h"
#include "logql/log/line_filter.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/parser.h"
#include "micro/micro_util.h"
#include "querier/querier.h"

namespace sluice::bench::micro {
namespace {

// ~25,000 lines (~5 MB raw) of one stream, in ~256KB zstd blocks.
const chunk::Chunk& ScanChunk() {
  static const chunk::Chunk c = [] {
    std::vector<model::Entry> entries(AllEntries().begin(), AllEntries().begin() + 25'000);
    return chunk::Chunk(model::ParseLabels(Corpus().streams[0].labels).value(),
                        MakeBlocks(entries, chunk::Codec::kZstd));
  }();
  return c;
}

void BM_ChunkScan(benchmark::State& state) {
  const chunk::Chunk& c = ScanChunk();
  const bool filter = state.range(0) != 0;
  auto f = logql::log::LineFilter::Contains({"0123456789abcdef-absent"});
  uint64_t bytes = 0, matched = 0;
  for (auto _ : state) {
    auto it = c.Iterator(INT64_MIN, INT64_MAX, model::Direction::kForward);
    while (it->Next()) {
      const auto& e = it->At();
      bytes += e.line.size();
      if (!filter || f.Matches(e.line)) ++matched;
    }
  }
  benchmark::DoNotOptimize(matched);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetLabel(filter ? "|= absent literal" : "no filter");
}
BENCHMARK(BM_ChunkScan)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_PipelineParse(benchmark::State& state, std::string query, std::string format) {
  auto expr = logql::syntax::Parse(query);
  if (!expr.ok()) {
    state.SkipWithError(("parse: " + expr.status().message()).c_str());
    return;
  }
  auto p = logql::log::Pipeline::Compile((*expr)->Cast<logql::syntax::LogSelectorExpr>());
  if (!p.ok()) {
    state.SkipWithError(("not supported yet: " + p.status().message()).c_str());
    return;
  }
  const auto& entries = EntriesOfFormat(format);
  model::LabelSet labels = model::ParseLabels(Corpus().streams[0].labels).value();
  logql::log::LabelsBuilder lb;
  size_t i = 0;
  uint64_t bytes = 0, passed = 0;
  for (auto _ : state) {
    const auto& e = entries[i];
    lb.Reset(&labels, &e.metadata);
    std::string_view line = e.line;
    passed += p->Process(e.timestamp_ns, &line, &lb) ? 1 : 0;
    bytes += e.line.size();
    if (++i == entries.size()) i = 0;
  }
  benchmark::DoNotOptimize(passed);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_PipelineParse, json, std::string(R"({job="api"} | json)"),
                  std::string("json"));
BENCHMARK_CAPTURE(BM_PipelineParse, json_filter,
                  std::string(R"({job="api"} | json | duration_ms > 300)"), std::string("json"));
BENCHMARK_CAPTURE(BM_PipelineParse, logfmt, std::string(R"({job="worker"} | logfmt)"),
                  std::string("logfmt"));
BENCHMARK_CAPTURE(BM_PipelineParse, logfmt_filter,
                  std::string(R"({job="worker"} | logfmt | level="error")"), std::string("logfmt"));

void BM_MergeIterator(benchmark::State& state) {
  const size_t streams = static_cast<size_t>(state.range(0));
  const auto& all = AllEntries();
  std::vector<model::LabelSet> labels;
  std::vector<std::vector<model::Entry>> parts(streams);
  for (size_t s = 0; s < streams; ++s)
    labels.push_back(
        model::ParseLabels(Corpus().streams[s % Corpus().streams.size()].labels).value());
  for (size_t i = 0; i < all.size(); ++i) parts[i % streams].push_back(all[i]);
  const auto dir = state.range(1) == 0 ? model::Direction::kForward : model::Direction::kBackward;
  uint64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<iter::EntryIteratorPtr> its;
    for (size_t s = 0; s < streams; ++s)
      its.push_back(iter::NewVectorIterator(labels[s], parts[s], dir));
    state.ResumeTiming();
    auto m = iter::NewMergeIterator(std::move(its), dir);
    while (m->Next()) ++n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.SetLabel(dir == model::Direction::kForward ? "forward" : "backward");
}
BENCHMARK(BM_MergeIterator)
    ->Args({8, 0})
    ->Args({64, 0})
    ->Args({1000, 0})
    ->Args({64, 1})
    ->Unit(benchmark::kMillisecond);

// An ingester holding the corpus, queried through a Querier as the server does.
struct QueryFixture {
  QueryFixture() : server(false) {
    status = server.start_status.ok() ? server.PushCorpus() : server.start_status;
    querier = std::make_unique<querier::Querier>(server.ing.get(), &server.overrides);
    for (const auto& b : Corpus().batches) {
      if (std::find(tenants.begin(), tenants.end(), b.tenant) == tenants.end())
        tenants.push_back(b.tenant);
      for (const auto& s : b.streams) {
        for (const auto& [ts, line] : s.entries) {
          from = std::min(from, ts);
          through = std::max(through, ts + 1);
          raw_bytes += line.size();
        }
      }
    }
    std::sort(tenants.begin(), tenants.end());
  }
  InProcessServer server;
  Status status;
  std::unique_ptr<querier::Querier> querier;
  std::vector<std::string> tenants;
  int64_t from = INT64_MAX, through = INT64_MIN;
  uint64_t raw_bytes = 0;
};

QueryFixture& Fixture() {
  static QueryFixture f;
  return f;
}

void BM_RangeAggregation(benchmark::State& state) {
  QueryFixture& f = Fixture();
  if (!f.status.ok()) {
    state.SkipWithError(f.status.message().c_str());
    return;
  }
  querier::QueryRequest req;
  req.query = R"(sum by (level) (count_over_time({env=~"prod|staging"}[1m])))";
  req.start_ns = f.from;
  req.end_ns = f.through;
  req.step_ns = int64_t{60} * 1'000'000'000;
  for (auto _ : state) {
    auto r = f.querier->Exec(f.tenants, req);
    if (!r.ok()) {
      state.SkipWithError(("not supported yet: " + r.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.raw_bytes));
}
BENCHMARK(BM_RangeAggregation)->Unit(benchmark::kMillisecond);

void BM_RangeAggregationBaseline(benchmark::State& state) {
  QueryFixture& f = Fixture();
  if (!f.status.ok()) {
    state.SkipWithError(f.status.message().c_str());
    return;
  }
  auto expr = logql::syntax::Parse(R"({env=~"prod|staging"})");
  const auto& selector = (*expr)->Cast<logql::syntax::LogSelectorExpr>();
  const int64_t step = int64_t{60} * 1'000'000'000;
  const size_t buckets = static_cast<size_t>((f.through - f.from) / step + 1);
  for (auto _ : state) {
    auto it =
        f.querier->SelectLogs(f.tenants, selector, f.from, f.through, model::Direction::kForward);
    if (!it.ok()) {
      state.SkipWithError(it.status().message().c_str());
      return;
    }
    // count per (level, minute), levels keyed by the label's first byte.
    std::vector<uint64_t> counts(buckets * 256);
    while ((*it)->Next()) {
      const std::string* level = (*it)->Labels().Get("level");
      size_t b = static_cast<size_t>(((*it)->At().timestamp_ns - f.from) / step);
      counts[b * 256 + (level && !level->empty() ? static_cast<unsigned char>((*level)[0]) : 0)]++;
    }
    benchmark::DoNotOptimize(counts.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.raw_bytes));
}
BENCHMARK(BM_RangeAggregationBaseline)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::bench::micro
