#include "ingester/wal/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace sluice::wal {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Status UniqueFd::Close(const std::string& path) {
  if (fd_ < 0) {
    return Status::OK();
  }
  // POSIX leaves the descriptor closed even when close(2) fails, so never retry it.
  int rc = ::close(std::exchange(fd_, -1));
  return rc == 0 ? Status::OK() : ErrnoStatus("close", path, errno);
}

Status ErrnoStatus(std::string_view op, const std::string& path, int err) {
  return Status::IOError(fmt::format("{} {}: {}", op, path, std::strerror(err)));
}

std::string JoinPath(const std::string& dir, std::string_view name) {
  std::string path = dir;
  if (!path.empty() && path.back() != '/') {
    path.push_back('/');
  }
  path.append(name);
  return path;
}

Status CreateDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::IOError(fmt::format("mkdir {}: {}", dir, ec.message()));
  }
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open", dir, errno);
  }
  UniqueFd owned(fd);
  if (::fsync(fd) != 0) {
    return ErrnoStatus("fsync", dir, errno);
  }
  return owned.Close(dir);
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return ErrnoStatus("opendir", dir, errno);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) {
    return ErrnoStatus("readdir", dir, err);
  }
  return names;
}

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return ErrnoStatus("stat", path, errno);
  }
  return static_cast<uint64_t>(st.st_size);
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("unlink", path, errno);
  }
  return Status::OK();
}

Result<UniqueFd> CreateExclusive(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return ErrnoStatus("create", path, errno);
  }
  return UniqueFd(fd);
}

Result<UniqueFd> OpenForRead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open", path, errno);
  }
  return UniqueFd(fd);
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoStatus("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status WritevAll(int fd, std::span<iovec> iov, const std::string& path) {
  while (!iov.empty()) {
    if (iov.front().iov_len == 0) {
      iov = iov.subspan(1);
      continue;
    }
    int count = static_cast<int>(std::min<size_t>(iov.size(), IOV_MAX));
    ssize_t n = ::writev(fd, iov.data(), count);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoStatus("write", path, errno);
    }
    auto left = static_cast<size_t>(n);
    while (left > 0) {
      size_t take = std::min(left, iov.front().iov_len);
      iov.front().iov_base = static_cast<char*>(iov.front().iov_base) + take;
      iov.front().iov_len -= take;
      left -= take;
      if (iov.front().iov_len == 0) {
        iov = iov.subspan(1);
      }
    }
  }
  return Status::OK();
}

Status TruncateAndSync(int fd, uint64_t size, const std::string& path) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return ErrnoStatus("truncate", path, errno);
  }
  return DataSync(fd, path);
}

Status DataSync(int fd, const std::string& path) {
  // fdatasync also flushes the file size, which an append changes: enough to read the data
  // back, without the cost of flushing timestamps.
  if (::fdatasync(fd) != 0) {
    return ErrnoStatus("fdatasync", path, errno);
  }
  return Status::OK();
}

}  // namespace sluice::wal
