#pragma once

// The write path's interface: what the distributor hands the ingester. In the single binary the
// ingester implements Pusher directly; a scaled-out distributor implements it with an RPC
// client. Below both, so neither depends on the other.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::write {

// A stream's labels parsed once: agents send the same label text request after request, so
// the distributor parses, sorts, prints and fingerprints each distinct text once and shares it.
struct StreamLabels {
  model::LabelSet labels;
  std::string text;  // labels.ToString()
  uint64_t fingerprint = 0;

  static std::shared_ptr<const StreamLabels> Make(model::LabelSet labels);
};

// A stream that passed validation: labels parsed, sorted and checked. The entries borrow from
// the push request, which outlives Pusher::Push.
struct ValidatedStream {
  std::shared_ptr<const StreamLabels> labels;
  std::vector<model::EntryView> entries;

  const std::string& labels_text() const { return labels->text; }
  uint64_t fingerprint() const { return labels->fingerprint; }
};

class Pusher {
 public:
  virtual ~Pusher() = default;
  // Appends the streams durably (WAL) before returning OK. Entries the ingester refuses (stream
  // limit, per-stream rate, out of order) are reported in the returned error; the others are kept.
  // On return each stream's `entries` holds the entries stored by this call (refused and
  // duplicate ones removed), which is what a tee behind it (pattern::TeePusher) reads.
  virtual Status Push(std::string_view tenant, std::vector<ValidatedStream>& streams) = 0;

  // The same push, its streams already encoded in the write path's wire format
  // (write/push_wire.h): `encoded` are pieces of a logproto.PushRequest, whole fields each, whose
  // concatenation is the request. The replicating distributor encodes a push once and hands the
  // same bytes to every replica. A remote pusher sends them as they are; the default decodes
  // them and calls Push (malformed bytes are InvalidArgument). The bytes are borrowed for the call.
  virtual Status PushEncoded(std::string_view tenant, std::span<const std::string_view> encoded);
};

// Loki's grouping of several errors: identical messages counted, groups joined by "; ".
class ErrorCollector {
 public:
  void Add(const Status& status);
  bool empty() const { return groups_.empty(); }
  // The combined error; its code is the first error's code.
  Status ToStatus() const;

 private:
  std::vector<std::pair<std::string, int>> groups_;
  StatusCode first_code_ = StatusCode::kOk;
};

}  // namespace sluice::write
