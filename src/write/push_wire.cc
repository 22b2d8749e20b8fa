// Loki's logproto.PushRequest for ValidatedStreams, written and read by hand: the layout is in
// write/push_wire.h.

#include "write/push_wire.h"

#include <cstring>
#include <utility>

#include "common/check.h"
#include "common/clock.h"
#include "common/coding.h"

namespace sluice::write {

void ToProto(std::span<const ValidatedStream> streams, logproto::PushRequest* out) {
  for (const auto& vs : streams) {
    logproto::StreamAdapter* s = out->add_streams();
    s->set_labels(vs.labels_text());
    s->set_hash(vs.fingerprint());
    for (const auto& e : vs.entries) {
      logproto::EntryAdapter* pe = s->add_entries();
      // google.protobuf.Timestamp: nanos in [0, 1e9) also before 1970.
      int64_t seconds = e.timestamp_ns / kNanosPerSecond;
      int64_t nanos = e.timestamp_ns % kNanosPerSecond;
      if (nanos < 0) {
        --seconds;
        nanos += kNanosPerSecond;
      }
      pe->mutable_timestamp()->set_seconds(seconds);
      pe->mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos));
      pe->set_line(e.line.data(), e.line.size());
      for (const auto& m : e.metadata) {
        logproto::LabelPairAdapter* pm = pe->add_structuredmetadata();
        pm->set_name(m.name);
        pm->set_value(m.value);
      }
    }
  }
}

namespace {

// Wire types and tags of push.proto's fields (tag = field << 3 | wire type).
constexpr uint8_t kVarint = 0;
constexpr uint8_t kFixed64 = 1;
constexpr uint8_t kBytes = 2;
constexpr uint8_t kStartGroup = 3;
constexpr uint8_t kEndGroup = 4;
constexpr uint8_t kFixed32 = 5;
constexpr char Tag(uint32_t field, uint8_t wire_type) {
  return static_cast<char>(field << 3 | wire_type);
}

// google.protobuf.Timestamp: nanos in [0, 1e9) also before 1970.
struct Timestamp {
  int64_t seconds;
  int32_t nanos;
};
Timestamp SplitTimestamp(int64_t ns) {
  int64_t seconds = ns / kNanosPerSecond;
  int64_t nanos = ns % kNanosPerSecond;
  if (nanos < 0) {
    --seconds;
    nanos += kNanosPerSecond;
  }
  return {seconds, static_cast<int32_t>(nanos)};
}

size_t VarintSize(uint64_t v) { return coding::VarintLength(v); }
// A length-delimited field of `n` bytes, tag (one byte: every field number here is below 16)
// and length included.
size_t BytesFieldSize(size_t n) { return 1 + VarintSize(n) + n; }

char* PutVarint(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
char* PutBytesField(char tag, std::string_view bytes, char* p) {
  *p++ = tag;
  p = PutVarint(bytes.size(), p);
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

size_t TimestampSize(const Timestamp& ts) {
  size_t n = 0;
  if (ts.seconds != 0) n += 1 + VarintSize(static_cast<uint64_t>(ts.seconds));
  if (ts.nanos != 0) n += 1 + VarintSize(static_cast<uint64_t>(ts.nanos));
  return n;
}

size_t LabelPairSize(const model::Label& l) {
  size_t n = 0;
  if (!l.name.empty()) n += BytesFieldSize(l.name.size());
  if (!l.value.empty()) n += BytesFieldSize(l.value.size());
  return n;
}

size_t EntrySize(const model::EntryView& e) {
  size_t n = BytesFieldSize(TimestampSize(SplitTimestamp(e.timestamp_ns)));
  if (!e.line.empty()) n += BytesFieldSize(e.line.size());
  for (const auto& m : e.metadata) n += BytesFieldSize(LabelPairSize(m));
  return n;
}

char* WriteEntry(const model::EntryView& e, char* p) {
  const Timestamp ts = SplitTimestamp(e.timestamp_ns);
  *p++ = Tag(1, kBytes);
  p = PutVarint(TimestampSize(ts), p);
  if (ts.seconds != 0) {
    *p++ = Tag(1, kVarint);
    p = PutVarint(static_cast<uint64_t>(ts.seconds), p);
  }
  if (ts.nanos != 0) {
    *p++ = Tag(2, kVarint);
    p = PutVarint(static_cast<uint64_t>(ts.nanos), p);
  }
  if (!e.line.empty()) p = PutBytesField(Tag(2, kBytes), e.line, p);
  for (const auto& m : e.metadata) {
    *p++ = Tag(3, kBytes);
    p = PutVarint(LabelPairSize(m), p);
    if (!m.name.empty()) p = PutBytesField(Tag(1, kBytes), m.name, p);
    if (!m.value.empty()) p = PutBytesField(Tag(2, kBytes), m.value, p);
  }
  return p;
}

// Decoding. Each message is parsed from its own bytes; a field is (tag, value) and a field the
// decoder does not know, or a known one with another wire type, is skipped as protobuf does.
struct Field {
  uint32_t number = 0;
  uint8_t wire_type = 0;
};

bool ReadField(coding::Reader* r, Field* f) {
  uint32_t v;
  if (!r->GetVarint32(&v) || (v >> 3) == 0 || (v & 7) > kFixed32) return false;
  f->number = v >> 3;
  f->wire_type = static_cast<uint8_t>(v & 7);
  return true;
}

// Unknown groups nest at most this deep (protobuf's own recursion limit is 100).
constexpr int kMaxGroupDepth = 32;

bool Skip(coding::Reader* r, const Field& f, int depth = 0) {
  uint64_t u64;
  uint32_t u32;
  std::string_view bytes;
  switch (f.wire_type) {
    case kVarint:
      return r->GetVarint64(&u64);
    case kFixed64:
      return r->GetFixed64(&u64);
    case kBytes:
      return r->GetLengthPrefixed(&bytes);
    case kFixed32:
      return r->GetFixed32(&u32);
    case kStartGroup:
      if (depth >= kMaxGroupDepth) return false;
      for (;;) {
        Field inner;
        if (!ReadField(r, &inner)) return false;
        if (inner.wire_type == kEndGroup) return inner.number == f.number;
        if (!Skip(r, inner, depth + 1)) return false;
      }
    default:  // an end of group outside a group
      return false;
  }
}

// Reads a length-delimited field into *out, or skips a field of another wire type. *present says
// which happened.
bool ReadBytes(coding::Reader* r, const Field& f, std::string_view* out, bool* present) {
  *present = f.wire_type == kBytes;
  return *present ? r->GetLengthPrefixed(out) : Skip(r, f);
}

// How many length-delimited fields `number` a message holds, so vectors are sized once. Stops
// quietly at malformed bytes (the real pass reports them).
size_t CountBytesFields(std::string_view msg, uint32_t number) {
  coding::Reader r(msg);
  size_t n = 0;
  Field f;
  while (!r.empty() && ReadField(&r, &f) && Skip(&r, f)) {
    n += f.number == number && f.wire_type == kBytes;
  }
  return n;
}

// Merges into *ts: a second occurrence of the field only overrides what it sets.
bool DecodeTimestamp(std::string_view msg, Timestamp* ts) {
  coding::Reader r(msg);
  while (!r.empty()) {
    Field f;
    if (!ReadField(&r, &f)) return false;
    if ((f.number == 1 || f.number == 2) && f.wire_type == kVarint) {
      uint64_t v;
      if (!r.GetVarint64(&v)) return false;
      if (f.number == 1) {
        ts->seconds = static_cast<int64_t>(v);
      } else {
        ts->nanos = static_cast<int32_t>(static_cast<uint32_t>(v));  // int32 keeps the low bits
      }
    } else if (!Skip(&r, f)) {
      return false;
    }
  }
  return true;
}

bool DecodeLabelPair(std::string_view msg, model::Label* label) {
  coding::Reader r(msg);
  while (!r.empty()) {
    Field f;
    if (!ReadField(&r, &f)) return false;
    if (f.number != 1 && f.number != 2) {
      if (!Skip(&r, f)) return false;
      continue;
    }
    std::string_view bytes;
    bool present;
    if (!ReadBytes(&r, f, &bytes, &present)) return false;
    if (present) (f.number == 1 ? label->name : label->value).assign(bytes);
  }
  return true;
}

class PushDecoder {
 public:
  PushDecoder(LabelsCache* labels, ReceivedPush* out) : labels_(labels), out_(out) {}

  Status Decode(std::span<const std::string_view> pieces) {
    size_t streams = out_->streams.size();
    for (std::string_view bytes : pieces) streams += CountBytesFields(bytes, 1);
    out_->streams.reserve(streams);
    for (std::string_view bytes : pieces) {
      coding::Reader r(bytes);
      while (!r.empty()) {
        Field f;
        std::string_view msg;
        bool present = false;
        if (!ReadField(&r, &f) ||
            !(f.number == 1 ? ReadBytes(&r, f, &msg, &present) : Skip(&r, f))) {
          return Malformed("streams[" + std::to_string(out_->streams.size()) + "]");
        }
        if (present) SLUICE_RETURN_IF_ERROR(DecodeStream(msg));
      }
    }
    // The metadata vector is complete: point the entries into it.
    for (const auto& [stream, entry, at, count] : metadata_refs_) {
      out_->streams[stream].entries[entry].metadata =
          std::span<const model::Label>(out_->metadata.data() + at, count);
    }
    return Status::OK();
  }

 private:
  struct MetadataRef {
    size_t stream;
    size_t entry;
    size_t at;
    size_t count;
  };

  static Status Malformed(const std::string& where) {
    return Status::InvalidArgument("malformed push request: truncated or invalid field in " +
                                   where);
  }

  Status DecodeStream(std::string_view msg) {
    const size_t index = out_->streams.size();
    ValidatedStream& vs = out_->streams.emplace_back();
    vs.entries.reserve(CountBytesFields(msg, 2));
    std::string_view labels;
    coding::Reader r(msg);
    while (!r.empty()) {
      Field f;
      std::string_view bytes;
      bool present = false;
      bool ok = ReadField(&r, &f);
      if (ok && (f.number == 1 || f.number == 2)) {
        ok = ReadBytes(&r, f, &bytes, &present);
      } else if (ok) {
        ok = Skip(&r, f);  // 3: hash, which the ingester computes itself
      }
      if (!ok) return Malformed("streams[" + std::to_string(index) + "]");
      if (!present) continue;
      if (f.number == 1) {
        labels = bytes;
      } else if (!DecodeEntry(bytes, index, &vs.entries.emplace_back())) {
        return Malformed("streams[" + std::to_string(index) + "].entries[" +
                         std::to_string(vs.entries.size() - 1) + "]");
      }
    }
    if (labels_ != nullptr) {
      SLUICE_ASSIGN_OR_RETURN(vs.labels, labels_->Get(labels));
    } else {
      SLUICE_ASSIGN_OR_RETURN(model::LabelSet parsed, model::ParseLabels(labels));
      vs.labels = StreamLabels::Make(std::move(parsed));
    }
    return Status::OK();
  }

  bool DecodeEntry(std::string_view msg, size_t stream, model::EntryView* e) {
    Timestamp ts{0, 0};
    const size_t metadata_at = out_->metadata.size();
    coding::Reader r(msg);
    while (!r.empty()) {
      Field f;
      std::string_view bytes;
      bool present = false;
      if (!ReadField(&r, &f)) return false;
      if (f.number < 1 || f.number > 3) {
        if (!Skip(&r, f)) return false;
        continue;
      }
      if (!ReadBytes(&r, f, &bytes, &present)) return false;
      if (!present) continue;
      if (f.number == 1) {
        if (!DecodeTimestamp(bytes, &ts)) return false;
      } else if (f.number == 2) {
        e->line = bytes;
      } else if (!DecodeLabelPair(bytes, &out_->metadata.emplace_back())) {
        return false;
      }
    }
    // As protobuf's generated code computes it (wrapping instead of overflowing on absurd input).
    e->timestamp_ns = static_cast<int64_t>(static_cast<uint64_t>(ts.seconds) * kNanosPerSecond +
                                           static_cast<uint64_t>(static_cast<int64_t>(ts.nanos)));
    if (out_->metadata.size() > metadata_at) {
      metadata_refs_.push_back(MetadataRef{stream, out_->streams[stream].entries.size() - 1,
                                           metadata_at, out_->metadata.size() - metadata_at});
    }
    return true;
  }

  LabelsCache* labels_;  // nullable
  ReceivedPush* out_;
  std::vector<MetadataRef> metadata_refs_;
};

}  // namespace

size_t StreamAdapterSize(const ValidatedStream& stream) {
  size_t n = 0;
  if (!stream.labels_text().empty()) n += BytesFieldSize(stream.labels_text().size());
  for (const auto& e : stream.entries) n += BytesFieldSize(EntrySize(e));
  if (stream.fingerprint() != 0) n += 1 + VarintSize(stream.fingerprint());
  return n;
}

char* WriteStreamAdapter(const ValidatedStream& stream, size_t size, char* out) {
  char* const start = out;
  if (!stream.labels_text().empty()) out = PutBytesField(Tag(1, kBytes), stream.labels_text(), out);
  for (const auto& e : stream.entries) {
    *out++ = Tag(2, kBytes);
    out = PutVarint(EntrySize(e), out);
    out = WriteEntry(e, out);
  }
  if (stream.fingerprint() != 0) {
    *out++ = Tag(3, kVarint);
    out = PutVarint(stream.fingerprint(), out);
  }
  SLUICE_CHECK(static_cast<size_t>(out - start) == size);
  return out;
}

PushRequestWriter::PushRequestWriter(std::span<const ValidatedStream> streams) : streams_(streams) {
  stream_sizes_.reserve(streams.size());
  size_t entries = 0;
  for (const auto& s : streams) entries += s.entries.size();
  entry_sizes_.reserve(entries);
  for (const auto& s : streams) {
    size_t n = 0;
    if (!s.labels_text().empty()) n += BytesFieldSize(s.labels_text().size());
    for (const auto& e : s.entries) {
      const size_t entry = EntrySize(e);
      // A single entry above 4 GiB cannot be in a gRPC message (their limit is 2 GiB).
      SLUICE_CHECK(entry <= UINT32_MAX);
      entry_sizes_.push_back(static_cast<uint32_t>(entry));
      n += BytesFieldSize(entry);
    }
    if (s.fingerprint() != 0) n += 1 + VarintSize(s.fingerprint());
    stream_sizes_.push_back(n);
    size_ += BytesFieldSize(n);
  }
}

size_t PushRequestWriter::stream_field_size(size_t i) const {
  return BytesFieldSize(stream_sizes_[i]);
}

char* PushRequestWriter::Write(char* out) const {
  char* const start = out;
  const uint32_t* entry_size = entry_sizes_.data();
  for (size_t i = 0; i < streams_.size(); ++i) {
    const ValidatedStream& s = streams_[i];
    *out++ = Tag(1, kBytes);
    out = PutVarint(stream_sizes_[i], out);
    if (!s.labels_text().empty()) out = PutBytesField(Tag(1, kBytes), s.labels_text(), out);
    for (const auto& e : s.entries) {
      *out++ = Tag(2, kBytes);
      out = PutVarint(*entry_size++, out);
      out = WriteEntry(e, out);
    }
    if (s.fingerprint() != 0) {
      *out++ = Tag(3, kVarint);
      out = PutVarint(s.fingerprint(), out);
    }
  }
  SLUICE_CHECK(static_cast<size_t>(out - start) == size_);
  return out;
}

std::string EncodePushRequest(std::span<const ValidatedStream> streams) {
  PushRequestWriter writer(streams);
  std::string out(writer.size(), '\0');
  writer.Write(out.data());
  return out;
}

Result<std::shared_ptr<const StreamLabels>> LabelsCache::Get(std::string_view text) {
  {
    MutexLock lock(&mu_);
    auto it = map_.find(text);
    if (it != map_.end()) return it->second;
  }
  SLUICE_ASSIGN_OR_RETURN(model::LabelSet parsed, model::ParseLabels(text));
  std::shared_ptr<const StreamLabels> made = StreamLabels::Make(std::move(parsed));
  MutexLock lock(&mu_);
  if (map_.size() >= max_entries_) map_.clear();
  map_.emplace(std::string(text), made);
  return made;
}

Status DecodePushRequest(std::string_view bytes, LabelsCache* labels, ReceivedPush* out) {
  return PushDecoder(labels, out).Decode(std::span<const std::string_view>(&bytes, 1));
}

Status DecodePushRequest(std::span<const std::string_view> pieces, LabelsCache* labels,
                         ReceivedPush* out) {
  return PushDecoder(labels, out).Decode(pieces);
}
}  // namespace sluice::write
