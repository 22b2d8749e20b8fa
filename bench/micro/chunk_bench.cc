// Block read modes and per-block summaries (chunk/block.h, chunk/bloom.h).
//   BlockRead     every block of ~5 MB raw (one stream, ~256KB zstd blocks with blooms) read
//                 one way (arg): 0 lines, 1 timestamps only, 2 `|=` a 6-byte literal in no
//                 line (the lines are searched: too short for the bloom to rule out),
//                 3 `|=` an absent 32-hex trace id (the bloom rules every block out),
//                 4 `|=` a literal in ~1 line in 1,000 (the search finds it, a few decodes)
//   BloomCheck    BlockMayContain for an absent 32-hex trace id (per block)
//   BloomBuild    building the blooms of those blocks (bytes/s of raw lines)
//   Recompact     one stream's ~256KB zstd-1 blocks re-cut to 1MB at the zstd level (arg)

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "chunk/block.h"
#include "chunk/bloom.h"
#include "micro/micro_util.h"

namespace sluice::bench::micro {
namespace {

const std::vector<model::Entry>& StreamEntries() {
  static const std::vector<model::Entry> e(AllEntries().begin(), AllEntries().begin() + 25'000);
  return e;
}

// The blocks as a flush leaves them: zstd, ~256KB raw, with blooms.
const std::vector<chunk::Block>& ReadBlocks() {
  static const std::vector<chunk::Block> blocks =
      chunk::Recompact(MakeBlocks(StreamEntries(), chunk::Codec::kZstd),
                       {.level = 1, .target_block_raw_size = chunk::kTargetBlockRawSize})
          .value();
  return blocks;
}

void BM_BlockRead(benchmark::State& state) {
  const auto& blocks = ReadBlocks();
  const int mode = static_cast<int>(state.range(0));
  // The marker (about 1 line in 1,000) is searched for in mode 4.
  static const std::vector<std::string> kLiterals[] = {
      {}, {}, {"q#zx!~"}, {"0123456789abcdef0123456789abcdef"}, {std::string(Corpus().marker)}};
  chunk::ReadOptions options;
  options.lines_needed = mode != 1;
  if (!kLiterals[mode].empty()) {
    options.required_literals = &kLiterals[mode];
  }
  chunk::BlockStats stats;
  options.stats = &stats;
  chunk::BlockReader reader;
  uint64_t entries = 0;
  for (auto _ : state) {
    for (const auto& b : blocks) {
      reader.Reset(&b, INT64_MIN, INT64_MAX, model::Direction::kBackward, options);
      while (reader.Next()) {
        ++entries;
      }
    }
  }
  benchmark::DoNotOptimize(entries);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * RawBytes(StreamEntries())));
  static const char* kNames[] = {"lines", "timestamps only", "|= short absent literal (scan)",
                                 "|= absent trace id (bloom)", "|= marker"};
  state.SetLabel(fmt::format("{}: {} entries/iter, {} of {} blocks decompressed", kNames[mode],
                             entries / state.iterations(), stats.decompressed / state.iterations(),
                             blocks.size()));
}
BENCHMARK(BM_BlockRead)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);

void BM_BloomCheck(benchmark::State& state) {
  const auto& blocks = ReadBlocks();
  const std::string needle = "0123456789abcdef0123456789abcdef";
  size_t i = 0, maybe = 0;
  for (auto _ : state) {
    maybe += chunk::BlockMayContain(blocks[i], needle);
    i = (i + 1) % blocks.size();
  }
  benchmark::DoNotOptimize(maybe);
  state.SetLabel(fmt::format("{} B bloom for {} B raw", blocks[0].bloom.size(), blocks[0].raw_len));
}
BENCHMARK(BM_BloomCheck);

void BM_BloomBuild(benchmark::State& state) {
  const auto& entries = StreamEntries();
  chunk::BloomBuilder builder;
  for (auto _ : state) {
    for (const auto& e : entries) {
      builder.AddLine(e.line);
    }
    benchmark::DoNotOptimize(builder.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * RawBytes(entries)));
}
BENCHMARK(BM_BloomBuild)->Unit(benchmark::kMillisecond);

void BM_Recompact(benchmark::State& state) {
  static const auto blocks = MakeBlocks(StreamEntries(), chunk::Codec::kZstd);
  const int level = static_cast<int>(state.range(0));
  uint64_t in = 0, out = 0;
  for (const auto& b : blocks) {
    in += b.data.size();
  }
  for (auto _ : state) {
    auto r = chunk::Recompact(blocks, {.level = level});
    out = 0;
    for (const auto& b : *r) {
      out += b.data.size() + b.bloom.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * RawBytes(StreamEntries())));
  state.SetLabel(fmt::format("zstd {}: {} -> {} bytes (with blooms)", level, in, out));
}
BENCHMARK(BM_Recompact)->Arg(1)->Arg(3)->Arg(6)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::bench::micro
