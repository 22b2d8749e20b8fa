#pragma once

// Request parsing of Loki's read API, as Loki's loghttp package: ParseRangeQuery and
// ParseInstantQuery for the query endpoints, ParseBounds (determineBounds) for the labels,
// series and index endpoints. Defaults and error texts are Loki's; every error is an
// InvalidArgument (400).

#include <cstdint>

#include "common/status.h"
#include "http/server.h"
#include "querier/detected.h"
#include "querier/querier.h"

namespace sluice::http {

// Request parsing, as Loki's loghttp.ParseRangeQuery / ParseInstantQuery (exposed for tests
// and for the engine's endpoints).
Result<querier::QueryRequest> ParseRangeQuery(const Request& request, int64_t now_ns);
Result<querier::QueryRequest> ParseInstantQuery(const Request& request, int64_t now_ns);
// start/end/since of the label and series endpoints (determineBounds).
Status ParseBounds(const Request& request, int64_t now_ns, int64_t* start_ns, int64_t* end_ns);
// detected_fields and detected_field/{name}/values (loghttp.ParseDetectedFieldsQuery): query,
// bounds, line_limit (default 100), limit or its older name field_limit (default 1000), and
// step, which is checked as query_range checks it but not otherwise used.
Result<querier::DetectedFieldsRequest> ParseDetectedFieldsQuery(const Request& request,
                                                                int64_t now_ns);
// detected_labels (loghttp.ParseDetectedLabelsQuery): bounds, with end not before start.
Status ParseDetectedLabelsBounds(const Request& request, int64_t now_ns, int64_t* start_ns,
                                 int64_t* end_ns);

}  // namespace sluice::http
