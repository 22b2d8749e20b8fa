#include "storage/index/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/checksum.h"
#include "common/coding.h"

namespace sluice::storage::index {

namespace {

constexpr size_t kHeaderSize = 5;
constexpr size_t kFooterSize = 4;

size_t SharedPrefixLength(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

bool ChunkOrder(const ChunkRef& a, const ChunkRef& b) {
  if (a.from_ns != b.from_ns) return a.from_ns < b.from_ns;
  if (a.through_ns != b.through_ns) return a.through_ns < b.through_ns;
  return a.key < b.key;
}

// Sorts series by labels, merges duplicates, and sorts/dedupes each series' chunks.
void Normalize(std::vector<SeriesChunks>* series) {
  std::sort(series->begin(), series->end(),
            [](const SeriesChunks& a, const SeriesChunks& b) { return a.labels < b.labels; });
  std::vector<SeriesChunks> merged;
  merged.reserve(series->size());
  for (auto& s : *series) {
    if (!merged.empty() && merged.back().labels == s.labels) {
      auto& dst = merged.back().chunks;
      dst.insert(dst.end(), std::make_move_iterator(s.chunks.begin()),
                 std::make_move_iterator(s.chunks.end()));
    } else {
      merged.push_back(std::move(s));
    }
  }
  for (auto& s : merged) {
    auto& c = s.chunks;
    std::sort(c.begin(), c.end(),
              [](const ChunkRef& a, const ChunkRef& b) { return a.key < b.key; });
    c.erase(std::unique(c.begin(), c.end(),
                        [](const ChunkRef& a, const ChunkRef& b) { return a.key == b.key; }),
            c.end());
    std::sort(c.begin(), c.end(), ChunkOrder);
  }
  *series = std::move(merged);
}

Status Corrupt(std::string_view what) {
  return Status::Corruption(fmt::format("index object: {}", what));
}

}  // namespace

std::string PeriodPrefix(std::string_view tenant, int64_t period) {
  return fmt::format("index/{}/{}/", period, tenant);
}

std::string EncodeIndexFile(IndexFile file) {
  Normalize(&file.series);

  std::map<std::string_view, uint64_t> symbols;
  for (const auto& s : file.series) {
    for (const auto& l : s.labels.labels()) {
      symbols.emplace(l.name, 0);
      symbols.emplace(l.value, 0);
    }
  }
  uint64_t next_id = 0;
  for (auto& [sym, id] : symbols) id = next_id++;

  std::string out;
  out.append(kIndexMagic);
  out.push_back(static_cast<char>(kIndexVersion));
  coding::PutLengthPrefixed(&out, file.tenant);
  coding::PutVarintSigned64(&out, file.period);
  coding::PutVarint64(&out, symbols.size());
  for (const auto& [sym, id] : symbols) coding::PutLengthPrefixed(&out, sym);

  coding::PutVarint64(&out, file.series.size());
  std::string_view prev_key;
  for (const auto& s : file.series) {
    coding::PutFixed64(&out, s.labels.Fingerprint());
    coding::PutVarint64(&out, s.labels.size());
    for (const auto& l : s.labels.labels()) {
      coding::PutVarint64(&out, symbols.find(l.name)->second);
      coding::PutVarint64(&out, symbols.find(l.value)->second);
    }
    coding::PutVarint64(&out, s.chunks.size());
    auto prev_from = static_cast<uint64_t>(PeriodStart(file.period));
    for (const auto& c : s.chunks) {
      auto from = static_cast<uint64_t>(c.from_ns);
      coding::PutVarintSigned64(&out, static_cast<int64_t>(from - prev_from));
      coding::PutVarint64(&out, static_cast<uint64_t>(c.through_ns) - from);
      coding::PutVarint64(&out, c.num_entries);
      coding::PutVarint64(&out, c.raw_bytes);
      coding::PutVarint64(&out, c.stored_bytes);
      size_t shared = SharedPrefixLength(prev_key, c.key);
      coding::PutVarint64(&out, shared);
      coding::PutLengthPrefixed(&out, std::string_view(c.key).substr(shared));
      prev_from = from;
      prev_key = c.key;
    }
  }
  coding::PutFixed32(&out, Crc32(out));
  return out;
}

Result<IndexFile> DecodeIndexFile(std::string_view data) {
  if (data.size() < kHeaderSize + kFooterSize) return Corrupt("too short");
  std::string_view covered = data.substr(0, data.size() - kFooterSize);
  if (Crc32(covered) != coding::DecodeFixed32(data.data() + covered.size()))
    return Corrupt("checksum mismatch");
  if (covered.substr(0, kIndexMagic.size()) != kIndexMagic) return Corrupt("bad magic");
  if (static_cast<uint8_t>(covered[kIndexMagic.size()]) != kIndexVersion) {
    return Corrupt(
        fmt::format("unsupported version {}", static_cast<uint8_t>(covered[kIndexMagic.size()])));
  }

  coding::Reader r(covered.substr(kHeaderSize));
  IndexFile file;
  std::string_view tenant;
  if (!r.GetLengthPrefixed(&tenant) || !r.GetVarintSigned64(&file.period))
    return Corrupt("truncated header");
  file.tenant = std::string(tenant);
  if (file.period > INT64_MAX / kPeriodNanos || file.period < INT64_MIN / kPeriodNanos) {
    return Corrupt("period out of range");
  }

  // Every count is checked against the bytes left before anything is reserved: each element takes
  // at least one byte, so a corrupt count cannot make us allocate more than the object's size.
  uint64_t num_symbols;
  if (!r.GetVarint64(&num_symbols) || num_symbols > r.remaining().size())
    return Corrupt("bad symbol count");
  std::vector<std::string_view> symbols(num_symbols);
  for (auto& sym : symbols) {
    if (!r.GetLengthPrefixed(&sym)) return Corrupt("truncated symbol table");
  }

  uint64_t num_series;
  if (!r.GetVarint64(&num_series) || num_series > r.remaining().size())
    return Corrupt("bad series count");
  file.series.reserve(num_series);
  std::string prev_key;
  for (uint64_t i = 0; i < num_series; ++i) {
    uint64_t fingerprint, num_labels;
    if (!r.GetFixed64(&fingerprint) || !r.GetVarint64(&num_labels) ||
        num_labels > r.remaining().size()) {
      return Corrupt("truncated series");
    }
    std::vector<model::Label> labels(num_labels);
    for (auto& l : labels) {
      uint64_t name, value;
      if (!r.GetVarint64(&name) || !r.GetVarint64(&value))
        return Corrupt("truncated series labels");
      if (name >= num_symbols || value >= num_symbols) return Corrupt("symbol id out of range");
      l.name = std::string(symbols[name]);
      l.value = std::string(symbols[value]);
    }
    SeriesChunks series{model::LabelSet(std::move(labels)), {}};

    uint64_t num_chunks;
    if (!r.GetVarint64(&num_chunks) || num_chunks > r.remaining().size())
      return Corrupt("bad chunk count");
    series.chunks.resize(num_chunks);
    auto prev_from = static_cast<uint64_t>(PeriodStart(file.period));
    for (auto& c : series.chunks) {
      int64_t from_delta;
      uint64_t span, shared;
      std::string_view rest;
      if (!r.GetVarintSigned64(&from_delta) || !r.GetVarint64(&span) ||
          !r.GetVarint32(&c.num_entries) || !r.GetVarint64(&c.raw_bytes) ||
          !r.GetVarint64(&c.stored_bytes) || !r.GetVarint64(&shared) ||
          !r.GetLengthPrefixed(&rest)) {
        return Corrupt("truncated chunk ref");
      }
      uint64_t from = prev_from + static_cast<uint64_t>(from_delta);
      c.from_ns = static_cast<int64_t>(from);
      c.through_ns = static_cast<int64_t>(from + span);
      if (c.through_ns < c.from_ns) return Corrupt("chunk ends before it starts");
      if (shared > prev_key.size()) return Corrupt("chunk key shares more than the previous key");
      prev_key.resize(shared);
      prev_key.append(rest);
      if (prev_key.empty()) return Corrupt("empty chunk key");
      c.key = prev_key;
      c.fingerprint = fingerprint;
      prev_from = from;
    }
    file.series.push_back(std::move(series));
  }
  if (!r.empty()) return Corrupt("trailing bytes");
  return file;
}

}  // namespace sluice::storage::index
