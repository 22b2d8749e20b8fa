#pragma once

// The Kafka record of the Kafka write path (issue 13): one stream batch of one push, produced by
// a distributor to the partition that owns the stream and consumed by the ingesters that own the
// partition. docs/formats/kafka.md mirrors this comment.
//
//   record   := version:byte lp(tenant) lp(labels) count:varint entry{count}
//   entry    := ts:zigzag-varint lp(line) n:varint { lp(name) lp(value) }{n}
//
// lp(s) is a varint length then the bytes; varints are LEB128 (common/coding.h). `ts` of the
// first entry is the timestamp in ns since the epoch; each later entry's `ts` is the difference
// to the previous entry's timestamp (wrapping 64-bit arithmetic), so an ordered batch costs one
// or two bytes per timestamp. `labels` is the stream's `{a="b"}` text as the distributor printed
// it (sorted, as write::StreamLabels::text). Nothing may follow the last entry.
//
// Version byte: 1 is the only version. A reader refuses a version it does not know (Corruption
// naming it) instead of guessing; a new layout takes a new version, and readers learn it before
// writers start producing it (see the doc for the upgrade order).
//
// Kafka checksums its record batches (CRC-32C), so the record carries no checksum of its own.
//
// The record's Kafka key is RecordKey(tenant, labels): 16 lowercase hex digits of
// StreamHash(tenant, labels). The partition is PartitionFor(tenant, labels, partitions), chosen by
// the producer (not by Kafka's key partitioner), so every record of a stream lands on one
// partition and keeps its order.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/entry.h"
#include "write/pusher.h"

namespace sluice::kafka {

inline constexpr uint8_t kRecordVersion = 1;

// A decoded record; owns its bytes.
struct StreamRecord {
  std::string tenant;
  std::string labels;  // `{a="b"}` text
  std::vector<model::Entry> entries;

  bool operator==(const StreamRecord&) const = default;
};

// Encodes one stream batch. `entries` may be empty (the record then has count 0).
std::string EncodeStreamRecord(std::string_view tenant, std::string_view labels,
                               std::span<const model::EntryView> entries);
std::string EncodeStreamRecord(std::string_view tenant, const write::ValidatedStream& stream);
std::string EncodeStreamRecord(const StreamRecord& record);

// Decodes and checks a record: Corruption (with what is wrong and where) on an unknown version,
// truncation, a malformed varint, a length past the end, or trailing bytes. Never reads past
// `bytes` and never allocates more than `bytes` justifies.
Result<StreamRecord> DecodeStreamRecord(std::string_view bytes);

// XXH3-64 of lp(tenant) lp(labels): the stream's identity across tenants. Stable across builds
// and machines (it chooses partitions); never change it for an existing version.
uint64_t StreamHash(std::string_view tenant, std::string_view labels);
// The Kafka record key: StreamHash as 16 lowercase hex digits (readable in kcat's output).
std::string RecordKey(std::string_view tenant, std::string_view labels);
// The partition of a stream: StreamHash mod partitions. REQUIRES: partitions > 0.
int32_t PartitionFor(std::string_view tenant, std::string_view labels, int32_t partitions);

}  // namespace sluice::kafka
