#pragma once

// Pull-based iterators: the query path is composed of these (chunk blocks, in-memory
// streams, merges, filters), so memory stays bounded and a `limit` stops work early.
//
//   while (it->Next()) { use(it->At(), it->Labels()); }
//   if (!it->Error().ok()) ...
//
// At() and Labels() stay valid until the next call to Next().

#include <memory>

#include "common/status.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::iter {

class EntryIterator {
 public:
  virtual ~EntryIterator() = default;
  // Advances; false at the end or on error (then Error() says which).
  virtual bool Next() = 0;
  // REQUIRES: the last Next() returned true.
  virtual const model::Entry& At() const = 0;
  // The labels of the stream At() belongs to. REQUIRES: as At().
  virtual const model::LabelSet& Labels() const = 0;
  virtual Status Error() const { return Status::OK(); }
};
using EntryIteratorPtr = std::unique_ptr<EntryIterator>;

}  // namespace sluice::iter
