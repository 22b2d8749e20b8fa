#pragma once

// The write path's wire format: Loki's logproto.PushRequest (proto/push.proto) for
// ValidatedStreams, written and read by hand, without a message object per entry (protobuf's
// generated classes cost several heap allocations per line on each side, which dominated a
// replicated push). The scaled-out distributor encodes a push once and sends the same bytes to
// every replica (distributor::ReplicatingPusher, Pusher::PushEncoded); the ingester's gRPC
// service decodes them.
//
//   PushRequest      { 1: repeated StreamAdapter streams }
//   StreamAdapter    { 1: bytes labels; 2: repeated EntryAdapter entries; 3: uint64 hash }
//   EntryAdapter     { 1: Timestamp timestamp; 2: bytes line;
//                      3: repeated LabelPairAdapter structuredMetadata }
//   Timestamp        { 1: int64 seconds; 2: int32 nanos }   (nanos in [0, 1e9), also before 1970)
//   LabelPairAdapter { 1: bytes name; 2: bytes value }
//
// A PushRequest is the concatenation of its streams' fields (tag 0x0a, length, StreamAdapter),
// so any concatenation of such fields is a PushRequest too: a replica's request is the pieces of
// its streams, put together without re-encoding.
//
// Writing: byte for byte what protobuf serializes for the message ToProto builds (fields in
// number order, proto3 defaults omitted, the timestamp always present), so a Loki client and
// sluice's distributor send the same bytes for the same streams.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "push.pb.h"
#include "write/pusher.h"

namespace sluice::write {

// The message the encoder's bytes must equal once serialized: the reference in tests, and a Loki
// client's request there.
void ToProto(std::span<const ValidatedStream> streams, logproto::PushRequest* out);

// Size of one stream's StreamAdapter message (without the PushRequest field's tag and length).
size_t StreamAdapterSize(const ValidatedStream& stream);
// Writes the StreamAdapter of `stream`, whose size is `size` (StreamAdapterSize), at `out`;
// returns the end. REQUIRES: `out` has room for `size` bytes.
char* WriteStreamAdapter(const ValidatedStream& stream, size_t size, char* out);

// A PushRequest holding `streams` (every stream's field 1, empty streams included), sized once and
// then written: each entry's size is computed once, not again for the write.
class PushRequestWriter {
 public:
  // REQUIRES: `streams` outlive the writer.
  explicit PushRequestWriter(std::span<const ValidatedStream> streams);
  size_t size() const { return size_; }
  // Bytes of stream i's field (tag, length and StreamAdapter) in what Write writes: the i-th
  // piece of the output, in order. A piece alone is a PushRequest of that one stream.
  size_t stream_field_size(size_t i) const;
  // Writes size() bytes at `out`; returns the end.
  char* Write(char* out) const;

 private:
  std::span<const ValidatedStream> streams_;
  std::vector<size_t> stream_sizes_;   // StreamAdapter sizes
  std::vector<uint32_t> entry_sizes_;  // every stream's entries, in order
  size_t size_ = 0;
};
std::string EncodePushRequest(std::span<const ValidatedStream> streams);

// A received push as the ingester takes it. The streams' lines are views into the decoded bytes
// (keep them alive while this is used); structured metadata lives in `metadata`.
struct ReceivedPush {
  std::vector<ValidatedStream> streams;
  std::vector<model::Label> metadata;  // not resized once decoding is done: entries point into it
};

// Labels parsed once per distinct text and shared, as the distributor's cache does: a replicated
// push names the same streams request after request. Thread-safe; the cache empties when full.
class LabelsCache {
 public:
  explicit LabelsCache(size_t max_entries = 1 << 16) : max_entries_(max_entries) {}
  // Labels that do not parse are InvalidArgument.
  Result<std::shared_ptr<const StreamLabels>> Get(std::string_view text) EXCLUDES(mu_);

 private:
  // Looked up by string_view, without a key copy per stream.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  const size_t max_entries_;
  Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const StreamLabels>, Hash, std::equal_to<>> map_
      GUARDED_BY(mu_);
};

// Decodes a serialized PushRequest. Follows protobuf's parser where it matters: unknown fields
// (and known ones with an unexpected wire type) are skipped, a repeated singular field keeps its
// last value, a repeated message field merges. Malformed bytes are InvalidArgument; labels that
// do not parse are InvalidArgument (the distributor validated them: a peer bug). `labels` may be
// null (parsed per stream then). `*out` is expected empty.
Status DecodePushRequest(std::string_view bytes, LabelsCache* labels, ReceivedPush* out);
// The PushRequest that is the concatenation of `pieces`, decoded without joining them. REQUIRES:
// no field straddles two pieces (each piece is whole fields, as PushRequestWriter's pieces are).
Status DecodePushRequest(std::span<const std::string_view> pieces, LabelsCache* labels,
                         ReceivedPush* out);

}  // namespace sluice::write
