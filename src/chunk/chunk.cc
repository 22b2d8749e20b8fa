#include "chunk/chunk.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "chunk/blocks_iterator.h"
#include "chunk/bloom.h"
#include "chunk/format.h"
#include "common/check.h"
#include "common/checksum.h"
#include "common/coding.h"

namespace sluice::chunk {

namespace {

// Non-empty blocks, each spanning min_ts..max_ts, one after another.
bool BlocksInTimeOrder(const std::vector<Block>& blocks) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i].num_entries == 0 || blocks[i].max_ts < blocks[i].min_ts) {
      return false;
    }
    if (i > 0 && blocks[i - 1].max_ts > blocks[i].min_ts) {
      return false;
    }
  }
  return true;
}

Status ChunkCorruption(std::string_view what) {
  return Status::Corruption("chunk: " + std::string(what));
}

}  // namespace

std::string EncodeChunk(const model::LabelSet& labels, const std::vector<Block>& blocks) {
  SLUICE_CHECK(BlocksInTimeOrder(blocks));
  std::string index;
  coding::PutVarint64(&index, labels.size());
  for (const auto& l : labels.labels()) {
    coding::PutLengthPrefixed(&index, l.name);
    coding::PutLengthPrefixed(&index, l.value);
  }
  coding::PutVarint64(&index, blocks.size());
  uint64_t offset = 0;
  size_t data_len = 0;
  for (const auto& b : blocks) {
    coding::PutVarint64(&index, offset);
    coding::PutVarint64(&index, b.heads_len);
    coding::PutVarint64(&index, b.data.size() - b.heads_len);
    coding::PutVarint64(&index, b.heads_raw_len);
    coding::PutVarint64(&index, b.lines_raw_len());
    coding::PutVarintSigned64(&index, b.min_ts);
    coding::PutVarint64(&index, static_cast<uint64_t>(b.max_ts) - static_cast<uint64_t>(b.min_ts));
    coding::PutVarint64(&index, b.num_entries);
    index.push_back(static_cast<char>(b.codec));
    std::string ext;
    uint8_t flags = 0;
    if (!b.bloom.empty()) {
      flags |= format::kBlockFlagBloom;
      coding::PutLengthPrefixed(&ext, b.bloom);
    }
    index.push_back(static_cast<char>(flags));
    coding::PutLengthPrefixed(&index, ext);
    coding::PutFixed32(&index, b.heads_crc32);
    coding::PutFixed32(&index, b.lines_crc32);
    offset += b.data.size();
    data_len += b.data.size();
  }
  SLUICE_CHECK(index.size() <= std::numeric_limits<uint32_t>::max());

  std::string out;
  out.reserve(format::kHeaderSize + index.size() + data_len + format::kFooterSize);
  coding::PutFixed32(&out, format::kMagic);
  out.push_back(static_cast<char>(format::kVersion));
  out.push_back(0);  // flags
  coding::PutFixed32(&out, static_cast<uint32_t>(index.size()));
  out.append(index);
  uint32_t index_crc = Crc32(out);
  for (const auto& b : blocks) {
    out.append(b.data);
  }
  coding::PutFixed32(&out, index_crc);
  coding::PutFixed32(&out, format::kMagic);
  return out;
}

Chunk::Chunk(model::LabelSet labels, std::vector<Block> blocks)
    : labels_(std::move(labels)), blocks_(std::move(blocks)) {
  SLUICE_CHECK(BlocksInTimeOrder(blocks_));
}

Result<Chunk> Chunk::Decode(std::string bytes) {
  using namespace format;  // NOLINT: format constants only
  const size_t size = bytes.size();
  if (size < kHeaderSize + kFooterSize) {
    return ChunkCorruption("too short (" + std::to_string(size) + " bytes)");
  }
  if (coding::DecodeFixed32(bytes.data()) != kMagic) {
    return ChunkCorruption("bad magic");
  }
  auto version = static_cast<uint8_t>(bytes[4]);
  if (version != kVersion) {
    return ChunkCorruption("unsupported version " + std::to_string(version));
  }
  if (coding::DecodeFixed32(bytes.data() + size - 4) != kMagic) {
    return ChunkCorruption("bad footer magic (truncated?)");
  }
  const size_t index_len = coding::DecodeFixed32(bytes.data() + 6);
  if (index_len > size - kHeaderSize - kFooterSize) {
    return ChunkCorruption("index length past the end");
  }
  const size_t data_start = kHeaderSize + index_len;
  const size_t data_len = size - kFooterSize - data_start;
  const uint32_t index_crc = coding::DecodeFixed32(bytes.data() + size - kFooterSize);
  if (Crc32(std::string_view(bytes.data(), data_start)) != index_crc) {
    return ChunkCorruption("index checksum mismatch");
  }

  coding::Reader r(std::string_view(bytes.data() + kHeaderSize, index_len));
  uint64_t num_labels;
  if (!r.GetVarint64(&num_labels) || num_labels > r.remaining().size() / kMinLabelSize) {
    return ChunkCorruption("bad label count");
  }
  std::vector<model::Label> labels(num_labels);
  for (auto& l : labels) {
    std::string_view name, value;
    if (!r.GetLengthPrefixed(&name) || !r.GetLengthPrefixed(&value)) {
      return ChunkCorruption("truncated labels");
    }
    l.name.assign(name);
    l.value.assign(value);
  }

  uint64_t num_blocks;
  if (!r.GetVarint64(&num_blocks) || num_blocks > r.remaining().size() / kMinBlockMetaSize) {
    return ChunkCorruption("bad block count");
  }
  std::vector<Block> blocks(num_blocks);
  uint64_t prev_end = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    Block& b = blocks[i];
    uint64_t offset, heads_len, lines_len, lines_raw_len, span;
    uint8_t codec, flags;
    std::string_view ext;
    if (!r.GetVarint64(&offset) || !r.GetVarint64(&heads_len) || !r.GetVarint64(&lines_len) ||
        !r.GetVarint32(&b.heads_raw_len) || !r.GetVarint64(&lines_raw_len) ||
        !r.GetVarintSigned64(&b.min_ts) || !r.GetVarint64(&span) ||
        !r.GetVarint32(&b.num_entries) || !r.GetByte(&codec) || !r.GetByte(&flags) ||
        !r.GetLengthPrefixed(&ext) || !r.GetFixed32(&b.heads_crc32) ||
        !r.GetFixed32(&b.lines_crc32)) {
      return ChunkCorruption("truncated block index");
    }
    if (lines_raw_len > std::numeric_limits<uint32_t>::max() - uint64_t{b.heads_raw_len}) {
      return ChunkCorruption("block raw length overflows");
    }
    b.raw_len = static_cast<uint32_t>(b.heads_raw_len + lines_raw_len);
    if ((flags & kBlockFlagBloom) != 0) {
      coding::Reader er(ext);
      std::string_view bloom;
      if (!er.GetLengthPrefixed(&bloom) || !BloomValid(bloom)) {
        return ChunkCorruption("bad bloom filter in block " + std::to_string(i));
      }
      b.bloom.assign(bloom);
    }
    if (!IsValidCodec(codec)) {
      return ChunkCorruption("unknown codec " + std::to_string(codec));
    }
    b.codec = static_cast<Codec>(codec);
    // Unsigned arithmetic: INT64_MAX - min_ts may not fit in int64 when min_ts < 0.
    const uint64_t min_u = static_cast<uint64_t>(b.min_ts);
    if (span > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - min_u) {
      return ChunkCorruption("block time span overflows");
    }
    b.max_ts = static_cast<int64_t>(min_u + span);
    if (b.num_entries == 0) {
      return ChunkCorruption("empty block");
    }
    if (i > 0 && blocks[i - 1].max_ts > b.min_ts) {
      return ChunkCorruption("blocks out of time order");
    }
    if (offset < prev_end || offset > data_len || heads_len > data_len - offset ||
        lines_len > data_len - offset - heads_len) {
      return ChunkCorruption("block " + std::to_string(i) + " outside the data section");
    }
    const uint64_t len = heads_len + lines_len;
    b.heads_len = static_cast<uint32_t>(heads_len);
    prev_end = offset + len;
    b.data.assign(bytes.data() + data_start + offset, len);
  }
  if (!r.empty()) {
    return ChunkCorruption("trailing bytes in the index");
  }
  return Chunk(model::LabelSet(std::move(labels)), std::move(blocks));
}

ChunkMeta Chunk::meta() const {
  ChunkMeta m;
  m.fingerprint = labels_.Fingerprint();
  if (!blocks_.empty()) {
    m.min_ts = blocks_.front().min_ts;
    m.max_ts = blocks_.back().max_ts;
  }
  for (const auto& b : blocks_) {
    m.num_entries += b.num_entries;
    m.raw_bytes += b.raw_len;
  }
  return m;
}

iter::EntryIteratorPtr Chunk::Iterator(int64_t from_ns, int64_t through_ns, model::Direction dir,
                                       const ReadOptions& options) const {
  std::vector<const Block*> blocks;
  blocks.reserve(blocks_.size());
  for (const auto& b : blocks_) blocks.push_back(&b);
  return NewBlocksIterator(nullptr, std::move(blocks), &labels_, from_ns, through_ns, dir, options);
}

}  // namespace sluice::chunk
