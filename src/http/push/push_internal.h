#pragma once

// The stages of DecodePush (push_decoder.h), split out so each can be tested alone.
// Not an API for other subsystems.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/coding.h"
#include "common/status.h"
#include "model/entry.h"

namespace sluice::http::push_internal {

// Owned bytes with kPadding writable bytes past capacity(), so simdjson can parse the contents in
// place (it reads up to SIMDJSON_PADDING bytes past the end). Growing does not zero memory: pages a
// decompressor never writes are never touched.
class ByteBuffer {
 public:
  static constexpr size_t kPadding = 64;

  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_.get(), size_}; }

  // Grows capacity() to at least n, keeping the contents.
  void Reserve(size_t n);
  // REQUIRES: n <= capacity()
  void set_size(size_t n) { size_ = n; }
  void Assign(std::string_view bytes);
  void Release() {
    data_.reset();
    size_ = capacity_ = 0;
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// Decompressors. Each replaces *out with the decompressed bytes, returns TooLarge as soon as the
// output would pass max_out (having allocated at most max_out bytes), and InvalidArgument naming
// the format on corrupt or truncated input.
// gzip (RFC 1952); concatenated members are decoded one after another, like Go's gzip.Reader.
Status InflateGzip(std::string_view in, uint64_t max_out, ByteBuffer* out);
// "deflate": a zlib stream (RFC 1950) when the input starts with a zlib header, else raw deflate.
Status InflateDeflate(std::string_view in, uint64_t max_out, ByteBuffer* out);
// Snappy block format (not the framed format): a varint length, then elements.
Status SnappyUncompress(std::string_view in, uint64_t max_out, ByteBuffer* out);
// Zstandard frames (RFC 8878) and LZ4 frames (not raw blocks), as OTLP exporters send them;
// concatenated frames decode one after another.
Status ZstdUncompress(std::string_view in, uint64_t max_out, ByteBuffer* out);
Status Lz4FrameUncompress(std::string_view in, uint64_t max_out, ByteBuffer* out);

// Parses a JSON push body. REQUIRES: body->capacity() >= body->size() (always true); the padding
// past the end is read. max_bytes bounds the extra copy made when the body holds invalid UTF-8.
// The result does not borrow from `body`: its views point into what it owns.
Result<model::PushRequest> ParseJsonPush(const ByteBuffer& body, uint64_t max_bytes);

// Decodes a serialized logproto.PushRequest (after snappy). The result's labels and lines are
// views into `body`, which must outlive it (DecodePush makes the request own it).
Result<model::PushRequest> ParseProtoPush(std::string_view body);

// The protobuf wire format's framing, shared by the hand-written decoders (push_proto.cc,
// otlp_proto.cc).
enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};
struct Tag {
  uint32_t field;
  WireType wire_type;
};
// Deeper group nesting than this in an unknown field is treated as an attack.
constexpr int kMaxUnknownGroupDepth = 64;
// False on a malformed tag (field 0, wire type 6 or 7, a bad varint).
bool ReadTag(coding::Reader* r, Tag* tag);
// Skips one field of any wire type (groups included, nested at most kMaxUnknownGroupDepth).
bool SkipField(coding::Reader* r, const Tag& tag, int depth = 0);

}  // namespace sluice::http::push_internal
