#include "chunk/blocks_iterator.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

namespace sluice::chunk {

namespace {

class BlocksIterator final : public iter::EntryIterator {
 public:
  BlocksIterator(std::shared_ptr<const void> owner, std::vector<const Block*> blocks,
                 const model::LabelSet* labels, int64_t from_ns, int64_t through_ns,
                 model::Direction dir, const ReadOptions& options)
      : owner_(std::move(owner)),
        labels_(labels),
        from_(from_ns),
        through_(through_ns),
        dir_(dir),
        options_(options) {
    for (size_t i = 0; i < blocks.size(); ++i) {
      const Block* b = blocks[i];
      if (b->max_ts < from_ns || b->min_ts >= through_ns) continue;
      // The timestamps the neighbours in time order end and start at: an entry there may have
      // a twin in the next block.
      int64_t before = i > 0 ? blocks[i - 1]->max_ts : std::numeric_limits<int64_t>::min();
      int64_t after =
          i + 1 < blocks.size() ? blocks[i + 1]->min_ts : std::numeric_limits<int64_t>::max();
      blocks_.push_back(Slot{b, before, after});
    }
    if (dir == model::Direction::kBackward) std::reverse(blocks_.begin(), blocks_.end());
    loader_options_ = options_;
    loader_options_.stats = nullptr;  // the block was counted on its first read
  }

  bool Next() override {
    if (!status_.ok()) return false;
    while (true) {
      if (open_) {
        if (options_.lines_needed) {
          if (reader_.Next()) return true;
          if (!reader_.status().ok()) return Fail(reader_.status());
        } else if (pos_ < ts_.size()) {
          cur_ = pos_++;
          entry_.timestamp_ns = ts_[cur_];
          entry_.line.clear();
          entry_.metadata.clear();
          loaded_ = false;
          if (must_load_[cur_] && !LoadCurrent()) return false;
          return true;
        }
        open_ = false;
      }
      if (next_ >= blocks_.size()) return false;
      if (!Open(blocks_[next_++])) return false;
    }
  }
  const model::Entry& At() const override {
    return options_.lines_needed ? reader_.entry() : entry_;
  }
  const model::LabelSet& Labels() const override { return *labels_; }
  Status Error() const override { return status_; }
  bool LineLoaded() const override { return options_.lines_needed || loaded_; }
  Status LoadLine() override {
    if (LineLoaded()) return Status::OK();
    LoadCurrent();
    return status_;
  }

 private:
  struct Slot {
    const Block* block;
    int64_t before, after;
  };

  bool Fail(Status st) {
    status_ = std::move(st);
    open_ = false;
    return false;
  }

  bool Open(const Slot& slot) {
    open_ = true;
    current_ = slot.block;
    reader_.Reset(slot.block, from_, through_, dir_, options_);
    if (options_.lines_needed) return true;
    ts_.clear();
    must_load_.clear();
    // The block reader loads the entries that carry structured metadata (it labels metric
    // samples): those are returned loaded too.
    while (reader_.Next()) {
      ts_.push_back(reader_.entry().timestamp_ns);
      must_load_.push_back(reader_.line_loaded());
    }
    if (!reader_.status().ok()) return Fail(reader_.status());
    for (size_t i = 0; i < ts_.size(); ++i) {
      must_load_[i] = must_load_[i] || ts_[i] == slot.before || ts_[i] == slot.after ||
                      (i > 0 && ts_[i] == ts_[i - 1]) ||
                      (i + 1 < ts_.size() && ts_[i] == ts_[i + 1]);
    }
    pos_ = 0;
    loader_read_ = 0;
    loader_open_ = false;
    return true;
  }

  // Reads the current entry's line with a second reader over the same block, which moves
  // forward only: lines are asked for in iteration order.
  bool LoadCurrent() {
    if (!loader_open_) {
      loader_.Reset(current_, from_, through_, dir_, loader_options_);
      loader_open_ = true;
      loader_read_ = 0;
    }
    while (loader_read_ <= cur_) {
      if (!loader_.Next()) {
        return Fail(loader_.status().ok()
                        ? Status::Internal("block yielded fewer entries on its second read")
                        : loader_.status());
      }
      ++loader_read_;
    }
    Status st = loader_.LoadLine();
    if (!st.ok()) return Fail(std::move(st));
    entry_.line = loader_.entry().line;
    entry_.metadata = loader_.entry().metadata;
    loaded_ = true;
    return true;
  }

  std::shared_ptr<const void> owner_;
  const model::LabelSet* labels_;
  int64_t from_, through_;
  model::Direction dir_;
  ReadOptions options_;
  ReadOptions loader_options_;
  std::vector<Slot> blocks_;  // in iteration order
  size_t next_ = 0;
  bool open_ = false;
  const Block* current_ = nullptr;
  BlockReader reader_;
  Status status_;

  // Timestamps-only reads: the open block's timestamps in iteration order, and which entries
  // are returned with their lines (those with metadata, and those whose timestamp another
  // entry may share).
  std::vector<int64_t> ts_;
  std::vector<bool> must_load_;
  size_t pos_ = 0;  // entries of ts_ returned
  size_t cur_ = 0;  // index of the current entry
  model::Entry entry_;
  bool loaded_ = false;
  BlockReader loader_;
  bool loader_open_ = false;
  size_t loader_read_ = 0;  // entries the loader has moved past
};

}  // namespace

iter::EntryIteratorPtr NewBlocksIterator(std::shared_ptr<const void> owner,
                                         std::vector<const Block*> blocks,
                                         const model::LabelSet* labels, int64_t from_ns,
                                         int64_t through_ns, model::Direction dir,
                                         const ReadOptions& options) {
  return std::make_unique<BlocksIterator>(std::move(owner), std::move(blocks), labels, from_ns,
                                          through_ns, dir, options);
}

}  // namespace sluice::chunk
