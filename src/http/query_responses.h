#pragma once

// The JSON bodies of Loki's read API, byte for byte as Loki writes them (field order included,
// since clients and the compatibility tests compare bodies):
//
//   streams  {"status":"success","data":{"resultType":"streams","result":[...],"stats":{...}}}
//   metric   {"status":"success","data":{"resultType":"matrix"|"vector"|"scalar",...}}
//   legacy   {"streams":[{"labels":"{a=\"x\"}","entries":[{"ts":...,"line":...}]}],"stats":...}
//   strings  {"status":"success","data":["a","b"]}                (labels, label values)
//   series   {"status":"success","data":[{"a":"x"},...]}

#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"
#include "model/entry.h"
#include "model/labels.h"
#include "querier/querier.h"

namespace sluice::http {

// The request header carrying Loki 3's encoding flags, and the flag that asks for streams keyed
// by their stream labels only, with each entry's structured metadata and parsed labels in a
// third value element (pkg/util/httpreq).
inline constexpr const char* kEncodingFlagsHeader = "x-loki-response-encoding-flags";
inline constexpr const char* kCategorizeLabelsFlag = "categorize-labels";

// Whether the request's encoding flags header (comma-separated) holds `flag`.
bool HasEncodingFlag(const Request& request, std::string_view flag);

// Response bodies. A log query's streams as Loki's pkg/util/marshal writes them: values are
// [ts, line] pairs; with categorize_labels, "encodingFlags" follows "resultType" and every value
// gets a third element, {} or {"structuredMetadata":{...},"parsed":{...}} (each part only when
// the entry has such labels). The result's streams must already be grouped accordingly
// (QueryRequest::categorize_labels).
std::string MarshalStreamsResponse(const querier::QueryResult& result, bool categorize_labels);
// The "values" array of one stream, shared with the tail's frames.
void AppendStreamValues(std::string* out, const std::vector<model::Entry>& entries,
                        bool categorize_labels);
// Metric results (matrix, vector, scalar) as Loki's v1 API: values are [<seconds with ms
// precision>, "<Go 'f' -1 formatted float>"], series labels under "metric".
std::string MarshalMetricResponse(const querier::QueryResult& result, bool categorize_labels);
std::string MarshalLegacyStreamsResponse(const querier::QueryResult& result);
std::string MarshalStringsResponse(const std::vector<std::string>& values);
std::string MarshalSeriesResponse(const std::vector<model::LabelSet>& series);
// data.stats.
void AppendStatsJson(std::string* out, const querier::QueryStats& stats);

}  // namespace sluice::http
