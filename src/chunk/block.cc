#include "chunk/block.h"

#include <limits>
#include <utility>

#include "common/check.h"
#include "common/checksum.h"
#include "common/coding.h"

namespace sluice::chunk {

namespace {

// The smallest entry: a 1-byte ts_delta, an empty line and no metadata.
constexpr size_t kMinEntrySize = 3;

// Parses an entry after its ts_delta. With `out`, copies the line and metadata into it,
// reusing its strings' capacity; without, only skips over them.
bool ParseEntryBody(coding::Reader* r, model::Entry* out) {
  std::string_view line;
  uint64_t num_meta;
  if (!r->GetLengthPrefixed(&line) || !r->GetVarint64(&num_meta)) {
    return false;
  }
  // Each pair takes at least two bytes: reject absurd counts before resizing.
  if (num_meta > r->remaining().size() / 2) {
    return false;
  }
  if (out != nullptr) {
    out->line.assign(line);
    out->metadata.resize(num_meta);
  }
  for (uint64_t i = 0; i < num_meta; ++i) {
    std::string_view name, value;
    if (!r->GetLengthPrefixed(&name) || !r->GetLengthPrefixed(&value)) {
      return false;
    }
    if (out != nullptr) {
      out->metadata[i].name.assign(name);
      out->metadata[i].value.assign(value);
    }
  }
  return true;
}

// Reads a ts_delta and turns it into a timestamp, checking it stays within the block.
bool ParseTs(coding::Reader* r, int64_t prev_ts, int64_t max_ts, int64_t* ts) {
  uint64_t delta;
  if (!r->GetVarint64(&delta) ||
      delta > static_cast<uint64_t>(max_ts) - static_cast<uint64_t>(prev_ts)) {
    return false;
  }
  *ts = static_cast<int64_t>(static_cast<uint64_t>(prev_ts) + delta);
  return true;
}

Status BlockCorruption(std::string_view what) {
  return Status::Corruption("chunk block: " + std::string(what));
}

// Checks the crc and returns the encoded entries: the block's own bytes when uncompressed,
// else *buf.
Status LoadRaw(const Block& block, std::string* buf, std::string_view* raw) {
  if (block.max_ts < block.min_ts) {
    return BlockCorruption("max_ts before min_ts");
  }
  if (Crc32(block.data) != block.crc32) {
    return BlockCorruption("checksum mismatch");
  }
  if (block.codec == Codec::kNone) {
    if (block.data.size() != block.raw_len) {
      return BlockCorruption("length mismatch");
    }
    *raw = block.data;
    return Status::OK();
  }
  SLUICE_RETURN_IF_ERROR(Decompress(block.codec, block.data, block.raw_len, buf));
  *raw = *buf;
  return Status::OK();
}

class BlockIterator final : public iter::EntryIterator {
 public:
  BlockIterator(const Block* block, const model::LabelSet* labels, int64_t from_ns,
                int64_t through_ns, model::Direction dir)
      : labels_(labels) {
    reader_.Reset(block, from_ns, through_ns, dir);
  }

  bool Next() override { return reader_.Next(); }
  const model::Entry& At() const override { return reader_.entry(); }
  const model::LabelSet& Labels() const override { return *labels_; }
  Status Error() const override { return reader_.status(); }

 private:
  const model::LabelSet* labels_;
  BlockReader reader_;
};

}  // namespace

void BlockBuilder::Append(int64_t ts, std::string_view line,
                          const std::vector<model::Label>& metadata) {
  if (num_entries_ == 0) {
    min_ts_ = ts;
    last_ts_ = ts;
  }
  SLUICE_CHECK(ts >= last_ts_);
  coding::PutVarint64(&raw_, static_cast<uint64_t>(ts) - static_cast<uint64_t>(last_ts_));
  coding::PutLengthPrefixed(&raw_, line);
  coding::PutVarint64(&raw_, metadata.size());
  for (const auto& m : metadata) {
    coding::PutLengthPrefixed(&raw_, m.name);
    coding::PutLengthPrefixed(&raw_, m.value);
  }
  last_ts_ = ts;
  ++num_entries_;
}

Block BlockBuilder::Finish(Codec codec) {
  SLUICE_CHECK(raw_.size() <= std::numeric_limits<uint32_t>::max());
  SLUICE_CHECK(num_entries_ <= std::numeric_limits<uint32_t>::max());
  Block b;
  b.min_ts = min_ts_;
  b.max_ts = last_ts_;
  b.num_entries = static_cast<uint32_t>(num_entries_);
  b.raw_len = static_cast<uint32_t>(raw_.size());
  b.codec = codec;
  Status s = Compress(codec, raw_, &b.data);
  SLUICE_CHECK(s.ok());
  b.crc32 = Crc32(b.data);
  raw_.clear();
  min_ts_ = last_ts_ = 0;
  num_entries_ = 0;
  return b;
}

Status DecodeBlock(const Block& block, std::vector<model::Entry>* out) {
  std::string buf;
  std::string_view raw;
  SLUICE_RETURN_IF_ERROR(LoadRaw(block, &buf, &raw));
  if (block.num_entries > raw.size() / kMinEntrySize) {
    return BlockCorruption("entry count exceeds the block's size");
  }
  out->reserve(out->size() + block.num_entries);
  coding::Reader r(raw);
  int64_t ts = block.min_ts;
  for (uint32_t i = 0; i < block.num_entries; ++i) {
    int64_t prev = ts;
    if (!ParseTs(&r, prev, block.max_ts, &ts) || (i == 0 && ts != block.min_ts)) {
      return BlockCorruption("bad timestamp");
    }
    model::Entry& e = out->emplace_back();
    e.timestamp_ns = ts;
    if (!ParseEntryBody(&r, &e)) {
      out->pop_back();
      return BlockCorruption("truncated entry");
    }
  }
  if (!r.empty()) {
    return BlockCorruption("trailing bytes after the last entry");
  }
  if (ts != block.max_ts) {
    return BlockCorruption("last entry's timestamp is not max_ts");
  }
  return Status::OK();
}

iter::EntryIteratorPtr NewBlockIterator(const Block* block, const model::LabelSet* labels,
                                        int64_t from_ns, int64_t through_ns, model::Direction dir) {
  return std::make_unique<BlockIterator>(block, labels, from_ns, through_ns, dir);
}

void BlockReader::Reset(const Block* block, int64_t from_ns, int64_t through_ns,
                        model::Direction dir) {
  block_ = block;
  from_ = from_ns;
  through_ = through_ns;
  dir_ = dir;
  loaded_ = false;
  // A block outside the range is never decompressed.
  done_ = block->num_entries == 0 || block->max_ts < from_ns || block->min_ts >= through_ns;
  status_ = Status::OK();
  raw_ = {};
  index_.clear();
  next_back_ = 0;
}

bool BlockReader::Fail(std::string msg) {
  status_ = BlockCorruption(msg);
  done_ = true;
  return false;
}

bool BlockReader::Load() {
  loaded_ = true;
  Status s = LoadRaw(*block_, &buf_, &raw_);
  if (!s.ok()) {
    status_ = std::move(s);
    done_ = true;
    return false;
  }
  if (block_->num_entries > raw_.size() / kMinEntrySize) {
    return Fail("entry count exceeds the block's size");
  }
  pos_ = 0;
  prev_ts_ = block_->min_ts;
  decoded_ = 0;
  if (dir_ == model::Direction::kForward) {
    return true;
  }
  // Backward: one forward pass records where each entry in range starts; entries are then
  // decoded from the last such offset down.
  coding::Reader r(raw_);
  int64_t ts = block_->min_ts;
  uint32_t i = 0;
  for (; i < block_->num_entries; ++i) {
    int64_t prev = ts;
    if (!ParseTs(&r, prev, block_->max_ts, &ts) || (i == 0 && ts != block_->min_ts)) {
      return Fail("bad timestamp");
    }
    if (ts >= through_) {
      break;
    }
    if (ts >= from_) {
      index_.emplace_back(static_cast<uint32_t>(raw_.size() - r.remaining().size()), ts);
    }
    if (!ParseEntryBody(&r, nullptr)) {
      return Fail("truncated entry");
    }
  }
  if (i == block_->num_entries) {
    if (!r.empty()) {
      return Fail("trailing bytes after the last entry");
    }
    if (ts != block_->max_ts) {
      return Fail("last entry's timestamp is not max_ts");
    }
  }
  next_back_ = index_.size();
  return true;
}

bool BlockReader::Next() {
  if (done_) {
    return false;
  }
  if (!loaded_ && !Load()) {
    return false;
  }
  return dir_ == model::Direction::kForward ? NextForward() : NextBackward();
}

bool BlockReader::NextForward() {
  while (decoded_ < block_->num_entries) {
    coding::Reader r(raw_.substr(pos_));
    int64_t ts;
    if (!ParseTs(&r, prev_ts_, block_->max_ts, &ts) || (decoded_ == 0 && ts != block_->min_ts)) {
      return Fail("bad timestamp");
    }
    if (ts >= through_) {
      done_ = true;
      return false;
    }
    bool in_range = ts >= from_;
    if (!ParseEntryBody(&r, in_range ? &entry_ : nullptr)) {
      return Fail("truncated entry");
    }
    pos_ = raw_.size() - r.remaining().size();
    prev_ts_ = ts;
    ++decoded_;
    if (in_range) {
      entry_.timestamp_ns = ts;
      return true;
    }
  }
  done_ = true;
  if (pos_ != raw_.size()) {
    return Fail("trailing bytes after the last entry");
  }
  if (prev_ts_ != block_->max_ts) {
    return Fail("last entry's timestamp is not max_ts");
  }
  return false;
}

bool BlockReader::NextBackward() {
  if (next_back_ == 0) {
    done_ = true;
    return false;
  }
  const auto& [offset, ts] = index_[--next_back_];
  coding::Reader r(raw_.substr(offset));
  // Already parsed once by Load(); a failure here would be a bug, but stay graceful.
  if (!ParseEntryBody(&r, &entry_)) {
    return Fail("truncated entry");
  }
  entry_.timestamp_ns = ts;
  return true;
}

}  // namespace sluice::chunk
