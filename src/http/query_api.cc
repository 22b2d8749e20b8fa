#include "http/query_api.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>

#include "common/duration.h"
#include "gocompat/number.h"
#include "http/index_api.h"
#include "http/json_writer.h"
#include "http/tail.h"
#include "http/tenant.h"

namespace sluice::http {

namespace {

constexpr uint32_t kDefaultQueryLimit = 100;
constexpr int64_t kDefaultSince = 3600LL * kNanosPerSecond;
constexpr int64_t kMaxPointsPerSeries = 11000;

constexpr std::string_view kErrEndBeforeStart =
    "end timestamp must not be before or equal to start time";
constexpr std::string_view kErrZeroOrNegativeStep =
    "zero or negative query resolution step widths are not accepted. Try a positive integer";
constexpr std::string_view kErrStepTooSmall =
    "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the "
    "step parameter";
constexpr std::string_view kErrNegativeInterval = "interval must be >= 0";
constexpr std::string_view kErrLegacyMetric = "legacy endpoints only support streams result type";

// Go's strconv.ParseFloat, except that an overflow reads as ±Inf (which callers reject with
// their own message) rather than failing.
bool ParseFloat(std::string_view s, double* out) {
  return gocompat::ParseFloat(s, out) != gocompat::NumError::kSyntax;
}

// loghttp.parseTimestamp (Loki 3): RFC3339Nano, else a float (seconds, or nanoseconds above
// 1e10, fraction rounded to milliseconds), else an integer (seconds up to 1e10, else ns).
Result<int64_t> ParseLokiTimestamp(const std::string& value, int64_t fallback) {
  if (value.empty()) return fallback;
  bool numeric_start = std::isdigit(static_cast<unsigned char>(value[0])) || value[0] == '-' ||
                       value[0] == '+' || value[0] == '.';
  if (!numeric_start || value.find_first_of("T:") != std::string::npos) {
    auto ts = ParseTimestamp(value);
    if (ts.ok()) return ts;
  }
  if (value.find('.') != std::string::npos) {
    double t = 0;
    if (!ParseFloat(value, &t)) {
      auto ts = ParseTimestamp(value);
      if (ts.ok()) return ts;
      return gocompat::NumErrorStatus("ParseFloat", value, gocompat::NumError::kSyntax);
    }
    if (std::isnan(t) || std::isinf(t))
      return Status::InvalidArgument("floating point timestamp is NaN or Inf");
    double high = std::trunc(t), low = t - high;
    if (high > 9.2e18 || high < -9.2e18)
      return Status::InvalidArgument("floating point timestamp exceeds integer range");
    if (high <= 1e10) {
      low = std::round(low * 1000) / 1000;
      return static_cast<int64_t>(high) * kNanosPerSecond + static_cast<int64_t>(low * 1e9);
    }
    return static_cast<int64_t>(high);
  }
  int64_t v = 0;
  if (gocompat::NumError e = gocompat::ParseInt(value, 10, &v); e != gocompat::NumError::kNone) {
    auto ts = ParseTimestamp(value);
    if (ts.ok()) return ts;
    return gocompat::NumErrorStatus("ParseInt", value, e);
  }
  if (v <= 10'000'000'000LL) {
    if (v > std::numeric_limits<int64_t>::max() / kNanosPerSecond ||
        v < std::numeric_limits<int64_t>::min() / kNanosPerSecond) {
      return gocompat::NumErrorStatus("ParseInt", value, gocompat::NumError::kRange);
    }
    return v * kNanosPerSecond;
  }
  return v;
}

Result<uint32_t> ParseLimit(const Request& request) {
  std::string v = request.Param("limit");
  if (v.empty()) return kDefaultQueryLimit;
  int64_t l = 0;
  if (gocompat::NumError e = gocompat::ParseInt(v, 10, &l); e != gocompat::NumError::kNone) {
    return gocompat::NumErrorStatus("Atoi", v, e);
  }
  if (l <= 0) return Status::InvalidArgument("limit must be a positive value");
  return static_cast<uint32_t>(std::min<int64_t>(l, std::numeric_limits<uint32_t>::max()));
}

Result<model::Direction> ParseDirection(const Request& request) {
  std::string v = request.Param("direction");
  if (v.empty()) return model::Direction::kBackward;
  std::string upper;
  for (char c : v) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (upper == "FORWARD") return model::Direction::kForward;
  if (upper == "BACKWARD") return model::Direction::kBackward;
  return Status::InvalidArgument(fmt::format("invalid direction '{}'", v));
}

// loghttp.parseSecondsOrDuration: float seconds, else a Prometheus duration.
Result<int64_t> ParseSecondsOrDuration(const std::string& value) {
  double secs = 0;
  if (ParseFloat(value, &secs)) {
    double ns = secs * 1e9;
    if (ns > 9.2e18 || ns < -9.2e18) {
      return Status::InvalidArgument(fmt::format(
          "cannot parse {} to a valid duration. It overflows int64", model::QuoteString(value)));
    }
    return static_cast<int64_t>(ns);
  }
  auto d = ParseDuration(value);
  if (d.ok()) return d;
  return Status::InvalidArgument(
      fmt::format("cannot parse {} to a valid duration", model::QuoteString(value)));
}

Status Wrap(std::string_view what, const Status& st) {
  return Status::InvalidArgument(fmt::format("{}: {}", what, st.message()));
}

bool HasFlag(const Request& request, std::string_view flag) {
  std::string v = request.Header(kEncodingFlagsHeader);
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    std::string_view item = std::string_view(v).substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == flag) return true;
    start = comma + 1;
  }
  return false;
}

void AppendLabelsObject(std::string* out, const std::vector<model::Label>& labels) {
  out->push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, labels[i].name);
    out->push_back(':');
    AppendJsonString(out, labels[i].value);
  }
  out->push_back('}');
}

void AppendNanosString(std::string* out, int64_t ns) {
  out->push_back('"');
  AppendJsonInt(out, ns);
  out->push_back('"');
}

// One JSON object field "name":value with a uint value.
void Field(std::string* out, bool* first, std::string_view name, uint64_t v) {
  if (!*first) out->push_back(',');
  *first = false;
  AppendJsonString(out, name);
  out->push_back(':');
  AppendJsonUint(out, v);
}
void FieldF(std::string* out, bool* first, std::string_view name, double v) {
  if (!*first) out->push_back(',');
  *first = false;
  AppendJsonString(out, name);
  out->push_back(':');
  AppendJsonFloat(out, v);
}
void FieldB(std::string* out, bool* first, std::string_view name, bool v) {
  if (!*first) out->push_back(',');
  *first = false;
  AppendJsonString(out, name);
  out->append(v ? ":true" : ":false");
}
void FieldKey(std::string* out, bool* first, std::string_view name) {
  if (!*first) out->push_back(',');
  *first = false;
  AppendJsonString(out, name);
  out->push_back(':');
}

void AppendStoreStats(std::string* out, uint64_t duplicates) {
  out->push_back('{');
  bool f = true;
  Field(out, &f, "totalChunksRef", 0);
  Field(out, &f, "totalChunksDownloaded", 0);
  Field(out, &f, "chunksDownloadTime", 0);
  FieldB(out, &f, "queryReferencedStructuredMetadata", false);
  FieldKey(out, &f, "chunk");
  out->push_back('{');
  bool c = true;
  Field(out, &c, "headChunkBytes", 0);
  Field(out, &c, "headChunkLines", 0);
  Field(out, &c, "decompressedBytes", 0);
  Field(out, &c, "decompressedLines", 0);
  Field(out, &c, "compressedBytes", 0);
  Field(out, &c, "totalDuplicates", duplicates);
  Field(out, &c, "postFilterLines", 0);
  Field(out, &c, "headChunkStructuredMetadataBytes", 0);
  Field(out, &c, "decompressedStructuredMetadataBytes", 0);
  out->push_back('}');
  Field(out, &f, "chunkRefsFetchTime", 0);
  Field(out, &f, "congestionControlLatency", 0);
  Field(out, &f, "pipelineWrapperFilteredLines", 0);
  out->push_back('}');
}

void AppendCacheStats(std::string* out) {
  out->push_back('{');
  bool f = true;
  Field(out, &f, "entriesFound", 0);
  Field(out, &f, "entriesRequested", 0);
  Field(out, &f, "entriesStored", 0);
  Field(out, &f, "bytesReceived", 0);
  Field(out, &f, "bytesSent", 0);
  Field(out, &f, "requests", 0);
  Field(out, &f, "downloadTime", 0);
  Field(out, &f, "queryLengthServed", 0);
  out->push_back('}');
}

// Runs a query on the frontend when there is one, else on the querier.
using ExecFn = std::function<Result<querier::QueryResult>(const std::vector<std::string>&,
                                                          const querier::QueryRequest&)>;

Response QueryResponse(const ExecFn& exec, Request& request,
                       const std::vector<std::string>& tenants, const querier::QueryRequest& parsed,
                       bool legacy) {
  auto result = exec(tenants, parsed);
  if (!result.ok()) return Response::Error(result.status());
  if (legacy) return Response::Json(MarshalLegacyStreamsResponse(*result));
  if (result->type != querier::ResultType::kStreams) {
    return Response::Json(MarshalMetricResponse(*result, HasFlag(request, kCategorizeLabelsFlag)));
  }
  return Response::Json(MarshalStreamsResponse(*result, HasFlag(request, kCategorizeLabelsFlag)));
}

}  // namespace

// --- Request parsing --------------------------------------------------------------------------

Status ParseBounds(const Request& request, int64_t now_ns, int64_t* start_ns, int64_t* end_ns) {
  int64_t since = kDefaultSince;
  std::string since_str = request.Param("since");
  if (!since_str.empty()) {
    auto d = ParseDuration(since_str);
    if (!d.ok()) {
      return Status::InvalidArgument(
          fmt::format("could not parse 'since' parameter: not a valid duration string: {}",
                      model::QuoteString(since_str)));
    }
    since = *d;
  }
  auto end = ParseLokiTimestamp(request.Param("end"), now_ns);
  if (!end.ok()) return Wrap("could not parse 'end' parameter", end.status());
  int64_t end_or_now = std::min(*end, now_ns);
  auto start = ParseLokiTimestamp(request.Param("start"), end_or_now - since);
  if (!start.ok()) return Wrap("could not parse 'start' parameter", start.status());
  *start_ns = *start;
  *end_ns = *end;
  return Status::OK();
}

Result<querier::QueryRequest> ParseRangeQuery(const Request& request, int64_t now_ns) {
  querier::QueryRequest q;
  q.query = request.Param("query");
  SLUICE_RETURN_IF_ERROR(ParseBounds(request, now_ns, &q.start_ns, &q.end_ns));
  if (q.end_ns < q.start_ns) return Status::InvalidArgument(std::string(kErrEndBeforeStart));
  SLUICE_ASSIGN_OR_RETURN(q.limit, ParseLimit(request));
  SLUICE_ASSIGN_OR_RETURN(q.direction, ParseDirection(request));
  std::string step = request.Param("step");
  if (step.empty()) {
    q.step_ns =
        std::max<int64_t>((q.end_ns - q.start_ns) / kNanosPerSecond / 250, 1) * kNanosPerSecond;
  } else {
    SLUICE_ASSIGN_OR_RETURN(q.step_ns, ParseSecondsOrDuration(step));
  }
  if (q.step_ns <= 0) return Status::InvalidArgument(std::string(kErrZeroOrNegativeStep));
  if ((q.end_ns - q.start_ns) / q.step_ns > kMaxPointsPerSeries) {
    return Status::InvalidArgument(std::string(kErrStepTooSmall));
  }
  std::string interval = request.Param("interval");
  if (!interval.empty()) {
    SLUICE_ASSIGN_OR_RETURN(q.interval_ns, ParseSecondsOrDuration(interval));
  }
  if (q.interval_ns < 0) return Status::InvalidArgument(std::string(kErrNegativeInterval));
  return q;
}

Result<querier::QueryRequest> ParseInstantQuery(const Request& request, int64_t now_ns) {
  querier::QueryRequest q;
  q.query = request.Param("query");
  SLUICE_ASSIGN_OR_RETURN(q.limit, ParseLimit(request));
  SLUICE_ASSIGN_OR_RETURN(q.end_ns, ParseLokiTimestamp(request.Param("time"), now_ns));
  // A log query at an instant reads back from `time` over `since` (default 1h), like Loki 2.x's
  // instant log queries; `time` itself is included.
  int64_t lookback = int64_t{3600} * 1'000'000'000;
  std::string since = request.Param("since");
  if (!since.empty()) {
    auto d = ParseDuration(since);
    if (!d.ok() || *d <= 0) return Status::InvalidArgument("invalid since duration: " + since);
    lookback = *d;
  }
  q.start_ns = q.end_ns - lookback;
  q.end_ns += 1;
  SLUICE_ASSIGN_OR_RETURN(q.direction, ParseDirection(request));
  q.instant = true;
  return q;
}

// --- Response bodies --------------------------------------------------------------------------

void AppendStatsJson(std::string* out, const querier::QueryStats& s) {
  double exec_secs = static_cast<double>(s.exec_time_ns) / 1e9;
  uint64_t bytes_per_sec = 0, lines_per_sec = 0;
  if (s.exec_time_ns > 0) {
    bytes_per_sec = static_cast<uint64_t>(static_cast<double>(s.total_bytes_processed) / exec_secs);
    lines_per_sec = static_cast<uint64_t>(static_cast<double>(s.total_lines_processed) / exec_secs);
  }
  out->push_back('{');
  bool top = true;
  FieldKey(out, &top, "summary");
  out->push_back('{');
  bool f = true;
  Field(out, &f, "bytesProcessedPerSecond", bytes_per_sec);
  Field(out, &f, "linesProcessedPerSecond", lines_per_sec);
  Field(out, &f, "totalBytesProcessed", s.total_bytes_processed);
  Field(out, &f, "totalLinesProcessed", s.total_lines_processed);
  FieldF(out, &f, "execTime", exec_secs);
  FieldF(out, &f, "queueTime", static_cast<double>(s.queue_time_ns) / 1e9);
  Field(out, &f, "subqueries", s.subqueries);
  Field(out, &f, "totalEntriesReturned", s.total_entries_returned);
  Field(out, &f, "splits", s.splits);
  Field(out, &f, "shards", s.shards);
  Field(out, &f, "totalPostFilterLines", s.total_post_filter_lines);
  Field(out, &f, "totalStructuredMetadataBytesProcessed",
        s.total_structured_metadata_bytes_processed);
  out->push_back('}');

  FieldKey(out, &top, "querier");
  out->append("{\"store\":");
  AppendStoreStats(out, s.duplicates);
  out->push_back('}');

  FieldKey(out, &top, "ingester");
  out->push_back('{');
  bool g = true;
  Field(out, &g, "totalReached", 0);
  Field(out, &g, "totalChunksMatched", 0);
  Field(out, &g, "totalBatches", 0);
  Field(out, &g, "totalLinesSent", 0);
  FieldKey(out, &g, "store");
  AppendStoreStats(out, 0);
  out->push_back('}');

  FieldKey(out, &top, "cache");
  out->push_back('{');
  bool c = true;
  for (const char* name : {"chunk", "index", "result", "statsResult", "volumeResult",
                           "seriesResult", "labelResult", "instantMetricResult"}) {
    FieldKey(out, &c, name);
    AppendCacheStats(out);
  }
  out->push_back('}');

  FieldKey(out, &top, "index");
  out->push_back('{');
  bool x = true;
  Field(out, &x, "totalChunks", 0);
  Field(out, &x, "postFilterChunks", 0);
  Field(out, &x, "shardsDuration", 0);
  FieldB(out, &x, "usedBloomFilters", false);
  out->push_back('}');
  out->push_back('}');
}

std::string MarshalStreamsResponse(const querier::QueryResult& result, bool categorize_labels) {
  std::string out;
  out.append("{\"status\":\"success\",\"data\":{");
  if (categorize_labels) {
    out.append("\"encodingFlags\":[");
    AppendJsonString(&out, kCategorizeLabelsFlag);
    out.append("],");
  }
  out.append("\"resultType\":\"streams\",\"result\":[");
  for (size_t i = 0; i < result.streams.size(); ++i) {
    const model::Stream& s = result.streams[i];
    if (i > 0) out.push_back(',');
    out.append("{\"stream\":");
    AppendLabelsObject(&out, s.labels.labels());
    out.append(",\"values\":[");
    for (size_t j = 0; j < s.entries.size(); ++j) {
      const model::Entry& e = s.entries[j];
      if (j > 0) out.push_back(',');
      out.push_back('[');
      AppendNanosString(&out, e.timestamp_ns);
      out.push_back(',');
      AppendJsonString(&out, e.line);
      if (categorize_labels) {
        out.push_back(',');
        if (e.metadata.empty()) {
          out.append("{}");
        } else {
          out.append("{\"structuredMetadata\":");
          AppendLabelsObject(&out, e.metadata);
          out.push_back('}');
        }
      } else if (!e.metadata.empty()) {
        out.push_back(',');
        AppendLabelsObject(&out, e.metadata);
      }
      out.push_back(']');
    }
    out.append("]}");
  }
  out.append("],\"stats\":");
  AppendStatsJson(&out, result.stats);
  out.append("}}");
  return out;
}

namespace {

// [<seconds>,"<value>"], as Prometheus' model.SamplePair.
void AppendSamplePair(std::string* out, const logql::engine::Point& p) {
  out->push_back('[');
  out->append(logql::engine::FormatTimestampMs(p.ts_ms));
  out->push_back(',');
  AppendJsonString(out, logql::engine::FormatSampleValue(p.value));
  out->push_back(']');
}

}  // namespace

std::string MarshalMetricResponse(const querier::QueryResult& result, bool categorize_labels) {
  std::string out;
  out.append("{\"status\":\"success\",\"data\":{\"resultType\":");
  switch (result.type) {
    case querier::ResultType::kMatrix:
      out.append("\"matrix\"");
      break;
    case querier::ResultType::kVector:
      out.append("\"vector\"");
      break;
    default:
      out.append("\"scalar\"");
      break;
  }
  if (categorize_labels) {
    out.append(",\"encodingFlags\":[");
    AppendJsonString(&out, kCategorizeLabelsFlag);
    out.push_back(']');
  }
  out.append(",\"result\":");
  if (result.type == querier::ResultType::kScalar) {
    AppendSamplePair(&out, result.scalar);
  } else {
    const bool matrix = result.type == querier::ResultType::kMatrix;
    out.push_back('[');
    for (size_t i = 0; i < result.series.size(); ++i) {
      const logql::engine::Series& s = result.series[i];
      if (i > 0) out.push_back(',');
      out.append("{\"metric\":");
      AppendLabelsObject(&out, s.labels.labels());
      if (matrix) {
        out.append(",\"values\":[");
        for (size_t j = 0; j < s.points.size(); ++j) {
          if (j > 0) out.push_back(',');
          AppendSamplePair(&out, s.points[j]);
        }
        out.append("]}");
      } else {
        out.append(",\"value\":");
        AppendSamplePair(&out, s.points.empty() ? logql::engine::Point{} : s.points.front());
        out.push_back('}');
      }
    }
    out.push_back(']');
  }
  out.append(",\"stats\":");
  AppendStatsJson(&out, result.stats);
  out.append("}}");
  return out;
}

std::string MarshalLegacyStreamsResponse(const querier::QueryResult& result) {
  std::string out = "{\"streams\":[";
  for (size_t i = 0; i < result.streams.size(); ++i) {
    const model::Stream& s = result.streams[i];
    if (i > 0) out.push_back(',');
    out.append("{\"labels\":");
    AppendJsonString(&out, s.labels.ToString());
    out.append(",\"entries\":[");
    for (size_t j = 0; j < s.entries.size(); ++j) {
      if (j > 0) out.push_back(',');
      out.append("{\"ts\":");
      AppendJsonString(&out, FormatRfc3339Nano(s.entries[j].timestamp_ns));
      out.append(",\"line\":");
      AppendJsonString(&out, s.entries[j].line);
      out.push_back('}');
    }
    out.append("]}");
  }
  out.append("],\"stats\":");
  AppendStatsJson(&out, result.stats);
  out.push_back('}');
  return out;
}

std::string MarshalStringsResponse(const std::vector<std::string>& values) {
  std::string out = "{\"status\":\"success\",\"data\":[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, values[i]);
  }
  out.append("]}");
  return out;
}

std::string MarshalSeriesResponse(const std::vector<model::LabelSet>& series) {
  std::string out = "{\"status\":\"success\",\"data\":[";
  for (size_t i = 0; i < series.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendLabelsObject(&out, series[i].labels());
  }
  out.append("]}");
  return out;
}

// --- Routes -----------------------------------------------------------------------------------

void RegisterQueryRoutes(Router* router, querier::Querier* q, bool auth_enabled,
                         const Clock* clock, querier::QueryFrontend* frontend) {
  const std::vector<std::string> kGetPost = {"GET", "POST"};
  ExecFn exec = [q, frontend](const std::vector<std::string>& tenants,
                              const querier::QueryRequest& r) {
    return frontend != nullptr ? frontend->Exec(tenants, r) : q->Exec(tenants, r);
  };

  auto range = [exec, auth_enabled, clock](Request& request, bool legacy) -> Response {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return Response::Error(tenants.status());
    Request effective = request;
    if (legacy) {
      // Loki's legacy endpoint folds its `regexp` parameter into the query as a line filter.
      std::string regexp = request.Param("regexp");
      if (!regexp.empty()) {
        std::string query = request.Param("query") + " |~ " + model::QuoteString(regexp);
        effective.params.erase("query");
        effective.params.emplace("query", std::move(query));
      }
    }
    auto parsed = ParseRangeQuery(effective, clock->NowNanos());
    if (!parsed.ok()) return Response::Error(parsed.status());
    if (legacy) {
      // Metric queries are refused by type on the legacy endpoint, whatever the engine supports.
      auto result = exec(*tenants, *parsed);
      if (!result.ok()) return Response::Error(result.status());
      if (result->type != querier::ResultType::kStreams) {
        return Response::Error(Status::InvalidArgument(std::string(kErrLegacyMetric)));
      }
      return Response::Json(MarshalLegacyStreamsResponse(*result));
    }
    return QueryResponse(exec, request, *tenants, *parsed, false);
  };
  router->Handle(kGetPost, "/loki/api/v1/query_range",
                 [range](Request& r) { return range(r, false); });
  router->Handle(kGetPost, "/api/prom/query", [range](Request& r) { return range(r, true); });

  router->Handle(kGetPost, "/loki/api/v1/query", [exec, auth_enabled, clock](Request& request) {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return Response::Error(tenants.status());
    auto parsed = ParseInstantQuery(request, clock->NowNanos());
    if (!parsed.ok()) return Response::Error(parsed.status());
    return QueryResponse(exec, request, *tenants, *parsed, false);
  });

  auto labels = [q, auth_enabled, clock](Request& request, bool legacy) -> Response {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return Response::Error(tenants.status());
    int64_t start = 0, end = 0;
    Status st = ParseBounds(request, clock->NowNanos(), &start, &end);
    if (!st.ok()) return Response::Error(st);
    auto names = q->Labels(*tenants, start, end);
    if (!names.ok()) return Response::Error(names.status());
    if (legacy) {
      std::string out = "{\"values\":";
      out += MarshalStringsResponse(*names).substr(
          std::string_view("{\"status\":\"success\",\"data\":").size());
      return Response::Json(std::move(out));
    }
    return Response::Json(MarshalStringsResponse(*names));
  };
  router->Handle(kGetPost, "/loki/api/v1/labels",
                 [labels](Request& r) { return labels(r, false); });
  router->Handle(kGetPost, "/loki/api/v1/label", [labels](Request& r) { return labels(r, false); });
  router->Handle(kGetPost, "/api/prom/label", [labels](Request& r) { return labels(r, true); });

  auto values = [q, auth_enabled, clock](Request& request, bool legacy) -> Response {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return Response::Error(tenants.status());
    int64_t start = 0, end = 0;
    Status st = ParseBounds(request, clock->NowNanos(), &start, &end);
    if (!st.ok()) return Response::Error(st);
    auto got =
        q->LabelValues(*tenants, request.path_vars["name"], start, end, request.Param("query"));
    if (!got.ok()) return Response::Error(got.status());
    if (legacy) {
      std::string out = "{\"values\":";
      out += MarshalStringsResponse(*got).substr(
          std::string_view("{\"status\":\"success\",\"data\":").size());
      return Response::Json(std::move(out));
    }
    return Response::Json(MarshalStringsResponse(*got));
  };
  router->Handle(kGetPost, "/loki/api/v1/label/{name}/values",
                 [values](Request& r) { return values(r, false); });
  router->Handle(kGetPost, "/api/prom/label/{name}/values",
                 [values](Request& r) { return values(r, true); });

  router->Handle(kGetPost, "/loki/api/v1/series", [q, auth_enabled, clock](Request& request) {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return Response::Error(tenants.status());
    int64_t start = 0, end = 0;
    Status st = ParseBounds(request, clock->NowNanos(), &start, &end);
    if (!st.ok()) return Response::Error(st);
    std::vector<std::string> match = request.ParamAll("match[]");
    for (auto& m : request.ParamAll("match")) match.push_back(std::move(m));
    auto got = q->Series(*tenants, match, start, end);
    if (!got.ok()) return Response::Error(got.status());
    return Response::Json(MarshalSeriesResponse(*got));
  });

  RegisterIndexRoutes(router, q, auth_enabled, clock);
  RegisterTailRoutes(router, q, q->overrides(), auth_enabled, clock);
}

}  // namespace sluice::http
