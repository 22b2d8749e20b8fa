#pragma once

// What Grafana's Logs Drilldown discovers about logs before it queries them: Loki 3's
// detected_fields, detected_field/{name}/values and detected_labels, computed from what the
// querier reads (Loki: pkg/querier/queryrange/detected_fields.go, pkg/querier/querier.go):
//
//   DetectFields(query)  -> Exec: the query as a log query, newest `line_limit` lines, labels
//                           categorized (stream labels apart from metadata and parsed labels)
//                        -> per line: its structured metadata; the labels the query's own stages
//                           parsed; the line parsed as json or, when that fails, as logfmt
//                           (the logql/log parser stages, as Loki runs them)
//                        -> per field: type, distinct values, parsers, jsonPath
//   DetectFieldValues    -> the same read; the distinct values of one field
//   DetectLabels(sel)    -> Series -> every index label's distinct values, minus the labels
//                           Loki leaves out (all values ids, or no value)
//
// Cardinality: Loki estimates it with a HyperLogLog sketch (exact for small counts); sluice
// counts distinct values exactly. The memory that takes is bounded by what is read: line_limit
// lines for fields, the streams in range for labels.
//
// Thread safety: the functions may be called concurrently; a FieldDetector belongs to one thread.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/entry.h"
#include "model/labels.h"
#include "querier/querier.h"

namespace sluice::querier {

// Loki's logproto.DetectedFieldType, in the order determineType tries them.
enum class FieldType : uint8_t { kString, kInt, kFloat, kBoolean, kDuration, kBytes };

// "string", "int", "float", "boolean", "duration", "bytes".
std::string_view FieldTypeName(FieldType type);

// Loki's determineType: the first of Go's strconv.ParseInt (base 10), ParseFloat, ParseBool,
// time.ParseDuration and go-humanize ParseBytes that accepts the value, else string.
FieldType DetectFieldType(std::string_view value);

struct DetectedField {
  std::string label;
  FieldType type = FieldType::kString;
  uint64_t cardinality = 0;
  // "json" and/or "logfmt"; empty when the field was only seen as structured metadata.
  std::vector<std::string> parsers;
  // From json: the keys leading to the value as written in the line; empty otherwise.
  std::vector<std::string> json_path;
};

struct DetectedLabel {
  std::string label;
  uint64_t cardinality = 0;
};

struct DetectedFieldsRequest {
  std::string query;  // a log query: selector and optional pipeline
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint32_t line_limit = 100;  // lines read, newest first
  uint32_t limit = 1000;      // fields (or values) reported at most
};

class EntryParser;

// Fields of entries, accumulated as Loki's parseDetectedFields does: a field is created while
// fewer than `limit` exist; its type is re-detected from each entry that has it (the last
// entry read decides, as in Loki); its parsers are the union of the entries'.
class FieldDetector {
 public:
  explicit FieldDetector(uint32_t limit);
  ~FieldDetector();

  // `stream` is the entry's stream labels only (a json or logfmt key equal to one of them is
  // reported as `<key>_extracted`); entry.parsed holds the labels the query's stages set.
  void Add(const model::LabelSet& stream, const model::Entry& entry);
  // Sorted by label.
  std::vector<DetectedField> Fields() const;

 private:
  struct Field {
    FieldType type = FieldType::kString;
    std::set<std::string, std::less<>> values;
    std::vector<std::string> parsers;
    std::vector<std::string> json_path;
  };
  Field* Find(std::string_view name, bool* created);

  uint32_t limit_;
  std::map<std::string, Field, std::less<>> fields_;
  std::unique_ptr<EntryParser> parser_;
};

// The values of one field, as Loki's parseDetectedFieldValues: metadata and parsed values,
// stopping once `limit` are collected; byte sizes with a unit are normalized to go-humanize's
// SI form without its space ("1.5KB" -> "1.5kB"), so they can be pasted into a query.
class FieldValueCollector {
 public:
  FieldValueCollector(std::string name, uint32_t limit);
  ~FieldValueCollector();

  bool full() const { return values_.size() >= limit_; }
  void Add(const model::LabelSet& stream, const model::Entry& entry);
  // Sorted.
  std::vector<std::string> Values() const { return {values_.begin(), values_.end()}; }

 private:
  std::string name_;
  uint32_t limit_;
  std::set<std::string, std::less<>> values_;
  std::unique_ptr<EntryParser> parser_;
};

// Loki's shouldRejectLabel: a label with no value, or whose values are all ids (numbers or
// UUIDs), except a two-valued 0/1 flag, is not worth offering as a filter.
bool ShouldRejectLabel(const std::set<std::string, std::less<>>& values);

// Fields of the lines `req.query` returns. InvalidArgument for a query that is not a log query
// (Loki's "only log selector is supported"), parse errors and limit violations.
Result<std::vector<DetectedField>> DetectFields(Querier* querier,
                                                const std::vector<std::string>& tenants,
                                                const DetectedFieldsRequest& req);

// Values of field `name` in the lines `req.query` returns, sorted; at most req.limit.
Result<std::vector<std::string>> DetectFieldValues(Querier* querier,
                                                   const std::vector<std::string>& tenants,
                                                   const DetectedFieldsRequest& req,
                                                   std::string_view name);

// Index labels of the streams `selector` matches (all streams when empty) with data in
// [start, end), with their cardinality, sorted by label. cluster, namespace, instance and pod
// are always kept when they have a value (Loki's static labels).
Result<std::vector<DetectedLabel>> DetectLabels(Querier* querier,
                                                const std::vector<std::string>& tenants,
                                                std::string_view selector, int64_t start_ns,
                                                int64_t end_ns);

}  // namespace sluice::querier
