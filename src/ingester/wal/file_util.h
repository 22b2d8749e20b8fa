#pragma once

// Thin POSIX wrappers for the WAL that turn errno into Status. Internal to ingester/wal.

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::wal {

// An owned file descriptor; closes on destruction (errors ignored: call Close() to see them).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  Status Close(const std::string& path);

 private:
  int fd_ = -1;
};

Status ErrnoStatus(std::string_view op, const std::string& path, int err);
std::string JoinPath(const std::string& dir, std::string_view name);

// mkdir -p.
Status CreateDirs(const std::string& dir);
// fsync on the directory, so that created, renamed and deleted entries are durable.
Status SyncDir(const std::string& dir);
// Names of the entries of `dir` (not "." or "..").
Result<std::vector<std::string>> ListDir(const std::string& dir);
Result<uint64_t> FileSize(const std::string& path);
Status RemoveFile(const std::string& path);

// Opens for appending; fails if the file exists (a segment is never overwritten).
Result<UniqueFd> CreateExclusive(const std::string& path);
Result<UniqueFd> OpenForRead(const std::string& path);

// Writes everything, retrying short writes and EINTR.
Status WriteAll(int fd, std::string_view data, const std::string& path);
// Like WriteAll, for a gather list. The iovecs are consumed (modified) as they are written.
Status WritevAll(int fd, std::span<iovec> iov, const std::string& path);
Status DataSync(int fd, const std::string& path);
// Cuts the file to `size` bytes (a failed append's partial write), then syncs it.
Status TruncateAndSync(int fd, uint64_t size, const std::string& path);

}  // namespace sluice::wal
