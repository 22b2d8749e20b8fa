#pragma once

// The reading side: one thread tails every file source (glob scans, appends, rotation,
// copytruncate), one more reads stdin when configured. Each line is labelled, offered to the
// shedder, charged to the memory budget (blocking when it is full: backpressure) and queued.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/agent_metrics.h"
#include "agent/budget.h"
#include "agent/config.h"
#include "agent/item.h"
#include "agent/multiline.h"
#include "agent/positions.h"
#include "agent/source.h"
#include "agent/tailer.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::agent {

struct ReaderContext {
  const AgentConfig* config = nullptr;
  Positions* positions = nullptr;
  MemoryBudget* budget = nullptr;
  ItemQueue* queue = nullptr;
  const Shedder* shedder = nullptr;
  AgentMetrics* metrics = nullptr;
  std::atomic<uint64_t>* next_file_id = nullptr;
};

// Turns lines of one file (or stdin, or a journal) into queued items, through the source's
// multiline stage when it has one. Shared by every reader. Not thread-safe: owned by its reader.
class LineSink {
 public:
  LineSink(ReaderContext ctx, TrackedFilePtr file, const SourceConfig* source,
           std::map<std::string, std::string> labels, std::vector<TimestampRun> replay);
  ~LineSink();
  // Returns false once the budget was closed (shutting down): stop feeding lines. `labels`
  // overrides the file's (journal entries each have their own).
  bool Add(const LineOut& line, StreamLabelsPtr labels = nullptr);
  // Sends a multiline block that waited max_wait_time; call on every poll.
  bool Tick();
  // Queues everything held back: the multiline block and the pending run of shed lines.
  bool FlushPending();
  // Queues the pending run of shed lines, if any.
  bool FlushShed();
  const TrackedFilePtr& file() const { return file_; }

 private:
  bool Queue(const LineOut& line, StreamLabelsPtr labels);
  StreamLabelsPtr LabelsFor(std::string_view line);

  ReaderContext ctx_;
  TrackedFilePtr file_;
  const SourceConfig* source_;
  std::map<std::string, std::string> label_map_;
  StreamLabelsPtr labels_;
  std::unordered_map<std::string, StreamLabelsPtr> by_level_;
  ReplayTimestamps replay_;
  metrics::Counter* read_lines_;
  metrics::Counter* read_bytes_;
  metrics::Counter* shed_lines_;
  metrics::Counter* shed_bytes_;
  metrics::Counter* split_;
  metrics::Counter* truncated_;
  Item shed_run_;
  bool has_shed_run_ = false;
  bool closed_ = false;
  std::unique_ptr<MultilineJoiner> joiner_;  // null without a multiline stage
};

class FileReader {
 public:
  explicit FileReader(ReaderContext ctx);
  ~FileReader();

  // One pass: expands the globs when `scan`, reads what every file has, checks idle files for
  // rotation and truncation, closes finished ones. Returns true when any bytes were read.
  bool RunOnce(bool scan);
  // Loops RunOnce until Stop(); sleeps reader.poll_interval when a pass read nothing.
  void Run() EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);
  // Sets the per-file lag gauges. Thread-safe: called by /metrics and the sync loop while the
  // reader may be blocked on backpressure (which is exactly when the lag matters).
  void PublishLag() const EXCLUDES(watched_mu_);

 private:
  struct Watched;
  void Scan();
  void Open(size_t source_index, const std::string& path, uint64_t dev, uint64_t ino)
      EXCLUDES(watched_mu_);
  bool ReadOne(Watched& w);
  // The reader thread's view of watched_, without the lock: it is the only thread that changes
  // watched_, so its own reads cannot race. The analysis cannot express "owned by one thread",
  // hence no analysis here; every other access, and every change, goes through watched_mu_.
  const std::vector<std::unique_ptr<Watched>>& owned_watched() const NO_THREAD_SAFETY_ANALYSIS {
    return watched_;
  }

  ReaderContext ctx_;
  std::vector<std::unique_ptr<SourceLabeler>> labelers_;
  mutable Mutex watched_mu_;  // held by the reader only while changing watched_
  std::vector<std::unique_ptr<Watched>> watched_ GUARDED_BY(watched_mu_);  // see owned_watched()
  // Files read to their end and closed, by (dev, ino) -> offset read: a glob that also matches
  // rotated names must not read them again from the start.
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> finished_;
  bool scanned_once_ = false;
  int64_t next_scan_ = 0;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::atomic<bool> stopping_{false};
};

// Reads stdin until EOF or Stop(). Lines are not persisted in the positions file (stdin cannot
// be re-read), so a crash loses what was read and not yet delivered.
class StdinReader {
 public:
  StdinReader(ReaderContext ctx, const SourceConfig* source, int fd = 0);
  void Run();
  void Stop() { stop_ = true; }
  bool eof() const { return eof_; }

 private:
  ReaderContext ctx_;
  const SourceConfig* source_;
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> eof_{false};
};

}  // namespace sluice::agent
