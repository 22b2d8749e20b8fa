#include "agent/tailer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::agent {

namespace {

constexpr size_t kReadChunk = 64 << 10;

}  // namespace

size_t Utf8Cut(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t cut = max;
  while (cut > 0 && max - cut < 4 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return (cut == 0 || max - cut >= 4) ? max : cut;
}

void LineSplitter::EmitPending(const LineFn& emit, uint64_t end) {
  std::string_view line = pending_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  emit(LineOut{line, pending_start_, end, discarding_, false, 0, {}});
  pending_.clear();
  pending_start_ = end;
  discarding_ = false;
}

void LineSplitter::Append(std::string_view piece, const LineFn& emit) {
  if (truncate_) {
    if (discarding_) return;
    size_t room = max_ - pending_.size();
    if (piece.size() > room) {
      pending_.append(piece.substr(0, room + 4 < piece.size() ? room + 4 : piece.size()));
      pending_.resize(Utf8Cut(pending_, max_));
      discarding_ = true;
    } else {
      pending_.append(piece);
    }
    return;
  }
  pending_.append(piece);
  while (pending_.size() > max_) {
    size_t cut = Utf8Cut(pending_, max_);
    emit(LineOut{std::string_view(pending_).substr(0, cut),
                 pending_start_,
                 pending_start_ + cut,
                 false,
                 true,
                 0,
                 {}});
    pending_.erase(0, cut);
    pending_start_ += cut;
  }
}

void LineSplitter::Feed(std::string_view data, const LineFn& emit) {
  size_t i = 0;
  while (i < data.size()) {
    size_t nl = data.find('\n', i);
    size_t stop = nl == std::string_view::npos ? data.size() : nl;
    Append(data.substr(i, stop - i), emit);
    next_ += stop - i;
    if (nl == std::string_view::npos) break;
    next_ += 1;
    EmitPending(emit, next_);
    i = nl + 1;
  }
}

void LineSplitter::Flush(const LineFn& emit) {
  if (next_ > pending_start_) EmitPending(emit, next_);
}

void LineSplitter::Reset(uint64_t offset) {
  pending_.clear();
  pending_start_ = next_ = offset;
  discarding_ = false;
}

int64_t ReplayTimestamps::For(uint64_t start_offset) {
  while (index_ < runs_.size() && start_offset >= runs_[index_].end) {
    ++index_;
    counter_ = 0;
  }
  if (index_ >= runs_.size() || start_offset < runs_[index_].start) return 0;
  return runs_[index_].base_ts + counter_++;
}

FileTailer::FileTailer(std::string path, int fd, uint64_t dev, uint64_t ino, uint64_t offset,
                       uint64_t max_line_size, bool truncate)
    : path_(std::move(path)),
      fd_(fd),
      dev_(dev),
      ino_(ino),
      splitter_(max_line_size, truncate, offset) {}

FileTailer::~FileTailer() { ::close(fd_); }

Result<std::unique_ptr<FileTailer>> FileTailer::Open(const std::string& path, uint64_t offset,
                                                     uint64_t max_line_size, bool truncate) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(fmt::format("open {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::IOError(fmt::format("fstat {}: {}", path, std::strerror(err)));
  }
  bool reset = false;
  if (offset > static_cast<uint64_t>(st.st_size)) {
    offset = 0;
    reset = true;
  }
  std::unique_ptr<FileTailer> t(
      new FileTailer(path, fd, st.st_dev, st.st_ino, offset, max_line_size, truncate));
  t->size_ = st.st_size;
  t->reset_on_open_ = reset;
  return t;
}

Result<size_t> FileTailer::Read(size_t max_bytes, const LineFn& emit) {
  if (buf_.empty()) buf_.resize(kReadChunk);
  size_t total = 0;
  while (total < max_bytes) {
    ssize_t n = ::pread(fd_, buf_.data(), std::min(buf_.size(), max_bytes - total),
                        static_cast<off_t>(splitter_.next_offset()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(fmt::format("read {}: {}", path_, std::strerror(errno)));
    }
    if (n == 0) break;
    splitter_.Feed(std::string_view(buf_.data(), static_cast<size_t>(n)), emit);
    total += static_cast<size_t>(n);
    size_ = std::max(size_, splitter_.next_offset());
  }
  return total;
}

FileChange FileTailer::Check(const LineFn& emit) {
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    size_ = st.st_size;
    if (static_cast<uint64_t>(st.st_size) < splitter_.next_offset()) {
      splitter_.Flush(emit);
      splitter_.Reset(0);
      return FileChange::kTruncated;
    }
  }
  if (::stat(path_.c_str(), &st) != 0) return FileChange::kDeleted;
  if (static_cast<uint64_t>(st.st_dev) != dev_ || static_cast<uint64_t>(st.st_ino) != ino_) {
    return FileChange::kRotated;
  }
  return FileChange::kNone;
}

}  // namespace sluice::agent
