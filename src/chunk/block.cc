#include "chunk/block.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include "chunk/bloom.h"
#include "common/check.h"
#include "common/checksum.h"
#include "common/coding.h"

namespace sluice::chunk {

namespace {

// The smallest head: a 1-byte ts_delta and two 1-byte lengths.
constexpr size_t kMinHeadSize = 3;

Status BlockCorruption(std::string_view what) {
  return Status::Corruption("chunk block: " + std::string(what));
}

// Checks a compressed section's crc and returns its raw bytes: the block's own bytes when
// uncompressed, else *buf. Counts into *stats when given.
Status LoadSection(const Block& block, std::string_view data, uint32_t crc, uint32_t raw_len,
                   std::string* buf, std::string_view* raw, BlockStats* stats) {
  if (Crc32(data) != crc) {
    return BlockCorruption("checksum mismatch");
  }
  if (stats != nullptr) {
    stats->compressed_bytes_read += data.size();
    stats->raw_bytes_decompressed += raw_len;
  }
  if (block.codec == Codec::kNone) {
    if (data.size() != raw_len) {
      return BlockCorruption("length mismatch");
    }
    *raw = data;
    return Status::OK();
  }
  SLUICE_RETURN_IF_ERROR(Decompress(block.codec, data, raw_len, buf));
  *raw = *buf;
  return Status::OK();
}

// Section lengths must fit the block before either section is touched.
Status CheckShape(const Block& block) {
  if (block.max_ts < block.min_ts) {
    return BlockCorruption("max_ts before min_ts");
  }
  if (block.heads_len > block.data.size() || block.heads_raw_len > block.raw_len) {
    return BlockCorruption("section lengths past the block");
  }
  // The heads section starts with a ts_unit varint (at least one byte).
  if (block.heads_raw_len == 0 || block.num_entries > (block.heads_raw_len - 1) / kMinHeadSize) {
    return BlockCorruption("entry count exceeds the block's size");
  }
  return Status::OK();
}

// Parses the raw heads section into *out (cleared first), checking every timestamp against the
// block's range and that the lengths tile the lines section exactly.
Status ParseHeads(const Block& block, std::string_view raw, std::vector<BlockReader::Head>* out) {
  out->clear();
  out->reserve(block.num_entries);
  coding::Reader r(raw);
  uint64_t unit;
  if (!r.GetVarint64(&unit) || unit == 0) {
    return BlockCorruption("bad timestamp unit");
  }
  // Three columns, each num_entries varints: deltas, then line lengths, then metadata lengths.
  int64_t ts = block.min_ts;
  for (uint32_t i = 0; i < block.num_entries; ++i) {
    uint64_t delta;
    if (!r.GetVarint64(&delta)) {
      return BlockCorruption("truncated entry");
    }
    if (delta > (static_cast<uint64_t>(block.max_ts) - static_cast<uint64_t>(ts)) / unit ||
        (i == 0 && delta != 0)) {
      return BlockCorruption("bad timestamp");
    }
    ts = static_cast<int64_t>(static_cast<uint64_t>(ts) + delta * unit);
    out->push_back({ts, 0, 0, 0});
  }
  for (auto& h : *out) {
    if (!r.GetVarint32(&h.line_len)) {
      return BlockCorruption("truncated entry");
    }
  }
  uint64_t offset = 0;
  const uint64_t lines_len = block.lines_raw_len();
  for (auto& h : *out) {
    if (!r.GetVarint32(&h.meta_len)) {
      return BlockCorruption("truncated entry");
    }
    if (uint64_t{h.line_len} + h.meta_len > lines_len - offset) {
      return BlockCorruption("entry past the lines section");
    }
    h.line_offset = static_cast<uint32_t>(offset);
    offset += uint64_t{h.line_len} + h.meta_len;
  }
  if (!r.empty()) {
    return BlockCorruption("trailing bytes after the last entry");
  }
  if (offset != lines_len) {
    return BlockCorruption("lines section longer than its entries");
  }
  if (ts != block.max_ts) {
    return BlockCorruption("last entry's timestamp is not max_ts");
  }
  return Status::OK();
}

// Decodes encoded metadata (num_meta, { name lp, value lp } * num_meta) into
// *out, reusing its strings' capacity; it must fill `encoded` exactly. Empty
// bytes mean no metadata.
bool ParseMetadata(std::string_view encoded, std::vector<model::Label>* out) {
  if (encoded.empty()) {
    out->clear();
    return true;
  }
  coding::Reader r(encoded);
  uint64_t num_meta;
  // Each pair takes at least two bytes: reject absurd counts before resizing.
  if (!r.GetVarint64(&num_meta) || num_meta > r.remaining().size() / 2) {
    return false;
  }
  out->resize(num_meta);
  for (auto& m : *out) {
    std::string_view name, value;
    if (!r.GetLengthPrefixed(&name) || !r.GetLengthPrefixed(&value)) {
      return false;
    }
    m.name.assign(name);
    m.value.assign(value);
  }
  return r.empty();
}

void EncodeMetadata(const std::vector<model::Label>& metadata, std::string* out) {
  if (metadata.empty()) {
    return;
  }
  coding::PutVarint64(out, metadata.size());
  for (const auto& m : metadata) {
    coding::PutLengthPrefixed(out, m.name);
    coding::PutLengthPrefixed(out, m.value);
  }
}

// Both sections of a block, checked and decompressed.
Status LoadBlock(const Block& block, std::string* heads_buf, std::string* lines_buf,
                 std::vector<BlockReader::Head>* heads, std::string_view* lines) {
  SLUICE_RETURN_IF_ERROR(CheckShape(block));
  std::string_view heads_raw;
  SLUICE_RETURN_IF_ERROR(LoadSection(block, block.heads_data(), block.heads_crc32,
                                     block.heads_raw_len, heads_buf, &heads_raw, nullptr));
  SLUICE_RETURN_IF_ERROR(ParseHeads(block, heads_raw, heads));
  return LoadSection(block, block.lines_data(), block.lines_crc32, block.lines_raw_len(), lines_buf,
                     lines, nullptr);
}

}  // namespace

void BlockStats::Add(const BlockStats& o) {
  blocks += o.blocks;
  skipped_by_bloom += o.skipped_by_bloom;
  skipped_by_scan += o.skipped_by_scan;
  decompressed += o.decompressed;
  lines_sections_decompressed += o.lines_sections_decompressed;
  entries_skipped_by_literal += o.entries_skipped_by_literal;
  compressed_bytes_read += o.compressed_bytes_read;
  raw_bytes_decompressed += o.raw_bytes_decompressed;
}

void BlockBuilder::Append(int64_t ts, std::string_view line,
                          const std::vector<model::Label>& metadata) {
  if (heads_.empty()) {
    min_ts_ = ts;
    last_ts_ = ts;
  }
  SLUICE_CHECK(ts >= last_ts_);
  lines_.append(line);
  const size_t meta_start = lines_.size();
  EncodeMetadata(metadata, &lines_);
  AddHead(static_cast<uint64_t>(ts) - static_cast<uint64_t>(last_ts_), line.size(),
          lines_.size() - meta_start);
  last_ts_ = ts;
}

void BlockBuilder::AddHead(uint64_t delta, size_t line_len, size_t meta_len) {
  heads_.push_back({delta, static_cast<uint32_t>(line_len), static_cast<uint32_t>(meta_len)});
  ts_unit_ = std::gcd(ts_unit_, delta);
  heads_bytes_ +=
      coding::VarintLength(delta) + coding::VarintLength(line_len) + coding::VarintLength(meta_len);
}

void BlockBuilder::AppendEncoded(int64_t ts, std::string_view line,
                                 std::string_view encoded_metadata) {
  if (heads_.empty()) {
    min_ts_ = ts;
    last_ts_ = ts;
  }
  SLUICE_CHECK(ts >= last_ts_);
  lines_.append(line);
  lines_.append(encoded_metadata);
  AddHead(static_cast<uint64_t>(ts) - static_cast<uint64_t>(last_ts_), line.size(),
          encoded_metadata.size());
  last_ts_ = ts;
}

Block BlockBuilder::Finish(Codec codec, const FinishOptions& options) {
  // Timestamps often share a unit (ms-precision logs, evenly spaced samples): deltas stored in that
  // unit take a byte or two instead of four or five, which zstd cannot recover.
  const uint64_t unit = ts_unit_ == 0 ? 1 : ts_unit_;
  encoded_heads_.clear();
  coding::PutVarint64(&encoded_heads_, unit);
  // Column by column: like values side by side compress better (metadata lengths, mostly 0,
  // vanish), about 5 MB per GB raw on the benchmark corpus.
  for (const auto& h : heads_) {
    coding::PutVarint64(&encoded_heads_, h.delta / unit);
  }
  for (const auto& h : heads_) {
    coding::PutVarint64(&encoded_heads_, h.line_len);
  }
  for (const auto& h : heads_) {
    coding::PutVarint64(&encoded_heads_, h.meta_len);
  }
  SLUICE_CHECK(encoded_heads_.size() + lines_.size() <= std::numeric_limits<uint32_t>::max());
  SLUICE_CHECK(heads_.size() <= std::numeric_limits<uint32_t>::max());
  Block b;
  b.min_ts = min_ts_;
  b.max_ts = last_ts_;
  b.num_entries = static_cast<uint32_t>(heads_.size());
  b.raw_len = static_cast<uint32_t>(encoded_heads_.size() + lines_.size());
  b.heads_raw_len = static_cast<uint32_t>(encoded_heads_.size());
  b.codec = codec;
  Status s = Compress(codec, encoded_heads_, &b.data, options.level);
  SLUICE_CHECK(s.ok());
  b.heads_len = static_cast<uint32_t>(b.data.size());
  b.heads_crc32 = Crc32(b.data);
  if (codec == Codec::kNone) {
    // Uncompressed (the ingester's head snapshots for queries): one copy of the lines, not two.
    b.lines_crc32 = Crc32(lines_);
    b.data.append(lines_);
  } else {
    s = Compress(codec, lines_, &scratch_, options.level);
    SLUICE_CHECK(s.ok());
    b.lines_crc32 = Crc32(scratch_);
    b.data.append(scratch_);
  }
  if (options.bloom) {
    thread_local BloomBuilder bloom;
    size_t offset = 0;
    for (const auto& h : heads_) {
      bloom.AddLine(std::string_view(lines_).substr(offset, h.line_len));
      offset += h.line_len + h.meta_len;
    }
    b.bloom = bloom.Finish();
  }
  heads_.clear();
  lines_.clear();
  min_ts_ = last_ts_ = 0;
  ts_unit_ = 0;
  heads_bytes_ = 0;
  return b;
}

Result<std::vector<Block>> Recompact(const std::vector<Block>& blocks,
                                     const RecompactOptions& options) {
  BlockBuilder builder;
  std::string heads_buf, lines_buf;
  std::vector<BlockReader::Head> heads;
  std::vector<Block> out;
  const FinishOptions finish{options.level, options.bloom};
  for (const auto& block : blocks) {
    std::string_view lines;
    SLUICE_RETURN_IF_ERROR(LoadBlock(block, &heads_buf, &lines_buf, &heads, &lines));
    for (const auto& h : heads) {
      builder.AppendEncoded(h.ts, lines.substr(h.line_offset, h.line_len),
                            lines.substr(h.line_offset + h.line_len, h.meta_len));
      if (builder.raw_bytes() >= options.target_block_raw_size) {
        out.push_back(builder.Finish(options.codec, finish));
      }
    }
  }
  if (!builder.empty()) {
    out.push_back(builder.Finish(options.codec, finish));
  }
  return out;
}

Status DecodeBlock(const Block& block, std::vector<model::Entry>* out) {
  std::string heads_buf, lines_buf;
  std::vector<BlockReader::Head> heads;
  std::string_view lines;
  SLUICE_RETURN_IF_ERROR(LoadBlock(block, &heads_buf, &lines_buf, &heads, &lines));
  out->reserve(out->size() + heads.size());
  for (const auto& h : heads) {
    model::Entry& e = out->emplace_back();
    e.timestamp_ns = h.ts;
    e.line.assign(lines.substr(h.line_offset, h.line_len));
    if (!ParseMetadata(lines.substr(h.line_offset + h.line_len, h.meta_len), &e.metadata)) {
      out->pop_back();
      return BlockCorruption("bad metadata");
    }
  }
  return Status::OK();
}

bool BlockMayContain(const Block& block, std::string_view literal) {
  return BloomMayContain(block.bloom, literal);
}

void BlockReader::Reset(const Block* block, int64_t from_ns, int64_t through_ns,
                        model::Direction dir, const ReadOptions& options) {
  block_ = block;
  from_ = from_ns;
  through_ = through_ns;
  dir_ = dir;
  options_ = options;
  literals_.clear();
  if (options.required_literals != nullptr) {
    for (const auto& l : *options.required_literals) {
      if (!l.empty()) {
        literals_.push_back(l);
      }
    }
    // The longest literal is scanned for; it tends to have the fewest hits.
    std::sort(literals_.begin(), literals_.end(),
              [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  }
  loaded_ = false;
  lines_loaded_ = false;
  line_loaded_ = false;
  // A block outside the range is never decompressed.
  done_ = block->num_entries == 0 || block->max_ts < from_ns || block->min_ts >= through_ns;
  status_ = Status::OK();
  lines_ = {};
  heads_.clear();
  selected_.clear();
  use_selected_ = false;
  begin_ = end_ = 0;
  next_ = 0;
}

bool BlockReader::Fail(Status s) {
  status_ = std::move(s);
  done_ = true;
  return false;
}

bool BlockReader::Load() {
  loaded_ = true;
  BlockStats* stats = options_.stats;
  if (stats != nullptr) {
    ++stats->blocks;
  }
  for (std::string_view l : literals_) {
    if (!BloomMayContain(block_->bloom, l)) {
      if (stats != nullptr) {
        ++stats->skipped_by_bloom;
      }
      done_ = true;
      return false;
    }
  }
  Status s = CheckShape(*block_);
  if (!s.ok()) {
    return Fail(std::move(s));
  }
  std::string_view heads_raw;
  s = LoadSection(*block_, block_->heads_data(), block_->heads_crc32, block_->heads_raw_len,
                  &heads_buf_, &heads_raw, stats);
  if (s.ok()) {
    s = ParseHeads(*block_, heads_raw, &heads_);
  }
  if (!s.ok()) {
    return Fail(std::move(s));
  }
  if (stats != nullptr) {
    ++stats->decompressed;
  }
  auto ts_below = [](const Head& h, int64_t ts) { return h.ts < ts; };
  begin_ = static_cast<uint32_t>(std::lower_bound(heads_.begin(), heads_.end(), from_, ts_below) -
                                 heads_.begin());
  end_ = static_cast<uint32_t>(
      std::lower_bound(heads_.begin() + begin_, heads_.end(), through_, ts_below) - heads_.begin());
  if (begin_ == end_) {
    done_ = true;
    return false;
  }
  if (!literals_.empty()) {
    if (!LoadLines()) {
      return false;
    }
    SearchLiterals();
    use_selected_ = true;
    if (stats != nullptr) {
      stats->entries_skipped_by_literal += (end_ - begin_) - selected_.size();
      if (selected_.empty()) {
        ++stats->skipped_by_scan;
      }
    }
    if (selected_.empty()) {
      done_ = true;
      return false;
    }
  } else if (options_.lines_needed && !LoadLines()) {
    return false;
  }
  return true;
}

bool BlockReader::LoadLines() {
  lines_loaded_ = true;
  Status s = LoadSection(*block_, block_->lines_data(), block_->lines_crc32,
                         block_->lines_raw_len(), &lines_buf_, &lines_, options_.stats);
  if (!s.ok()) {
    return Fail(std::move(s));
  }
  if (options_.stats != nullptr) {
    ++options_.stats->lines_sections_decompressed;
  }
  return true;
}

void BlockReader::SearchLiterals() {
  selected_.clear();
  const std::string_view scan = literals_.front();
  const char* base = lines_.data();
  // Only the lines of entries in range are searched; a hit is then mapped to its entry, and the
  // search resumes after that entry (one hit per entry decides it).
  size_t pos = heads_[begin_].line_offset;
  const size_t region_end = heads_[end_ - 1].line_offset + heads_[end_ - 1].line_len;
  uint32_t i = begin_;
  while (pos < region_end) {
    const void* hit = memmem(base + pos, region_end - pos, scan.data(), scan.size());
    if (hit == nullptr) {
      break;
    }
    const size_t p = static_cast<size_t>(static_cast<const char*>(hit) - base);
    while (heads_[i].line_offset + heads_[i].line_len + heads_[i].meta_len <= p) {
      ++i;  // stays below end_: p < region_end
    }
    const Head& h = heads_[i];
    // A hit that runs past the line (into its metadata or the next entry) means no later hit lies
    // inside this line either.
    if (p + scan.size() <= h.line_offset + h.line_len) {
      const std::string_view line = lines_.substr(h.line_offset, h.line_len);
      bool all = true;
      for (size_t k = 1; k < literals_.size() && all; ++k) {
        all = memmem(line.data(), line.size(), literals_[k].data(), literals_[k].size()) != nullptr;
      }
      if (all) {
        selected_.push_back(i);
      }
    }
    pos = h.line_offset + h.line_len + h.meta_len;
    ++i;
  }
}

bool BlockReader::FillEntry(const Head& h) {
  entry_.line.assign(lines_.substr(h.line_offset, h.line_len));
  if (!ParseMetadata(lines_.substr(h.line_offset + h.line_len, h.meta_len), &entry_.metadata)) {
    return Fail(BlockCorruption("bad metadata"));
  }
  return true;
}

bool BlockReader::Next() {
  if (done_) {
    return false;
  }
  if (!loaded_ && !Load()) {
    return false;
  }
  const size_t count = use_selected_ ? selected_.size() : end_ - begin_;
  if (next_ >= count) {
    done_ = true;
    return false;
  }
  const size_t k = dir_ == model::Direction::kForward ? next_ : count - 1 - next_;
  ++next_;
  current_ = use_selected_ ? selected_[k] : begin_ + k;
  const Head& h = heads_[current_];
  entry_.timestamp_ns = h.ts;
  if (options_.lines_needed) {
    line_loaded_ = true;
    return FillEntry(h);
  }
  line_loaded_ = false;
  entry_.line.clear();
  entry_.metadata.clear();
  // Structured metadata labels metric samples, so it comes with every entry (see
  // iter::EntryIterator::LineLoaded); it lies in the lines section, next to the line.
  if (h.meta_len > 0) {
    return LoadLine().ok();
  }
  return true;
}

Status BlockReader::LoadLine() {
  if (line_loaded_) {
    return Status::OK();
  }
  if (!lines_loaded_ && !LoadLines()) {
    return status_;
  }
  if (!FillEntry(heads_[current_])) {
    return status_;
  }
  line_loaded_ = true;
  return Status::OK();
}

}  // namespace sluice::chunk
