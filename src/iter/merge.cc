#include "iter/merge.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/check.h"

namespace sluice::iter {

bool MergeIterator::HeapOrder::operator()(const Source* a, const Source* b) const {
  // std::priority_queue keeps the "largest" on top: invert so the next entry in the
  // iteration's direction is there.
  int64_t ta = a->it->At().timestamp_ns, tb = b->it->At().timestamp_ns;
  return forward ? ta > tb : ta < tb;
}

MergeIterator::MergeIterator(std::vector<EntryIteratorPtr> iterators, model::Direction direction)
    : direction_(direction), heap_(HeapOrder{direction == model::Direction::kForward}) {
  sources_.reserve(iterators.size());
  for (auto& it : iterators) {
    if (it) sources_.push_back(Source{std::move(it), nullptr});
  }
}

bool MergeIterator::Advance(Source* src) {
  if (src->it->Next()) {
    heap_.push(src);
    return true;
  }
  Status st = src->it->Error();
  if (!st.ok()) {
    status_ = std::move(st);
    return false;
  }
  return true;
}

bool MergeIterator::FillBatch() {
  batch_.clear();
  pos_ = 0;
  if (deferred_ != nullptr) {
    Source* src = deferred_;
    deferred_ = nullptr;
    if (!Advance(src)) return false;
  }
  if (heap_.empty()) return false;
  const int64_t ts = heap_.top()->it->At().timestamp_ns;
  popped_.clear();
  while (!heap_.empty() && heap_.top()->it->At().timestamp_ns == ts) {
    popped_.push_back(heap_.top());
    heap_.pop();
  }
  // Entries sharing a timestamp keep their write order (Loki does the same): sources are given
  // oldest first, and each source yields its own entries in the iteration's direction, so
  // forward reads the sources in the order given and backward in reverse.
  const bool forward = direction_ == model::Direction::kForward;
  std::sort(popped_.begin(), popped_.end(),
            [forward](const Source* a, const Source* b) { return forward ? a < b : a > b; });
  // Lines are compared only among entries of several sources: a source's entries that share
  // a timestamp come with their lines (see EntryIterator::LineLoaded).
  const bool compare = popped_.size() > 1;
  for (Source* src : popped_) {
    // A source's entries at one timestamp are consecutive; take them all.
    bool more = true;
    while (more && src->it->At().timestamp_ns == ts) {
      const model::LabelSet& labels = src->it->Labels();
      if (!src->labels || !(*src->labels == labels)) {
        src->labels = std::make_shared<const model::LabelSet>(labels);
      }
      if (!src->it->LineLoaded()) {
        if (!compare) {
          // The only entry at this timestamp: leave the source on it, so LoadLine() can still
          // reach its line, and advance it on the next FillBatch.
          batch_.push_back(Item{src->labels, src->it->At()});
          deferred_ = src;
          return true;
        }
        Status st = src->it->LoadLine();
        if (!st.ok()) {
          status_ = std::move(st);
          batch_.clear();
          return false;
        }
      }
      batch_.push_back(Item{src->labels, src->it->At()});
      more = src->it->Next();
    }
    if (more) {
      heap_.push(src);
    } else {
      Status st = src->it->Error();
      if (!st.ok()) {
        status_ = std::move(st);
        batch_.clear();
        return false;
      }
    }
  }
  if (batch_.size() > 1) {
    // Streams in label order (for a deterministic result); within a stream the read order stays.
    auto by_labels = [forward](const Item& a, const Item& b) {
      if (a.labels == b.labels || *a.labels == *b.labels) return false;
      return forward ? *a.labels < *b.labels : *b.labels < *a.labels;
    };
    std::stable_sort(batch_.begin(), batch_.end(), by_labels);
    // Drop exact duplicates (same stream, timestamp and line): the first one read is kept.
    // A small group is scanned; a big one (thousands of lines in one nanosecond) gets a hash set.
    constexpr size_t kScanLimit = 32;
    size_t out = 0;
    size_t group_start = 0;
    seen_.clear();
    for (size_t i = 0; i < batch_.size(); ++i) {
      Item& cur = batch_[i];
      const Item& first = batch_[group_start];
      if (out > group_start && !(first.labels == cur.labels || *first.labels == *cur.labels)) {
        group_start = out;
        seen_.clear();
      }
      bool duplicate = false;
      if (out - group_start <= kScanLimit) {
        for (size_t k = group_start; k < out && !duplicate; ++k)
          duplicate = batch_[k].entry.line == cur.entry.line;
      } else {
        if (seen_.empty()) {
          for (size_t k = group_start; k < out; ++k) seen_.insert(batch_[k].entry.line);
        }
        duplicate = seen_.contains(cur.entry.line);
      }
      if (!duplicate && !seen_.empty()) seen_.insert(cur.entry.line);
      if (duplicate) {
        ++duplicates_;
        continue;
      }
      if (out != i) batch_[out] = std::move(cur);
      ++out;
    }
    batch_.resize(out);
  }
  return true;
}

bool MergeIterator::Next() {
  if (!status_.ok()) return false;
  if (!started_) {
    started_ = true;
    for (auto& src : sources_) {
      if (!Advance(&src)) return false;
    }
  }
  if (pos_ < batch_.size()) {
    ++pos_;
    return true;
  }
  deferred_loaded_ = false;
  if (!FillBatch()) return false;
  pos_ = 1;
  return true;
}

const model::Entry& MergeIterator::At() const {
  SLUICE_CHECK(pos_ > 0 && pos_ <= batch_.size());
  return batch_[pos_ - 1].entry;
}

bool MergeIterator::LineLoaded() const {
  SLUICE_CHECK(pos_ > 0 && pos_ <= batch_.size());
  return deferred_ == nullptr || deferred_loaded_;
}

Status MergeIterator::LoadLine() {
  if (LineLoaded()) return Status::OK();
  SLUICE_RETURN_IF_ERROR(deferred_->it->LoadLine());
  model::Entry& e = batch_[pos_ - 1].entry;
  e.line = deferred_->it->At().line;
  e.metadata = deferred_->it->At().metadata;
  deferred_loaded_ = true;
  return Status::OK();
}

const model::LabelSet& MergeIterator::Labels() const {
  SLUICE_CHECK(pos_ > 0 && pos_ <= batch_.size());
  return *batch_[pos_ - 1].labels;
}

EntryIteratorPtr NewMergeIterator(std::vector<EntryIteratorPtr> iterators,
                                  model::Direction direction) {
  return std::make_unique<MergeIterator>(std::move(iterators), direction);
}

// Yields an iterator's current entry (already read by Next()) first, then the rest. With
// `dedupe`, drops exact duplicates (same timestamp and line) as MergeIterator does within a
// stream: lines at the current timestamp are kept in reused buffers to compare against.
class StreamOrderedIterator::Primed final : public EntryIterator {
 public:
  Primed(EntryIteratorPtr it, bool dedupe) : it_(std::move(it)), dedupe_(dedupe) {}

  bool Next() override {
    if (primed_) {
      primed_ = false;
      if (dedupe_) Remember();
      return true;
    }
    while (it_->Next()) {
      if (!dedupe_) return true;
      if (IsDuplicate()) {
        ++duplicates_;
        continue;
      }
      Remember();
      return true;
    }
    return false;
  }
  const model::Entry& At() const override { return it_->At(); }
  const model::LabelSet& Labels() const override { return it_->Labels(); }
  Status Error() const override { return it_->Error(); }
  bool LineLoaded() const override { return it_->LineLoaded(); }
  Status LoadLine() override { return it_->LoadLine(); }

  uint64_t duplicates() const { return duplicates_; }

 private:
  // An entry without its line has a timestamp no other entry of the iterator shares (see
  // EntryIterator::LineLoaded): it is no duplicate and none will be compared with it.
  bool IsDuplicate() const {
    const model::Entry& e = it_->At();
    if (count_ == 0 || e.timestamp_ns != ts_ || !it_->LineLoaded()) return false;
    for (size_t i = 0; i < count_; ++i) {
      if (lines_[i] == e.line) return true;
    }
    return false;
  }
  void Remember() {
    const model::Entry& e = it_->At();
    if (count_ == 0 || e.timestamp_ns != ts_) {
      ts_ = e.timestamp_ns;
      count_ = 0;
    }
    if (!it_->LineLoaded()) return;
    if (count_ == lines_.size()) lines_.emplace_back();
    lines_[count_++].assign(e.line);
  }

  EntryIteratorPtr it_;
  bool dedupe_;
  bool primed_ = true;
  int64_t ts_ = 0;
  std::vector<std::string> lines_;  // lines_[0, count_) were read at ts_
  size_t count_ = 0;
  uint64_t duplicates_ = 0;
};

StreamOrderedIterator::StreamOrderedIterator(std::vector<EntryIteratorPtr> iterators,
                                             model::Direction direction)
    : direction_(direction), pending_(std::move(iterators)) {}

bool StreamOrderedIterator::Start() {
  started_ = true;
  std::vector<EntryIteratorPtr> live;
  live.reserve(pending_.size());
  for (auto& it : pending_) {
    if (!it) continue;
    if (it->Next()) {
      live.push_back(std::move(it));
      continue;
    }
    Status st = it->Error();
    if (!st.ok()) {
      status_ = std::move(st);
      pending_.clear();
      return false;
    }
  }
  pending_.clear();
  // Stable: equal streams keep the order given (oldest source first), which the merge of a
  // stream's sub-iterators relies on for entries that share a timestamp.
  const bool forward = direction_ == model::Direction::kForward;
  std::stable_sort(live.begin(), live.end(), [forward](const auto& a, const auto& b) {
    return forward ? a->Labels() < b->Labels() : b->Labels() < a->Labels();
  });
  size_t start = 0;
  while (start < live.size()) {
    size_t end = start + 1;
    while (end < live.size() && live[end]->Labels() == live[start]->Labels()) ++end;
    if (end - start == 1) {
      auto single = std::make_unique<Primed>(std::move(live[start]), /*dedupe=*/true);
      singles_.push_back(single.get());
      streams_.push_back(std::move(single));
      merges_.push_back(nullptr);
    } else {
      std::vector<EntryIteratorPtr> group;
      for (size_t i = start; i < end; ++i) {
        group.push_back(std::make_unique<Primed>(std::move(live[i]), /*dedupe=*/false));
      }
      auto merge = std::make_unique<MergeIterator>(std::move(group), direction_);
      merges_.push_back(merge.get());
      singles_.push_back(nullptr);
      streams_.push_back(std::move(merge));
    }
    start = end;
  }
  return true;
}

bool StreamOrderedIterator::Next() {
  if (!status_.ok()) return false;
  if (!started_ && !Start()) return false;
  while (true) {
    if (current_ != nullptr) {
      if (current_->Next()) return true;
      Status st = current_->Error();
      if (!st.ok()) {
        status_ = std::move(st);
        current_ = nullptr;
        return false;
      }
      // Release the finished stream (and the chunks it holds) before opening the next.
      if (merges_[next_ - 1] != nullptr) {
        released_duplicates_ += merges_[next_ - 1]->duplicates();
        merges_[next_ - 1] = nullptr;
      }
      if (singles_[next_ - 1] != nullptr) {
        released_duplicates_ += singles_[next_ - 1]->duplicates();
        singles_[next_ - 1] = nullptr;
      }
      streams_[next_ - 1].reset();
      current_ = nullptr;
    }
    if (next_ >= streams_.size()) return false;
    current_ = streams_[next_++].get();
  }
}

uint64_t StreamOrderedIterator::duplicates() const {
  uint64_t n = released_duplicates_;
  for (const MergeIterator* m : merges_) {
    if (m != nullptr) n += m->duplicates();
  }
  for (const Primed* p : singles_) {
    if (p != nullptr) n += p->duplicates();
  }
  return n;
}

namespace {

class VectorIterator final : public EntryIterator {
 public:
  VectorIterator(model::LabelSet labels, std::vector<model::Entry> entries,
                 model::Direction direction)
      : labels_(std::move(labels)),
        entries_(std::move(entries)),
        forward_(direction == model::Direction::kForward) {}

  bool Next() override {
    if (next_ >= entries_.size()) return false;
    cur_ = forward_ ? next_ : entries_.size() - 1 - next_;
    ++next_;
    return true;
  }
  const model::Entry& At() const override { return entries_[cur_]; }
  const model::LabelSet& Labels() const override { return labels_; }

 private:
  model::LabelSet labels_;
  std::vector<model::Entry> entries_;
  bool forward_;
  size_t next_ = 0;  // entries returned so far
  size_t cur_ = 0;
};

class TimeRangeIterator final : public ForwardingIterator {
 public:
  TimeRangeIterator(EntryIteratorPtr it, int64_t from, int64_t through, model::Direction direction)
      : ForwardingIterator(std::move(it)),
        from_(from),
        through_(through),
        forward_(direction == model::Direction::kForward) {}

  bool Next() override {
    while (!done_ && inner_->Next()) {
      int64_t ts = inner_->At().timestamp_ns;
      if (forward_) {
        if (ts >= through_) break;
        if (ts < from_) continue;
      } else {
        if (ts < from_) break;
        if (ts >= through_) continue;
      }
      return true;
    }
    done_ = true;
    return false;
  }

 private:
  int64_t from_, through_;
  bool forward_;
  bool done_ = false;
};

class LimitIterator final : public ForwardingIterator {
 public:
  LimitIterator(EntryIteratorPtr it, uint64_t limit)
      : ForwardingIterator(std::move(it)), limit_(limit) {}

  bool Next() override {
    if (limit_ != 0 && count_ >= limit_) return false;
    if (!inner_->Next()) return false;
    ++count_;
    return true;
  }

 private:
  uint64_t limit_;
  uint64_t count_ = 0;
};

// Adds (or replaces) one label on every entry. With `one_stream` the input is known to be a single
// stream, so the output labels are built once; otherwise they are rebuilt when the input's change.
class LabelAddingIterator final : public ForwardingIterator {
 public:
  LabelAddingIterator(EntryIteratorPtr it, std::string name, std::string value, bool one_stream)
      : ForwardingIterator(std::move(it)),
        name_(std::move(name)),
        value_(std::move(value)),
        one_stream_(one_stream) {}

  bool Next() override {
    if (!inner_->Next()) return false;
    const model::LabelSet& in = inner_->Labels();
    if (valid_ && (one_stream_ || in == source_)) return true;
    if (!one_stream_) source_ = in;
    std::vector<model::Label> labels;
    labels.reserve(in.size() + 1);
    for (const auto& l : in.labels()) {
      if (l.name != name_) labels.push_back(l);
    }
    labels.push_back(model::Label{name_, value_});
    out_ = model::LabelSet(std::move(labels));
    valid_ = true;
    return true;
  }
  const model::LabelSet& Labels() const override { return out_; }

 private:
  std::string name_, value_;
  bool one_stream_;
  bool valid_ = false;
  model::LabelSet source_;  // the input labels out_ was built from (unused with one_stream_)
  model::LabelSet out_;
};

}  // namespace

EntryIteratorPtr NewStreamLabelAddingIterator(EntryIteratorPtr it, std::string name,
                                              std::string value) {
  return std::make_unique<LabelAddingIterator>(std::move(it), std::move(name), std::move(value),
                                               /*one_stream=*/true);
}

EntryIteratorPtr NewVectorIterator(model::LabelSet labels,
                                   std::vector<model::Entry> entries_sorted_ascending,
                                   model::Direction direction) {
  return std::make_unique<VectorIterator>(std::move(labels), std::move(entries_sorted_ascending),
                                          direction);
}

EntryIteratorPtr NewTimeRangeIterator(EntryIteratorPtr it, int64_t from_ns, int64_t through_ns,
                                      model::Direction direction) {
  return std::make_unique<TimeRangeIterator>(std::move(it), from_ns, through_ns, direction);
}

EntryIteratorPtr NewLimitIterator(EntryIteratorPtr it, uint64_t limit) {
  return std::make_unique<LimitIterator>(std::move(it), limit);
}

EntryIteratorPtr NewLabelAddingIterator(EntryIteratorPtr it, std::string name, std::string value) {
  return std::make_unique<LabelAddingIterator>(std::move(it), std::move(name), std::move(value),
                                               /*one_stream=*/false);
}

Result<std::vector<CollectedEntry>> Collect(EntryIterator* it) {
  std::vector<CollectedEntry> out;
  while (it->Next()) out.push_back(CollectedEntry{it->Labels(), it->At()});
  SLUICE_RETURN_IF_ERROR(it->Error());
  return out;
}

}  // namespace sluice::iter
