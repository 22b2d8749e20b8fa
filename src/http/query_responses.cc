#include "http/query_responses.h"

#include <cstdint>
#include <string_view>

#include "common/duration.h"
#include "common/strings.h"
#include "http/json_writer.h"
#include "logql/engine/value.h"

namespace sluice::http {

namespace {

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

uint64_t Minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Loki's stats.Store for one component's reads. Entries the stages saw that were not read from
// an ingester's head came out of decompressed blocks, so head and decompressed lines of both
// components add up to the summary's lines, as in Loki's ComputeSummary. Bytes include
// structured metadata, as Loki counts them. Zero, no counterpart in sluice: congestion control
// and pipeline wrappers; queryReferencedStructuredMetadata is not tracked.
void AppendStoreStats(std::string* out, const read::SourceStats& s, uint64_t chunks_ref,
                      uint64_t duplicates) {
  const uint64_t head_bytes = s.head_bytes + s.head_metadata_bytes;
  const uint64_t bytes = s.pipeline.bytes_processed + s.pipeline.metadata_bytes_processed;
  out->push_back('{');
  bool f = true;
  Field(out, &f, "totalChunksRef", chunks_ref);
  Field(out, &f, "totalChunksDownloaded", s.chunks_downloaded);
  Field(out, &f, "chunksDownloadTime", static_cast<uint64_t>(s.chunks_download_ns));
  FieldB(out, &f, "queryReferencedStructuredMetadata", false);
  FieldKey(out, &f, "chunk");
  out->push_back('{');
  bool c = true;
  Field(out, &c, "headChunkBytes", head_bytes);
  Field(out, &c, "headChunkLines", s.head_lines);
  Field(out, &c, "decompressedBytes", Minus(bytes, head_bytes));
  Field(out, &c, "decompressedLines", Minus(s.pipeline.lines_processed, s.head_lines));
  Field(out, &c, "compressedBytes", s.blocks.compressed_bytes_read);
  Field(out, &c, "totalDuplicates", duplicates);
  Field(out, &c, "postFilterLines", s.pipeline.lines_passed);
  Field(out, &c, "headChunkStructuredMetadataBytes", s.head_metadata_bytes);
  Field(out, &c, "decompressedStructuredMetadataBytes",
        Minus(s.pipeline.metadata_bytes_processed, s.head_metadata_bytes));
  out->push_back('}');
  Field(out, &f, "chunkRefsFetchTime", static_cast<uint64_t>(s.chunk_refs_fetch_ns));
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

// [<seconds>,"<value>"], as Prometheus' model.SamplePair.
void AppendSamplePair(std::string* out, const logql::engine::Point& p) {
  out->push_back('[');
  out->append(logql::engine::FormatTimestampMs(p.ts_ms));
  out->push_back(',');
  AppendJsonString(out, logql::engine::FormatSampleValue(p.value));
  out->push_back(']');
}

}  // namespace

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

  // The querier's own reads of the chunk store. Duplicates are dropped by the querier's merge
  // of every source, so Loki counts them here.
  FieldKey(out, &top, "querier");
  out->append("{\"store\":");
  AppendStoreStats(out, s.store, s.store.chunks, s.duplicates);
  out->push_back('}');

  // What the ingesters sent: their chunks in memory matched, their heads and cut blocks read.
  // Ingesters look no chunk refs up and download nothing.
  FieldKey(out, &top, "ingester");
  out->push_back('{');
  bool g = true;
  Field(out, &g, "totalReached", s.ingester.reached);
  Field(out, &g, "totalChunksMatched", s.ingester.chunks);
  Field(out, &g, "totalBatches", s.ingester.batches);
  Field(out, &g, "totalLinesSent", s.ingester.lines_sent);
  FieldKey(out, &g, "store");
  AppendStoreStats(out, s.ingester, 0, 0);
  out->push_back('}');

  // Always zero: sluice has no caches.
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
  // The chunk refs the index returned. Sluice filters no chunks by bloom (its blooms rule out
  // blocks inside a chunk, later), so all of them pass; it fetches no shards.
  Field(out, &x, "totalChunks", s.store.chunks);
  Field(out, &x, "postFilterChunks", s.store.chunks);
  Field(out, &x, "shardsDuration", 0);
  FieldB(out, &x, "usedBloomFilters", false);
  out->push_back('}');
  out->push_back('}');
}

bool HasEncodingFlag(const Request& request, std::string_view flag) {
  const std::string v = request.Header(kEncodingFlagsHeader);
  for (std::string_view item : SplitCommaList(v)) {
    if (item == flag) return true;
  }
  return false;
}

void AppendStreamValues(std::string* out, const std::vector<model::Entry>& entries,
                        bool categorize_labels) {
  out->push_back('[');
  for (size_t j = 0; j < entries.size(); ++j) {
    const model::Entry& e = entries[j];
    if (j > 0) out->push_back(',');
    out->push_back('[');
    AppendNanosString(out, e.timestamp_ns);
    out->push_back(',');
    AppendJsonString(out, e.line);
    if (categorize_labels) {
      out->append(",{");
      if (!e.metadata.empty()) {
        out->append("\"structuredMetadata\":");
        AppendLabelsObject(out, e.metadata);
      }
      if (!e.parsed.empty()) {
        if (!e.metadata.empty()) out->push_back(',');
        out->append("\"parsed\":");
        AppendLabelsObject(out, e.parsed);
      }
      out->push_back('}');
    }
    out->push_back(']');
  }
  out->push_back(']');
}

std::string MarshalStreamsResponse(const querier::QueryResult& result, bool categorize_labels) {
  std::string out;
  out.append("{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",");
  if (categorize_labels) {
    out.append("\"encodingFlags\":[");
    AppendJsonString(&out, kCategorizeLabelsFlag);
    out.append("],");
  }
  out.append("\"result\":[");
  for (size_t i = 0; i < result.streams.size(); ++i) {
    const model::Stream& s = result.streams[i];
    if (i > 0) out.push_back(',');
    out.append("{\"stream\":");
    AppendLabelsObject(&out, s.labels.labels());
    out.append(",\"values\":");
    AppendStreamValues(&out, s.entries, categorize_labels);
    out.push_back('}');
  }
  out.append("],\"stats\":");
  AppendStatsJson(&out, result.stats);
  out.append("}}");
  return out;
}

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

}  // namespace sluice::http
