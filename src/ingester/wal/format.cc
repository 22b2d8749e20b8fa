#include "ingester/wal/format.h"

#include <charconv>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "common/check.h"
#include "common/checksum.h"
#include "common/coding.h"

namespace sluice::wal {

namespace {

constexpr std::string_view kCheckpointPrefix = "checkpoint.";
constexpr std::string_view kTmpSuffix = ".tmp";

size_t LengthPrefixedSize(std::string_view s) { return coding::VarintLength(s.size()) + s.size(); }

// An upper bound on an entry's encoded size (the timestamp delta counted at its widest).
size_t EntrySizeBound(const model::EntryView& e) {
  size_t n = 10 + LengthPrefixedSize(e.line) + coding::VarintLength(e.metadata.size());
  for (const auto& m : e.metadata) {
    n += LengthPrefixedSize(m.name) + LengthPrefixedSize(m.value);
  }
  return n;
}

void PutEntry(std::string* dst, const model::EntryView& e, int64_t prev_ts) {
  // Wrapping subtraction: deltas between arbitrary int64 timestamps must not overflow.
  auto delta =
      static_cast<int64_t>(static_cast<uint64_t>(e.timestamp_ns) - static_cast<uint64_t>(prev_ts));
  coding::PutVarintSigned64(dst, delta);
  coding::PutLengthPrefixed(dst, e.line);
  coding::PutVarint64(dst, e.metadata.size());
  for (const auto& m : e.metadata) {
    coding::PutLengthPrefixed(dst, m.name);
    coding::PutLengthPrefixed(dst, m.value);
  }
}

bool ParseNumber(std::string_view digits, uint64_t* out) {
  if (digits.empty()) {
    return false;
  }
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  return ec == std::errc() && ptr == digits.data() + digits.size();
}

}  // namespace

Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text) {
  if (text == "batch") {
    return FsyncPolicy::kBatch;
  }
  if (text == "interval") {
    return FsyncPolicy::kInterval;
  }
  if (text == "never") {
    return FsyncPolicy::kNever;
  }
  return Status::InvalidArgument(
      fmt::format("invalid WAL fsync policy \"{}\": want batch, interval or never", text));
}

std::string_view FsyncPolicyName(FsyncPolicy policy) {
  switch (policy) {
    case FsyncPolicy::kBatch:
      return "batch";
    case FsyncPolicy::kInterval:
      return "interval";
    case FsyncPolicy::kNever:
      return "never";
  }
  return "unknown";
}

std::string SegmentFileName(uint64_t n) { return fmt::format("{:08d}", n); }
std::string CheckpointFileName(uint64_t n) { return fmt::format("checkpoint.{:08d}", n); }
std::string CheckpointTmpFileName(uint64_t n) { return fmt::format("checkpoint.{:08d}.tmp", n); }

ParsedFileName ParseFileName(std::string_view name) {
  ParsedFileName parsed;
  if (ParseNumber(name, &parsed.number)) {
    parsed.kind = FileKind::kSegment;
    return parsed;
  }
  if (!name.starts_with(kCheckpointPrefix)) {
    return {};
  }
  name.remove_prefix(kCheckpointPrefix.size());
  FileKind kind = FileKind::kCheckpoint;
  if (name.ends_with(kTmpSuffix)) {
    name.remove_suffix(kTmpSuffix.size());
    kind = FileKind::kCheckpointTmp;
  }
  if (!ParseNumber(name, &parsed.number)) {
    return {};
  }
  parsed.kind = kind;
  return parsed;
}

RecordBuilder::RecordBuilder(std::string* dst, RecordType type) : dst_(dst), start_(dst->size()) {
  dst_->append(kHeaderSize - 1, '\0');
  dst_->push_back(static_cast<char>(type));
}

void RecordBuilder::Finish() {
  size_t length = payload_size();
  SLUICE_CHECK(length <= kMaxRecordSize);
  char* header = dst_->data() + start_;
  uint32_t crc = Crc32(std::string_view(header + 8, length + 1));
  auto len32 = static_cast<uint32_t>(length);
  std::memcpy(header, &crc, 4);
  std::memcpy(header + 4, &len32, 4);
}

size_t AppendSeriesRecords(std::string* dst, std::string_view tenant,
                           std::span<const SeriesRef> series, size_t max_record_size) {
  size_t records = 0;
  size_t i = 0;
  while (i < series.size()) {
    RecordBuilder rec(dst, RecordType::kSeries);
    coding::PutLengthPrefixed(rec.payload(), tenant);
    // At least one series per record: labels are bounded far below the cap by validation.
    do {
      coding::PutFixed64(rec.payload(), series[i].ref);
      coding::PutLengthPrefixed(rec.payload(), series[i].labels);
      ++i;
    } while (i < series.size() &&
             rec.payload_size() + 8 + LengthPrefixedSize(series[i].labels) <= max_record_size);
    rec.Finish();
    ++records;
  }
  return records;
}

Result<size_t> AppendEntriesRecords(std::string* dst, std::string_view tenant,
                                    std::span<const StreamEntries> streams,
                                    size_t max_record_size) {
  const size_t original_size = dst->size();
  const size_t record_overhead = LengthPrefixedSize(tenant);
  constexpr size_t kGroupOverhead = 8 + 10;  // ref, count
  std::optional<RecordBuilder> rec;
  size_t records = 0;
  for (const StreamEntries& stream : streams) {
    size_t i = 0;
    while (i < stream.entries.size()) {
      if (!rec) {
        rec.emplace(dst, RecordType::kEntries);
        coding::PutLengthPrefixed(dst, tenant);
      }
      // Take as many entries as fit in what is left of this record.
      size_t used = rec->payload_size() + kGroupOverhead;
      size_t j = i;
      while (j < stream.entries.size()) {
        size_t size = EntrySizeBound(stream.entries[j]);
        if (used + size > max_record_size) {
          break;
        }
        used += size;
        ++j;
      }
      if (j == i) {
        if (rec->payload_size() > record_overhead) {
          rec->Finish();  // full: retry in a fresh record
          rec.reset();
          ++records;
          continue;
        }
        dst->resize(original_size);
        return Status::TooLarge(
            fmt::format("log entry of {} bytes does not fit in a WAL record (max {} bytes)",
                        EntrySizeBound(stream.entries[i]), max_record_size));
      }
      coding::PutFixed64(dst, stream.ref);
      coding::PutVarint64(dst, j - i);
      int64_t prev_ts = 0;
      for (size_t k = i; k < j; ++k) {
        PutEntry(dst, stream.entries[k], prev_ts);
        prev_ts = stream.entries[k].timestamp_ns;
      }
      i = j;
      if (i < stream.entries.size()) {
        rec->Finish();
        rec.reset();
        ++records;
      }
    }
  }
  if (rec) {
    rec->Finish();
    ++records;
  }
  return records;
}

Status SeriesDecoder::Decode(std::string_view payload) {
  series_.clear();
  coding::Reader r(payload);
  if (!r.GetLengthPrefixed(&tenant_)) {
    return Status::Corruption("series record: bad tenant");
  }
  while (!r.empty()) {
    SeriesRef s;
    if (!r.GetFixed64(&s.ref) || !r.GetLengthPrefixed(&s.labels)) {
      return Status::Corruption("series record: truncated series");
    }
    series_.push_back(s);
  }
  if (series_.empty()) {
    return Status::Corruption("series record: no series");
  }
  return Status::OK();
}

Status EntriesDecoder::Decode(std::string_view payload) {
  struct Range {
    uint64_t ref;
    size_t begin, count;
  };
  std::vector<Range> ranges;
  groups_.clear();
  used_ = 0;
  coding::Reader r(payload);
  if (!r.GetLengthPrefixed(&tenant_)) {
    return Status::Corruption("entries record: bad tenant");
  }
  while (!r.empty()) {
    Range range{};
    uint64_t count = 0;
    // Each entry takes at least 3 bytes: a count beyond that is corrupt, and must not be
    // trusted for an allocation.
    if (!r.GetFixed64(&range.ref) || !r.GetVarint64(&count) || count == 0 ||
        count > r.remaining().size() / 3) {
      return Status::Corruption("entries record: bad group header");
    }
    range.begin = used_;
    range.count = count;
    if (entries_.size() < used_ + count) {
      entries_.resize(used_ + count);
    }
    int64_t prev_ts = 0;
    for (uint64_t k = 0; k < count; ++k) {
      model::Entry& e = entries_[used_++];
      int64_t delta = 0;
      std::string_view line;
      uint64_t n_metadata = 0;
      if (!r.GetVarintSigned64(&delta) || !r.GetLengthPrefixed(&line) ||
          !r.GetVarint64(&n_metadata) || n_metadata > r.remaining().size() / 2) {
        return Status::Corruption("entries record: truncated entry");
      }
      e.timestamp_ns =
          static_cast<int64_t>(static_cast<uint64_t>(prev_ts) + static_cast<uint64_t>(delta));
      prev_ts = e.timestamp_ns;
      e.line.assign(line);
      e.metadata.resize(n_metadata);
      for (auto& m : e.metadata) {
        std::string_view name, value;
        if (!r.GetLengthPrefixed(&name) || !r.GetLengthPrefixed(&value)) {
          return Status::Corruption("entries record: truncated metadata");
        }
        m.name.assign(name);
        m.value.assign(value);
      }
    }
    ranges.push_back(range);
  }
  if (ranges.empty()) {
    return Status::Corruption("entries record: no entries");
  }
  // Spans are taken only now: entries_ may have been reallocated while decoding.
  groups_.reserve(ranges.size());
  for (const Range& range : ranges) {
    groups_.push_back(
        {range.ref, std::span<const model::Entry>(entries_.data() + range.begin, range.count)});
  }
  return Status::OK();
}

}  // namespace sluice::wal
