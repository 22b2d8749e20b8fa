#pragma once

// What flows from the readers to the batcher: one log line (or one piece of a split line, or a
// run of shed lines that only carries offsets), with the file and offsets that the positions
// file advances over once the line is delivered.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::agent {

// One file identity (device + inode) as first seen at `path`, or stdin (not persisted).
// Shared by the reader that reads it, the batcher and the positions tracker.
struct TrackedFile {
  uint64_t id = 0;  // unique in this process
  std::string path;
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool persistent = true;  // false for stdin
  // A journal source: `path` is its positions key, offsets count entry bytes within this run, and
  // progress is saved as the cursor carried by its items.
  bool journal = false;
  // Owned by the batcher thread: the last timestamp given to a line of this file. Timestamps
  // strictly increase per file, so a query shows each file's lines in file order.
  int64_t last_ts = 0;
  // Written by its reader, read by /metrics: the offset after the last line queued.
  std::atomic<uint64_t> read_offset{0};
};
using TrackedFilePtr = std::shared_ptr<TrackedFile>;

// A stream's labels, built once per file (and level) and shared by its lines.
struct StreamLabels {
  std::string text;                                        // {a="b", c="d"}, sorted by name
  std::vector<std::pair<std::string, std::string>> pairs;  // the same, as pairs
};
using StreamLabelsPtr = std::shared_ptr<const StreamLabels>;

struct Item {
  TrackedFilePtr file;
  StreamLabelsPtr labels;
  std::string line;
  uint64_t start_offset = 0;
  uint64_t end_offset = 0;
  uint32_t line_count = 1;  // lines this item stands for (>1 only for a run of shed lines)
  bool shed = false;        // dropped by load shedding: carries offsets (and timestamps) only
  int64_t preset_ts =
      0;  // replayed from the positions journal or the source's own; 0 = assign at batch cut
  uint64_t charge = 0;  // bytes taken from the MemoryBudget for this item
  // Journal sources: where to resume once this item and all before it are acknowledged.
  std::string cursor;
};

// Bytes charged per item on top of the line: the Item itself and the allocator's rounding.
inline constexpr uint64_t kItemOverhead = 96;

// The queue between readers and the batcher. Its size is bounded by the MemoryBudget (readers
// charge before pushing), so Push never blocks. Thread-safe.
class ItemQueue {
 public:
  void Push(Item item) {
    {
      MutexLock lock(&mu_);
      bytes_ += item.charge;
      items_.push_back(std::move(item));
    }
    cv_.Signal();
  }
  // Waits until an item is there, `deadline` (steady clock) passes, or Close(). False when none.
  template <typename TimePoint>
  bool PopUntil(TimePoint deadline, Item* out) {
    MutexLock lock(&mu_);
    cv_.WaitUntil(&mu_, deadline, [this]() REQUIRES(mu_) { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    bytes_ -= out->charge;
    return true;
  }
  void Close() {
    {
      MutexLock lock(&mu_);
      closed_ = true;
    }
    cv_.SignalAll();
  }
  bool closed() const {
    MutexLock lock(&mu_);
    return closed_;
  }
  size_t size() const {
    MutexLock lock(&mu_);
    return items_.size();
  }
  uint64_t bytes() const {
    MutexLock lock(&mu_);
    return bytes_;
  }

 private:
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Item> items_ GUARDED_BY(mu_);
  uint64_t bytes_ GUARDED_BY(mu_) = 0;
  bool closed_ GUARDED_BY(mu_) = false;
};

}  // namespace sluice::agent
