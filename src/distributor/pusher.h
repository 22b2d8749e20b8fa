#pragma once

// The seam between the distributor and the ingester: in the single binary the ingester
// implements Pusher directly; a scaled-out distributor implements it with an RPC client.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::distributor {

// A stream that passed validation: labels parsed, sorted and checked.
struct ValidatedStream {
  model::LabelSet labels;
  std::string labels_text;  // labels.ToString(), computed once
  uint64_t fingerprint = 0;
  std::vector<model::Entry> entries;
};

class Pusher {
 public:
  virtual ~Pusher() = default;
  // Appends the streams durably (WAL) before returning OK. Entries the ingester refuses (stream
  // limit, per-stream rate, out of order) are reported in the returned error; the others are kept.
  virtual Status Push(std::string_view tenant, std::vector<ValidatedStream>& streams) = 0;
};

}  // namespace sluice::distributor
