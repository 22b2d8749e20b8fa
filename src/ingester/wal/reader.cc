#include "ingester/wal/reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/checksum.h"
#include "common/coding.h"

namespace sluice::wal {

namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr uint64_t kProgressEvery = 4 << 20;

Status TruncateFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open", path, errno);
  }
  UniqueFd owned(fd);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return ErrnoStatus("ftruncate", path, errno);
  }
  SLUICE_RETURN_IF_ERROR(DataSync(fd, path));
  return owned.Close(path);
}

class Replayer {
 public:
  Replayer(ReplayHandler* handler, std::function<void(uint64_t, uint64_t)> progress, uint64_t total)
      : handler_(handler), progress_(std::move(progress)), total_(total) {}

  // Replays one file. A segment is truncated at a corrupt record; a checkpoint is left as is.
  Status ReplayFile(const std::string& path, bool is_segment) {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<RecordReader> reader, RecordReader::Open(path));
    const uint64_t done_before = done_;
    bool warned_unknown = false;
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(RecordReader::Outcome outcome, reader->Next());
      if (outcome == RecordReader::Outcome::kEof) {
        break;
      }
      uint64_t corrupt_at = reader->good_offset();
      std::string why = reader->corruption();
      if (outcome == RecordReader::Outcome::kRecord) {
        Status st = Dispatch(reader->type(), reader->payload(), &warned_unknown, path);
        if (st.ok()) {
          stats_.records++;
          stats_.bytes += reader->good_offset() - reader->record_offset();
          done_ = done_before + reader->good_offset();
          if (progress_ && done_ - last_progress_ >= kProgressEvery) {
            last_progress_ = done_;
            progress_(done_, total_);
          }
          continue;
        }
        corrupt_at = reader->record_offset();
        why = st.message();
      }
      // A torn tail after a crash, or damage: what follows cannot be trusted.
      stats_.corrupt_truncations++;
      if (is_segment) {
        spdlog::warn("wal: {} at offset {} of {} ({} bytes); truncating the segment there", why,
                     corrupt_at, path, reader->file_size());
        SLUICE_RETURN_IF_ERROR(TruncateFile(path, corrupt_at));
      } else {
        spdlog::warn("wal: {} at offset {} of checkpoint {}; ignoring the rest of it", why,
                     corrupt_at, path);
      }
      break;
    }
    done_ = done_before + reader->file_size();
    if (is_segment) {
      stats_.segments++;
    }
    if (progress_) {
      last_progress_ = done_;
      progress_(done_, total_);
    }
    return Status::OK();
  }

  const ReplayStats& stats() const { return stats_; }

 private:
  // Corruption if the payload does not decode; nothing is delivered from such a record.
  Status Dispatch(uint8_t type, std::string_view payload, bool* warned_unknown,
                  const std::string& path) {
    switch (static_cast<RecordType>(type)) {
      case RecordType::kSeries: {
        SLUICE_RETURN_IF_ERROR(series_.Decode(payload));
        for (const SeriesRef& s : series_.series()) {
          handler_->OnSeries(series_.tenant(), s.ref, s.labels);
        }
        return Status::OK();
      }
      case RecordType::kEntries: {
        SLUICE_RETURN_IF_ERROR(entries_.Decode(payload));
        for (const EntriesDecoder::Group& g : entries_.groups()) {
          handler_->OnEntries(entries_.tenant(), g.ref, g.entries);
        }
        stats_.entries += entries_.num_entries();
        return Status::OK();
      }
    }
    // The CRC held, so this is a record from a newer sluice, not damage: skip it.
    if (!*warned_unknown) {
      spdlog::warn("wal: skipping records of unknown type {} in {}", type, path);
      *warned_unknown = true;
    }
    return Status::OK();
  }

  ReplayHandler* handler_;
  std::function<void(uint64_t, uint64_t)> progress_;
  const uint64_t total_;
  uint64_t done_ = 0, last_progress_ = 0;
  ReplayStats stats_;
  SeriesDecoder series_;
  EntriesDecoder entries_;
};

}  // namespace

Result<ReplayStats> Replay(const std::string& dir, ReplayHandler* handler,
                           std::function<void(uint64_t done, uint64_t total)> progress) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return ReplayStats{};
    }
    return ErrnoStatus("stat", dir, errno);
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  std::map<uint64_t, std::string> segments;  // ordered by number
  std::optional<uint64_t> checkpoint;
  for (const std::string& name : names) {
    ParsedFileName f = ParseFileName(name);
    switch (f.kind) {
      case FileKind::kSegment:
        segments.emplace(f.number, name);
        break;
      case FileKind::kCheckpoint:
        checkpoint = std::max(checkpoint.value_or(0), f.number);
        break;
      case FileKind::kCheckpointTmp:
        spdlog::info("wal: deleting incomplete checkpoint {}", name);
        SLUICE_RETURN_IF_ERROR(RemoveFile(JoinPath(dir, name)));
        break;
      case FileKind::kOther:
        break;
    }
  }

  std::vector<std::pair<std::string, bool>> files;  // path, is_segment
  if (checkpoint) {
    files.emplace_back(JoinPath(dir, CheckpointFileName(*checkpoint)), false);
  }
  for (const auto& [n, name] : segments) {
    // Segments below the checkpoint are covered by it (TruncateBefore may not have run).
    if (!checkpoint || n >= *checkpoint) {
      files.emplace_back(JoinPath(dir, name), true);
    }
  }
  uint64_t total = 0;
  for (const auto& [path, is_segment] : files) {
    SLUICE_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
    total += size;
  }
  if (progress) {
    progress(0, total);
  }
  spdlog::info("wal: replaying {} ({} segments{}, {} bytes)", dir,
               files.size() - (checkpoint ? 1 : 0),
               checkpoint ? fmt::format(" after checkpoint {}", *checkpoint) : "", total);

  Replayer replayer(handler, std::move(progress), total);
  for (const auto& [path, is_segment] : files) {
    SLUICE_RETURN_IF_ERROR(replayer.ReplayFile(path, is_segment));
  }
  const ReplayStats& stats = replayer.stats();
  spdlog::info("wal: replayed {} records, {} entries, {} bytes ({} corrupt tails truncated)",
               stats.records, stats.entries, stats.bytes, stats.corrupt_truncations);
  return stats;
}

Result<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(UniqueFd fd, OpenForRead(path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoStatus("stat", path, errno);
  }
  return std::unique_ptr<RecordReader>(
      new RecordReader(path, std::move(fd), static_cast<uint64_t>(st.st_size)));
}

RecordReader::RecordReader(std::string path, UniqueFd fd, uint64_t file_size)
    : path_(std::move(path)), fd_(std::move(fd)), file_size_(file_size) {}

Result<bool> RecordReader::Fill(size_t n) {
  if (end_ - begin_ >= n) {
    return true;
  }
  if (n > cap_) {
    size_t cap = std::max({n, kReadChunk, 2 * cap_});
    auto buf = std::make_unique_for_overwrite<char[]>(cap);
    if (end_ > begin_) {
      std::memcpy(buf.get(), buf_.get() + begin_, end_ - begin_);
    }
    buf_ = std::move(buf);
    cap_ = cap;
  } else if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
  }
  end_ -= begin_;
  begin_ = 0;
  while (end_ < n) {
    ssize_t r = ::read(fd_.get(), buf_.get() + end_, cap_ - end_);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoStatus("read", path_, errno);
    }
    if (r == 0) {
      return false;
    }
    end_ += static_cast<size_t>(r);
  }
  return true;
}

RecordReader::Outcome RecordReader::Corrupt(std::string why) {
  corruption_ = std::move(why);
  return Outcome::kCorrupt;
}

Result<RecordReader::Outcome> RecordReader::Next() {
  payload_ = {};
  SLUICE_ASSIGN_OR_RETURN(bool have_header, Fill(kHeaderSize));
  if (!have_header) {
    if (end_ == begin_) {
      return Outcome::kEof;
    }
    return Corrupt(fmt::format("truncated record header ({} bytes)", end_ - begin_));
  }
  const char* header = buf_.get() + begin_;
  uint32_t crc = coding::DecodeFixed32(header);
  uint32_t length = coding::DecodeFixed32(header + 4);
  if (length > kMaxRecordSize) {
    return Corrupt(fmt::format("record length {} over the limit", length));
  }
  // Checked before reading, so a corrupt length costs no allocation.
  if (good_offset_ + kHeaderSize + length > file_size_) {
    return Corrupt(fmt::format("truncated record (length {}, {} bytes left)", length,
                               file_size_ - good_offset_ - kHeaderSize));
  }
  SLUICE_ASSIGN_OR_RETURN(bool have_record, Fill(kHeaderSize + length));
  if (!have_record) {
    return Corrupt("file shrank while reading");
  }
  header = buf_.get() + begin_;
  if (Crc32(std::string_view(header + 8, length + 1)) != crc) {
    return Corrupt("checksum mismatch");
  }
  type_ = static_cast<uint8_t>(header[8]);
  payload_ = std::string_view(header + kHeaderSize, length);
  begin_ += kHeaderSize + length;
  record_offset_ = good_offset_;
  good_offset_ += kHeaderSize + length;
  return Outcome::kRecord;
}

}  // namespace sluice::wal
