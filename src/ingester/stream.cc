#include "ingester/stream.h"

#include <algorithm>
#include <atomic>

namespace sluice::ingester {

void SortEntries(std::vector<model::Entry>* entries) {
  std::stable_sort(
      entries->begin(), entries->end(),
      [](const model::Entry& a, const model::Entry& b) { return a.timestamp_ns < b.timestamp_ns; });
}

namespace {
const std::vector<model::Label> kNoMetadata;
constexpr uint64_t kHeadFirstReserve = 16 << 10;
}  // namespace

const std::vector<model::Label>& MemChunk::HeadMetadata(const HeadEntry& e) const {
  return e.metadata == HeadEntry::kNoMetadata ? kNoMetadata : head_metadata[e.metadata];
}

model::Entry MemChunk::HeadToEntry(const HeadEntry& e) const {
  return model::Entry{e.timestamp_ns, std::string(HeadLine(e)), HeadMetadata(e)};
}

void MemChunk::AppendHeadEntries(std::vector<model::Entry>* out) const {
  out->reserve(out->size() + head.size());
  for (const auto& e : head) out->push_back(HeadToEntry(e));
}

Stream::Stream(std::shared_ptr<const model::LabelSet> labels, std::string labels_text,
               uint64_t fingerprint, const StreamOptions* options)
    : labels_(std::move(labels)),
      labels_text_(std::move(labels_text)),
      fingerprint_(fingerprint),
      options_(options) {}

MemChunk& Stream::OpenChunk(int64_t now_ns) {
  if (chunks_.empty() || chunks_.back().closed) {
    static std::atomic<uint64_t> next_id{1};
    chunks_.emplace_back();
    chunks_.back().id = next_id.fetch_add(1);
    chunks_.back().first_append_ns = now_ns;
  }
  return chunks_.back();
}

AppendOutcome Stream::Append(const model::EntryView& entry, int64_t now_ns, bool unordered,
                             int64_t window_ns) {
  const int64_t ts = entry.timestamp_ns;
  if (highest_ts_ != INT64_MIN && ts < highest_ts_) {
    if (!unordered) return AppendOutcome::kOutOfOrder;
    if (ts < highest_ts_ - window_ns) return AppendOutcome::kTooFarBehind;
  }
  MemChunk& c = OpenChunk(now_ns);
  // Duplicates: an in-order entry can only equal the tail entries with its own timestamp; an
  // out-of-order one is checked against the whole head (small, and out-of-order is rare).
  for (auto it = c.head.rbegin(); it != c.head.rend(); ++it) {
    if (it->timestamp_ns == ts && c.HeadLine(*it) == entry.line) return AppendOutcome::kDuplicate;
    if (it->timestamp_ns < ts && c.head_sorted) break;
  }
  if (!c.head.empty() && ts < c.head.back().timestamp_ns) c.head_sorted = false;
  if (c.head.empty()) {
    // A stream's heads are alike, so the next one is sized like the last one when it was cut
    // (plus a margin): it then fills without regrowing, and each regrowth copies the whole head.
    // The first head starts modest and doubles: reserving a whole block per head multiplied peak
    // RSS by 1.4 with 10,000 small streams (bench/RESULTS.md).
    if (last_head_lines_ > 0) {
      c.head_lines.reserve(last_head_lines_ + last_head_lines_ / 8);
      c.head.reserve(last_head_entries_ + last_head_entries_ / 8);
    } else {
      c.head_lines.reserve(std::min<uint64_t>(options_->block_size, kHeadFirstReserve));
    }
  }
  HeadEntry he;
  he.timestamp_ns = ts;
  he.offset = c.head_lines.size();
  he.size = static_cast<uint32_t>(entry.line.size());
  if (!entry.metadata.empty()) {
    he.metadata = static_cast<uint32_t>(c.head_metadata.size());
    c.head_metadata.emplace_back(entry.metadata.begin(), entry.metadata.end());
  }
  c.head_lines.append(entry.line);
  c.head.push_back(he);
  c.head_bytes += entry.line.size() + 16;
  c.raw_bytes += entry.line.size();
  ++c.num_entries;
  c.min_ts = std::min(c.min_ts, ts);
  c.max_ts = std::max(c.max_ts, ts);
  c.last_append_ns = now_ns;
  last_append_ns_ = now_ns;
  highest_ts_ = std::max(highest_ts_, ts);
  if (c.head_bytes >= options_->block_size) CutHead();
  return AppendOutcome::kAppended;
}

void Stream::CutHead() {
  if (chunks_.empty() || chunks_.back().closed) return;
  MemChunk& c = chunks_.back();
  CutBlock(c);
  if (c.compressed_bytes >= options_->target_size) {
    c.closed = true;
    c.close_reason = "full";
  }
}

uint64_t Stream::head_bytes() const {
  return chunks_.empty() || chunks_.back().closed ? 0 : chunks_.back().head_bytes;
}

void Stream::CutBlock(MemChunk& c) {
  if (c.head.empty()) return;
  if (!c.head_sorted) {
    std::stable_sort(c.head.begin(), c.head.end(), [](const HeadEntry& a, const HeadEntry& b) {
      return a.timestamp_ns < b.timestamp_ns;
    });
  }
  // One builder per thread: Finish keeps its buffer, so cutting does not regrow it each time.
  thread_local chunk::BlockBuilder builder;
  for (const auto& e : c.head) builder.Append(e.timestamp_ns, c.HeadLine(e), c.HeadMetadata(e));
  chunk::Block block = builder.Finish(options_->codec);
  // Compression writes into a buffer of the codec's worst-case size (about the raw size): kept
  // as is, every block in memory would cost its raw size instead of its compressed size.
  block.data.shrink_to_fit();
  c.compressed_bytes += block.data.size();
  cut_bytes_ += block.data.size();
  c.blocks.push_back(std::make_shared<const chunk::Block>(std::move(block)));
  last_head_lines_ = c.head_lines.size();
  last_head_entries_ = c.head.size();
  // Release the head's memory: a stream that goes quiet should not keep a block's worth.
  std::vector<HeadEntry>().swap(c.head);
  std::string().swap(c.head_lines);
  std::vector<std::vector<model::Label>>().swap(c.head_metadata);
  c.head_bytes = 0;
  c.head_sorted = true;
}

void Stream::CloseOpenChunk(const char* reason) {
  if (chunks_.empty() || chunks_.back().closed) return;
  MemChunk& c = chunks_.back();
  CutBlock(c);
  c.closed = true;
  c.close_reason = reason;
}

Status Stream::CollectUnflushed(std::vector<model::Entry>* out) const {
  for (const auto& c : chunks_) {
    if (c.flushed) continue;
    for (const auto& b : c.blocks) SLUICE_RETURN_IF_ERROR(chunk::DecodeBlock(*b, out));
    c.AppendHeadEntries(out);
  }
  SortEntries(out);
  return Status::OK();
}

std::shared_ptr<const chunk::Block> SnapshotHead(const MemChunk& c, int64_t from_ns,
                                                 int64_t through_ns) {
  std::vector<const HeadEntry*> in_range;
  for (const auto& e : c.head) {
    if (e.timestamp_ns >= from_ns && e.timestamp_ns < through_ns) in_range.push_back(&e);
  }
  if (in_range.empty()) return nullptr;
  if (!c.head_sorted) {
    std::stable_sort(in_range.begin(), in_range.end(), [](const HeadEntry* a, const HeadEntry* b) {
      return a->timestamp_ns < b->timestamp_ns;
    });
  }
  // One builder per thread: Finish keeps its buffers, so a query does not regrow them per head.
  thread_local chunk::BlockBuilder builder;
  for (const HeadEntry* e : in_range)
    builder.Append(e->timestamp_ns, c.HeadLine(*e), c.HeadMetadata(*e));
  return std::make_shared<const chunk::Block>(builder.Finish(chunk::Codec::kNone));
}

}  // namespace sluice::ingester
