#pragma once

// Conversions between sluice's types and proto/ingester.proto's messages, shared by the client
// and the server.

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
#include "ingester.pb.h"
#include "model/labels.h"
#include "push.pb.h"
#include "read/read.h"
#include "write/pusher.h"

namespace sluice::rpc {

namespace pb = ::sluice::ingester::v1;

// The tenant's gRPC metadata key (lower case, as HTTP/2 sends header names).
inline constexpr char kTenantMetadata[] = "x-scope-orgid";

// What a source needs of `req` (matchers, range, direction, order, hints).
void ToProto(const read::SelectRequest& req, pb::ReadRequest* out);
// REQUIRES of the result's use: only the fields a StreamSource reads are set (no plan, no
// selector, no deadline, no stats). Bad matchers (an invalid regex) are InvalidArgument.
Result<read::SelectRequest> FromProto(const pb::ReadRequest& in);

void ToProto(const model::LabelSet& labels, pb::LabelSet* out);
model::LabelSet FromProto(const pb::LabelSet& in);

// The push path's wire format, written and read by hand: Loki's logproto.PushRequest
// (proto/push.proto), without a message object per entry (protobuf's generated classes cost
// several heap allocations per line on each side, which dominated a replicated push).
//
//   PushRequest      { 1: repeated StreamAdapter streams }
//   StreamAdapter    { 1: bytes labels; 2: repeated EntryAdapter entries; 3: uint64 hash }
//   EntryAdapter     { 1: Timestamp timestamp; 2: bytes line;
//                      3: repeated LabelPairAdapter structuredMetadata }
//   Timestamp        { 1: int64 seconds; 2: int32 nanos }   (nanos in [0, 1e9), also before 1970)
//   LabelPairAdapter { 1: bytes name; 2: bytes value }
//
// Writing: byte for byte what protobuf serializes for the message ToProto builds (fields in
// number order, proto3 defaults omitted, the timestamp always present), so a Loki client and
// sluice's distributor send the same bytes for the same streams.

// The message ToProto builds: the reference for the hand-written encoder, and a Loki client's
// request in tests.
void ToProto(const std::vector<write::ValidatedStream>& streams, logproto::PushRequest* out);

// Size of one stream's StreamAdapter message (without the PushRequest field's tag and length).
size_t StreamAdapterSize(const write::ValidatedStream& stream);
// Writes the StreamAdapter of `stream`, whose size is `size` (StreamAdapterSize), at `out`;
// returns the end. REQUIRES: `out` has room for `size` bytes.
char* WriteStreamAdapter(const write::ValidatedStream& stream, size_t size, char* out);
// A PushRequest holding `streams` (every stream's field 1), sized once and then written: each
// entry's size is computed once, not again for the write.
class PushRequestWriter {
 public:
  // REQUIRES: `streams` outlive the writer.
  explicit PushRequestWriter(std::span<const write::ValidatedStream> streams);
  size_t size() const { return size_; }
  // Writes size() bytes at `out`; returns the end.
  char* Write(char* out) const;

 private:
  std::span<const write::ValidatedStream> streams_;
  std::vector<size_t> stream_sizes_;
  std::vector<uint32_t> entry_sizes_;  // every stream's entries, in order
  size_t size_ = 0;
};
std::string EncodePushRequest(std::span<const write::ValidatedStream> streams);

// A received push as the ingester takes it. The streams' lines are views into the decoded bytes
// (keep them alive while this is used); structured metadata lives in `metadata`.
struct ReceivedPush {
  std::vector<write::ValidatedStream> streams;
  std::vector<model::Label> metadata;  // not resized once decoding is done: entries point into it
};

// Labels parsed once per distinct text and shared, as the distributor's cache does: a replicated
// push names the same streams request after request. Thread-safe; the cache empties when full.
class LabelsCache {
 public:
  explicit LabelsCache(size_t max_entries = 1 << 16) : max_entries_(max_entries) {}
  // Labels that do not parse are InvalidArgument.
  Result<std::shared_ptr<const write::StreamLabels>> Get(std::string_view text) EXCLUDES(mu_);

 private:
  // Looked up by string_view, without a key copy per stream.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  const size_t max_entries_;
  Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const write::StreamLabels>, Hash, std::equal_to<>>
      map_ GUARDED_BY(mu_);
};

// Decodes a serialized PushRequest. Follows protobuf's parser where it matters: unknown fields
// (and known ones with an unexpected wire type) are skipped, a repeated singular field keeps its
// last value, a repeated message field merges. Malformed bytes are InvalidArgument; labels that
// do not parse are InvalidArgument (the distributor validated them: a peer bug). `labels` may be
// null (parsed per stream then).
Status DecodePushRequest(std::string_view bytes, LabelsCache* labels, ReceivedPush* out);

void ToProto(const chunk::BlockStats& stats, pb::BlockStats* out);
void AddFromProto(const pb::BlockStats& in, chunk::BlockStats* stats);

}  // namespace sluice::rpc
