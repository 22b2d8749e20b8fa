#pragma once

// Loki's read API over a Querier:
//
//   GET|POST /loki/api/v1/query_range         streams, or a matrix for metric queries
//   GET|POST /loki/api/v1/query               instant: vector or scalar (log queries: Loki's 400)
//   GET|POST /loki/api/v1/labels              {"status":"success","data":["a","b"]}
//   GET|POST /loki/api/v1/label/{name}/values {"status":"success","data":["x","y"]}
//   GET|POST /loki/api/v1/series              {"status":"success","data":[{"a":"x"},...]}
//   GET|POST /api/prom/query, /api/prom/label, /api/prom/label/{name}/values   (legacy v0 shapes)
//   GET|POST /loki/api/v1/index/{stats,volume,volume_range}                   (index_api.h)
//   GET      /loki/api/v1/tail, a websocket                                     (tail.h)
//
// Parameters, defaults and error texts follow Loki's loghttp package; errors are plain text
// with status 400 (parse, parameter and limit errors), 401 (no org id) or 5xx.

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "http/server.h"
#include "model/labels.h"
#include "querier/frontend.h"
#include "querier/querier.h"

namespace sluice::http {

// REQUIRES: *querier, *clock and *frontend outlive the router's use. With a frontend, range and
// instant queries go through it (split, queued fairly, run on its pool); labels and series go
// to the querier either way.
void RegisterQueryRoutes(Router* router, querier::Querier* querier, bool auth_enabled,
                         const Clock* clock = SystemClock::Default(),
                         querier::QueryFrontend* frontend = nullptr);

// Request parsing, as Loki's loghttp.ParseRangeQuery / ParseInstantQuery (exposed for tests
// and for the engine's endpoints).
Result<querier::QueryRequest> ParseRangeQuery(const Request& request, int64_t now_ns);
Result<querier::QueryRequest> ParseInstantQuery(const Request& request, int64_t now_ns);
// start/end/since of the label and series endpoints (determineBounds).
Status ParseBounds(const Request& request, int64_t now_ns, int64_t* start_ns, int64_t* end_ns);

// The request header carrying Loki 3's encoding flags, and the flag that asks for structured
// metadata (and, later, parsed labels) as a third element of every value.
inline constexpr const char* kEncodingFlagsHeader = "x-loki-response-encoding-flags";
inline constexpr const char* kCategorizeLabelsFlag = "categorize-labels";

// Response bodies.
std::string MarshalStreamsResponse(const querier::QueryResult& result, bool categorize_labels);
// Metric results (matrix, vector, scalar) as Loki's v1 API: values are [<seconds with ms
// precision>, "<Go 'f' -1 formatted float>"], series labels under "metric".
std::string MarshalMetricResponse(const querier::QueryResult& result, bool categorize_labels);
std::string MarshalLegacyStreamsResponse(const querier::QueryResult& result);
std::string MarshalStringsResponse(const std::vector<std::string>& values);
std::string MarshalSeriesResponse(const std::vector<model::LabelSet>& series);
// data.stats.
void AppendStatsJson(std::string* out, const querier::QueryStats& stats);

}  // namespace sluice::http
