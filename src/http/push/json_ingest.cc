#include "http/push/json_ingest.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "common/duration.h"
#include "gocompat/strings.h"
#include "http/json_writer.h"
#include "http/push/otlp_internal.h"
#include "http/push/push_internal.h"
#include "model/labels.h"

namespace sluice::http {

namespace {

namespace dom = simdjson::dom;
using push_internal::ByteBuffer;

// Deeper nesting than this in a document is refused (flattening recurses).
constexpr int kMaxDepth = 64;
// A thread's parser keeps its buffers between calls up to this size.
constexpr size_t kRetainParserCapacity = 8 << 20;

constexpr std::string_view kServiceNameLabel = "service_name";
constexpr std::string_view kUnknownService = "unknown_service";
// The Elasticsearch version the info endpoint reports: clients of the 8.x line accept it.
constexpr std::string_view kElasticsearchVersion = "8.9.0";

constexpr std::string_view kUnsupportedEncodingFormat =
    "unsupported Content-Encoding {}: only gzip and deflate are supported";
constexpr std::string_view kBodyTooLargeFormat =
    "request body of {} bytes exceeds the limit of {} bytes";
constexpr std::string_view kDecompressedTooLargeFormat =
    "request body of {} bytes exceeds the decompressed limit of {} bytes";

void SplitList(std::string_view text, std::vector<std::string>* out) {
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = gocompat::TrimSpace(text.substr(0, comma));
    if (!item.empty()) {
      out->emplace_back(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
}

// VictoriaLogs' httputil.GetArray: the query parameter, else the header.
std::vector<std::string> ListParam(const Request& req, std::string_view param,
                                   std::string_view header) {
  std::vector<std::string> out;
  for (const std::string& v : req.ParamAll(param)) {
    SplitList(v, &out);
  }
  if (out.empty()) {
    SplitList(req.Header(header), &out);
  }
  return out;
}

// A flattened field. `number` marks a JSON number (its text is what the time parser reads).
struct Field {
  std::string name;
  std::string value;
  bool number = false;
};

void AppendDouble(double d, std::string* out) {
  char buf[64];
  // Shortest round-trip digits in fixed notation when that is short (a Unix time with a fraction
  // stays "1686026893.735"), else the shortest form.
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  if (ec != std::errc() || end - buf > 24) {
    end = std::to_chars(buf, buf + sizeof buf, d).ptr;
  }
  out->append(buf, end);
}

// Appends the fields of `value` to *out, named *name (the path so far) plus their own path.
Status Flatten(dom::element value, std::string* name, int depth, std::vector<Field>* out) {
  switch (value.type()) {
    case dom::element_type::OBJECT: {
      if (depth >= kMaxDepth) {
        return Status::InvalidArgument(
            fmt::format("objects nested deeper than {} levels", kMaxDepth));
      }
      const size_t base = name->size();
      dom::object obj;
      if (value.get_object().get(obj) != simdjson::SUCCESS) {
        return Status::OK();  // unreachable: the type said object
      }
      for (dom::key_value_pair field : obj) {
        name->resize(base);
        if (base > 0) {
          name->push_back('.');
        }
        name->append(field.key);
        SLUICE_RETURN_IF_ERROR(Flatten(field.value, name, depth + 1, out));
      }
      name->resize(base);
      return Status::OK();
    }
    case dom::element_type::STRING: {
      std::string_view s = value.get_string().value_unsafe();
      if (!s.empty()) {
        out->push_back({*name, std::string(s)});
      }
      return Status::OK();
    }
    case dom::element_type::INT64:
      out->push_back({*name, std::to_string(value.get_int64().value_unsafe()), true});
      return Status::OK();
    case dom::element_type::UINT64:
      out->push_back({*name, std::to_string(value.get_uint64().value_unsafe()), true});
      return Status::OK();
    case dom::element_type::DOUBLE: {
      Field f{*name, "", true};
      AppendDouble(value.get_double().value_unsafe(), &f.value);
      out->push_back(std::move(f));
      return Status::OK();
    }
    case dom::element_type::BOOL:
      out->push_back({*name, value.get_bool().value_unsafe() ? "true" : "false"});
      return Status::OK();
    case dom::element_type::ARRAY:
      out->push_back({*name, simdjson::minify(value)});
      return Status::OK();
    case dom::element_type::NULL_VALUE:
      return Status::OK();
  }
  return Status::OK();
}

bool ParseInt64(std::string_view s, int64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// A Unix time whose unit follows from its magnitude, as VictoriaLogs reads one: it is taken as
// seconds while seconds fit int64 nanoseconds, else milliseconds, microseconds, nanoseconds.
// Fractions are kept to the unit's precision.
Result<int64_t> ParseUnixTime(std::string_view s) {
  const size_t dot = s.find('.');
  int64_t whole = 0;
  std::string_view int_part = s.substr(0, dot);
  const bool negative = !int_part.empty() && int_part[0] == '-';
  if (!ParseInt64(int_part, &whole)) {
    return Status::InvalidArgument("not a Unix time");
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t multiplier = 1;
  int frac_digits = 0;
  const int64_t magnitude = whole < 0 ? -(whole + 1) : whole;
  if (magnitude <= kMax / 1'000'000'000) {
    multiplier = 1'000'000'000;
    frac_digits = 9;
  } else if (magnitude <= kMax / 1'000'000) {
    multiplier = 1'000'000;
    frac_digits = 6;
  } else if (magnitude <= kMax / 1'000) {
    multiplier = 1'000;
    frac_digits = 3;
  }
  int64_t frac = 0;
  if (dot != std::string_view::npos) {
    std::string_view digits = s.substr(dot + 1);
    if (digits.empty()) {
      return Status::InvalidArgument("not a Unix time");
    }
    int64_t scale = multiplier;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        return Status::InvalidArgument("not a Unix time");
      }
      if (frac_digits > 0) {
        scale /= 10;
        frac += (c - '0') * scale;
        --frac_digits;
      }
    }
  }
  int64_t ns = 0;
  if (__builtin_mul_overflow(whole, multiplier, &ns) ||
      (negative ? __builtin_sub_overflow(ns, frac, &ns) : __builtin_add_overflow(ns, frac, &ns))) {
    return Status::InvalidArgument("Unix time out of range");
  }
  return ns;
}

// The timestamp of a time field's value. 0 means "now".
Result<int64_t> ParseTime(const Field& f) {
  std::string_view s = f.value;
  if (s == "0" || s == "-" || s.empty()) {
    return int64_t{0};
  }
  if (f.number || s.size() <= 4 || s[4] != '-') {
    return ParseUnixTime(s);
  }
  if (s.size() == 10) {  // YYYY-MM-DD
    return ParseTimestamp(fmt::format("{}T00:00:00Z", s));
  }
  Result<int64_t> t = ParseTimestamp(s);
  if (!t.ok()) {
    // Without a zone: VictoriaLogs reads the host's local time, sluice reads UTC.
    Result<int64_t> utc = ParseTimestamp(fmt::format("{}Z", s));
    if (utc.ok()) {
      return utc;
    }
  }
  return t;
}

bool Matches(const std::vector<std::string>& patterns, std::string_view name) {
  for (const std::string& p : patterns) {
    const bool prefix = !p.empty() && p.back() == '*';
    if (prefix ? name.starts_with(std::string_view(p).substr(0, p.size() - 1)) : name == p) {
      return true;
    }
  }
  return false;
}

// Builds the push request one document at a time.
class Builder {
 public:
  Builder(const JsonIngestParams& params, const config::Limits& limits, int64_t now_ns)
      : params_(params), limits_(limits), now_ns_(now_ns) {}

  // One document: `text` is its JSON, `line_no` its 1-based line in the body (for errors).
  Status Add(dom::parser& parser, std::string_view text, size_t line_no) {
    dom::element root;
    if (auto e = parser.parse(text.data(), text.size()).get(root)) {
      return Fail(line_no, fmt::format("invalid JSON: {}", simdjson::error_message(e)));
    }
    if (!root.is_object()) {
      return Fail(line_no, "a document must be a JSON object");
    }
    fields_.clear();
    std::string name;
    Status st = Flatten(root, &name, 0, &fields_);
    if (!st.ok()) {
      return Fail(line_no, st.message());
    }

    const Field* msg = FirstOf(params_.msg_fields.empty() ? kDefaultMsg : params_.msg_fields,
                               /*non_empty=*/true);
    const Field* time = FirstOf(params_.time_fields, /*non_empty=*/false);
    int64_t ts = now_ns_;
    if (time != nullptr) {
      Result<int64_t> parsed = ParseTime(*time);
      if (!parsed.ok()) {
        return Fail(line_no,
                    fmt::format("cannot parse the time field {} value {}",
                                model::QuoteString(time->name), model::QuoteString(time->value)));
      }
      if (*parsed != 0) {
        ts = *parsed;
      }
    }

    std::map<std::string, std::string> labels;
    std::vector<model::Label>& md = req_.owned_metadata.emplace_back();
    for (const Field& f : fields_) {
      if (&f == msg || &f == time || Matches(params_.ignore_fields, f.name)) {
        continue;
      }
      Result<std::string> label = otlp_internal::NormalizeAttributeName(f.name);
      if (!label.ok()) {
        return Fail(line_no, fmt::format("field {}: {}", model::QuoteString(f.name),
                                         label.status().message()));
      }
      if (Matches(params_.stream_fields, f.name)) {
        labels[std::move(label).value()] = f.value;
      } else {
        md.push_back({std::move(label).value(), f.value});
      }
    }
    if (labels.empty()) {
      if (limits_.discover_service_name.empty()) {
        return Fail(line_no,
                    "the document has none of the stream fields (_stream_fields), and Loki needs "
                    "at least one label per stream");
      }
      labels[std::string(kServiceNameLabel)] = std::string(kUnknownService);
    }

    model::EntryView entry;
    entry.timestamp_ns = ts;
    entry.line = req_.Own(msg != nullptr ? msg->value : std::string(text));
    entry.metadata = md;
    StreamFor(otlp_internal::LabelsText(labels)).entries.push_back(entry);
    return Status::OK();
  }

  model::PushRequest Take() { return std::move(req_); }

  static Status Fail(size_t line_no, std::string_view problem) {
    return Status::InvalidArgument(fmt::format("line {}: {}", line_no, problem));
  }

 private:
  inline static const std::vector<std::string> kDefaultMsg = {"_msg"};

  // The first field named in `names` (in their order) that the document has.
  const Field* FirstOf(const std::vector<std::string>& names, bool non_empty) const {
    for (const std::string& n : names) {
      for (const Field& f : fields_) {
        if (f.name == n && (!non_empty || !f.value.empty())) {
          return &f;
        }
      }
    }
    return nullptr;
  }

  model::PushRequest::RawStream& StreamFor(std::string text) {
    auto it = stream_index_.find(text);
    if (it == stream_index_.end()) {
      std::string_view owned = req_.Own(text);
      it = stream_index_.emplace(std::move(text), req_.streams.size()).first;
      req_.streams.push_back({owned, {}});
    }
    return req_.streams[it->second];
  }

  const JsonIngestParams& params_;
  const config::Limits& limits_;
  const int64_t now_ns_;
  model::PushRequest req_;
  std::unordered_map<std::string, size_t> stream_index_;
  std::vector<Field> fields_;
};

// The action line of a bulk request: {"create":{..}} or {"index":{..}}.
Status ParseBulkAction(dom::parser& parser, std::string_view text, size_t line_no,
                       JsonIngestResult::BulkItem* item) {
  dom::element root;
  if (auto e = parser.parse(text.data(), text.size()).get(root)) {
    return Builder::Fail(
        line_no, fmt::format("invalid JSON in the bulk action: {}", simdjson::error_message(e)));
  }
  dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS || obj.size() != 1) {
    return Builder::Fail(line_no, "a bulk action must be an object with one key");
  }
  dom::key_value_pair action = *obj.begin();
  if (action.key != "create" && action.key != "index") {
    return Builder::Fail(line_no, fmt::format("bulk action {} is not supported: only create and "
                                              "index add documents",
                                              model::QuoteString(action.key)));
  }
  item->action = std::string(action.key);
  std::string_view index;
  if (action.value["_index"].get_string().get(index) == simdjson::SUCCESS) {
    item->index = std::string(index);
  }
  return Status::OK();
}

}  // namespace

JsonIngestParams JsonIngestParamsFrom(const Request& request) {
  JsonIngestParams p;
  std::vector<std::string> msg = ListParam(request, "_msg_field", "vl-msg-field");
  if (!msg.empty()) {
    p.msg_fields = std::move(msg);
  }
  std::vector<std::string> time = ListParam(request, "_time_field", "vl-time-field");
  if (!time.empty()) {
    p.time_fields = std::move(time);
  }
  p.stream_fields = ListParam(request, "_stream_fields", "vl-stream-fields");
  p.ignore_fields = ListParam(request, "ignore_fields", "vl-ignore-fields");
  return p;
}

Result<JsonIngestResult> DecodeJsonIngest(JsonIngestFormat format, std::string_view body,
                                          std::string_view content_encoding,
                                          const JsonIngestParams& params,
                                          const PushDecodeOptions& opts,
                                          const config::Limits& limits, int64_t now_ns) {
  if (body.size() > opts.max_compressed_bytes) {
    return Status::TooLarge(
        fmt::format(kBodyTooLargeFormat, body.size(), opts.max_compressed_bytes));
  }
  thread_local ByteBuffer inflated;
  thread_local dom::parser parser;
  struct Release {
    ~Release() {
      if (inflated.capacity() > kRetainParserCapacity) {
        inflated.Release();
      }
      if (parser.capacity() > kRetainParserCapacity) {
        parser = dom::parser();
      }
    }
  } release;

  std::string encoding;
  gocompat::ToLower(gocompat::TrimSpace(content_encoding), &encoding);
  std::string_view text = body;
  if (encoding == "gzip" || encoding == "x-gzip") {
    SLUICE_RETURN_IF_ERROR(
        push_internal::InflateGzip(body, opts.max_decompressed_bytes, &inflated));
    text = inflated.view();
  } else if (encoding == "deflate") {
    SLUICE_RETURN_IF_ERROR(
        push_internal::InflateDeflate(body, opts.max_decompressed_bytes, &inflated));
    text = inflated.view();
  } else if (!encoding.empty() && encoding != "identity") {
    return Status::InvalidArgument(fmt::format(
        kUnsupportedEncodingFormat, model::QuoteString(gocompat::TrimSpace(content_encoding))));
  } else if (body.size() > opts.max_decompressed_bytes) {
    return Status::TooLarge(
        fmt::format(kDecompressedTooLargeFormat, body.size(), opts.max_decompressed_bytes));
  }

  JsonIngestResult result;
  Builder builder(params, limits, now_ns);
  const bool bulk = format == JsonIngestFormat::kElasticsearchBulk;
  bool want_action = bulk;
  size_t line_no = 0;
  size_t action_line = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = gocompat::TrimSpace(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty()) {
      continue;
    }
    if (want_action) {
      SLUICE_RETURN_IF_ERROR(
          ParseBulkAction(parser, line, line_no, &result.bulk_items.emplace_back()));
      want_action = false;
      action_line = line_no;
      continue;
    }
    SLUICE_RETURN_IF_ERROR(builder.Add(parser, line, line_no));
    want_action = bulk;
  }
  if (bulk && !want_action) {
    return Builder::Fail(action_line, "the bulk action has no document after it");
  }
  result.request = builder.Take();
  return result;
}

std::string ElasticsearchBulkResponse(const JsonIngestResult& result, int64_t took_ms) {
  std::string out = fmt::format(R"({{"took":{},"errors":false,"items":[)", took_ms);
  for (size_t i = 0; i < result.bulk_items.size(); ++i) {
    const JsonIngestResult::BulkItem& item = result.bulk_items[i];
    if (i > 0) {
      out.push_back(',');
    }
    out.push_back('{');
    AppendJsonString(&out, item.action);
    out.append(R"(:{"_index":)");
    AppendJsonString(&out, item.index);
    out.append(R"(,"_version":1,"result":"created","status":201}})");
  }
  out.append("]}");
  return out;
}

std::string ElasticsearchErrorBody(const Status& status) {
  const int code = HttpStatusFor(status.code());
  // Elasticsearch's exception types for the statuses sluice answers with.
  std::string_view type = code == 429   ? "es_rejected_execution_exception"
                          : code == 413 ? "content_too_long_exception"
                          : code < 500  ? "illegal_argument_exception"
                                        : "exception";
  std::string cause = R"({"type":)";
  AppendJsonString(&cause, type);
  cause.append(R"(,"reason":)");
  AppendJsonString(&cause, status.message());
  cause.push_back('}');
  std::string out = R"({"error":{"root_cause":[)";
  out.append(cause);
  out.append("],");
  out.append(std::string_view(cause).substr(1, cause.size() - 2));
  out.append(fmt::format(R"(}},"status":{}}})", code));
  return out;
}

std::string ElasticsearchInfoBody() {
  // The fields an Elasticsearch 8 node answers GET / with; clients read version.number.
  return fmt::format(
      R"({{"name":"sluice","cluster_name":"sluice","cluster_uuid":"sluice",)"
      R"("version":{{"number":"{}","build_flavor":"default","build_type":"sluice",)"
      R"("lucene_version":"9.7.0","minimum_wire_compatibility_version":"7.17.0",)"
      R"("minimum_index_compatibility_version":"7.0.0"}},"tagline":"You Know, for Search"}})",
      kElasticsearchVersion);
}

}  // namespace sluice::http
