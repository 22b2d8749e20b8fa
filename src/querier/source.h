#pragma once

// Where a query's data comes from. The querier asks every source (the ingester's memory, the
// chunk store) the same questions and merges the answers; each source owns its locking and
// returns iterators that stay valid after the call returns.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunk/block.h"
#include "common/status.h"
#include "iter/iterator.h"
#include "model/entry.h"
#include "model/matcher.h"

namespace sluice::querier {

struct SelectParams {
  std::string tenant;
  std::vector<model::LabelMatcher> matchers = {};
  int64_t from_ns = 0;     // inclusive
  int64_t through_ns = 0;  // exclusive
  model::Direction direction = model::Direction::kBackward;
  // False: the consumer reads only timestamps, so iterators may leave lines unloaded (see
  // iter::EntryIterator::LineLoaded) and sources may skip decompressing them.
  bool lines_needed = true;
  // Literals every line the consumer keeps must contain (from leading `|=` filters). Sources
  // may skip blocks and entries without them; the pipeline still applies the filters.
  std::vector<std::string> required_literals = {};
  // Where block readers count blocks read and skipped (nullable); not synchronised: the
  // iterators are read on one thread. REQUIRES: outlives the returned iterators.
  chunk::BlockStats* block_stats = nullptr;
};

class LogSource {
 public:
  virtual ~LogSource() = default;
  // One iterator per matching stream (or a few), each ordered in params.direction.
  // The iterators must not hold locks of the source.
  virtual Result<std::vector<iter::EntryIteratorPtr>> SelectLogs(const SelectParams& params) = 0;
  // Streams (label sets) matching the matchers with data in [from, through).
  virtual Result<std::vector<model::LabelSet>> Series(const SelectParams& params) = 0;
  virtual Result<std::vector<std::string>> LabelNames(const SelectParams& params) = 0;
  virtual Result<std::vector<std::string>> LabelValues(const SelectParams& params, std::string_view name) = 0;
};

}  // namespace sluice::querier
