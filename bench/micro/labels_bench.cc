// Stream labels: parsing the `{a="b", ...}` text every pushed stream carries, its fingerprint
// (xxh3) and its canonical string, which the distributor computes per stream per request.

#include <benchmark/benchmark.h>

#include "micro/micro_util.h"
#include "model/labels.h"

namespace sluice::bench::micro {
namespace {

const std::vector<std::string>& LabelTexts() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (const auto& s : Corpus().streams) out.push_back(s.labels);
    return out;
  }();
  return texts;
}

void BM_ParseLabels(benchmark::State& state) {
  const auto& texts = LabelTexts();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto r = model::ParseLabels(texts[i]);
    benchmark::DoNotOptimize(r);
    bytes += texts[i].size();
    i = (i + 1) % texts.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ParseLabels);

const std::vector<model::LabelSet>& Parsed() {
  static const std::vector<model::LabelSet> sets = [] {
    std::vector<model::LabelSet> out;
    for (const auto& t : LabelTexts()) out.push_back(model::ParseLabels(t).value());
    return out;
  }();
  return sets;
}

void BM_LabelsFingerprint(benchmark::State& state) {
  const auto& sets = Parsed();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sets[i].Fingerprint());
    i = (i + 1) % sets.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_LabelsFingerprint);

void BM_LabelsToString(benchmark::State& state) {
  const auto& sets = Parsed();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sets[i].ToString());
    i = (i + 1) % sets.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_LabelsToString);

// What the distributor does per stream of every request today.
void BM_ParseFingerprintToString(benchmark::State& state) {
  const auto& texts = LabelTexts();
  size_t i = 0;
  for (auto _ : state) {
    auto r = model::ParseLabels(texts[i]);
    benchmark::DoNotOptimize(r->Fingerprint());
    benchmark::DoNotOptimize(r->ToString());
    i = (i + 1) % texts.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseFingerprintToString);

}  // namespace
}  // namespace sluice::bench::micro
