#include "http/limits_api.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdlib>
#include <string_view>

#include "config/config.h"
#include "http/json_writer.h"
#include "http/tenant.h"

namespace sluice::http {

namespace {

// Loki's default tenant_limits_allow_publish, in its (alphabetical) order.
constexpr std::array<std::string_view, 18> kPublishedLimits = {
    "discover_log_levels",
    "discover_service_name",
    "log_level_fields",
    "max_entries_limit_per_query",
    "max_line_size_truncate",
    "max_query_bytes_read",
    "max_query_length",
    "max_query_lookback",
    "max_query_range",
    "max_query_series",
    "metric_aggregation_enabled",
    "otlp_config",
    "pattern_persistence_enabled",
    "query_timeout",
    "retention_period",
    "retention_stream",
    "volume_enabled",
    "volume_max_series",
};

// Published limits sluice has no setting for, with the value that describes what sluice does
// (JSON text): the volume endpoints are always on, and no aggregated metrics or patterns are
// written back as logs.
struct FixedLimit {
  std::string_view name;
  std::string_view json;
};
constexpr std::array<FixedLimit, 4> kFixedLimits = {{
    {"metric_aggregation_enabled", "false"},
    {"pattern_persistence_enabled", "false"},
    {"volume_enabled", "true"},
    {"volume_max_series", "1000"},
}};

bool IsJsonNumber(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && s.find_first_not_of("0123456789.-+eE") == std::string::npos;
}

// The dump is YAML whose scalars have lost their types; booleans and numbers are recognised by
// their spelling, as Loki's own JSON has them (durations and sizes stay strings: "30d1h").
void AppendYamlAsJson(std::string* out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out->push_back(',');
        first = false;
        AppendYamlAsJson(out, item);
      }
      out->push_back(']');
      return;
    }
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : node) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(out, kv.first.Scalar());
        out->push_back(':');
        AppendYamlAsJson(out, kv.second);
      }
      out->push_back('}');
      return;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() != "!" && (s == "true" || s == "false" || IsJsonNumber(s))) {
        out->append(s);
      } else {
        AppendJsonString(out, s);
      }
      return;
    }
    default:
      out->append("null");
  }
}

}  // namespace

std::string PublishedLimitsJson(const config::Limits& limits) {
  YAML::Node dump = YAML::Load(config::DumpLimitsYaml(limits));
  std::string out = "{";
  bool first = true;
  for (std::string_view name : kPublishedLimits) {
    std::string value;
    if (YAML::Node node = dump[std::string(name)]; node) {
      AppendYamlAsJson(&value, node);
    } else {
      for (const auto& fixed : kFixedLimits) {
        if (fixed.name == name) value = fixed.json;
      }
    }
    if (value.empty()) continue;  // a limit sluice neither has nor describes
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, name);
    out.push_back(':');
    out += value;
  }
  out.push_back('}');
  return out;
}

void RegisterLimitsRoutes(Router* router, const config::Overrides* overrides,
                          LimitsApiOptions options) {
  router->Handle({"GET"}, "/config/tenant/v1/limits", [overrides, options](Request& request) {
    auto tenant = TenantForWrite(request, options.auth_enabled);
    if (!tenant.ok()) return Response::Error(tenant.status());
    return Response::Text(config::DumpLimitsYaml(*overrides->ForTenant(*tenant)));
  });
  router->Handle({"GET"}, "/loki/api/v1/drilldown-limits", [overrides, options](Request& request) {
    auto tenant = TenantForWrite(request, options.auth_enabled);
    if (!tenant.ok()) return Response::Error(tenant.status());
    std::string out = "{\"limits\":";
    out += PublishedLimitsJson(*overrides->ForTenant(*tenant));
    out += ",\"pattern_ingester_enabled\":";
    out += options.pattern_ingester_enabled ? "true" : "false";
    out += ",\"version\":";
    AppendJsonString(&out, options.version.empty() ? "unknown" : options.version);
    out += "}\n";
    return Response::Json(std::move(out));
  });
}

}  // namespace sluice::http
