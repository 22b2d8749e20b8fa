// Block compression: one ~256KB raw block of corpus entries per iteration, every codec.
// Bytes are raw (uncompressed) bytes, so compress and decompress figures compare directly
// with `zstd -1` / `zstd -d` on the corpus; the label shows the ratio.

#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include "chunk/codec.h"
#include "micro/micro_util.h"

namespace sluice::bench::micro {
namespace {

const std::string& RawBlock() {
  static const std::string raw = [] {
    auto blocks = MakeBlocks(AllEntries(), chunk::Codec::kNone);
    return blocks.size() > 1 ? blocks[1].data : blocks[0].data;
  }();
  return raw;
}

void BM_BlockCompress(benchmark::State& state) {
  auto codec = static_cast<chunk::Codec>(state.range(0));
  const std::string& raw = RawBlock();
  std::string out;
  for (auto _ : state) {
    Status st = chunk::Compress(codec, raw, &out);
    benchmark::DoNotOptimize(out.data());
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
  state.SetLabel(fmt::format(
      "{} ratio {:.2f}", chunk::CodecName(codec),
      static_cast<double>(raw.size()) / static_cast<double>(std::max<size_t>(1, out.size()))));
}

void BM_BlockDecompress(benchmark::State& state) {
  auto codec = static_cast<chunk::Codec>(state.range(0));
  const std::string& raw = RawBlock();
  std::string compressed, out;
  (void)chunk::Compress(codec, raw, &compressed);
  for (auto _ : state) {
    Status st = chunk::Decompress(codec, compressed, raw.size(), &out);
    benchmark::DoNotOptimize(out.data());
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
  state.SetLabel(std::string(chunk::CodecName(codec)));
}

void Codecs(benchmark::internal::Benchmark* b) {
  for (auto c :
       {chunk::Codec::kZstd, chunk::Codec::kLz4, chunk::Codec::kSnappy, chunk::Codec::kGzip}) {
    b->Arg(static_cast<int>(c));
  }
}
BENCHMARK(BM_BlockCompress)->Apply(Codecs);
BENCHMARK(BM_BlockDecompress)->Apply(Codecs);

}  // namespace
}  // namespace sluice::bench::micro
