// OTLP logs onto Loki's model, as Loki 3 maps them (pkg/loghttp/push/otlp.go and
// pkg/loghttp/push/otlplabels/ in grafana/loki):
//
//   resource attributes  -> the tenant's otlp_config.resource_attributes decides, first matching
//                           rule wins: index_label (stream label), structured_metadata (the
//                           default for attributes no rule names) or drop. Unless ignore_defaults,
//                           Loki's default list (service.name, k8s.pod.name, ...) comes first as an
//                           index_label rule. No service.name: discover_service_name picks the
//                           first of its labels the stream has, else "unknown_service".
//   scope attributes     -> structured metadata or drop, then scope_name, scope_version,
//                           scope_dropped_attributes_count
//   log attributes       -> structured metadata, index label (a stream of its own) or drop, then
//                           observed_timestamp (when the record also has a timestamp),
//                           severity_number, severity_text, dropped_attributes_count, flags,
//                           trace_id and span_id (hex), event_name
//   body                 -> the line, rendered as pcommon.Value.AsString (maps and arrays as
//                           JSON with sorted keys, bytes as base64)
//   timestamp            -> time_unix_nano, else observed_time_unix_nano, else now
//
// Attribute names become label names through otlptranslator's LabelNamer (every run of
// characters outside [A-Za-z0-9] is one '_', a leading digit gets "key_"); a map-valued attribute
// becomes one label per leaf, named with its parent's name as prefix ("http" {"method": "GET"} ->
// http_method). An entry's structured metadata is its own, then its resource's, then its scope's.

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

#include "http/json_writer.h"
#include "http/push/otlp_internal.h"
#include "model/labels.h"

namespace sluice::http::otlp_internal {

namespace {

using config::OtlpAction;
using config::OtlpAttributesRule;

constexpr std::string_view kServiceNameAttribute = "service.name";
constexpr std::string_view kServiceNameLabel = "service_name";
constexpr std::string_view kUnknownService = "unknown_service";

// Go's float64 -> text as encoding/json and pcommon print it: shortest round-trip digits,
// fixed notation unless the magnitude is below 1e-6 or at least 1e21, exponent without padding.
void AppendFloat(double f, std::string* out) {
  if (std::isnan(f) || std::isinf(f)) {
    // json.Marshal refuses these; pcommon prints the error text's value part.
    out->append(std::isnan(f) ? "NaN" : (f > 0 ? "+Inf" : "-Inf"));
    return;
  }
  char buf[64];
  const double abs = std::fabs(f);
  const bool exp = abs != 0 && (abs < 1e-6 || abs >= 1e21);
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f,
                                 exp ? std::chars_format::scientific : std::chars_format::fixed);
  std::string_view s(buf, static_cast<size_t>(end - buf));
  if (exp) {
    // "1e-07" -> "1e-7", as Go's encoding/json cleans it up.
    size_t n = s.size();
    if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') {
      out->append(s.substr(0, n - 2));
      out->push_back(s[n - 1]);
      return;
    }
  }
  out->append(s);
}

// base64.StdEncoding, as Go prints []byte in JSON and pcommon prints a bytes value.
void AppendBase64(std::string_view in, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t n = std::min<size_t>(3, in.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) {
      v = v << 8 | (k < n ? static_cast<uint8_t>(in[i + k]) : 0u);
    }
    for (size_t k = 0; k < 4; ++k) {
      out->push_back(k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=');
    }
  }
}

void AppendJson(const AnyValue& v, std::string* out) {
  using Kind = AnyValue::Kind;
  switch (v.kind) {
    case Kind::kEmpty:
      out->append("null");
      return;
    case Kind::kString:
      AppendJsonString(out, v.str);
      return;
    case Kind::kBool:
      out->append(v.b ? "true" : "false");
      return;
    case Kind::kInt:
      out->append(std::to_string(v.i));
      return;
    case Kind::kDouble:
      if (std::isnan(v.d) || std::isinf(v.d)) {
        out->append("null");
      } else {
        AppendFloat(v.d, out);
      }
      return;
    case Kind::kBytes:
      out->push_back('"');
      AppendBase64(v.str, out);
      out->push_back('"');
      return;
    case Kind::kArray: {
      out->push_back('[');
      for (size_t i = 0; i < v.array.size(); ++i) {
        if (i > 0) {
          out->push_back(',');
        }
        AppendJson(v.array[i], out);
      }
      out->push_back(']');
      return;
    }
    case Kind::kKvList: {
      // A Go map: one value per key (the last), keys in byte order.
      std::map<std::string_view, const AnyValue*> sorted;
      for (const KeyValue& kv : v.kvlist) {
        sorted[kv.key] = &kv.value;
      }
      out->push_back('{');
      bool first = true;
      for (const auto& [key, value] : sorted) {
        if (!first) {
          out->push_back(',');
        }
        first = false;
        AppendJsonString(out, key);
        out->push_back(':');
        AppendJson(*value, out);
      }
      out->push_back('}');
      return;
    }
  }
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Every run of characters outside [A-Za-z0-9] becomes one '_'. Byte-wise is the same as Go's
// rune-wise loop: a multi-byte character is a run of non-alphanumeric bytes.
std::string Sanitize(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool previous_underscore = false;
  for (char c : name) {
    if (IsAlnum(c)) {
      out.push_back(c);
      previous_underscore = false;
    } else if (!previous_underscore) {
      out.push_back('_');
      previous_underscore = true;
    }
  }
  return out;
}

OtlpAction ActionFor(std::string_view attribute, const std::vector<OtlpAttributesRule>* defaults,
                     const std::vector<OtlpAttributesRule>& rules) {
  for (const auto* list : {defaults, &rules}) {
    if (list == nullptr) {
      continue;
    }
    for (const OtlpAttributesRule& rule : *list) {
      if (rule.matcher != nullptr &&
          re2::RE2::FullMatch(re2::StringPiece(attribute.data(), attribute.size()),
                              *rule.matcher)) {
        return rule.action;
      }
      if (std::find(rule.attributes.begin(), rule.attributes.end(), attribute) !=
          rule.attributes.end()) {
        return rule.action;
      }
    }
  }
  return OtlpAction::kStructuredMetadata;
}

// Loki's default resource rule: the default attributes as index labels.
const std::vector<OtlpAttributesRule>& DefaultResourceRules() {
  static const std::vector<OtlpAttributesRule> kRules = {
      {OtlpAction::kIndexLabel, config::DefaultOtlpIndexLabelAttributes(), "", nullptr}};
  return kRules;
}

constexpr std::string_view kSymbolizerPrefix = "symbolizer lookup: ";

// AttributeToLabels: one label per leaf; `prefix` is the parent map's (normalized) name.
Status AttributeToLabels(std::string_view key, const AnyValue& value, std::string_view prefix,
                         std::vector<model::Label>* out) {
  std::string full = prefix.empty() ? std::string(key) : fmt::format("{}_{}", prefix, key);
  Result<std::string> name = NormalizeAttributeName(full);
  if (!name.ok()) {
    return Status::InvalidArgument(std::string(kSymbolizerPrefix) + name.status().message());
  }
  if (value.kind == AnyValue::Kind::kKvList) {
    for (const KeyValue& kv : value.kvlist) {
      SLUICE_RETURN_IF_ERROR(AttributeToLabels(kv.key, kv.value, *name, out));
    }
    return Status::OK();
  }
  out->push_back({std::move(name).value(), AnyValueAsString(value)});
  return Status::OK();
}

// Applies rules to attributes: index labels into *labels (when non-null), the rest appended to
// *metadata.
Status MapAttributes(const std::vector<KeyValue>& attributes,
                     const std::vector<OtlpAttributesRule>* defaults,
                     const std::vector<OtlpAttributesRule>& rules,
                     std::map<std::string, std::string>* labels,
                     std::vector<model::Label>* metadata, std::string_view skip = {}) {
  std::vector<model::Label> converted;
  for (const KeyValue& kv : attributes) {
    if (!skip.empty() && kv.key == skip) {
      continue;
    }
    OtlpAction action = ActionFor(kv.key, defaults, rules);
    if (action == OtlpAction::kDrop) {
      continue;
    }
    converted.clear();
    SLUICE_RETURN_IF_ERROR(AttributeToLabels(kv.key, kv.value, "", &converted));
    if (action == OtlpAction::kIndexLabel && labels != nullptr) {
      for (auto& l : converted) {
        (*labels)[std::move(l.name)] = std::move(l.value);
      }
    } else if (action == OtlpAction::kStructuredMetadata) {
      for (auto& l : converted) {
        metadata->push_back(std::move(l));
      }
    }
  }
  return Status::OK();
}

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace

std::string LabelsText(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) {
      out.append(", ");
    }
    out.append(name);
    out.push_back('=');
    out.append(model::QuoteString(value));
  }
  out.push_back('}');
  return out;
}

std::string AnyValueAsString(const AnyValue& v) {
  using Kind = AnyValue::Kind;
  std::string out;
  switch (v.kind) {
    case Kind::kEmpty:
      break;
    case Kind::kString:
      out = v.str;
      break;
    case Kind::kBool:
      out = v.b ? "true" : "false";
      break;
    case Kind::kInt:
      out = std::to_string(v.i);
      break;
    case Kind::kDouble:
      AppendFloat(v.d, &out);
      break;
    case Kind::kBytes:
      AppendBase64(v.str, &out);
      break;
    case Kind::kArray:
    case Kind::kKvList:
      AppendJson(v, &out);
      break;
  }
  return out;
}

Result<std::string> NormalizeAttributeName(std::string_view name) {
  if (name.empty()) {
    return Status::InvalidArgument("label name is empty");
  }
  std::string out;
  if (name.size() >= 4 && name.starts_with("__") && name.ends_with("__")) {
    out = "__" + Sanitize(name.substr(2, name.size() - 4)) + "__";  // reserved names are kept
  } else {
    out = Sanitize(name);
  }
  if (out[0] >= '0' && out[0] <= '9') {
    out.insert(0, "key_");
  }
  if (out.find_first_not_of('_') == std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("normalization for label name {} resulted in invalid name {}",
                    model::QuoteString(name), model::QuoteString(out)));
  }
  return out;
}

Result<model::PushRequest> ToPushRequest(const Logs& logs, const config::Limits& limits,
                                         int64_t now_ns) {
  const config::OtlpConfig& cfg = limits.otlp_config;
  const std::vector<OtlpAttributesRule>* resource_defaults =
      cfg.resource_ignore_defaults ? nullptr : &DefaultResourceRules();

  model::PushRequest req;
  std::unordered_map<std::string, size_t> stream_index;  // labels text -> req.streams index
  auto stream_for = [&](std::string text) -> model::PushRequest::RawStream& {
    auto it = stream_index.find(text);
    if (it == stream_index.end()) {
      std::string_view owned = req.Own(text);
      it = stream_index.emplace(std::move(text), req.streams.size()).first;
      req.streams.push_back({owned, {}});
    }
    return req.streams[it->second];
  };

  std::vector<model::Label> resource_md, scope_md;
  for (const ResourceLogs& rl : logs.resource_logs) {
    std::map<std::string, std::string> labels;
    resource_md.clear();
    SLUICE_RETURN_IF_ERROR(MapAttributes(rl.resource_attributes, resource_defaults,
                                         cfg.resource_attributes, &labels, &resource_md));
    bool has_service_name = false;
    for (const KeyValue& kv : rl.resource_attributes) {
      if (kv.key == kServiceNameAttribute && !AnyValueAsString(kv.value).empty()) {
        has_service_name = true;
      }
    }
    if (!has_service_name && !limits.discover_service_name.empty()) {
      std::string service(kUnknownService);
      for (const std::string& candidate : limits.discover_service_name) {
        auto it = labels.find(candidate);
        if (it != labels.end() && !it->second.empty()) {
          service = it->second;
          break;
        }
      }
      labels[std::string(kServiceNameLabel)] = std::move(service);
    }
    const std::string resource_text = LabelsText(labels);

    for (const ScopeLogs& sl : rl.scope_logs) {
      scope_md.clear();
      SLUICE_RETURN_IF_ERROR(
          MapAttributes(sl.scope.attributes, nullptr, cfg.scope_attributes, nullptr, &scope_md));
      if (!sl.scope.name.empty()) {
        scope_md.push_back({"scope_name", sl.scope.name});
      }
      if (!sl.scope.version.empty()) {
        scope_md.push_back({"scope_version", sl.scope.version});
      }
      if (sl.scope.dropped_attributes_count != 0) {
        scope_md.push_back(
            {"scope_dropped_attributes_count", std::to_string(sl.scope.dropped_attributes_count)});
      }

      for (const LogRecord& lr : sl.log_records) {
        std::map<std::string, std::string> log_labels;
        std::vector<model::Label>& md = req.owned_metadata.emplace_back();
        SLUICE_RETURN_IF_ERROR(MapAttributes(lr.attributes, nullptr, cfg.log_attributes,
                                             &log_labels, &md,
                                             lr.event_name.empty() ? "" : "event_name"));
        if (lr.time_unix_nano != 0 && lr.observed_time_unix_nano != 0) {
          md.push_back({"observed_timestamp", std::to_string(lr.observed_time_unix_nano)});
        }
        if (lr.severity_number != 0) {
          md.push_back({"severity_number", std::to_string(lr.severity_number)});
        }
        if (!lr.severity_text.empty()) {
          if (cfg.severity_text_as_label) {
            log_labels["severity_text"] = lr.severity_text;
          }
          md.push_back({"severity_text", lr.severity_text});
        }
        if (lr.dropped_attributes_count != 0) {
          md.push_back({"dropped_attributes_count", std::to_string(lr.dropped_attributes_count)});
        }
        if (lr.flags != 0) {
          md.push_back({"flags", std::to_string(lr.flags)});
        }
        if (!lr.trace_id.empty()) {
          md.push_back({"trace_id", Hex(lr.trace_id)});
        }
        if (!lr.span_id.empty()) {
          md.push_back({"span_id", Hex(lr.span_id)});
        }
        if (!lr.event_name.empty()) {
          md.push_back({"event_name", lr.event_name});
        }
        md.insert(md.end(), resource_md.begin(), resource_md.end());
        md.insert(md.end(), scope_md.begin(), scope_md.end());

        std::string text = resource_text;
        if (!log_labels.empty()) {
          std::map<std::string, std::string> combined = labels;
          for (auto& [name, value] : log_labels) {
            combined[name] = value;
          }
          text = LabelsText(combined);
        }
        model::EntryView entry;
        entry.timestamp_ns =
            static_cast<int64_t>(lr.time_unix_nano != 0            ? lr.time_unix_nano
                                 : lr.observed_time_unix_nano != 0 ? lr.observed_time_unix_nano
                                                                   : static_cast<uint64_t>(now_ns));
        entry.line = req.Own(AnyValueAsString(lr.body));
        entry.metadata = md;
        stream_for(std::move(text)).entries.push_back(entry);
      }
    }
  }
  return req;
}

}  // namespace sluice::http::otlp_internal
