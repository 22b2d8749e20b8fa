#pragma once

// The read endpoints Grafana's Logs Drilldown calls to discover labels and fields, with Loki 3's
// parameters, error texts and response shapes (pkg/loghttp, pkg/util/marshal):
//
//   GET|POST /loki/api/v1/detected_labels?query={sel}&start&end&since
//        {"detectedLabels":[{"label":"app","cardinality":2},...]}        ({} when none)
//   GET|POST /loki/api/v1/detected_fields?query={sel} | ...&start&end&since&line_limit&limit&step
//        {"fields":[{"label":"status","type":"int","cardinality":5,"parsers":["logfmt"]},
//                   {"label":"user_id","type":"string","cardinality":3,"parsers":["json"],
//                    "jsonPath":["user","id"]},
//                   {"label":"trace_id","type":"string","cardinality":9,"parsers":null}],
//         "limit":1000}                                                  ({} when none)
//   GET|POST /loki/api/v1/detected_field/{name}/values?<the same parameters>
//        {"values":["debug","info"],"limit":1000}                        ({} when none)
//
// `parsers` is null for a field seen only as structured metadata. `field_limit` is accepted for
// `limit`. Loki's responses also carry each label's HyperLogLog `sketch` (so partial answers
// can be merged); sluice counts exactly and leaves it out. Lists are sorted by name (Loki's
// order is a Go map's). The logic is in querier/detected.h.

#include <string>
#include <vector>

#include "common/clock.h"
#include "http/server.h"
#include "querier/detected.h"
#include "querier/querier.h"

namespace sluice::http {

// REQUIRES: *q and *clock outlive the router's use.
void RegisterDrilldownRoutes(Router* router, querier::Querier* q, bool auth_enabled,
                             const Clock* clock = SystemClock::Default());

// The response bodies (exposed for tests). `limit` is reported only with a non-empty list, as
// Loki does.
std::string MarshalDetectedFields(const std::vector<querier::DetectedField>& fields,
                                  uint32_t limit);
std::string MarshalDetectedFieldValues(const std::vector<std::string>& values, uint32_t limit);
std::string MarshalDetectedLabels(const std::vector<querier::DetectedLabel>& labels);

}  // namespace sluice::http
