// Decoder for logproto.PushRequest (proto/push.proto), straight from the wire format into
// model::PushRequest:
//   PushRequest      { 1: repeated StreamAdapter streams }
//   StreamAdapter    { 1: bytes labels; 2: repeated EntryAdapter entries; 3: uint64 hash }
//   EntryAdapter     { 1: Timestamp timestamp; 2: bytes line; 3: repeated LabelPairAdapter
//   structuredMetadata } Timestamp        { 1: int64 seconds; 2: int32 nanos } LabelPairAdapter {
//   1: bytes name; 2: bytes value }
//
// Why not the generated class: parsing into it and then copying into the model copies every line
// twice and allocates a message per entry; this copies nothing: labels and lines are views into
// the body (structured metadata, rare, is copied). It follows protobuf's
// parser where it matters: unknown fields (and known ones with an unexpected wire type) are
// skipped, a repeated singular field keeps the last value, a repeated message field merges. Like
// Loki (gogoproto's stdtime), it rejects a timestamp whose nanos are outside [0, 1e9), and also one
// that does not fit int64 nanoseconds. push_decoder_test.cc checks it against the generated class.

#include <fmt/format.h>

#include "common/coding.h"
#include "http/push/push_internal.h"

namespace sluice::http::push_internal {

bool ReadTag(coding::Reader* r, Tag* tag) {
  uint32_t v;
  if (!r->GetVarint32(&v) || (v >> 3) == 0 || (v & 7) > 5) {
    return false;
  }
  tag->field = v >> 3;
  tag->wire_type = static_cast<WireType>(v & 7);
  return true;
}

bool SkipField(coding::Reader* r, const Tag& tag, int depth) {
  uint64_t u64;
  uint32_t u32;
  std::string_view bytes;
  switch (tag.wire_type) {
    case WireType::kVarint:
      return r->GetVarint64(&u64);
    case WireType::kFixed64:
      return r->GetFixed64(&u64);
    case WireType::kLengthDelimited:
      return r->GetLengthPrefixed(&bytes);
    case WireType::kFixed32:
      return r->GetFixed32(&u32);
    case WireType::kStartGroup: {
      if (depth >= kMaxUnknownGroupDepth) {
        return false;
      }
      while (true) {
        Tag inner;
        if (!ReadTag(r, &inner)) {
          return false;
        }
        if (inner.wire_type == WireType::kEndGroup) {
          return inner.field == tag.field;
        }
        if (!SkipField(r, inner, depth + 1)) {
          return false;
        }
      }
    }
    case WireType::kEndGroup:
      return false;  // not inside a group
  }
  return false;
}

namespace {

constexpr const char* kPrefix = "invalid protobuf push body: ";

// Reads a length-delimited field or, when the wire type is not that, skips it as unknown (as
// protobuf does). *present says which happened.
bool ReadBytesField(coding::Reader* r, const Tag& tag, std::string_view* out, bool* present) {
  *present = tag.wire_type == WireType::kLengthDelimited;
  return *present ? r->GetLengthPrefixed(out) : SkipField(r, tag);
}

class ProtoPushParser {
 public:
  explicit ProtoPushParser(model::PushRequest* out) : out_(out) {}

  Status Parse(std::string_view body) {
    model::PushRequest* out = out_;
    coding::Reader r(body);
    out->streams.reserve(CountField(body, 1));
    while (!r.empty()) {
      Tag tag;
      std::string_view msg;
      bool present;
      if (!ReadTag(&r, &tag)) {
        return Malformed("invalid field tag");
      }
      if (tag.field != 1) {
        if (!SkipField(&r, tag)) {
          return Malformed("truncated or malformed field");
        }
        continue;
      }
      if (!ReadBytesField(&r, tag, &msg, &present)) {
        return Malformed(fmt::format("truncated streams[{}]", out->streams.size()));
      }
      if (present) {
        const size_t index = out->streams.size();
        SLUICE_RETURN_IF_ERROR(ParseStream(msg, index, &out->streams.emplace_back()));
      }
    }
    return Status::OK();
  }

 private:
  static Status Malformed(std::string_view what) {
    return Status::InvalidArgument(fmt::format("{}{}", kPrefix, what));
  }

  // How many length-delimited `field`s the message holds: a cheap pre-pass so vectors are sized
  // once. Stops quietly at malformed input (the real pass reports it).
  static size_t CountField(std::string_view msg, uint32_t field) {
    coding::Reader r(msg);
    size_t n = 0;
    while (!r.empty()) {
      Tag tag;
      if (!ReadTag(&r, &tag) || !SkipField(&r, tag)) {
        break;
      }
      n += tag.field == field && tag.wire_type == WireType::kLengthDelimited;
    }
    return n;
  }

  Status ParseStream(std::string_view msg, size_t index, model::PushRequest::RawStream* stream) {
    coding::Reader r(msg);
    stream->entries.reserve(CountField(msg, 2));
    while (!r.empty()) {
      Tag tag;
      std::string_view bytes;
      bool present = false;
      bool ok;
      switch (ReadTag(&r, &tag) ? tag.field : 0) {
        case 0:
          return Malformed(fmt::format("streams[{}]: invalid field tag", index));
        case 1:
          ok = ReadBytesField(&r, tag, &bytes, &present);
          if (ok && present) {
            stream->labels = bytes;
          }
          break;
        case 2:
          ok = ReadBytesField(&r, tag, &bytes, &present);
          if (ok && present) {
            const size_t entry_index = stream->entries.size();
            SLUICE_RETURN_IF_ERROR(
                ParseEntry(bytes, index, entry_index, &stream->entries.emplace_back()));
          }
          break;
        default:  // 3: hash, which sluice computes itself
          ok = SkipField(&r, tag);
      }
      if (!ok) {
        return Malformed(
            fmt::format("streams[{}]: truncated or malformed field {}", index, tag.field));
      }
    }
    return Status::OK();
  }

  Status ParseEntry(std::string_view msg, size_t stream_index, size_t index,
                    model::EntryView* entry) {
    coding::Reader r(msg);
    metadata_.clear();
    int64_t seconds = 0;
    int32_t nanos = 0;
    while (!r.empty()) {
      Tag tag;
      std::string_view bytes;
      bool present = false;
      bool ok;
      switch (ReadTag(&r, &tag) ? tag.field : 0) {
        case 0:
          return Malformed(
              fmt::format("streams[{}].entries[{}]: invalid field tag", stream_index, index));
        case 1:
          ok = ReadBytesField(&r, tag, &bytes, &present) &&
               (!present || ParseTimestamp(bytes, &seconds, &nanos));
          break;
        case 2:
          ok = ReadBytesField(&r, tag, &bytes, &present);
          if (ok && present) {
            entry->line = bytes;
          }
          break;
        case 3:
          ok = ReadBytesField(&r, tag, &bytes, &present) &&
               (!present || ParseLabelPair(bytes, &metadata_.emplace_back()));
          break;
        default:
          ok = SkipField(&r, tag);
      }
      if (!ok) {
        return Malformed(fmt::format("streams[{}].entries[{}]: truncated or malformed field {}",
                                     stream_index, index, tag.field));
      }
    }
    if (nanos < 0 || nanos >= kNanosPerSecondInt ||
        __builtin_mul_overflow(seconds, kNanosPerSecondInt, &entry->timestamp_ns) ||
        __builtin_add_overflow(entry->timestamp_ns, nanos, &entry->timestamp_ns)) {
      return Malformed(
          fmt::format("streams[{}].entries[{}]: timestamp out of range (seconds={}, nanos={})",
                      stream_index, index, seconds, nanos));
    }
    if (!metadata_.empty()) entry->metadata = out_->owned_metadata.emplace_back(metadata_);
    return Status::OK();
  }

  // Merges into *seconds and *nanos: a second occurrence of the field only overrides what it sets.
  static bool ParseTimestamp(std::string_view msg, int64_t* seconds, int32_t* nanos) {
    coding::Reader r(msg);
    while (!r.empty()) {
      Tag tag;
      uint64_t v;
      if (!ReadTag(&r, &tag)) {
        return false;
      }
      if ((tag.field == 1 || tag.field == 2) && tag.wire_type == WireType::kVarint) {
        if (!r.GetVarint64(&v)) {
          return false;
        }
        if (tag.field == 1) {
          *seconds = static_cast<int64_t>(v);
        } else {
          *nanos = static_cast<int32_t>(static_cast<uint32_t>(v));  // int32 keeps the low 32 bits
        }
      } else if (!SkipField(&r, tag)) {
        return false;
      }
    }
    return true;
  }

  static bool ParseLabelPair(std::string_view msg, model::Label* label) {
    coding::Reader r(msg);
    while (!r.empty()) {
      Tag tag;
      std::string_view bytes;
      bool present;
      if (!ReadTag(&r, &tag)) {
        return false;
      }
      if (tag.field != 1 && tag.field != 2) {
        if (!SkipField(&r, tag)) {
          return false;
        }
        continue;
      }
      if (!ReadBytesField(&r, tag, &bytes, &present)) {
        return false;
      }
      if (present) {
        (tag.field == 1 ? label->name : label->value).assign(bytes);
      }
    }
    return true;
  }

  static constexpr int64_t kNanosPerSecondInt = 1'000'000'000;

  model::PushRequest* out_;
  std::vector<model::Label> metadata_;  // the entry being parsed
};

}  // namespace

Result<model::PushRequest> ParseProtoPush(std::string_view body) {
  model::PushRequest req;
  SLUICE_RETURN_IF_ERROR(ProtoPushParser(&req).Parse(body));
  return req;
}

}  // namespace sluice::http::push_internal
