#include "storage/filesystem_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <random>
#include <system_error>

namespace sluice::storage {

namespace {

namespace fs = std::filesystem;

// Temporaries older than this are debris from a crashed writer; younger ones may belong to a
// live store on the same directory (several components of one process can each open one).
constexpr auto kStaleTempAge = std::chrono::hours(1);

std::string ErrnoMessage(int err) { return std::system_category().message(err); }

Status IOErrorFor(std::string_view op, const std::string& path, int err) {
  return Status::IOError(fmt::format("{} {}: {}", op, path, ErrnoMessage(err)));
}

// Closes on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error a deferred write-back may surface at close.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return IOErrorFor("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return IOErrorFor("fsync directory", dir, errno);
  return Status::OK();
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IOErrorFor("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

class FilesystemStore final : public ObjectStore {
 public:
  explicit FilesystemStore(std::string root_dir) : root_(std::move(root_dir)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    tmp_dir_ = root_ + "/.sluice/tmp";
    std::random_device rd;
    nonce_ = (static_cast<uint64_t>(rd()) << 32) | rd();
    std::error_code ec;
    fs::create_directories(tmp_dir_, ec);  // A failure here resurfaces as IOError on first Put.
    RemoveStaleTemporaries();
  }

  Status Put(std::string_view key, std::string_view data) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    std::string path = PathFor(key);
    SLUICE_RETURN_IF_ERROR(MakeParentDirs(key));

    std::string tmp =
        fmt::format("{}/{:x}-{:x}-{}", tmp_dir_, nonce_, ::getpid(), seq_.fetch_add(1));
    {
      Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (fd.get() < 0) return IOErrorFor("create", tmp, errno);
      Status st = WriteAll(fd.get(), data, tmp);
      if (st.ok() && ::fsync(fd.get()) != 0) st = IOErrorFor("fsync", tmp, errno);
      if (st.ok() && fd.Close() != 0) st = IOErrorFor("close", tmp, errno);
      if (!st.ok()) {
        ::unlink(tmp.c_str());
        return st;
      }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return IOErrorFor("rename to", path, err);
    }
    return FsyncDir(ParentOf(path));
  }

  Result<std::string> Get(std::string_view key) override { return GetRange(key, 0, UINT64_MAX); }

  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    std::string path = PathFor(key);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      // ENOTDIR: a prefix of the key is an object; EISDIR cannot happen for O_RDONLY.
      if (errno == ENOENT || errno == ENOTDIR) return NotFound(key);
      return IOErrorFor("open", path, errno);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return IOErrorFor("stat", path, errno);
    if (!S_ISREG(st.st_mode)) return NotFound(key);  // A folder of other keys, not an object.
    auto size = static_cast<uint64_t>(st.st_size);
    if (offset >= size) return std::string();
    uint64_t want = std::min(length, size - offset);
    std::string out(want, '\0');
    uint64_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd.get(), out.data() + got, want - got, static_cast<off_t>(offset + got));
      if (n < 0) {
        if (errno == EINTR) continue;
        return IOErrorFor("read", path, errno);
      }
      if (n == 0) break;  // Shrunk under us; objects are replaced by rename, so this is foreign.
      got += static_cast<uint64_t>(n);
    }
    out.resize(got);
    return out;
  }

  Result<std::vector<std::string>> List(std::string_view prefix) override {
    SLUICE_RETURN_IF_ERROR(ValidatePrefix(prefix));
    // Walk only the deepest folder the prefix names in full; filter the rest by string prefix.
    size_t slash = prefix.rfind('/');
    std::string dir_part(slash == std::string_view::npos ? std::string_view()
                                                         : prefix.substr(0, slash + 1));
    fs::path start = dir_part.empty() ? fs::path(root_) : fs::path(root_ + "/" + dir_part);

    std::vector<std::string> keys;
    std::error_code ec;
    if (!fs::is_directory(start, ec)) return keys;  // Nothing under a missing folder.
    fs::recursive_directory_iterator it(start, fs::directory_options::none, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::directory_entry& entry = *it;
      std::string name = entry.path().filename().string();
      if (dir_part.empty() && it.depth() == 0 && name == ".sluice") {
        it.disable_recursion_pending();
        continue;
      }
      std::error_code type_ec;
      if (!entry.is_regular_file(type_ec)) continue;
      std::string key = dir_part + entry.path().lexically_relative(start).generic_string();
      if (key.starts_with(prefix)) keys.push_back(std::move(key));
    }
    if (ec) return Status::IOError(fmt::format("list {}: {}", start.string(), ec.message()));
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  Status Delete(std::string_view key) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    // Not followed by a directory fsync: a delete lost in a crash leaves an object that retention
    // or compaction deletes again, and readers already tolerate duplicates.
    std::string path = PathFor(key);
    if (::unlink(path.c_str()) != 0) {
      // EISDIR: the key is a folder of other keys, so no object of that name exists.
      if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return Status::OK();
      return IOErrorFor("unlink", path, errno);
    }
    return Status::OK();
  }

 private:
  static Status NotFound(std::string_view key) {
    return Status::NotFound(fmt::format("object '{}' not found", key));
  }
  static std::string ParentOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

  std::string PathFor(std::string_view key) const { return fmt::format("{}/{}", root_, key); }

  // mkdir -p for the key's folders, fsyncing the parent of each folder it creates so the new
  // object's path survives a crash along with the object.
  Status MakeParentDirs(std::string_view key) {
    std::string dir = root_;
    size_t start = 0;
    for (size_t slash = key.find('/'); slash != std::string_view::npos;
         slash = key.find('/', start)) {
      std::string parent = dir;
      dir += '/';
      dir.append(key.substr(start, slash - start));
      start = slash + 1;
      if (::mkdir(dir.c_str(), 0755) == 0) {
        SLUICE_RETURN_IF_ERROR(FsyncDir(parent));
      } else if (errno != EEXIST) {
        return IOErrorFor("mkdir", dir, errno);
      }
    }
    return Status::OK();
  }

  void RemoveStaleTemporaries() {
    std::error_code ec;
    auto now = fs::file_time_type::clock::now();
    for (fs::directory_iterator it(tmp_dir_, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::error_code entry_ec;
      auto mtime = it->last_write_time(entry_ec);
      if (!entry_ec && now - mtime > kStaleTempAge) fs::remove(it->path(), entry_ec);
    }
  }

  std::string root_;     // Without a trailing '/'.
  std::string tmp_dir_;  // Same filesystem as root_, so rename is atomic.
  uint64_t nonce_;       // Keeps temporaries of stores sharing tmp_dir_ apart.
  std::atomic<uint64_t> seq_{0};
};

}  // namespace

ObjectStorePtr NewFilesystemStore(std::string root_dir) {
  return std::make_unique<FilesystemStore>(std::move(root_dir));
}

}  // namespace sluice::storage
