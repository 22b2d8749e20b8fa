// OTLP's JSON encoding of ExportLogsServiceRequest (the OTLP/HTTP spec's "JSON Protobuf
// Encoding"), e.g.
//   {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name",
//                                                "value":{"stringValue":"api"}}]},
//     "scopeLogs":[{"scope":{"name":"lib","version":"1"},
//       "logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":9,
//                      "severityText":"INFO","body":{"stringValue":"hello"},
//                      "attributes":[...],"traceId":"5b8efff798038103d269b633813fc60c",
//                      "spanId":"eee19b7ec3c1b174"}]}]}]}
// The spec's rules that differ from plain proto3 JSON: trace and span ids are hex (not base64);
// enums are numbers (names are accepted too, as protojson does). As in proto3 JSON, 64-bit
// integers may be strings or numbers, bytes are base64, field names are lowerCamelCase and the
// original snake_case names are accepted too; unknown fields are ignored.
//
// The DOM API is used (as in push_json.cc) for its runtime-dispatched kernels and up-front
// validation; a document that is not valid UTF-8 is refused.

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <optional>

#include "gocompat/number.h"
#include "http/push/otlp_internal.h"

namespace sluice::http::otlp_internal {

namespace {

namespace dom = simdjson::dom;

constexpr const char* kPrefix = "invalid OTLP JSON logs body: ";
constexpr size_t kRetainParserCapacity = 8 << 20;

Status Invalid(std::string_view where, std::string_view what) {
  return Status::InvalidArgument(fmt::format("{}{}: {}", kPrefix, where, what));
}

// The member named `camel` or, failing that, `snake`; a null element when neither is there (a
// JSON null counts as absent, as in protojson).
using Maybe = std::optional<dom::element>;

Maybe Member(dom::object obj, std::string_view camel, std::string_view snake = {}) {
  dom::element e;
  if (obj.at_key(camel).get(e) == simdjson::SUCCESS && !e.is_null()) {
    return e;
  }
  if (!snake.empty() && obj.at_key(snake).get(e) == simdjson::SUCCESS && !e.is_null()) {
    return e;
  }
  return std::nullopt;
}

Status Object(dom::element e, std::string_view where, dom::object* out) {
  if (e.get_object().get(*out) != simdjson::SUCCESS) {
    return Invalid(where, "expected an object");
  }
  return Status::OK();
}

Status Array(dom::element e, std::string_view where, dom::array* out) {
  if (e.get_array().get(*out) != simdjson::SUCCESS) {
    return Invalid(where, "expected an array");
  }
  return Status::OK();
}

Status String(dom::element e, std::string_view where, std::string* out) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return Invalid(where, "expected a string");
  }
  out->assign(s);
  return Status::OK();
}

// A 64-bit integer as a JSON number or a decimal string.
template <typename Int>
Status Integer(dom::element e, std::string_view where, Int* out) {
  if constexpr (std::is_unsigned_v<Int>) {
    uint64_t v;
    if (e.get_uint64().get(v) == simdjson::SUCCESS) {
      *out = static_cast<Int>(v);
      return Status::OK();
    }
  } else {
    int64_t v;
    if (e.get_int64().get(v) == simdjson::SUCCESS) {
      *out = static_cast<Int>(v);
      return Status::OK();
    }
  }
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    if constexpr (std::is_unsigned_v<Int>) {
      uint64_t v;
      if (gocompat::ParseUint(s, 10, &v) == gocompat::NumError::kNone) {
        *out = static_cast<Int>(v);
        return Status::OK();
      }
    } else {
      int64_t v;
      if (gocompat::ParseInt(s, 10, &v) == gocompat::NumError::kNone) {
        *out = static_cast<Int>(v);
        return Status::OK();
      }
    }
  }
  return Invalid(where, "expected an integer (a number or a decimal string)");
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = static_cast<char>(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

Status HexId(dom::element e, std::string_view where, size_t bytes, std::string* out) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return Invalid(where, "expected a hex string");
  }
  if (s.empty()) {
    out->clear();
    return Status::OK();
  }
  if (s.size() != 2 * bytes) {
    return Invalid(where, fmt::format("expected {} hex digits, got {}", 2 * bytes, s.size()));
  }
  out->resize(bytes);
  for (size_t i = 0; i < bytes; ++i) {
    int hi = HexDigit(s[2 * i]), lo = HexDigit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Invalid(where, fmt::format("invalid hex digit in \"{}\"", s));
    }
    (*out)[i] = static_cast<char>(hi << 4 | lo);
  }
  return Status::OK();
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Standard base64 with padding, as the OTLP exporters write bytes.
Status Base64(dom::element e, std::string_view where, std::string* out) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return Invalid(where, "expected a base64 string");
  }
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const char* at = c == '\0' ? nullptr : std::strchr(kBase64Alphabet, c);
    if (at == nullptr) {
      if (c == '=' && s.size() - i <= 2) {
        break;  // padding
      }
      return Invalid(where, fmt::format("invalid base64 at byte {}", i));
    }
    acc = acc << 6 | static_cast<uint32_t>(at - kBase64Alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return Status::OK();
}

// SeverityNumber as a number or its enum name ("SEVERITY_NUMBER_INFO2").
Status Severity(dom::element e, std::string_view where, int32_t* out) {
  int64_t n;
  if (e.get_int64().get(n) == simdjson::SUCCESS) {
    *out = static_cast<int32_t>(n);
    return Status::OK();
  }
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    static constexpr std::string_view kLevels[] = {"TRACE", "DEBUG", "INFO",
                                                   "WARN",  "ERROR", "FATAL"};
    constexpr std::string_view kEnumPrefix = "SEVERITY_NUMBER_";
    if (s == "SEVERITY_NUMBER_UNSPECIFIED") {
      *out = 0;
      return Status::OK();
    }
    if (s.starts_with(kEnumPrefix)) {
      s.remove_prefix(kEnumPrefix.size());
      for (int level = 0; level < 6; ++level) {
        if (!s.starts_with(kLevels[level])) {
          continue;
        }
        std::string_view rest = s.substr(kLevels[level].size());
        int step = rest.empty()                                             ? 1
                   : (rest.size() == 1 && rest[0] >= '2' && rest[0] <= '4') ? rest[0] - '0'
                                                                            : 0;
        if (step != 0) {
          *out = level * 4 + step;
          return Status::OK();
        }
      }
    }
  }
  return Invalid(where, "expected a severity number or SEVERITY_NUMBER_* name");
}

class Parser {
 public:
  Status Request(dom::element root, Logs* out) {
    dom::object obj;
    SLUICE_RETURN_IF_ERROR(Object(root, "request", &obj));
    Maybe rls = Member(obj, "resourceLogs", "resource_logs");
    if (!rls) {
      return Status::OK();
    }
    dom::array arr;
    SLUICE_RETURN_IF_ERROR(Array(*rls, "resourceLogs", &arr));
    for (dom::element rl : arr) {
      std::string where = fmt::format("resourceLogs[{}]", out->resource_logs.size());
      SLUICE_RETURN_IF_ERROR(ResourceLogsObj(rl, where, &out->resource_logs.emplace_back()));
    }
    return Status::OK();
  }

 private:
  Status ResourceLogsObj(dom::element e, const std::string& where, ResourceLogs* out) {
    dom::object obj;
    SLUICE_RETURN_IF_ERROR(Object(e, where, &obj));
    Maybe resource = Member(obj, "resource");
    if (resource) {
      dom::object res;
      SLUICE_RETURN_IF_ERROR(Object(*resource, where + ".resource", &res));
      SLUICE_RETURN_IF_ERROR(Attributes(Member(res, "attributes"), where + ".resource.attributes",
                                        &out->resource_attributes));
    }
    Maybe sls = Member(obj, "scopeLogs", "scope_logs");
    if (!sls) {
      return Status::OK();
    }
    dom::array arr;
    SLUICE_RETURN_IF_ERROR(Array(*sls, where + ".scopeLogs", &arr));
    for (dom::element sl : arr) {
      std::string inner = fmt::format("{}.scopeLogs[{}]", where, out->scope_logs.size());
      SLUICE_RETURN_IF_ERROR(ScopeLogsObj(sl, inner, &out->scope_logs.emplace_back()));
    }
    return Status::OK();
  }

  Status ScopeLogsObj(dom::element e, const std::string& where, ScopeLogs* out) {
    dom::object obj;
    SLUICE_RETURN_IF_ERROR(Object(e, where, &obj));
    Maybe scope = Member(obj, "scope");
    if (scope) {
      dom::object sc;
      const std::string sw = where + ".scope";
      SLUICE_RETURN_IF_ERROR(Object(*scope, sw, &sc));
      if (Maybe m = Member(sc, "name")) {
        dom::element v = *m;
        SLUICE_RETURN_IF_ERROR(String(v, sw + ".name", &out->scope.name));
      }
      if (Maybe m = Member(sc, "version")) {
        dom::element v = *m;
        SLUICE_RETURN_IF_ERROR(String(v, sw + ".version", &out->scope.version));
      }
      if (Maybe m = Member(sc, "droppedAttributesCount", "dropped_attributes_count")) {
        dom::element v = *m;
        SLUICE_RETURN_IF_ERROR(
            Integer(v, sw + ".droppedAttributesCount", &out->scope.dropped_attributes_count));
      }
      SLUICE_RETURN_IF_ERROR(
          Attributes(Member(sc, "attributes"), sw + ".attributes", &out->scope.attributes));
    }
    Maybe lrs = Member(obj, "logRecords", "log_records");
    if (!lrs) {
      return Status::OK();
    }
    dom::array arr;
    SLUICE_RETURN_IF_ERROR(Array(*lrs, where + ".logRecords", &arr));
    for (dom::element lr : arr) {
      std::string inner = fmt::format("{}.logRecords[{}]", where, out->log_records.size());
      SLUICE_RETURN_IF_ERROR(LogRecordObj(lr, inner, &out->log_records.emplace_back()));
    }
    return Status::OK();
  }

  Status LogRecordObj(dom::element e, const std::string& where, LogRecord* out) {
    dom::object obj;
    SLUICE_RETURN_IF_ERROR(Object(e, where, &obj));
    if (Maybe m = Member(obj, "timeUnixNano", "time_unix_nano")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(Integer(v, where + ".timeUnixNano", &out->time_unix_nano));
    }
    if (Maybe m = Member(obj, "observedTimeUnixNano", "observed_time_unix_nano")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(
          Integer(v, where + ".observedTimeUnixNano", &out->observed_time_unix_nano));
    }
    if (Maybe m = Member(obj, "severityNumber", "severity_number")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(Severity(v, where + ".severityNumber", &out->severity_number));
    }
    if (Maybe m = Member(obj, "severityText", "severity_text")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(String(v, where + ".severityText", &out->severity_text));
    }
    if (Maybe m = Member(obj, "body")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(Value(v, where + ".body", 0, &out->body));
    }
    SLUICE_RETURN_IF_ERROR(
        Attributes(Member(obj, "attributes"), where + ".attributes", &out->attributes));
    if (Maybe m = Member(obj, "droppedAttributesCount", "dropped_attributes_count")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(
          Integer(v, where + ".droppedAttributesCount", &out->dropped_attributes_count));
    }
    if (Maybe m = Member(obj, "flags")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(Integer(v, where + ".flags", &out->flags));
    }
    if (Maybe m = Member(obj, "traceId", "trace_id")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(HexId(v, where + ".traceId", 16, &out->trace_id));
    }
    if (Maybe m = Member(obj, "spanId", "span_id")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(HexId(v, where + ".spanId", 8, &out->span_id));
    }
    if (Maybe m = Member(obj, "eventName", "event_name")) {
      dom::element v = *m;
      SLUICE_RETURN_IF_ERROR(String(v, where + ".eventName", &out->event_name));
    }
    return Status::OK();
  }

  Status Attributes(const Maybe& e, const std::string& where, std::vector<KeyValue>* out,
                    int depth = 0) {
    if (!e) {
      return Status::OK();
    }
    dom::array arr;
    SLUICE_RETURN_IF_ERROR(Array(*e, where, &arr));
    for (dom::element kv : arr) {
      std::string inner = fmt::format("{}[{}]", where, out->size());
      KeyValue& item = out->emplace_back();
      dom::object obj;
      SLUICE_RETURN_IF_ERROR(Object(kv, inner, &obj));
      if (Maybe k = Member(obj, "key")) {
        SLUICE_RETURN_IF_ERROR(String(*k, inner + ".key", &item.key));
      }
      if (Maybe m = Member(obj, "value")) {
        dom::element v = *m;
        SLUICE_RETURN_IF_ERROR(Value(v, inner + ".value", depth, &item.value));
      }
    }
    return Status::OK();
  }

  Status Value(dom::element e, const std::string& where, int depth, AnyValue* out) {
    using Kind = AnyValue::Kind;
    if (depth >= kMaxValueDepth) {
      return Invalid(where, fmt::format("values nested deeper than {}", kMaxValueDepth));
    }
    dom::object obj;
    SLUICE_RETURN_IF_ERROR(Object(e, where, &obj));
    if (Maybe m = Member(obj, "stringValue", "string_value")) {
      dom::element v = *m;
      out->kind = Kind::kString;
      return String(v, where + ".stringValue", &out->str);
    }
    if (Maybe m = Member(obj, "boolValue", "bool_value")) {
      dom::element v = *m;
      out->kind = Kind::kBool;
      if (v.get_bool().get(out->b) != simdjson::SUCCESS) {
        return Invalid(where + ".boolValue", "expected true or false");
      }
      return Status::OK();
    }
    if (Maybe m = Member(obj, "intValue", "int_value")) {
      dom::element v = *m;
      out->kind = Kind::kInt;
      return Integer(v, where + ".intValue", &out->i);
    }
    if (Maybe m = Member(obj, "doubleValue", "double_value")) {
      dom::element v = *m;
      out->kind = Kind::kDouble;
      if (v.get_double().get(out->d) == simdjson::SUCCESS) {
        return Status::OK();
      }
      std::string_view s;  // proto3 JSON spells the non-finite values as strings
      if (v.get_string().get(s) == simdjson::SUCCESS &&
          gocompat::ParseFloat(s, &out->d) == gocompat::NumError::kNone) {
        return Status::OK();
      }
      return Invalid(where + ".doubleValue", "expected a number");
    }
    if (Maybe m = Member(obj, "bytesValue", "bytes_value")) {
      dom::element v = *m;
      out->kind = Kind::kBytes;
      return Base64(v, where + ".bytesValue", &out->str);
    }
    if (Maybe m = Member(obj, "arrayValue", "array_value")) {
      dom::element v = *m;
      out->kind = Kind::kArray;
      dom::object list;
      SLUICE_RETURN_IF_ERROR(Object(v, where + ".arrayValue", &list));
      Maybe values = Member(list, "values");
      if (!values) {
        return Status::OK();
      }
      dom::array arr;
      SLUICE_RETURN_IF_ERROR(Array(*values, where + ".arrayValue.values", &arr));
      for (dom::element item : arr) {
        std::string inner = fmt::format("{}.arrayValue.values[{}]", where, out->array.size());
        SLUICE_RETURN_IF_ERROR(Value(item, inner, depth + 1, &out->array.emplace_back()));
      }
      return Status::OK();
    }
    if (Maybe m = Member(obj, "kvlistValue", "kvlist_value")) {
      dom::element v = *m;
      out->kind = Kind::kKvList;
      dom::object list;
      SLUICE_RETURN_IF_ERROR(Object(v, where + ".kvlistValue", &list));
      return Attributes(Member(list, "values"), where + ".kvlistValue.values", &out->kvlist,
                        depth + 1);
    }
    out->kind = Kind::kEmpty;  // {} is an empty value
    return Status::OK();
  }
};

dom::parser& ThreadParser() {
  thread_local dom::parser parser;
  return parser;
}

}  // namespace

Result<Logs> ParseOtlpJson(const push_internal::ByteBuffer& body) {
  dom::parser& parser = ThreadParser();
  dom::element root;
  simdjson::error_code err =
      parser.parse(body.data(), body.size(), /*realloc_if_needed=*/false).get(root);
  Logs logs;
  Status st = err != simdjson::SUCCESS ? Invalid("document", simdjson::error_message(err))
                                       : Parser().Request(root, &logs);
  if (parser.capacity() > kRetainParserCapacity) {
    parser = dom::parser();
  }
  if (!st.ok()) {
    return st;
  }
  return logs;
}

}  // namespace sluice::http::otlp_internal
