#include "kafka/record.h"

#include <xxhash.h>

#include <cstdio>

#include "common/check.h"
#include "common/coding.h"

namespace sluice::kafka {
namespace {

// The smallest encoded entry: a one-byte timestamp, an empty line (one length byte) and no
// metadata (one count byte). Bounds `count` by the bytes left, so a corrupt count cannot make
// the decoder reserve gigabytes.
constexpr size_t kMinEntrySize = 3;
// The smallest metadata pair: two empty strings.
constexpr size_t kMinPairSize = 2;

void PutEntries(std::string* out, std::span<const model::EntryView> entries) {
  coding::PutVarint64(out, entries.size());
  uint64_t prev = 0;
  for (const model::EntryView& e : entries) {
    auto ts = static_cast<uint64_t>(e.timestamp_ns);
    // Wrapping difference: defined for any pair of timestamps, undone by a wrapping sum.
    coding::PutVarintSigned64(out, static_cast<int64_t>(ts - prev));
    prev = ts;
    coding::PutLengthPrefixed(out, e.line);
    coding::PutVarint64(out, e.metadata.size());
    for (const model::Label& m : e.metadata) {
      coding::PutLengthPrefixed(out, m.name);
      coding::PutLengthPrefixed(out, m.value);
    }
  }
}

size_t EstimateSize(std::string_view tenant, std::string_view labels,
                    std::span<const model::EntryView> entries) {
  size_t n = 1 + 10 + tenant.size() + 10 + labels.size() + 10;
  for (const model::EntryView& e : entries) {
    n += 10 + 5 + e.line.size() + 2;
    for (const model::Label& m : e.metadata) {
      n += 4 + m.name.size() + m.value.size();
    }
  }
  return n;
}

Status Truncated(const char* what, size_t entry) {
  return Status::Corruption(
      "kafka stream record: truncated or malformed " + std::string(what) +
      (entry == SIZE_MAX ? std::string() : " of entry " + std::to_string(entry)));
}

}  // namespace

std::string EncodeStreamRecord(std::string_view tenant, std::string_view labels,
                               std::span<const model::EntryView> entries) {
  std::string out;
  out.reserve(EstimateSize(tenant, labels, entries));
  out.push_back(static_cast<char>(kRecordVersion));
  coding::PutLengthPrefixed(&out, tenant);
  coding::PutLengthPrefixed(&out, labels);
  PutEntries(&out, entries);
  return out;
}

std::string EncodeStreamRecord(std::string_view tenant, const write::ValidatedStream& stream) {
  return EncodeStreamRecord(tenant, stream.labels_text(), stream.entries);
}

std::string EncodeStreamRecord(const StreamRecord& record) {
  std::vector<model::EntryView> views;
  views.reserve(record.entries.size());
  for (const model::Entry& e : record.entries) {
    views.push_back(model::EntryView::Of(e));
  }
  return EncodeStreamRecord(record.tenant, record.labels, views);
}

Result<StreamRecord> DecodeStreamRecord(std::string_view bytes) {
  coding::Reader r(bytes);
  uint8_t version;
  if (!r.GetByte(&version)) {
    return Status::Corruption("kafka stream record: empty");
  }
  if (version != kRecordVersion) {
    return Status::Corruption("kafka stream record: unknown version " + std::to_string(version) +
                              " (this build reads version " + std::to_string(kRecordVersion) + ")");
  }
  StreamRecord rec;
  std::string_view s;
  if (!r.GetLengthPrefixed(&s)) return Truncated("tenant", SIZE_MAX);
  rec.tenant = s;
  if (!r.GetLengthPrefixed(&s)) return Truncated("labels", SIZE_MAX);
  rec.labels = s;
  uint64_t count;
  if (!r.GetVarint64(&count)) return Truncated("entry count", SIZE_MAX);
  if (count > r.remaining().size() / kMinEntrySize) {
    return Status::Corruption("kafka stream record: entry count " + std::to_string(count) +
                              " exceeds the " + std::to_string(r.remaining().size()) +
                              " bytes left");
  }
  rec.entries.resize(count);
  uint64_t ts = 0;
  for (size_t i = 0; i < count; ++i) {
    model::Entry& e = rec.entries[i];
    int64_t delta;
    if (!r.GetVarintSigned64(&delta)) return Truncated("timestamp", i);
    ts += static_cast<uint64_t>(delta);
    e.timestamp_ns = static_cast<int64_t>(ts);
    if (!r.GetLengthPrefixed(&s)) return Truncated("line", i);
    e.line = s;
    uint64_t n;
    if (!r.GetVarint64(&n)) return Truncated("metadata count", i);
    if (n > r.remaining().size() / kMinPairSize) {
      return Status::Corruption("kafka stream record: metadata count " + std::to_string(n) +
                                " of entry " + std::to_string(i) + " exceeds the " +
                                std::to_string(r.remaining().size()) + " bytes left");
    }
    e.metadata.resize(n);
    for (model::Label& m : e.metadata) {
      if (!r.GetLengthPrefixed(&s)) return Truncated("metadata name", i);
      m.name = s;
      if (!r.GetLengthPrefixed(&s)) return Truncated("metadata value", i);
      m.value = s;
    }
  }
  if (!r.empty()) {
    return Status::Corruption("kafka stream record: " + std::to_string(r.remaining().size()) +
                              " trailing bytes after the last entry");
  }
  return rec;
}

uint64_t StreamHash(std::string_view tenant, std::string_view labels) {
  std::string buf;
  buf.reserve(tenant.size() + labels.size() + 20);
  coding::PutLengthPrefixed(&buf, tenant);
  coding::PutLengthPrefixed(&buf, labels);
  return XXH3_64bits(buf.data(), buf.size());
}

std::string RecordKey(std::string_view tenant, std::string_view labels) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(StreamHash(tenant, labels)));
  return std::string(buf, 16);
}

int32_t PartitionFor(std::string_view tenant, std::string_view labels, int32_t partitions) {
  SLUICE_CHECK(partitions > 0);
  return static_cast<int32_t>(StreamHash(tenant, labels) % static_cast<uint64_t>(partitions));
}

}  // namespace sluice::kafka
