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

  // Timestamps-only reads (read::SelectRequest::lines_needed == false) may return entries
  // whose line is not loaded: LineLoaded() is false until LoadLine() fills At().line. Their
  // structured metadata is always there (it labels a metric sample; a source that stores it
  // with the line loads the line for the few entries that have metadata). Consumers that compare
  // lines (a merge dropping duplicates at equal timestamps) call LoadLine() first. An iterator
  // returns an entry without its line only when none of its other entries has that timestamp, so a
  // merge never needs the line of an entry it has moved past. Wrappers forward both; iterators that
  // always load lines keep these defaults. REQUIRES (both): as At().
  virtual bool LineLoaded() const { return true; }
  virtual Status LoadLine() { return Status::OK(); }
};
using EntryIteratorPtr = std::unique_ptr<EntryIterator>;

// Base for wrappers: passes every call through to the wrapped iterator (deferred lines
// included, so no wrapper can forget them). Subclasses override what they change.
class ForwardingIterator : public EntryIterator {
 public:
  explicit ForwardingIterator(EntryIteratorPtr inner) : inner_(std::move(inner)) {}
  bool Next() override { return inner_->Next(); }
  const model::Entry& At() const override { return inner_->At(); }
  const model::LabelSet& Labels() const override { return inner_->Labels(); }
  Status Error() const override { return inner_->Error(); }
  bool LineLoaded() const override { return inner_->LineLoaded(); }
  Status LoadLine() override { return inner_->LoadLine(); }

 protected:
  EntryIteratorPtr inner_;
};

}  // namespace sluice::iter
