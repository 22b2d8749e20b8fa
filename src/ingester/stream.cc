#include "ingester/stream.h"

#include <algorithm>
#include <atomic>

namespace sluice::ingester {

void SortEntries(std::vector<model::Entry>* entries) {
  std::stable_sort(entries->begin(), entries->end(),
                   [](const model::Entry& a, const model::Entry& b) { return a.timestamp_ns < b.timestamp_ns; });
}

Stream::Stream(std::shared_ptr<const model::LabelSet> labels, std::string labels_text, uint64_t fingerprint,
               const StreamOptions* options)
    : labels_(std::move(labels)), labels_text_(std::move(labels_text)), fingerprint_(fingerprint), options_(options) {}

MemChunk& Stream::OpenChunk(int64_t now_ns) {
  if (chunks_.empty() || chunks_.back().closed) {
    static std::atomic<uint64_t> next_id{1};
    chunks_.emplace_back();
    chunks_.back().id = next_id.fetch_add(1);
    chunks_.back().first_append_ns = now_ns;
  }
  return chunks_.back();
}

AppendOutcome Stream::Append(const model::Entry& entry, int64_t now_ns, bool unordered, int64_t window_ns) {
  const int64_t ts = entry.timestamp_ns;
  if (highest_ts_ != INT64_MIN && ts < highest_ts_) {
    if (!unordered) return AppendOutcome::kOutOfOrder;
    if (ts < highest_ts_ - window_ns) return AppendOutcome::kTooFarBehind;
  }
  MemChunk& c = OpenChunk(now_ns);
  // Duplicates: an in-order entry can only equal the tail entries with its own timestamp; an
  // out-of-order one is checked against the whole head (small, and out-of-order is rare).
  for (auto it = c.head.rbegin(); it != c.head.rend(); ++it) {
    if (it->timestamp_ns == ts && it->line == entry.line) return AppendOutcome::kDuplicate;
    if (it->timestamp_ns < ts && c.head_sorted) break;
  }
  if (!c.head.empty() && ts < c.head.back().timestamp_ns) c.head_sorted = false;
  c.head.push_back(entry);
  c.head_bytes += entry.line.size() + 16;
  c.raw_bytes += entry.line.size();
  ++c.num_entries;
  c.min_ts = std::min(c.min_ts, ts);
  c.max_ts = std::max(c.max_ts, ts);
  c.last_append_ns = now_ns;
  last_append_ns_ = now_ns;
  highest_ts_ = std::max(highest_ts_, ts);
  if (c.head_bytes >= options_->block_size) {
    CutBlock(c);
    if (c.compressed_bytes >= options_->target_size) {
      c.closed = true;
      c.close_reason = "full";
    }
  }
  return AppendOutcome::kAppended;
}

void Stream::CutBlock(MemChunk& c) {
  if (c.head.empty()) return;
  if (!c.head_sorted) SortEntries(&c.head);
  chunk::BlockBuilder builder;
  for (const auto& e : c.head) builder.Append(e.timestamp_ns, e.line, e.metadata);
  auto block = std::make_shared<const chunk::Block>(builder.Finish(options_->codec));
  c.compressed_bytes += block->data.size();
  c.blocks.push_back(std::move(block));
  c.head.clear();
  c.head.shrink_to_fit();
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
    out->insert(out->end(), c.head.begin(), c.head.end());
  }
  SortEntries(out);
  return Status::OK();
}

}  // namespace sluice::ingester
