#include "deletion/delete_request.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_string.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/parser.h"

namespace sluice::deletion {

namespace {

constexpr std::string_view kInvalidQuery = "invalid query expression";
constexpr int64_t kNanosPerMilli = 1'000'000;

}  // namespace

std::string_view DeleteStatusName(DeleteStatus status) {
  return status == DeleteStatus::kProcessed ? "processed" : "received";
}

Result<ParsedDeleteQuery> ParseDeleteQuery(std::string_view query) {
  auto parsed = logql::syntax::Parse(query);
  if (!parsed.ok()) {
    return Status::InvalidArgument(fmt::format("{}: {}", kInvalidQuery, parsed.status().message()));
  }
  if ((*parsed)->kind() != logql::syntax::ExprKind::kLogSelector) {
    return Status::InvalidArgument(
        fmt::format("{}: parse error : only log selector is supported", kInvalidQuery));
  }
  ParsedDeleteQuery out;
  out.expr = std::shared_ptr<const logql::syntax::Expr>(std::move(parsed).value());
  out.selector = &out.expr->Cast<logql::syntax::LogSelectorExpr>();
  out.has_pipeline = !out.selector->stages.empty();
  // Some stages are only checked when compiled (regexes, ip() patterns, templates): refuse the
  // request now rather than failing every time it is applied.
  auto pipeline = logql::log::Pipeline::Compile(*out.selector);
  if (!pipeline.ok()) {
    return Status::InvalidArgument(
        fmt::format("{}: {}", kInvalidQuery, pipeline.status().message()));
  }
  return out;
}

std::string EncodeDeleteRequest(const DeleteRequest& r) {
  std::string out = "{\"request_id\":";
  AppendJsonString(&out, r.request_id);
  out += ",\"tenant\":";
  AppendJsonString(&out, r.tenant);
  out += ",\"query\":";
  AppendJsonString(&out, r.query);
  out += fmt::format(",\"start_ms\":{},\"end_ms\":{},\"created_at_ms\":{}}}",
                     r.start_ns / kNanosPerMilli, r.end_ns / kNanosPerMilli,
                     r.created_at_ns / kNanosPerMilli);
  return out;
}

Result<DeleteRequest> DecodeDeleteRequest(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err != simdjson::SUCCESS) {
    return Status::Corruption(
        fmt::format("delete request: invalid JSON: {}", simdjson::error_message(err)));
  }
  DeleteRequest r;
  std::string_view s;
  int64_t n = 0;
  auto str = [&](const char* key, std::string* out) -> Status {
    if (doc[key].get_string().get(s) != simdjson::SUCCESS) {
      return Status::Corruption(fmt::format("delete request: no string \"{}\"", key));
    }
    out->assign(s);
    return Status::OK();
  };
  auto millis = [&](const char* key, int64_t* out) -> Status {
    if (doc[key].get_int64().get(n) != simdjson::SUCCESS) {
      return Status::Corruption(fmt::format("delete request: no integer \"{}\"", key));
    }
    *out = n * kNanosPerMilli;
    return Status::OK();
  };
  SLUICE_RETURN_IF_ERROR(str("request_id", &r.request_id));
  SLUICE_RETURN_IF_ERROR(str("tenant", &r.tenant));
  SLUICE_RETURN_IF_ERROR(str("query", &r.query));
  SLUICE_RETURN_IF_ERROR(millis("start_ms", &r.start_ns));
  SLUICE_RETURN_IF_ERROR(millis("end_ms", &r.end_ns));
  SLUICE_RETURN_IF_ERROR(millis("created_at_ms", &r.created_at_ns));
  return r;
}

}  // namespace sluice::deletion
