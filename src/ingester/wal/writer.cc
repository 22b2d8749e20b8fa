#include "ingester/wal/writer.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/check.h"
#include "common/string_hash.h"
#include "ingester/wal/file_util.h"

namespace sluice::wal {

namespace {

using SteadyClock = std::chrono::steady_clock;

// A thread's encode buffer is kept between batches up to this capacity.
constexpr size_t kMaxRetainedEncodeBytes = 8 << 20;

// The streams that already have a series record in the current segment, per tenant.
using SeenSeries =
    std::unordered_map<std::string, std::unordered_set<uint64_t>, StringHash, std::equal_to<>>;

}  // namespace

struct Writer::Request {
  enum class Kind : uint8_t { kLog, kCut };
  Kind kind = Kind::kLog;
  // kLog: borrowed from the caller, who is blocked until done.
  std::string_view tenant;
  std::span<const StreamEntries> streams;
  std::string_view encoded;  // framed kEntries records, in the caller's thread's buffer
  size_t records = 0;
  // Results, set by the writer thread.
  Status status;
  uint64_t segment = 0;  // kCut
  // Guarded by the Writer's mu_ (not annotated: the analysis cannot name a lock of another
  // object); the caller waits on cv with mu_ held.
  bool done = false;
  CondVar cv;
};

struct Writer::State {
  uint64_t next_segment = 0;
  uint64_t segment = 0;
  UniqueFd fd;  // invalid: no segment open (before the first, or after an I/O error)
  std::string path;
  uint64_t segment_bytes = 0;
  SeenSeries seen;
  bool dirty = false;                     // written since the last fsync
  SteadyClock::time_point sync_deadline;  // kInterval, when dirty
};

Writer::Writer(WriterOptions opts) : opts_(std::move(opts)), state_(std::make_unique<State>()) {}

Result<std::unique_ptr<Writer>> Writer::Open(WriterOptions opts) {
  if (opts.dir.empty()) {
    return Status::InvalidArgument("WAL directory not set");
  }
  if (opts.segment_size == 0) {
    return Status::InvalidArgument("WAL segment size must be positive");
  }
  if (opts.fsync == FsyncPolicy::kInterval && opts.fsync_interval_ns <= 0) {
    return Status::InvalidArgument("WAL fsync interval must be positive");
  }
  SLUICE_RETURN_IF_ERROR(CreateDirs(opts.dir));
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(opts.dir));
  // Start after every segment and every checkpoint: a checkpoint n makes replay skip segments
  // < n, so a new segment numbered below it would be silently ignored after the next crash.
  uint64_t next = 0;
  for (const std::string& name : names) {
    ParsedFileName f = ParseFileName(name);
    if (f.kind == FileKind::kSegment) {
      next = std::max(next, f.number + 1);
    } else if (f.kind == FileKind::kCheckpoint || f.kind == FileKind::kCheckpointTmp) {
      next = std::max(next, f.number);
    }
  }
  std::unique_ptr<Writer> writer(new Writer(std::move(opts)));
  writer->state_->next_segment = next;
  SLUICE_RETURN_IF_ERROR(writer->OpenNextSegment());
  spdlog::info("wal: writing segment {} in {} (fsync={})", writer->state_->segment,
               writer->opts_.dir, FsyncPolicyName(writer->opts_.fsync));
  writer->thread_ = std::thread([w = writer.get()] { w->Run(); });
  return writer;
}

Writer::~Writer() {
  if (thread_.joinable()) {
    Status st = Close();
    if (!st.ok()) {
      spdlog::error("wal: closing {}: {}", opts_.dir, st.ToString());
    }
  }
}

Status Writer::Log(std::string_view tenant, std::span<const StreamEntries> streams) {
  Request req;
  req.kind = Request::Kind::kLog;
  req.tenant = tenant;
  req.streams = streams;
  // Encoding is the CPU-heavy part: done here, on the caller's thread, so pushes encode in
  // parallel and the writer thread only writes. The buffer stays with the thread: pushes are
  // alike in size, so after the first one encoding neither regrows it nor touches fresh pages.
  // The writer thread reads it while this thread waits in Enqueue.
  thread_local std::string encoded;
  encoded.clear();
  Result<size_t> records = AppendEntriesRecords(&encoded, tenant, streams);
  Status st = records.status();
  if (st.ok() && *records > 0) {
    req.records = *records;
    req.encoded = encoded;
    st = Enqueue(&req);
    if (st.ok()) st = req.status;
  }
  if (encoded.capacity() > kMaxRetainedEncodeBytes) {
    std::string().swap(encoded);
  }
  return st;
}

Result<uint64_t> Writer::CutSegment() {
  Request req;
  req.kind = Request::Kind::kCut;
  SLUICE_RETURN_IF_ERROR(Enqueue(&req));
  SLUICE_RETURN_IF_ERROR(req.status);
  return req.segment;
}

Status Writer::Enqueue(Request* req) {
  MutexLock lock(&mu_);
  if (stopping_) {
    return Status::Unavailable("WAL is closed");
  }
  queue_.push_back(req);
  work_cv_.Signal();
  req->cv.Wait(&mu_, [req] { return req->done; });
  return Status::OK();
}

Status Writer::TruncateBefore(uint64_t n) {
  uint64_t limit = std::min(n, current_segment());
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(opts_.dir));
  Status result;
  for (const std::string& name : names) {
    ParsedFileName f = ParseFileName(name);
    if (f.kind == FileKind::kSegment && f.number < limit) {
      Status st = RemoveFile(JoinPath(opts_.dir, name));
      if (!st.ok() && result.ok()) {
        result = st;
      }
    }
  }
  return result;
}

Status Writer::Close() {
  MutexLock close_lock(&close_mu_);  // a second caller waits for the first
  {
    MutexLock lock(&mu_);
    if (closed_) {
      return close_status_;
    }
    stopping_ = true;
    work_cv_.Signal();
  }
  thread_.join();
  MutexLock lock(&mu_);
  closed_ = true;
  return close_status_;
}

Writer::Stats Writer::stats() const {
  MutexLock lock(&stats_mu_);
  return stats_;
}

void Writer::SetFsyncObserver(std::function<void(double seconds)> f) {
  MutexLock lock(&observer_mu_);
  fsync_observer_ = std::move(f);
}

void Writer::SetWriteObserver(std::function<void(uint64_t records, uint64_t bytes)> f) {
  MutexLock lock(&observer_mu_);
  write_observer_ = std::move(f);
}

uint64_t Writer::current_segment() const {
  MutexLock lock(&mu_);
  return current_segment_;
}

void Writer::Run() {
  State& s = *state_;
  std::vector<Request*> group;
  MutexLock lock(&mu_);
  while (true) {
    if (queue_.empty()) {
      if (stopping_) {
        break;
      }
      if (s.dirty && opts_.fsync == FsyncPolicy::kInterval) {
        work_cv_.WaitUntil(&mu_, s.sync_deadline);
      } else {
        work_cv_.Wait(&mu_);
      }
    }
    group.assign(queue_.begin(), queue_.end());
    queue_.clear();
    lock.Unlock();

    ProcessGroup(group);
    if (s.dirty && opts_.fsync == FsyncPolicy::kInterval && SteadyClock::now() >= s.sync_deadline) {
      Status st = SyncSegment();
      if (!st.ok()) {
        // Batches since the last fsync were acknowledged and may now be lost; nobody is left
        // to tell but the log. Later fsyncs on this file could falsely succeed, so move on.
        spdlog::error("wal: interval fsync failed, abandoning segment: {}", st.ToString());
        AbandonSegment();
      }
    }

    lock.Lock();
    for (Request* req : group) {
      req->done = true;
      req->cv.Signal();  // under mu_: the waiter cannot destroy req before we are done
    }
    group.clear();
  }
  lock.Unlock();
  Status st = CloseSegment(/*sync=*/true);
  lock.Lock();
  close_status_ = st;
}

void Writer::ProcessGroup(std::span<Request*> group) {
  // Requests run in queue order; consecutive batches share one write and one fsync.
  size_t begin = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    if (group[i]->kind == Request::Kind::kCut) {
      if (begin < i) {
        WriteBatches(group.subspan(begin, i - begin));
      }
      DoCut(group[i]);
      begin = i + 1;
    }
  }
  if (begin < group.size()) {
    WriteBatches(group.subspan(begin));
  }
}

void Writer::WriteBatches(std::span<Request*> batches) {
  State& s = *state_;
  auto fail_all = [&](const Status& st) {
    for (Request* req : batches) {
      req->status = st;
    }
  };
  uint64_t entries_bytes = 0;
  for (const Request* req : batches) {
    entries_bytes += req->encoded.size();
  }
  if (s.fd.valid() && s.segment_bytes > 0 && s.segment_bytes + entries_bytes > opts_.segment_size) {
    Status st = CloseSegment(opts_.fsync != FsyncPolicy::kNever);
    if (!st.ok()) {
      spdlog::error("wal: closing full segment {}: {}", s.path, st.ToString());
    }
  }
  if (!s.fd.valid()) {
    Status st = OpenNextSegment();
    if (!st.ok()) {
      fail_all(st);
      return;
    }
  }

  // Series records for streams new to this segment go just ahead of the batch naming them.
  std::vector<std::string> series(batches.size());
  std::vector<SeriesRef> fresh;
  std::vector<std::pair<std::unordered_set<uint64_t>*, uint64_t>> marked_seen;  // to undo
  std::vector<iovec> iov;
  iov.reserve(2 * batches.size());
  uint64_t records = 0, bytes = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    Request* req = batches[i];
    auto it = s.seen.find(req->tenant);
    if (it == s.seen.end()) {
      it = s.seen.emplace(std::string(req->tenant), std::unordered_set<uint64_t>()).first;
    }
    fresh.clear();
    for (const StreamEntries& stream : req->streams) {
      if (!stream.entries.empty() && it->second.insert(stream.ref).second) {
        fresh.push_back({stream.ref, stream.labels});
        marked_seen.emplace_back(&it->second, stream.ref);
      }
    }
    if (!fresh.empty()) {
      records += AppendSeriesRecords(&series[i], req->tenant, fresh);
      iov.push_back({series[i].data(), series[i].size()});
      bytes += series[i].size();
    }
    iov.push_back(
        {const_cast<char*>(req->encoded.data()), req->encoded.size()});  // writev only reads
    bytes += req->encoded.size();
    records += req->records;
  }

  const uint64_t good_bytes = s.segment_bytes;  // acknowledged records end here
  Status st = WritevAll(s.fd.get(), iov, s.path);
  if (st.ok()) {
    s.segment_bytes += bytes;
    if (!s.dirty) {
      s.dirty = true;
      s.sync_deadline = SteadyClock::now() + std::chrono::nanoseconds(opts_.fsync_interval_ns);
    }
    if (opts_.fsync == FsyncPolicy::kBatch) {
      st = SyncSegment();
    }
  }
  if (!st.ok()) {
    fail_all(st);
    // A full disk fails every write until space returns: the segment is cut back to its last
    // acknowledged record and kept, rather than abandoned for a new file per failed batch. (With
    // fsync=batch those records were synced before this batch; after a failed fsync only this
    // batch's pages are in doubt, and they are cut off.)
    Status cut = TruncateAndSync(s.fd.get(), good_bytes, s.path);
    if (cut.ok()) {
      for (auto& [seen, ref] : marked_seen) seen->erase(ref);
      s.segment_bytes = good_bytes;
      s.dirty = false;
      spdlog::error("wal: {} batches failed, segment {} cut back to its last good record: {}",
                    batches.size(), s.path, st.ToString());
      return;
    }
    // The seen-series set dies with the segment, so no rollback is needed for it.
    spdlog::error("wal: {} batches failed, abandoning segment: {} (cutting it back failed: {})",
                  batches.size(), st.ToString(), cut.ToString());
    AbandonSegment();
    return;
  }
  {
    MutexLock lock(&stats_mu_);
    stats_.records += records;
    stats_.bytes += bytes;
  }
  MutexLock lock(&observer_mu_);
  if (write_observer_) write_observer_(records, bytes);
}

void Writer::DoCut(Request* req) {
  State& s = *state_;
  if (s.fd.valid() && s.segment_bytes == 0) {
    req->segment = s.segment;
    return;
  }
  Status st = CloseSegment(opts_.fsync != FsyncPolicy::kNever);
  if (!st.ok()) {
    // The records were written; the caller is about to checkpoint them anyway.
    spdlog::error("wal: closing segment {} for a cut: {}", s.path, st.ToString());
  }
  st = OpenNextSegment();
  if (!st.ok()) {
    req->status = st;
    return;
  }
  req->segment = s.segment;
}

Status Writer::OpenNextSegment() {
  State& s = *state_;
  SLUICE_CHECK(!s.fd.valid());
  // A number is used up even if creating its file fails, so none is ever reused.
  uint64_t n = s.next_segment++;
  std::string path = JoinPath(opts_.dir, SegmentFileName(n));
  SLUICE_ASSIGN_OR_RETURN(UniqueFd fd, CreateExclusive(path));
  // The new directory entry must be durable before anything in the file is acknowledged.
  SLUICE_RETURN_IF_ERROR(SyncDir(opts_.dir));
  s.fd = std::move(fd);
  s.path = std::move(path);
  s.segment = n;
  s.segment_bytes = 0;
  s.seen.clear();
  s.dirty = false;
  MutexLock lock(&mu_);
  current_segment_ = n;
  return Status::OK();
}

Status Writer::SyncSegment() {
  State& s = *state_;
  if (!s.dirty || !s.fd.valid()) {
    return Status::OK();
  }
  auto start = SteadyClock::now();
  SLUICE_RETURN_IF_ERROR(DataSync(s.fd.get(), s.path));
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  s.dirty = false;
  {
    MutexLock lock(&stats_mu_);
    ++stats_.fsyncs;
    stats_.fsync_seconds_total += seconds;
  }
  // Its own mutex, so an observer may call stats().
  MutexLock lock(&observer_mu_);
  if (fsync_observer_) {
    fsync_observer_(seconds);
  }
  return Status::OK();
}

void Writer::AbandonSegment() {
  State& s = *state_;
  // Still try to make the good prefix durable (kInterval acknowledged it); errors are moot.
  if (s.fd.valid() && s.dirty) {
    (void)DataSync(s.fd.get(), s.path);
  }
  (void)s.fd.Close(s.path);
  s.dirty = false;
}

Status Writer::CloseSegment(bool sync) {
  State& s = *state_;
  if (!s.fd.valid()) {
    return Status::OK();
  }
  Status st = sync ? SyncSegment() : Status::OK();
  Status close_st = s.fd.Close(s.path);
  s.dirty = false;
  return st.ok() ? close_st : st;
}

}  // namespace sluice::wal
