#pragma once

// Helpers shared by the chunk subsystem's tests (block_test.cc, chunk_test.cc).

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "chunk/block.h"
#include "common/checksum.h"
#include "iter/iterator.h"
#include "model/entry.h"

namespace sluice::chunk::testutil {

// n entries from start_ts, with repeated timestamps, empty lines and structured metadata
// sprinkled in. Lines never contain the chunk magic "SLCK", so truncation tests stay exact.
inline std::vector<model::Entry> MakeEntries(size_t n, int64_t start_ts, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<model::Entry> out;
  int64_t ts = start_ts;
  for (size_t i = 0; i < n; ++i) {
    if (rng() % 3 != 0) {
      ts += 1 + rng() % 1000;  // else: the same timestamp as the previous entry
    }
    model::Entry e;
    e.timestamp_ns = ts;
    if (rng() % 7 != 0) {
      e.line = "line " + std::to_string(i) + " msg=hello user=" + std::to_string(rng() % 100);
    }
    if (rng() % 4 == 0) {
      e.metadata.push_back({"trace_id", std::to_string(rng())});
      if (rng() % 2 == 0) {
        e.metadata.push_back({"empty", ""});
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

inline Block BuildBlock(const std::vector<model::Entry>& entries, Codec codec) {
  BlockBuilder b;
  for (const auto& e : entries) {
    b.Append(e.timestamp_ns, e.line, e.metadata);
  }
  return b.Finish(codec);
}

// Recomputes both section crcs after a test edited a block's bytes, so that what is tested
// is the decoder's handling of the (hostile) content rather than the crc check.
inline void Reseal(Block* b) {
  b->heads_crc32 = Crc32(b->heads_data());
  b->lines_crc32 = Crc32(b->lines_data());
}

struct Collected {
  std::vector<model::Entry> entries;
  Status status;
};

inline Collected Collect(iter::EntryIterator* it) {
  Collected c;
  while (it->Next()) {
    c.entries.push_back(it->At());
  }
  c.status = it->Error();
  return c;
}

// What an iterator over `all` (in append order) must return.
inline std::vector<model::Entry> Expected(const std::vector<model::Entry>& all, int64_t from,
                                          int64_t through, model::Direction dir) {
  std::vector<model::Entry> out;
  for (const auto& e : all) {
    if (e.timestamp_ns >= from && e.timestamp_ns < through) {
      out.push_back(e);
    }
  }
  if (dir == model::Direction::kBackward) {
    std::reverse(out.begin(), out.end());
  }
  return out;
}

}  // namespace sluice::chunk::testutil
