#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/labels.h"

namespace sluice::model {

// One log line. `metadata` is Loki's structured metadata: per-entry label pairs that are
// stored with the line but are not part of the stream's identity.
struct Entry {
  int64_t timestamp_ns = 0;
  std::string line;
  std::vector<Label> metadata;

  bool operator==(const Entry&) const = default;
};

// A stream's labels together with some of its entries, as pushed or as queried.
struct Stream {
  LabelSet labels;
  std::vector<Entry> entries;
};

// A decoded push request: what the distributor validates and the ingester appends.
struct PushRequest {
  // Labels are kept as the raw text the client sent; the distributor parses and validates
  // them (so one bad stream is reported without failing the others).
  struct RawStream {
    std::string labels;
    std::vector<Entry> entries;
  };
  std::vector<RawStream> streams;
};

enum class Direction : uint8_t { kForward, kBackward };

}  // namespace sluice::model
