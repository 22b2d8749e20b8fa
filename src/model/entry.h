#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/labels.h"

namespace sluice::model {

// One log line. `metadata` is Loki's structured metadata: per-entry label pairs that are
// stored with the line but are not part of the stream's identity.
struct Entry {
  int64_t timestamp_ns = 0;
  std::string line;
  std::vector<Label> metadata;
  // Set by a log query's pipeline only, never stored: the labels its stages added (parsers,
  // label_format) and the error labels, sorted by name; Loki's Entry.Parsed. After a pipeline
  // with stages, `metadata` is likewise what is left of it (not dropped, not overridden).
  // (Initialized here so brace lists may stop before it without -Wmissing-field-initializers.)
  std::vector<Label> parsed = {};

  bool operator==(const Entry&) const = default;
};

// A stream's labels together with some of its entries, as pushed or as queried.
struct Stream {
  LabelSet labels;
  std::vector<Entry> entries;
};

// An entry that borrows its bytes: the write path carries these from the decoded request to
// the head and the WAL, so a line is copied only into those two.
struct EntryView {
  int64_t timestamp_ns = 0;
  std::string_view line;
  std::span<const Label> metadata;

  static EntryView Of(const Entry& e) { return {e.timestamp_ns, e.line, e.metadata}; }
};

// A decoded push request: what the distributor validates and the ingester appends. Its views
// point into `storage` (the decompressed body, or the JSON parser's strings) and `owned` (the
// rare bytes that had to be rewritten); moving the request keeps them valid.
struct PushRequest {
  // Labels are kept as the raw text the client sent; the distributor parses and validates
  // them (so one bad stream is reported without failing the others).
  struct RawStream {
    std::string_view labels;
    std::vector<EntryView> entries;
  };
  std::vector<RawStream> streams;

  std::shared_ptr<void> storage;
  // Elements of a deque never move, so views into them stay valid as it grows.
  std::deque<std::string> owned;
  std::deque<std::vector<Label>> owned_metadata;

  std::string_view Own(std::string s) { return owned.emplace_back(std::move(s)); }
};

enum class Direction : uint8_t { kForward, kBackward };

}  // namespace sluice::model
