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
//   GET|POST /loki/api/v1/detected_{labels,fields}, detected_field/{name}/values (drilldown_api.h)
//
// Parameters, defaults and error texts follow Loki's loghttp package; errors are plain text
// with status 400 (parse, parameter and limit errors), 401 (no org id) or 5xx. This file holds
// the routes; query_params.h parses requests and query_responses.h writes the bodies.

#include "common/clock.h"
#include "config/overrides.h"
#include "http/server.h"
#include "querier/frontend.h"
#include "querier/querier.h"

namespace sluice::http {

// REQUIRES: *querier, *clock and *frontend outlive the router's use. With a frontend, range and
// instant queries go through it (split, queued fairly, run on its pool); labels and series go
// to the querier either way.
void RegisterQueryRoutes(Router* router, querier::Querier* querier, bool auth_enabled,
                         const Clock* clock = SystemClock::Default(),
                         querier::QueryFrontend* frontend = nullptr);

// The read routes of a frontend-only process (-target=query-frontend), every answer coming from
// the queriers pulling jobs from `frontend` (rpc::FrontendWorker):
//   - query_range, query, /api/prom/query: split and merged by the frontend (QueryFrontend::Exec);
//   - labels, label, label/{name}/values, series (and their /api/prom forms), index/stats,
//     index/volume, index/volume_range, detected_labels, detected_fields,
//     detected_field/{name}/values, patterns: passed whole to a querier (QueryFrontend::Forward),
//     which answers with its own router, so status, content type and body are the querier's
//     (a querier without pattern routes answers patterns with 404);
//   - format_query: answered here, it reads nothing;
//   - tail (a websocket): polled through the frontend (tail.h, FrontendTailSource), with
//     max_concurrent_tail_requests and max_entries_limit_per_query from `overrides` (null: the
//     default limits for every tenant).
// REQUIRES: *frontend, *clock and *overrides outlive the router's use.
void RegisterFrontendQueryRoutes(Router* router, querier::QueryFrontend* frontend,
                                 bool auth_enabled, const Clock* clock = SystemClock::Default(),
                                 const config::Overrides* overrides = nullptr);

}  // namespace sluice::http
