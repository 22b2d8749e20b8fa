#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "ingester/wal/format.h"

namespace sluice::wal {

struct WriterOptions {
  std::string dir;  // <data>/wal
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  int64_t fsync_interval_ns = 1'000'000'000;  // for kInterval
  uint64_t segment_size = 128ull << 20;       // cut a new segment file past this
};

// Appends batches to numbered segment files (format.h).
//
// Group commit: callers encode their batch on their own thread, then queue it; one writer
// thread takes everything queued, writes it with one writev(2) and, under kBatch, one
// fdatasync, and wakes the callers. Under load a single fsync thus covers many pushes.
//
// Thread safety: every method may be called concurrently. Log() and CutSegment() fail with
// Unavailable once Close() has begun; what was queued before is still written. Only one Writer
// may use a directory at a time, and Replay() must run before Open() (Open starts a new segment
// after every existing file).
//
// I/O errors: a failed write or fsync fails the batches it carried (their callers must not
// acknowledge them) and abandons the current segment; the next batch starts a new segment, so
// a half-written record only ever sits at the end of a segment, where replay truncates it.
class Writer {
 public:
  struct Stats {
    uint64_t records = 0, bytes = 0, fsyncs = 0;
    double fsync_seconds_total = 0;
  };

  // Opens dir, creating it, and starts a new segment numbered after every existing segment and
  // checkpoint: an existing segment is never overwritten or shadowed, so a
  // crash-restart-crash sequence replays the records of both runs.
  static Result<std::unique_ptr<Writer>> Open(WriterOptions opts);

  // Close()s if not done yet (errors are logged).
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends one batch of `tenant` and blocks until it is durable per the policy:
  //   kBatch:    written and fdatasync'd;
  //   kInterval: written (write(2) done); a timer fsyncs every fsync_interval_ns;
  //   kNever:    written.
  // The first time a stream appears in a segment, a series record for it is written ahead of
  // its entries. `tenant` and `streams` (and what they point to) are borrowed for the call.
  // Errors: TooLarge (an entry over kMaxRecordSize), IOError, Unavailable (closed).
  Status Log(std::string_view tenant, std::span<const StreamEntries> streams) EXCLUDES(mu_);

  // Closes the current segment and starts a new one; returns the new segment's number. Every
  // record logged before this is called lands in a segment < that number, every record logged
  // after it returns in one >=. (If the current segment is still empty, it is kept and its
  // number returned.)
  Result<uint64_t> CutSegment() EXCLUDES(mu_);

  // Deletes segments numbered < n (after a checkpoint covering them is committed). The
  // segment being written is never deleted.
  Status TruncateBefore(uint64_t n) EXCLUDES(mu_);

  // Writes what is queued, fsyncs (under every policy), and stops the writer thread.
  Status Close() EXCLUDES(close_mu_, mu_);

  Stats stats() const EXCLUDES(stats_mu_);
  // Called on the writer thread after each fsync, with its duration in seconds. Must be cheap.
  void SetFsyncObserver(std::function<void(double seconds)> f) EXCLUDES(observer_mu_);
  // Called on the writer thread after each group is written, with its record and byte counts.
  void SetWriteObserver(std::function<void(uint64_t records, uint64_t bytes)> f)
      EXCLUDES(observer_mu_);

  // The segment being written (for tests and metrics).
  uint64_t current_segment() const EXCLUDES(mu_);

 private:
  struct Request;

  explicit Writer(WriterOptions opts);

  Status Enqueue(Request* req) EXCLUDES(mu_);
  void Run() EXCLUDES(mu_);
  // Writer thread only, from here on; called without mu_ held.
  void ProcessGroup(std::span<Request*> group) EXCLUDES(mu_);
  void WriteBatches(std::span<Request*> batches) EXCLUDES(mu_);
  void DoCut(Request* req) EXCLUDES(mu_);
  Status OpenNextSegment() EXCLUDES(mu_);
  Status SyncSegment();
  // Forgets the current segment after an I/O error; the next write starts a new one.
  void AbandonSegment();
  // Fsyncs first when `sync` (cuts skip it under kNever; Close always syncs).
  Status CloseSegment(bool sync);

  const WriterOptions opts_;

  mutable Mutex mu_;
  CondVar work_cv_;  // the writer thread waits for work
  std::deque<Request*> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  Status close_status_ GUARDED_BY(mu_);
  uint64_t current_segment_ GUARDED_BY(mu_) = 0;  // written by the writer thread
  std::thread thread_;

  // Owned by the writer thread (and by Open before the thread starts).
  struct State;
  std::unique_ptr<State> state_;

  Mutex close_mu_;  // serializes Close()

  mutable Mutex stats_mu_;
  Stats stats_ GUARDED_BY(stats_mu_);
  Mutex observer_mu_;
  std::function<void(double)> fsync_observer_ GUARDED_BY(observer_mu_);
  std::function<void(uint64_t, uint64_t)> write_observer_ GUARDED_BY(observer_mu_);
};

using WriterPtr = std::unique_ptr<Writer>;

}  // namespace sluice::wal
