#include "ingester/wal/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "ingester/wal/format.h"

namespace sluice::wal {

namespace {

// Writes go out in chunks of about this size: large enough for few syscalls, small enough
// that a checkpoint of many GB never sits in memory.
constexpr size_t kFlushThreshold = 1 << 20;

}  // namespace

Result<std::unique_ptr<CheckpointWriter>> CheckpointWriter::Create(const std::string& dir,
                                                                   uint64_t segment) {
  SLUICE_RETURN_IF_ERROR(CreateDirs(dir));
  std::string path = JoinPath(dir, CheckpointTmpFileName(segment));
  // O_TRUNC: a .tmp left by a crash is garbage by definition.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return ErrnoStatus("create", path, errno);
  }
  return std::unique_ptr<CheckpointWriter>(new CheckpointWriter(dir, segment, UniqueFd(fd)));
}

CheckpointWriter::CheckpointWriter(std::string dir, uint64_t segment, UniqueFd fd)
    : dir_(std::move(dir)),
      segment_(segment),
      tmp_path_(JoinPath(dir_, CheckpointTmpFileName(segment))),
      fd_(std::move(fd)) {}

CheckpointWriter::~CheckpointWriter() {
  if (!committed_) {
    (void)fd_.Close(tmp_path_);
    (void)RemoveFile(tmp_path_);
  }
}

Status CheckpointWriter::Fail(Status st) {
  error_ = st;
  return st;
}

Status CheckpointWriter::AddStream(std::string_view tenant, uint64_t ref, std::string_view labels,
                                   std::span<const model::Entry> entries) {
  SLUICE_RETURN_IF_ERROR(error_);
  if (committed_) {
    return Status::Internal("checkpoint already committed");
  }
  if (entries.empty()) {
    return Status::OK();
  }
  auto& refs = seen_[std::string(tenant)];
  if (!refs.contains(ref)) {
    SeriesRef series{ref, labels};
    AppendSeriesRecords(&buf_, tenant, std::span<const SeriesRef>(&series, 1));
    refs.insert(ref);
  }
  views_.clear();
  views_.reserve(entries.size());
  for (const model::Entry& e : entries) views_.push_back(model::EntryView::Of(e));
  StreamEntries stream{ref, labels, views_};
  auto records = AppendEntriesRecords(&buf_, tenant, std::span<const StreamEntries>(&stream, 1));
  if (!records.ok()) {
    return Fail(records.status());
  }
  if (buf_.size() >= kFlushThreshold) {
    return Flush();
  }
  return Status::OK();
}

Status CheckpointWriter::Flush() {
  Status st = WriteAll(fd_.get(), buf_, tmp_path_);
  if (!st.ok()) {
    return Fail(st);
  }
  bytes_written_ += buf_.size();
  buf_.clear();
  return Status::OK();
}

Status CheckpointWriter::Commit() {
  SLUICE_RETURN_IF_ERROR(error_);
  if (committed_) {
    return Status::OK();
  }
  SLUICE_RETURN_IF_ERROR(Flush());
  Status st = DataSync(fd_.get(), tmp_path_);
  if (st.ok()) {
    st = fd_.Close(tmp_path_);
  }
  std::string path = JoinPath(dir_, CheckpointFileName(segment_));
  if (st.ok() && std::rename(tmp_path_.c_str(), path.c_str()) != 0) {
    st = ErrnoStatus("rename", tmp_path_, errno);
  }
  if (!st.ok()) {
    return Fail(st);
  }
  committed_ = true;
  // Until the rename is durable the old checkpoint must stay: it and the segments >= its
  // number are what replay would use.
  SLUICE_RETURN_IF_ERROR(SyncDir(dir_));
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir_));
  for (const std::string& name : names) {
    ParsedFileName f = ParseFileName(name);
    if ((f.kind == FileKind::kCheckpoint || f.kind == FileKind::kCheckpointTmp) &&
        f.number < segment_) {
      Status rm = RemoveFile(JoinPath(dir_, name));
      if (!rm.ok()) {
        spdlog::warn("wal: deleting old checkpoint: {}", rm.ToString());
      }
    }
  }
  spdlog::info("wal: committed checkpoint {} ({} bytes)", path, bytes_written_);
  return Status::OK();
}

}  // namespace sluice::wal
