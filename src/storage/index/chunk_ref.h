#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/labels.h"

namespace sluice::storage::index {

// Where one flushed chunk of one series lives, and what time range it covers.
struct ChunkRef {
  uint64_t fingerprint = 0;  // Series fingerprint: model::LabelSet::Fingerprint() of its labels.
  int64_t from_ns = 0;       // Inclusive min entry timestamp.
  int64_t through_ns = 0;    // Inclusive max entry timestamp; >= from_ns.
  uint32_t num_entries = 0;
  uint64_t raw_bytes = 0;     // Uncompressed line bytes.
  uint64_t stored_bytes = 0;  // Size of the chunk object.
  std::string key;            // Object key of the chunk; unique per chunk, the dedup key.

  bool Overlaps(int64_t from, int64_t through) const {
    return from_ns <= through && through_ns >= from;
  }
  bool operator==(const ChunkRef&) const = default;
};

struct SeriesChunks {
  model::LabelSet labels;
  std::vector<ChunkRef> chunks;
  bool operator==(const SeriesChunks&) const = default;
};

// The index is split into 24h periods by day number (Unix time in days, rounded down), one folder
// of immutable index objects per (period, tenant):
//
//   index/<period>/<tenant>/<writer_id>-<unix_ns>-<seq>.idx
inline constexpr int64_t kPeriodNanos = 86400LL * 1'000'000'000;

inline int64_t PeriodOf(int64_t ts_ns) {
  int64_t q = ts_ns / kPeriodNanos;
  return (ts_ns % kPeriodNanos < 0) ? q - 1 : q;  // Floor, so pre-1970 times get their own days.
}
inline int64_t PeriodStart(int64_t period) { return period * kPeriodNanos; }

// "index/<period>/<tenant>/": the folder List()ed to find a period's index objects.
// REQUIRES: tenant passed model::ValidateTenantId (a safe single path component).
std::string PeriodPrefix(std::string_view tenant, int64_t period);

}  // namespace sluice::storage::index
