#pragma once

// Reading compressed blocks for queries: one stream's blocks, in time order, through
// BlockReader with the query's read options (required literals, timestamps only,
// statistics). Shared by the chunk store (a chunk's blocks) and the ingester (a cut block).
//
// Timestamps-only reads (ReadOptions::lines_needed == false) keep iter::EntryIterator's promise
// that an entry comes back without its line only when no other entry of the iterator has its
// timestamp: a merge may then have to compare it with another source's entry (it calls
// LoadLine() while the entry is current), but never with an entry of the same iterator it has
// already moved past. Each block is read twice for that: its timestamps first, then, only for
// entries a merge may compare, the lines.

#include <cstdint>
#include <memory>
#include <vector>

#include "chunk/block.h"
#include "iter/iterator.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::chunk {

// The entries of `blocks` (time ordered: blocks[i].max_ts <= blocks[i+1].min_ts) with
// from_ns <= ts < through_ns, in `dir` order. Blocks outside the range are never read.
// REQUIRES: `owner` keeps every block and *labels alive; the pointers in `options` outlive the
// iterator.
iter::EntryIteratorPtr NewBlocksIterator(std::shared_ptr<const void> owner,
                                         std::vector<const Block*> blocks,
                                         const model::LabelSet* labels, int64_t from_ns,
                                         int64_t through_ns, model::Direction dir,
                                         const ReadOptions& options = {});

}  // namespace sluice::chunk
