#include "agent/positions.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/checksum.h"

namespace sluice::agent {

namespace {

constexpr std::string_view kHeader = "sluice-agent-positions 2\n";
constexpr std::string_view kHeaderV1 = "sluice-agent-positions 1\n";  // no journal records

std::string EscapePath(std::string_view p) {
  std::string out;
  for (unsigned char c : p) {
    if (c <= 0x20 || c == '%' || c == 0x7f) {
      out += fmt::format("%{:02X}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool UnescapePath(std::string_view p, std::string* out) {
  out->clear();
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '%') {
      out->push_back(p[i]);
      continue;
    }
    if (i + 2 >= p.size()) return false;
    int hi = HexValue(p[i + 1]), lo = HexValue(p[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= line.size()) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) sp = line.size();
    out.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

template <typename Int>
bool ParseInt(std::string_view s, Int* out, int base = 10) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Status Corrupt(size_t line_no, std::string_view why) {
  return Status::Corruption(fmt::format("positions line {}: {}", line_no, why));
}

}  // namespace

std::string EncodePositions(const std::vector<FileRecord>& records) {
  std::string out(kHeader);
  for (const auto& r : records) {
    if (r.journal) {
      if (!r.cursor.empty()) {
        out += fmt::format("journal {} {}\n", EscapePath(r.path), EscapePath(r.cursor));
      }
      continue;
    }
    out += fmt::format("file {} {} {} {} {}\n", r.dev, r.ino, r.acked_offset, r.last_ts,
                       EscapePath(r.path));
    for (const auto& run : r.runs)
      out += fmt::format("run {} {} {}\n", run.start, run.end, run.base_ts);
  }
  out += fmt::format("end {:08x}\n", Crc32(out));
  return out;
}

Result<std::vector<FileRecord>> DecodePositions(std::string_view text) {
  bool v1 = text.substr(0, kHeaderV1.size()) == kHeaderV1;
  if (!v1 && text.substr(0, kHeader.size()) != kHeader) {
    return Status::Corruption("positions: bad header");
  }
  std::vector<FileRecord> out;
  size_t pos = kHeader.size();
  size_t line_no = 1;
  while (pos < text.size()) {
    ++line_no;
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) return Corrupt(line_no, "torn line");
    std::string_view line = text.substr(pos, nl - pos);
    auto f = SplitFields(line);
    if (f[0] == "end") {
      uint32_t crc = 0;
      if (f.size() != 2 || !ParseInt(f[1], &crc, 16)) return Corrupt(line_no, "bad end record");
      if (crc != Crc32(text.substr(0, pos))) return Corrupt(line_no, "checksum mismatch");
      if (nl + 1 != text.size()) return Corrupt(line_no, "data after end record");
      return out;
    }
    if (f[0] == "file") {
      FileRecord r;
      if (f.size() != 6 || !ParseInt(f[1], &r.dev) || !ParseInt(f[2], &r.ino) ||
          !ParseInt(f[3], &r.acked_offset) || !ParseInt(f[4], &r.last_ts) ||
          !UnescapePath(f[5], &r.path)) {
        return Corrupt(line_no, "bad file record");
      }
      out.push_back(std::move(r));
    } else if (f[0] == "journal" && !v1) {
      FileRecord r;
      r.journal = true;
      if (f.size() != 3 || !UnescapePath(f[1], &r.path) || !UnescapePath(f[2], &r.cursor) ||
          r.cursor.empty()) {
        return Corrupt(line_no, "bad journal record");
      }
      out.push_back(std::move(r));
    } else if (f[0] == "run") {
      TimestampRun run;
      if (out.empty() || out.back().journal || f.size() != 4 || !ParseInt(f[1], &run.start) ||
          !ParseInt(f[2], &run.end) || !ParseInt(f[3], &run.base_ts) || run.end < run.start) {
        return Corrupt(line_no, "bad run record");
      }
      out.back().runs.push_back(run);
    } else {
      return Corrupt(line_no, "unknown record");
    }
    pos = nl + 1;
  }
  return Status::Corruption("positions: missing end record");
}

Status WriteFileAtomic(const std::string& path, std::string_view data, bool fsync) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(fmt::format("open {}: {}", tmp, std::strerror(errno)));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::IOError(fmt::format("write {}: {}", tmp, std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync && ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return Status::IOError(fmt::format("fsync {}: {}", tmp, std::strerror(err)));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError(fmt::format("rename {}: {}", tmp, std::strerror(errno)));
  }
  if (fsync) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return Status::OK();
}

Positions::Positions(std::string filename, bool fsync)
    : filename_(std::move(filename)), fsync_(fsync) {}

Status Positions::Load() {
  std::ifstream in(filename_, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || !std::filesystem::exists(filename_)) return Status::OK();
    return Status::IOError(fmt::format("cannot read positions file {}", filename_));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto decoded = DecodePositions(ss.str());
  if (!decoded.ok()) {
    corrupted_ = true;
    std::string aside = filename_ + ".corrupt";
    std::error_code ec;
    std::filesystem::rename(filename_, aside, ec);
    spdlog::warn(
        "msg=\"positions file is corrupt; set aside, starting every file from its beginning\" "
        "file=\"{}\" err=\"{}\"",
        filename_, decoded.status().message());
    return Status::OK();
  }
  MutexLock lock(&mu_);
  loaded_ = std::move(decoded).value();
  return Status::OK();
}

std::optional<FileRecord> Positions::Find(uint64_t dev, uint64_t ino) const {
  MutexLock lock(&mu_);
  for (const auto& r : loaded_) {
    if (r.dev == dev && r.ino == ino) return r;
  }
  return std::nullopt;
}

void Positions::DropUnclaimed() {
  MutexLock lock(&mu_);
  if (std::erase_if(loaded_, [](const FileRecord& r) { return !r.journal; }) > 0) dirty_ = true;
}

std::string Positions::JournalCursor(const std::string& key) const {
  MutexLock lock(&mu_);
  for (const auto& r : loaded_) {
    if (r.journal && r.path == key) return r.cursor;
  }
  return "";
}

void Positions::Track(const TrackedFile& f, uint64_t acked_offset, int64_t last_ts,
                      std::string cursor) {
  MutexLock lock(&mu_);
  std::erase_if(loaded_, [&](const FileRecord& r) {
    return f.journal ? (r.journal && r.path == f.path)
                     : (!r.journal && r.dev == f.dev && r.ino == f.ino);
  });
  State& s = files_[f.id];
  s.record =
      FileRecord{f.path, f.dev, f.ino, acked_offset, last_ts, {}, f.journal, std::move(cursor)};
  s.segments.clear();
  dirty_ = true;
}

void Positions::AddSegment(uint64_t file_id, uint64_t batch_id, std::vector<TimestampRun> runs,
                           int64_t last_ts, std::string cursor) {
  MutexLock lock(&mu_);
  auto it = files_.find(file_id);
  if (it == files_.end() || runs.empty()) return;
  it->second.segments.push_back(Segment{batch_id, std::move(runs), std::move(cursor), false});
  it->second.record.last_ts = std::max(it->second.record.last_ts, last_ts);
  batch_files_[batch_id].push_back(file_id);
  dirty_ = true;
}

void Positions::Ack(uint64_t batch_id) {
  MutexLock lock(&mu_);
  auto bf = batch_files_.find(batch_id);
  if (bf == batch_files_.end()) return;
  for (uint64_t file_id : bf->second) {
    auto it = files_.find(file_id);
    if (it == files_.end()) continue;
    State& s = it->second;
    for (auto& seg : s.segments) {
      if (seg.batch_id == batch_id) seg.acked = true;
    }
    while (!s.segments.empty() && s.segments.front().acked) {
      s.record.acked_offset = s.segments.front().runs.back().end;
      if (!s.segments.front().cursor.empty()) {
        s.record.cursor = std::move(s.segments.front().cursor);
      }
      s.segments.pop_front();
    }
  }
  batch_files_.erase(bf);
  dirty_ = true;
}

bool Positions::FullyAcked(uint64_t file_id) const {
  MutexLock lock(&mu_);
  auto it = files_.find(file_id);
  return it == files_.end() || it->second.segments.empty();
}

uint64_t Positions::AckedOffset(uint64_t file_id) const {
  MutexLock lock(&mu_);
  auto it = files_.find(file_id);
  return it == files_.end() ? 0 : it->second.record.acked_offset;
}

void Positions::Untrack(uint64_t file_id) {
  MutexLock lock(&mu_);
  if (files_.erase(file_id) > 0) dirty_ = true;
}

std::vector<FileRecord> Positions::Snapshot() const {
  std::vector<FileRecord> out;
  out.reserve(files_.size() + loaded_.size());
  for (const auto& [id, s] : files_) {
    FileRecord r = s.record;
    if (!r.journal) {
      for (const auto& seg : s.segments) {
        r.runs.insert(r.runs.end(), seg.runs.begin(), seg.runs.end());
      }
    }
    out.push_back(std::move(r));
  }
  for (const auto& r : loaded_) out.push_back(r);
  return out;
}

Status Positions::Save() {
  MutexLock save_lock(&save_mu_);
  std::string data;
  {
    MutexLock lock(&mu_);
    if (!dirty_) return Status::OK();
    data = EncodePositions(Snapshot());
    dirty_ = false;
  }
  Status st = WriteFileAtomic(filename_, data, fsync_);
  if (!st.ok()) {
    MutexLock lock(&mu_);
    dirty_ = true;
  }
  return st;
}

}  // namespace sluice::agent
