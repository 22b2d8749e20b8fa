#pragma once

// Building push requests from queued lines. A batch is cut when adding the next line would pass
// client.batch_size, or when its oldest line has waited client.batch_wait (the caller watches the
// clock). Cutting encodes the body (protobuf + snappy, or JSON; then gzip when configured) and
// frees the lines.
//
// Timestamps are given here, in queue order: a line gets max(now, last timestamp of its file + 1),
// so each file's lines have strictly increasing timestamps, or the timestamp journaled for it
// before a restart. Each file's lines in a batch form runs of consecutive offsets and consecutive
// timestamps; the runs go to the positions journal before the batch is sent, which is what lets a
// restart re-send in-flight lines with the same timestamps. Journal entries bring their own
// timestamps; their runs only delimit the entries and the batch carries their last cursor.
//
// Not thread-safe: owned by the batcher thread.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/item.h"
#include "agent/positions.h"

namespace sluice::agent {

enum class Encoding : uint8_t { kProtobuf, kJson };
enum class Compression : uint8_t { kNone, kGzip };

// The lines of one persistent source in a batch, for the positions journal.
struct BatchSegment {
  TrackedFilePtr file;
  std::vector<TimestampRun> runs;
  std::string cursor;  // journal sources: the cursor of its last entry in the batch
};

struct Batch {
  uint64_t id = 0;
  std::string body;
  std::string content_type;
  std::string content_encoding;  // "gzip" or empty
  uint64_t lines = 0;            // entries in the body
  uint64_t line_bytes = 0;       // their bytes
  uint64_t shed_lines = 0;       // lines shed by the readers whose offsets this batch carries
  uint64_t charge = 0;  // MemoryBudget bytes held until the batch is acknowledged or dropped
  std::vector<BatchSegment> segments;
};

class BatchBuilder {
 public:
  BatchBuilder(uint64_t batch_size, Encoding encoding, Compression compression = Compression::kNone)
      : batch_size_(batch_size), encoding_(encoding), compression_(compression) {}

  // Whether adding the item would take the batch past batch_size (never for an empty batch).
  bool WouldOverflow(const Item& item) const {
    return items_ > 0 && bytes_ + item.line.size() > batch_size_;
  }
  void Add(Item item, int64_t now_ns);
  bool empty() const { return items_ == 0; }
  uint64_t bytes() const { return bytes_; }
  // Encodes everything added into a batch and starts over.
  Batch Cut(uint64_t id);

 private:
  struct StreamBuf {
    StreamLabelsPtr labels;
    std::vector<std::pair<int64_t, std::string>> entries;
  };
  struct FileRuns {
    TrackedFilePtr file;
    std::vector<TimestampRun> runs;
    int64_t next_ts = 0;  // the timestamp that continues the last run
    std::string cursor;
  };

  const uint64_t batch_size_;
  const Encoding encoding_;
  const Compression compression_;
  uint64_t items_ = 0;
  uint64_t bytes_ = 0;
  uint64_t lines_ = 0;
  uint64_t shed_lines_ = 0;
  uint64_t charge_ = 0;
  std::vector<StreamBuf> streams_;
  std::unordered_map<std::string, size_t> stream_index_;
  std::vector<FileRuns> files_;
  std::unordered_map<uint64_t, size_t> file_index_;
};

// The encoders, exposed for tests and the benchmark.
std::string EncodeProtobufSnappy(
    const std::vector<
        std::pair<const StreamLabels*, std::vector<std::pair<int64_t, std::string>>*>>& streams);
std::string EncodeJson(
    const std::vector<
        std::pair<const StreamLabels*, std::vector<std::pair<int64_t, std::string>>*>>& streams);

}  // namespace sluice::agent
