// Decoder for opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest, straight from the
// wire format. The messages and field numbers sluice reads (OTLP 1.x, opentelemetry-proto):
//   ExportLogsServiceRequest { 1: repeated ResourceLogs resource_logs }
//   ResourceLogs    { 1: Resource resource; 2: repeated ScopeLogs scope_logs; 3: schema_url }
//   Resource        { 1: repeated KeyValue attributes; 2: dropped_attributes_count }
//   ScopeLogs       { 1: InstrumentationScope scope; 2: repeated LogRecord log_records; 3: .. }
//   InstrumentationScope { 1: string name; 2: string version; 3: repeated KeyValue attributes;
//                          4: uint32 dropped_attributes_count }
//   LogRecord       { 1: fixed64 time_unix_nano; 2: enum severity_number; 3: string severity_text;
//                     5: AnyValue body; 6: repeated KeyValue attributes;
//                     7: uint32 dropped_attributes_count; 8: fixed32 flags; 9: bytes trace_id;
//                     10: bytes span_id; 11: fixed64 observed_time_unix_nano;
//                     12: string event_name }
//   KeyValue        { 1: string key; 2: AnyValue value }
//   AnyValue        { oneof: 1: string; 2: bool; 3: int64; 4: double; 5: ArrayValue;
//                     6: KeyValueList; 7: bytes }
//   ArrayValue      { 1: repeated AnyValue values }
//   KeyValueList    { 1: repeated KeyValue values }
//
// Why by hand rather than a generated class (as proto/push.proto is): the OTLP schema is spread
// over four .proto files with imports, and the parts sluice reads are the dozen fields above.
// Decoding them here keeps the build free of a second schema tree, follows push_proto.cc's rules
// (unknown fields and unexpected wire types skipped, embedded messages merged, last scalar wins),
// and bounds AnyValue nesting so a hostile body cannot exhaust the stack. Like the OTLP SDKs'
// unmarshalers, a trace_id that is not 16 bytes or a span_id that is not 8 is refused.

#include <fmt/format.h>

#include <cstring>

#include "http/push/otlp_internal.h"

namespace sluice::http::otlp_internal {

namespace {

using push_internal::ReadTag;
using push_internal::SkipField;
using push_internal::Tag;
using push_internal::WireType;

constexpr const char* kPrefix = "invalid OTLP protobuf logs body: ";

Status Malformed(std::string_view where, std::string_view what) {
  return Status::InvalidArgument(fmt::format("{}{}: {}", kPrefix, where, what));
}

// Walks a message's fields, calling on_field(tag, reader) for each; on_field returns false for a
// malformed field. Any field it does not take must be skipped by it (SkipField).
template <typename Fn>
Status ForEachField(std::string_view msg, std::string_view where, Fn&& on_field) {
  coding::Reader r(msg);
  while (!r.empty()) {
    Tag tag;
    if (!ReadTag(&r, &tag)) {
      return Malformed(where, "invalid field tag");
    }
    Status st = on_field(tag, &r);
    if (!st.ok()) {
      return st;
    }
  }
  return Status::OK();
}

// Reads the field when its wire type is `want`; otherwise skips it (protobuf's rule for a known
// field with an unexpected wire type). Returns false when truncated.
bool Bytes(coding::Reader* r, const Tag& tag, std::string_view* out, bool* present) {
  *present = tag.wire_type == WireType::kLengthDelimited;
  return *present ? r->GetLengthPrefixed(out) : SkipField(r, tag);
}

Status Truncated(std::string_view where, uint32_t field) {
  return Malformed(where, fmt::format("truncated or malformed field {}", field));
}

// For messages whose fields of interest are all length-delimited (embedded messages, strings):
// calls on_bytes(field, bytes) for each occurrence of fields 1 and, when `two_fields`, 2; skips
// everything else as unknown.
template <typename Fn>
Status ForEachBytesField(std::string_view msg, std::string_view where, bool two_fields,
                         Fn&& on_bytes) {
  return ForEachField(msg, where, [&](const Tag& tag, coding::Reader* r) -> Status {
    std::string_view bytes;
    bool present = false;
    if (tag.field != 1 && (!two_fields || tag.field != 2)) {
      return SkipField(r, tag) ? Status::OK() : Truncated(where, tag.field);
    }
    if (!Bytes(r, tag, &bytes, &present)) {
      return Truncated(where, tag.field);
    }
    return present ? on_bytes(tag.field, bytes) : Status::OK();
  });
}

class Parser {
 public:
  Status Request(std::string_view msg, Logs* out) {
    return ForEachBytesField(
        msg, "request", false, [&](uint32_t, std::string_view bytes) -> Status {
          std::string where = fmt::format("resource_logs[{}]", out->resource_logs.size());
          return ResourceLogsMsg(bytes, where, &out->resource_logs.emplace_back());
        });
  }

 private:
  Status ResourceLogsMsg(std::string_view msg, const std::string& where, ResourceLogs* out) {
    return ForEachBytesField(
        msg, where, true, [&](uint32_t field, std::string_view bytes) -> Status {
          if (field == 1) {
            return ResourceMsg(bytes, where + ".resource", &out->resource_attributes);
          }
          std::string inner = fmt::format("{}.scope_logs[{}]", where, out->scope_logs.size());
          return ScopeLogsMsg(bytes, inner, &out->scope_logs.emplace_back());
        });
  }

  Status ResourceMsg(std::string_view msg, const std::string& where, std::vector<KeyValue>* out) {
    return ForEachBytesField(msg, where, false, [&](uint32_t, std::string_view bytes) -> Status {
      return KeyValueMsg(bytes, where + ".attributes", 0, &out->emplace_back());
    });
  }

  Status ScopeLogsMsg(std::string_view msg, const std::string& where, ScopeLogs* out) {
    return ForEachBytesField(
        msg, where, true, [&](uint32_t field, std::string_view bytes) -> Status {
          if (field == 1) {
            return ScopeMsg(bytes, where + ".scope", &out->scope);
          }
          std::string inner = fmt::format("{}.log_records[{}]", where, out->log_records.size());
          return LogRecordMsg(bytes, inner, &out->log_records.emplace_back());
        });
  }

  Status ScopeMsg(std::string_view msg, const std::string& where, Scope* out) {
    return ForEachField(msg, where, [&](const Tag& tag, coding::Reader* r) -> Status {
      std::string_view bytes;
      bool present = false;
      uint64_t u64 = 0;
      switch (tag.field) {
        case 1:
        case 2:
        case 3:
          if (!Bytes(r, tag, &bytes, &present)) {
            return Truncated(where, tag.field);
          }
          if (!present) {
            return Status::OK();
          }
          if (tag.field == 3) {
            return KeyValueMsg(bytes, where + ".attributes", 0, &out->attributes.emplace_back());
          }
          (tag.field == 1 ? out->name : out->version).assign(bytes);
          return Status::OK();
        case 4:
          if (tag.wire_type != WireType::kVarint) {
            break;
          }
          if (!r->GetVarint64(&u64)) {
            return Truncated(where, tag.field);
          }
          out->dropped_attributes_count = static_cast<uint32_t>(u64);
          return Status::OK();
        default:
          break;
      }
      return SkipField(r, tag) ? Status::OK() : Truncated(where, tag.field);
    });
  }

  Status LogRecordMsg(std::string_view msg, const std::string& where, LogRecord* out) {
    Status st = ForEachField(msg, where, [&](const Tag& tag, coding::Reader* r) -> Status {
      std::string_view bytes;
      bool present = false;
      uint64_t u64 = 0;
      uint32_t u32 = 0;
      const bool varint = tag.wire_type == WireType::kVarint;
      switch (tag.field) {
        case 1:
        case 11:
          if (tag.wire_type != WireType::kFixed64) {
            break;
          }
          if (!r->GetFixed64(&u64)) {
            return Truncated(where, tag.field);
          }
          (tag.field == 1 ? out->time_unix_nano : out->observed_time_unix_nano) = u64;
          return Status::OK();
        case 2:
        case 7:
          if (!varint) {
            break;
          }
          if (!r->GetVarint64(&u64)) {
            return Truncated(where, tag.field);
          }
          if (tag.field == 2) {
            out->severity_number = static_cast<int32_t>(u64);
          } else {
            out->dropped_attributes_count = static_cast<uint32_t>(u64);
          }
          return Status::OK();
        case 8:
          if (tag.wire_type != WireType::kFixed32) {
            break;
          }
          if (!r->GetFixed32(&u32)) {
            return Truncated(where, tag.field);
          }
          out->flags = u32;
          return Status::OK();
        case 3:
        case 5:
        case 6:
        case 9:
        case 10:
        case 12:
          if (!Bytes(r, tag, &bytes, &present)) {
            return Truncated(where, tag.field);
          }
          if (!present) {
            return Status::OK();
          }
          switch (tag.field) {
            case 3:
              out->severity_text.assign(bytes);
              break;
            case 5:
              return AnyValueMsg(bytes, where + ".body", 0, &out->body);
            case 6:
              return KeyValueMsg(bytes, where + ".attributes", 0, &out->attributes.emplace_back());
            case 9:
              out->trace_id.assign(bytes);
              break;
            case 10:
              out->span_id.assign(bytes);
              break;
            default:
              out->event_name.assign(bytes);
          }
          return Status::OK();
        default:
          break;
      }
      return SkipField(r, tag) ? Status::OK() : Truncated(where, tag.field);
    });
    if (!st.ok()) {
      return st;
    }
    if (!out->trace_id.empty() && out->trace_id.size() != 16) {
      return Malformed(where,
                       fmt::format("trace_id must be 16 bytes, got {}", out->trace_id.size()));
    }
    if (!out->span_id.empty() && out->span_id.size() != 8) {
      return Malformed(where, fmt::format("span_id must be 8 bytes, got {}", out->span_id.size()));
    }
    return Status::OK();
  }

  Status KeyValueMsg(std::string_view msg, const std::string& where, int depth, KeyValue* out) {
    return ForEachBytesField(msg, where, true,
                             [&](uint32_t field, std::string_view bytes) -> Status {
                               if (field == 1) {
                                 out->key.assign(bytes);
                                 return Status::OK();
                               }
                               return AnyValueMsg(bytes, where, depth, &out->value);
                             });
  }

  Status AnyValueMsg(std::string_view msg, const std::string& where, int depth, AnyValue* out) {
    if (depth >= kMaxValueDepth) {
      return Malformed(where, fmt::format("values nested deeper than {}", kMaxValueDepth));
    }
    return ForEachField(msg, where, [&](const Tag& tag, coding::Reader* r) -> Status {
      std::string_view bytes;
      bool present = false;
      uint64_t u64 = 0;
      using Kind = AnyValue::Kind;
      switch (tag.field) {
        case 2:
        case 3:
          if (tag.wire_type != WireType::kVarint) {
            break;
          }
          if (!r->GetVarint64(&u64)) {
            return Truncated(where, tag.field);
          }
          *out = AnyValue{};
          if (tag.field == 2) {
            out->kind = Kind::kBool;
            out->b = u64 != 0;
          } else {
            out->kind = Kind::kInt;
            out->i = static_cast<int64_t>(u64);
          }
          return Status::OK();
        case 4:
          if (tag.wire_type != WireType::kFixed64) {
            break;
          }
          if (!r->GetFixed64(&u64)) {
            return Truncated(where, tag.field);
          }
          *out = AnyValue{};
          out->kind = Kind::kDouble;
          std::memcpy(&out->d, &u64, sizeof out->d);
          return Status::OK();
        case 1:
        case 5:
        case 6:
        case 7: {
          if (!Bytes(r, tag, &bytes, &present)) {
            return Truncated(where, tag.field);
          }
          if (!present) {
            return Status::OK();
          }
          const Kind kind = tag.field == 1   ? Kind::kString
                            : tag.field == 7 ? Kind::kBytes
                            : tag.field == 5 ? Kind::kArray
                                             : Kind::kKvList;
          if (out->kind != kind) {  // another member of the oneof: replaced, not merged
            *out = AnyValue{};
            out->kind = kind;
          }
          if (kind == Kind::kString || kind == Kind::kBytes) {
            out->str.assign(bytes);
            return Status::OK();
          }
          return ListMsg(bytes, where, depth + 1, out);
        }
        default:
          break;
      }
      return SkipField(r, tag) ? Status::OK() : Truncated(where, tag.field);
    });
  }

  // ArrayValue or KeyValueList (field 1 repeated in both), appended to out's list.
  Status ListMsg(std::string_view msg, const std::string& where, int depth, AnyValue* out) {
    return ForEachBytesField(msg, where, false, [&](uint32_t, std::string_view bytes) -> Status {
      if (out->kind == AnyValue::Kind::kArray) {
        return AnyValueMsg(bytes, where, depth, &out->array.emplace_back());
      }
      return KeyValueMsg(bytes, where, depth, &out->kvlist.emplace_back());
    });
  }
};

}  // namespace

Result<Logs> ParseOtlpProto(std::string_view body) {
  Logs logs;
  Parser parser;
  SLUICE_RETURN_IF_ERROR(parser.Request(body, &logs));
  return logs;
}

}  // namespace sluice::http::otlp_internal
