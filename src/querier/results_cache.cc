#include "querier/results_cache.h"

#include <algorithm>
#include <cstring>

#include "common/coding.h"
#include "logql/syntax/printer.h"

namespace sluice::querier {

namespace {
constexpr uint8_t kVersion = 1;
}  // namespace

std::string ResultsCacheKey(std::vector<std::string> tenants, const logql::syntax::Expr& plan,
                            int64_t start_ns, int64_t end_ns, int64_t step_ns) {
  std::sort(tenants.begin(), tenants.end());
  std::string key = "mr1|";
  for (const auto& t : tenants) {
    key += t;
    key.push_back('|');
  }
  key += logql::syntax::Print(plan);
  key +=
      "|" + std::to_string(start_ns) + "|" + std::to_string(end_ns) + "|" + std::to_string(step_ns);
  return key;
}

std::string EncodeMatrix(const std::vector<logql::engine::Series>& series) {
  std::string out;
  out.push_back(static_cast<char>(kVersion));
  coding::PutVarint64(&out, series.size());
  for (const auto& s : series) {
    const auto& labels = s.labels.labels();
    coding::PutVarint64(&out, labels.size());
    for (const auto& l : labels) {
      coding::PutLengthPrefixed(&out, l.name);
      coding::PutLengthPrefixed(&out, l.value);
    }
    coding::PutVarint64(&out, s.points.size());
    int64_t prev = 0;
    for (const auto& p : s.points) {
      coding::PutVarintSigned64(&out, p.ts_ms - prev);
      prev = p.ts_ms;
      uint64_t bits;
      std::memcpy(&bits, &p.value, sizeof bits);
      coding::PutFixed64(&out, bits);
    }
  }
  return out;
}

Result<std::vector<logql::engine::Series>> DecodeMatrix(std::string_view data) {
  coding::Reader r(data);
  uint8_t version = 0;
  if (!r.GetByte(&version) || version != kVersion) {
    return Status::Corruption("results cache: unknown encoding version");
  }
  auto bad = [] { return Status::Corruption("results cache: truncated or corrupt value"); };
  uint64_t n_series = 0;
  // Every series takes at least two bytes: a count no value could hold is corrupt.
  if (!r.GetVarint64(&n_series) || n_series > data.size()) return bad();
  std::vector<logql::engine::Series> out;
  out.reserve(n_series);
  for (uint64_t i = 0; i < n_series; ++i) {
    uint64_t n_labels = 0;
    if (!r.GetVarint64(&n_labels) || n_labels > data.size()) return bad();
    std::vector<model::Label> labels;
    labels.reserve(n_labels);
    for (uint64_t j = 0; j < n_labels; ++j) {
      std::string_view name, value;
      if (!r.GetLengthPrefixed(&name) || !r.GetLengthPrefixed(&value)) return bad();
      labels.push_back(model::Label{std::string(name), std::string(value)});
    }
    uint64_t n_points = 0;
    if (!r.GetVarint64(&n_points) || n_points > data.size()) return bad();
    logql::engine::Series s{model::LabelSet(std::move(labels)), {}};
    s.points.reserve(n_points);
    int64_t ts = 0;
    for (uint64_t j = 0; j < n_points; ++j) {
      int64_t delta = 0;
      uint64_t bits = 0;
      if (!r.GetVarintSigned64(&delta) || !r.GetFixed64(&bits)) return bad();
      ts += delta;
      double v;
      std::memcpy(&v, &bits, sizeof v);
      s.points.push_back(logql::engine::Point{ts, v});
    }
    out.push_back(std::move(s));
  }
  if (!r.empty()) return bad();
  return out;
}

}  // namespace sluice::querier
