#pragma once

// Iterators that combine and trim other iterators: the heap merge (with exact-duplicate
// removal), an in-memory vector iterator, and time-range / limit wrappers.
//
// Ordering of a merged result, fixed so that the same data always gives the same answer
// whichever source an entry came from:
//   forward:  timestamp ascending, then stream labels ascending, then line ascending;
//   backward: the exact reverse (timestamp, labels, line all descending).

#include <cstdint>
#include <memory>
#include <queue>
#include <unordered_set>
#include <vector>

#include "iter/iterator.h"
#include "model/entry.h"
#include "model/labels.h"

namespace sluice::iter {

// Heap merge of iterators that are each ordered by timestamp in `direction`. Drops exact
// duplicates: entries with the same stream labels, timestamp and line (the same entry from
// the ingester's memory and a flushed chunk, or from replicas); the first one seen is kept,
// with its structured metadata.
//
// All entries that share the merge's current timestamp are buffered (copied) to sort and
// de-duplicate them, so memory is bounded by the largest group of equal timestamps, not the
// result size. Sub-iterators are advanced lazily: one that is never reached is never read
// beyond its first entry.
//
// Ends at the first sub-iterator error (reported by Error()). Not thread-safe.
class MergeIterator final : public EntryIterator {
 public:
  MergeIterator(std::vector<EntryIteratorPtr> iterators, model::Direction direction);

  bool Next() override;
  const model::Entry& At() const override;
  const model::LabelSet& Labels() const override;
  Status Error() const override { return status_; }
  bool LineLoaded() const override;
  Status LoadLine() override;

  // Entries dropped as duplicates so far.
  uint64_t duplicates() const { return duplicates_; }

 private:
  struct Source {
    EntryIteratorPtr it;
    // A copy of it->Labels(), refreshed only when the labels change, shared with the buffered
    // entries taken from this source.
    std::shared_ptr<const model::LabelSet> labels;
  };
  struct Item {
    std::shared_ptr<const model::LabelSet> labels;
    model::Entry entry;
  };
  struct HeapOrder {
    bool forward;
    bool operator()(const Source* a, const Source* b) const;
  };

  // Advances `src` and pushes it back on the heap if it has an entry; false on error.
  bool Advance(Source* src);
  // Fills batch_ with every entry at the next timestamp, sorted and de-duplicated.
  bool FillBatch();

  model::Direction direction_;
  std::vector<Source> sources_;
  std::priority_queue<Source*, std::vector<Source*>, HeapOrder> heap_;
  bool started_ = false;
  std::vector<Item> batch_;
  std::vector<Source*> popped_;           // scratch for FillBatch
  std::unordered_set<std::string> seen_;  // lines of a large same-timestamp group
  // The source of the current entry when it is the only one at its timestamp and came without
  // its line: left on that entry until the next FillBatch, so LoadLine() can reach it.
  Source* deferred_ = nullptr;
  bool deferred_loaded_ = false;
  size_t pos_ = 0;  // batch_[pos_ - 1] is the current entry
  uint64_t duplicates_ = 0;
  Status status_;
};

EntryIteratorPtr NewMergeIterator(std::vector<EntryIteratorPtr> iterators,
                                  model::Direction direction);

// The entries of many streams, one stream after the other instead of in global time order:
// streams in label order (ascending forward, descending backward), each stream's sub-iterators
// (the ones with equal labels: memory blocks, head, flushed chunks) heap-merged with the same
// duplicate removal as MergeIterator. Consumers that evaluate each stream on its own (a range
// aggregation) get every entry of the merged result without paying for a global heap over all
// streams. Within one timestamp, streams come in the same order as in MergeIterator's result.
//
// REQUIRES: each sub-iterator yields the entries of one stream (constant labels), ordered by
// timestamp in `direction`; sub-iterators are given oldest source first, as for MergeIterator.
// Every sub-iterator is read up to its first entry on the first Next(), as MergeIterator does.
class StreamOrderedIterator final : public EntryIterator {
 public:
  StreamOrderedIterator(std::vector<EntryIteratorPtr> iterators, model::Direction direction);

  bool Next() override;
  const model::Entry& At() const override { return current_->At(); }
  const model::LabelSet& Labels() const override { return current_->Labels(); }
  Status Error() const override { return status_; }
  bool LineLoaded() const override { return current_->LineLoaded(); }
  Status LoadLine() override { return current_->LoadLine(); }

  // Entries dropped as duplicates so far.
  uint64_t duplicates() const;

 private:
  class Primed;
  bool Start();

  model::Direction direction_;
  std::vector<EntryIteratorPtr> pending_;     // until Start()
  std::vector<EntryIteratorPtr> streams_;     // one per stream, in output order
  std::vector<const MergeIterator*> merges_;  // by stream; nullptr when not merged
  std::vector<const Primed*> singles_;        // by stream; nullptr when merged
  uint64_t released_duplicates_ = 0;          // of the streams already released
  size_t next_ = 0;
  EntryIterator* current_ = nullptr;
  bool started_ = false;
  Status status_;
};

// One stream's entries held in memory. REQUIRES: entries sorted by timestamp ascending (entries
// with equal timestamps keep their order forward and are reversed backward).
EntryIteratorPtr NewVectorIterator(model::LabelSet labels,
                                   std::vector<model::Entry> entries_sorted_ascending,
                                   model::Direction direction);

// Only the entries with from_ns <= ts < through_ns. Stops early once past the range in the
// iteration's direction, so it also bounds how far a lazy source is read.
EntryIteratorPtr NewTimeRangeIterator(EntryIteratorPtr it, int64_t from_ns, int64_t through_ns,
                                      model::Direction direction);

// At most `limit` entries (0 = unlimited).
EntryIteratorPtr NewLimitIterator(EntryIteratorPtr it, uint64_t limit);

// Adds (or replaces) the label `name`=`value` in every entry's stream labels: how a multi-tenant
// query marks each stream with its __tenant_id__.
EntryIteratorPtr NewLabelAddingIterator(EntryIteratorPtr it, std::string name, std::string value);

// The same for an iterator over one stream: the labels are built once, at the first entry.
// REQUIRES: `it` yields one stream (its labels never change).
EntryIteratorPtr NewStreamLabelAddingIterator(EntryIteratorPtr it, std::string name,
                                              std::string value);

// Reads an iterator to the end (tests and small in-memory results).
struct CollectedEntry {
  model::LabelSet labels;
  model::Entry entry;
};
Result<std::vector<CollectedEntry>> Collect(EntryIterator* it);

}  // namespace sluice::iter
