#pragma once

// Conversions between the query frontend's types (src/querier/frontend.h, querier.h) and
// proto/frontend.proto's messages, shared by the frontend's service and the querier's worker.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "frontend.pb.h"
#include "querier/frontend.h"
#include "querier/querier.h"
#include "tracing/tracing.h"

namespace sluice::rpc {

namespace fpb = ::sluice::frontend::v1;

// The job as sent: its handle is the id, its deadline the value it has now.
void ToProto(const querier::PulledJob& job, fpb::Job* out);

// A job as the querier runs it.
struct ReceivedJob {
  uint64_t id = 0;
  std::vector<std::string> tenants;
  int64_t deadline_ns = 0;                     // 0: none
  std::optional<querier::QueryRequest> query;  // no plan (the querier parses), no deadline set
  std::optional<querier::HttpJob> http;
  std::optional<tracing::SpanContext> trace;  // the query's request span, when traced
};
// A job of neither kind is InvalidArgument (a frontend newer than this querier).
Result<ReceivedJob> FromProto(const fpb::Job& in);

void ToProto(const querier::QueryResult& result, fpb::QueryResult* out);
querier::QueryResult FromProto(const fpb::QueryResult& in);

void ToProto(const querier::HttpReply& reply, fpb::HttpReply* out);
querier::HttpReply FromProto(const fpb::HttpReply& in);

// A job's error, carried as src/rpc/status.h carries it; `peer` names the querier in errors
// whose details do not say the sluice code.
void ToProto(const Status& status, fpb::Error* out);
Status FromProto(const fpb::Error& in, std::string_view peer);

}  // namespace sluice::rpc
