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
#include <vector>

#include "model/labels.h"
#include "querier/querier.h"

namespace sluice::http {

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
