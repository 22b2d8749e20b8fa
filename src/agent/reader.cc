#include "agent/reader.h"

#include <fnmatch.h>
#include <glob.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace sluice::agent {

namespace {

constexpr size_t kMaxLevelsPerFile = 16;
constexpr size_t kReadPerPass =
    1 << 20;  // per file per pass, so one busy file cannot starve others

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- LineSink ---------------------------------------------------------------------------------

LineSink::LineSink(ReaderContext ctx, TrackedFilePtr file, const SourceConfig* source,
                   std::map<std::string, std::string> labels, std::vector<TimestampRun> replay)
    : ctx_(ctx),
      file_(std::move(file)),
      source_(source),
      label_map_(std::move(labels)),
      labels_(MakeStreamLabels(label_map_)),
      replay_(std::move(replay)) {
  auto* m = ctx_.metrics;
  read_lines_ = m->read_lines->WithLabels({source_->job_name});
  read_bytes_ = m->read_bytes->WithLabels({source_->job_name});
  shed_lines_ = m->dropped_lines->WithLabels({"shed"});
  shed_bytes_ = m->dropped_bytes->WithLabels({"shed"});
  split_ = m->mutated_lines->WithLabels({"split"});
  truncated_ = m->mutated_lines->WithLabels({"truncated"});
  if (source_->multiline) {
    joiner_ =
        std::make_unique<MultilineJoiner>(*source_->multiline, ctx_.config->limits.max_line_size);
  }
}

LineSink::~LineSink() = default;

StreamLabelsPtr LineSink::LabelsFor(std::string_view line) {
  if (!source_->detect_level) return labels_;
  std::string level = DetectLevel(line);
  if (level.empty()) return labels_;
  auto it = by_level_.find(level);
  if (it != by_level_.end()) return it->second;
  if (by_level_.size() >= kMaxLevelsPerFile) return labels_;
  auto m = label_map_;
  m["level"] = level;
  return by_level_.emplace(level, MakeStreamLabels(m)).first->second;
}

bool LineSink::FlushShed() {
  if (!has_shed_run_) return !closed_;
  has_shed_run_ = false;
  if (closed_ || !ctx_.budget->Acquire(shed_run_.charge)) {
    closed_ = true;
    return false;
  }
  file_->read_offset.store(shed_run_.end_offset, std::memory_order_relaxed);
  ctx_.queue->Push(std::move(shed_run_));
  return true;
}

bool LineSink::Add(const LineOut& l, StreamLabelsPtr labels) {
  if (closed_) return false;
  if (!joiner_) return Queue(l, std::move(labels));
  joiner_->Add(l, SteadyNanos(), [&](const LineOut& joined) { Queue(joined, labels); });
  return !closed_;
}

bool LineSink::Tick() {
  if (joiner_ && !closed_) {
    joiner_->FlushIfIdle(SteadyNanos(), [&](const LineOut& joined) { Queue(joined, nullptr); });
  }
  return FlushShed();
}

bool LineSink::FlushPending() {
  if (joiner_ && !closed_) joiner_->Flush([&](const LineOut& joined) { Queue(joined, nullptr); });
  return FlushShed();
}

bool LineSink::Queue(const LineOut& l, StreamLabelsPtr labels) {
  if (closed_) return false;
  if (l.split) split_->Inc();
  if (l.truncated) truncated_->Inc();
  // The journal's own timestamp, or the one journaled for this line before a restart.
  int64_t preset = l.timestamp != 0 ? l.timestamp : replay_.For(l.start);
  read_lines_->Inc();
  read_bytes_->Inc(static_cast<double>(l.line.size()));
  if (!labels) labels = LabelsFor(l.line);
  if (ctx_.shedder->Match(ctx_.budget->fraction_used(), *labels, l.line) >= 0) {
    shed_lines_->Inc();
    shed_bytes_->Inc(static_cast<double>(l.line.size()));
    bool continues =
        has_shed_run_ && shed_run_.end_offset == l.start && l.timestamp == 0 &&
        (preset == 0 ? shed_run_.preset_ts == 0
                     : shed_run_.preset_ts + static_cast<int64_t>(shed_run_.line_count) == preset);
    if (continues) {
      shed_run_.end_offset = l.end;
      ++shed_run_.line_count;
      return true;
    }
    if (!FlushShed()) return false;
    shed_run_ = Item{file_, labels, {},     l.start,       l.end,
                     1,     true,   preset, kItemOverhead, std::string(l.cursor)};
    has_shed_run_ = true;
    return true;
  }
  if (!FlushShed()) return false;
  Item item{file_, std::move(labels),    std::string(l.line), l.start, l.end, 1, false, preset,
            0,     std::string(l.cursor)};
  item.charge = item.line.size() + kItemOverhead + item.cursor.size();
  if (!ctx_.budget->Acquire(item.charge)) {
    closed_ = true;
    return false;
  }
  ctx_.queue->Push(std::move(item));
  file_->read_offset.store(l.end, std::memory_order_relaxed);
  return true;
}

// ---- FileReader -------------------------------------------------------------------------------

struct FileReader::Watched {
  std::unique_ptr<FileTailer> tailer;
  std::unique_ptr<LineSink> sink;
  size_t source_index = 0;
  bool finishing = false;  // rotated away or deleted: read to the end, then close
  int idle_after_finish = 0;
  bool closed = false;  // read to the end; waiting for its batches to be acknowledged
};

FileReader::FileReader(ReaderContext ctx) : ctx_(ctx) {
  for (const auto& s : ctx_.config->scrape_configs) {
    labelers_.push_back(std::make_unique<SourceLabeler>(s, ctx_.config->client.external_labels));
  }
}

FileReader::~FileReader() = default;

void FileReader::Stop() {
  stopping_ = true;
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
}

void FileReader::Open(size_t source_index, const std::string& path, uint64_t dev, uint64_t ino) {
  const AgentConfig& cfg = *ctx_.config;
  uint64_t offset = 0;
  int64_t last_ts = 0;
  std::vector<TimestampRun> runs;
  std::string label_path = path;
  auto rec = ctx_.positions->Find(dev, ino);
  if (rec) {
    offset = rec->acked_offset;
    last_ts = rec->last_ts;
    runs = rec->runs;
    label_path = rec->path;  // rotated by rename while we were away: keep its stream
  } else if (auto done = finished_.find({dev, ino}); done != finished_.end()) {
    offset = done->second;
  }
  auto tailer = FileTailer::Open(path, offset, cfg.limits.max_line_size,
                                 cfg.limits.max_line_size_mode == "truncate");
  if (!tailer.ok()) {
    spdlog::warn("msg=\"cannot open file\" path=\"{}\" err=\"{}\"", path,
                 tailer.status().message());
    return;
  }
  if ((*tailer)->reset_on_open()) {
    spdlog::warn(
        "msg=\"file is shorter than its saved position; reading from the start\" path=\"{}\" "
        "position={}",
        path, offset);
    offset = 0;
    runs.clear();
  }
  if ((*tailer)->dev() != dev || (*tailer)->ino() != ino) return;  // replaced between stat and open
  auto file = std::make_shared<TrackedFile>();
  file->id = ctx_.next_file_id->fetch_add(1);
  file->path = label_path;
  file->dev = dev;
  file->ino = ino;
  file->last_ts = last_ts;
  file->read_offset = offset;
  ctx_.positions->Track(*file, offset, last_ts);
  finished_.erase({dev, ino});
  auto w = std::make_unique<Watched>();
  w->source_index = source_index;
  w->sink =
      std::make_unique<LineSink>(ctx_, file, &cfg.scrape_configs[source_index],
                                 labelers_[source_index]->ForPath(label_path), std::move(runs));
  w->tailer = std::move(tailer).value();
  ctx_.metrics->file_events->WithLabels({"opened"})->Inc();
  spdlog::info("msg=\"tailing file\" path=\"{}\" offset={}", path, offset);
  MutexLock lock(&watched_mu_);
  watched_.push_back(std::move(w));
}

void FileReader::Scan() {
  const auto& sources = ctx_.config->scrape_configs;
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].stdin_source) continue;
    for (const auto& pattern : sources[i].files) {
      glob_t g{};
      int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
      if (rc == 0) {
        for (size_t k = 0; k < g.gl_pathc; ++k) {
          std::string path = g.gl_pathv[k];
          bool excluded = false;
          for (const auto& ex : sources[i].exclude) {
            if (::fnmatch(ex.c_str(), path.c_str(), 0) == 0) excluded = true;
          }
          struct stat st {};
          if (excluded || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
          std::pair<uint64_t, uint64_t> id{st.st_dev, st.st_ino};
          seen.insert(id);
          bool known = false;
          for (const auto& w : owned_watched()) {
            if (w->tailer->dev() == id.first && w->tailer->ino() == id.second) known = true;
          }
          if (known) continue;
          auto done = finished_.find(id);
          if (done != finished_.end() && static_cast<uint64_t>(st.st_size) <= done->second)
            continue;
          Open(i, path, id.first, id.second);
        }
      }
      globfree(&g);
    }
  }
  // Forget finished files that no glob matches any more.
  for (auto it = finished_.begin(); it != finished_.end();) {
    it = seen.contains(it->first) ? std::next(it) : finished_.erase(it);
  }
  if (!scanned_once_) {
    scanned_once_ = true;
    ctx_.positions->DropUnclaimed();
  }
  ctx_.metrics->files_watched->Set(static_cast<double>(owned_watched().size()));
}

bool FileReader::ReadOne(Watched& w) {
  if (w.closed) return false;
  LineSink& sink = *w.sink;
  LineFn emit = [&](const LineOut& l) { sink.Add(l); };
  auto n = w.tailer->Read(kReadPerPass, emit);
  sink.Tick();
  if (!n.ok()) {
    spdlog::warn("msg=\"read failed\" path=\"{}\" err=\"{}\"", w.tailer->path(),
                 n.status().message());
    w.finishing = true;
    return false;
  }
  if (*n > 0) {
    w.idle_after_finish = 0;
    return true;
  }
  if (w.finishing) {
    // Writers may append to a rotated file for a moment after the rename: wait two idle passes.
    if (++w.idle_after_finish >= 2) {
      w.tailer->Flush(emit);
      sink.FlushPending();
      w.closed = true;
    }
    return false;
  }
  switch (w.tailer->Check(emit)) {
    case FileChange::kNone:
      break;
    case FileChange::kTruncated:
      sink.FlushPending();
      ctx_.metrics->file_events->WithLabels({"truncated"})->Inc();
      spdlog::info("msg=\"file truncated (copytruncate); reading from the start\" path=\"{}\"",
                   w.tailer->path());
      return true;
    case FileChange::kRotated:
      ctx_.metrics->file_events->WithLabels({"rotated"})->Inc();
      spdlog::info("msg=\"file rotated; finishing the old one\" path=\"{}\"", w.tailer->path());
      w.finishing = true;
      next_scan_ = 0;  // pick the new file up now
      break;
    case FileChange::kDeleted:
      ctx_.metrics->file_events->WithLabels({"deleted"})->Inc();
      w.finishing = true;
      break;
  }
  return false;
}

bool FileReader::RunOnce(bool scan) {
  if (scan) Scan();
  bool any = false;
  for (auto& w : owned_watched()) {
    if (stopping_) return any;
    any |= ReadOne(*w);
  }
  // Closed files leave once every batch holding their lines is acknowledged.
  for (auto it = owned_watched().begin(); it != owned_watched().end();) {
    Watched& w = **it;
    if (w.closed && ctx_.positions->FullyAcked(w.sink->file()->id)) {
      finished_[{w.tailer->dev(), w.tailer->ino()}] = w.tailer->offset();
      ctx_.positions->Untrack(w.sink->file()->id);
      bool path_reused = false;
      for (const auto& other : owned_watched()) {
        if (other.get() != &w && other->sink->file()->path == w.sink->file()->path)
          path_reused = true;
      }
      if (!path_reused) {
        ctx_.metrics->file_read_lag->RemoveMatching(0, w.sink->file()->path);
        ctx_.metrics->file_ack_lag->RemoveMatching(0, w.sink->file()->path);
      }
      MutexLock lock(&watched_mu_);
      it = watched_.erase(it);
    } else {
      ++it;
    }
  }
  ctx_.metrics->files_watched->Set(static_cast<double>(owned_watched().size()));
  return any;
}

void FileReader::PublishLag() const {
  MutexLock lock(&watched_mu_);
  auto* m = ctx_.metrics;
  for (const auto& w : watched_) {
    const TrackedFile& f = *w->sink->file();
    struct stat st {};
    uint64_t size = ::fstat(w->tailer->fd(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    uint64_t read = f.read_offset.load(std::memory_order_relaxed);
    uint64_t acked = ctx_.positions->AckedOffset(f.id);
    m->file_read_lag->WithLabels({f.path})->Set(read <= size ? static_cast<double>(size - read)
                                                             : 0.0);
    m->file_ack_lag->WithLabels({f.path})->Set(acked <= size ? static_cast<double>(size - acked)
                                                             : 0.0);
  }
}

void FileReader::Run() {
  const auto& rc = ctx_.config->reader;
  while (!stopping_) {
    int64_t now = SteadyNanos();
    bool scan = now >= next_scan_;
    if (scan) next_scan_ = now + rc.scan_period;
    bool any = RunOnce(scan);
    if (!any) {
      MutexLock lock(&mu_);
      cv_.WaitFor(&mu_, std::chrono::nanoseconds(rc.poll_interval),
                  [this]() REQUIRES(mu_) { return stop_; });
    }
  }
}

// ---- StdinReader ------------------------------------------------------------------------------

StdinReader::StdinReader(ReaderContext ctx, const SourceConfig* source, int fd)
    : ctx_(ctx), source_(source), fd_(fd) {}

void StdinReader::Run() {
  auto file = std::make_shared<TrackedFile>();
  file->id = ctx_.next_file_id->fetch_add(1);
  file->path.assign(1, '-');  // (operator= of a literal trips a GCC 12 -Wrestrict false positive)
  file->persistent = false;
  SourceLabeler labeler(*source_, ctx_.config->client.external_labels);
  LineSink sink(ctx_, file, source_, labeler.ForPath(""), {});
  LineSplitter splitter(ctx_.config->limits.max_line_size,
                        ctx_.config->limits.max_line_size_mode == "truncate", 0);
  LineFn emit = [&](const LineOut& l) { sink.Add(l); };
  std::vector<char> buf(64 << 10);
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, 100);
    if (rc < 0 && errno != EINTR) break;
    if (rc == 0) sink.Tick();  // idle: a multiline block may have waited long enough
    if (rc <= 0) continue;
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    if (n == 0) break;
    splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), emit);
    sink.Tick();
  }
  splitter.Flush(emit);
  sink.FlushPending();
  eof_ = true;
}

}  // namespace sluice::agent
