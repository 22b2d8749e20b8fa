#pragma once

// Conversions between sluice's types and proto/ingester.proto's messages, shared by the client
// and the server.

#include "common/status.h"
#include "ingester.pb.h"
#include "model/labels.h"
#include "read/read.h"

namespace sluice::rpc {

namespace pb = ::sluice::ingester::v1;

// The tenant's gRPC metadata key (lower case, as HTTP/2 sends header names).
inline constexpr char kTenantMetadata[] = "x-scope-orgid";
// The W3C trace context of the caller's span (tracing::FormatTraceparent), when it has one.
inline constexpr char kTraceparentMetadata[] = "traceparent";

// What a source needs of `req` (matchers, range, direction, order, hints).
void ToProto(const read::SelectRequest& req, pb::ReadRequest* out);
// REQUIRES of the result's use: only the fields a StreamSource reads are set (no plan, no
// selector, no deadline, no stats). Bad matchers (an invalid regex) are InvalidArgument.
Result<read::SelectRequest> FromProto(const pb::ReadRequest& in);

void ToProto(const model::LabelSet& labels, pb::LabelSet* out);
model::LabelSet FromProto(const pb::LabelSet& in);

// The push path's wire format (Loki's logproto.PushRequest) is the write layer's:
// write/push_wire.h.

void ToProto(const chunk::BlockStats& stats, pb::BlockStats* out);
void AddFromProto(const pb::BlockStats& in, chunk::BlockStats* stats);

}  // namespace sluice::rpc
