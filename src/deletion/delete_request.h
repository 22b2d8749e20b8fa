#pragma once

// A delete request (Loki's log entry deletion, pkg/compactor/deletion): remove the entries of a
// tenant's streams matching a LogQL log query whose timestamps fall in [start, end].
//
// The query is a log selector with an optional pipeline, as Loki accepts it
// (syntax.ParseLogSelector and a pipeline that builds): `{app="a"}`, `{app="a"} |= "secret"`,
// `{app="a"} | json | level="debug"`. An entry is deleted when its stream matches the selector,
// its timestamp is within [start, end] (both inclusive, millisecond precision as in Loki) and the
// pipeline keeps its line (a query without a pipeline deletes every entry in range).
//
// Stored format (delete_request_store.h): one immutable JSON object per request,
//   {"request_id":"5ab6bc63","tenant":"t","query":"{app=\"a\"}",
//    "start_ms":1700000000000,"end_ms":1700003600000,"created_at_ms":1700007200000}
// plus, once the compactor has applied it, an empty marker object beside it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "logql/syntax/ast.h"

namespace sluice::deletion {

// Loki's statuses: a request is "received" until the compactor has applied it.
enum class DeleteStatus : uint8_t { kReceived, kProcessed };

// "received", "processed".
std::string_view DeleteStatusName(DeleteStatus status);

struct DeleteRequest {
  std::string request_id;
  std::string tenant;
  std::string query;
  int64_t start_ns = 0;  // inclusive; a whole millisecond
  int64_t end_ns = 0;    // inclusive; a whole millisecond
  int64_t created_at_ns = 0;
  DeleteStatus status = DeleteStatus::kReceived;

  bool operator==(const DeleteRequest&) const = default;
};

// A delete query, parsed and checked. Immutable; shared by every filter built from it.
struct ParsedDeleteQuery {
  std::shared_ptr<const logql::syntax::Expr> expr;  // owns `selector`
  const logql::syntax::LogSelectorExpr* selector = nullptr;
  // True when the query has stages (line filters, parsers ...): only some lines in range go.
  bool has_pipeline = false;
};

// Parses `query` as Loki validates a delete query: a log query (a metric query is refused) whose
// pipeline compiles. Errors are Loki's: "invalid query expression: <parse error>".
Result<ParsedDeleteQuery> ParseDeleteQuery(std::string_view query);

// The stored JSON of `request` (without its status, which is the marker's), and back.
std::string EncodeDeleteRequest(const DeleteRequest& request);
Result<DeleteRequest> DecodeDeleteRequest(std::string_view json);

}  // namespace sluice::deletion
