#include "http/drilldown_api.h"

#include <utility>

#include "http/json_writer.h"
#include "http/query_params.h"
#include "http/tenant.h"

namespace sluice::http {

namespace {

void AppendStringArray(std::string* out, const std::vector<std::string>& values) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, values[i]);
  }
  out->push_back(']');
}

}  // namespace

std::string MarshalDetectedFields(const std::vector<querier::DetectedField>& fields,
                                  uint32_t limit) {
  if (fields.empty()) return "{}\n";
  std::string out = "{\"fields\":[";
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& f = fields[i];
    if (i > 0) out.push_back(',');
    out += "{\"label\":";
    AppendJsonString(&out, f.label);
    out += ",\"type\":";
    AppendJsonString(&out, querier::FieldTypeName(f.type));
    out += ",\"cardinality\":";
    AppendJsonUint(&out, f.cardinality);
    // Loki's DetectedField.Parsers has no omitempty: metadata-only fields say null.
    out += ",\"parsers\":";
    if (f.parsers.empty()) {
      out += "null";
    } else {
      AppendStringArray(&out, f.parsers);
    }
    if (!f.json_path.empty()) {
      out += ",\"jsonPath\":";
      AppendStringArray(&out, f.json_path);
    }
    out.push_back('}');
  }
  out += "],\"limit\":";
  AppendJsonUint(&out, limit);
  out += "}\n";
  return out;
}

std::string MarshalDetectedFieldValues(const std::vector<std::string>& values, uint32_t limit) {
  if (values.empty()) return "{}\n";
  std::string out = "{\"values\":";
  AppendStringArray(&out, values);
  out += ",\"limit\":";
  AppendJsonUint(&out, limit);
  out += "}\n";
  return out;
}

std::string MarshalDetectedLabels(const std::vector<querier::DetectedLabel>& labels) {
  if (labels.empty()) return "{}\n";
  std::string out = "{\"detectedLabels\":[";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"label\":";
    AppendJsonString(&out, labels[i].label);
    out += ",\"cardinality\":";
    AppendJsonUint(&out, labels[i].cardinality);
    out.push_back('}');
  }
  out += "]}\n";
  return out;
}

void RegisterDrilldownRoutes(Router* router, querier::Querier* q, bool auth_enabled,
                             const Clock* clock) {
  const std::vector<std::string> kGetPost = {"GET", "POST"};

  router->Handle(
      kGetPost, "/loki/api/v1/detected_labels", [q, auth_enabled, clock](Request& request) {
        auto tenants = TenantsForRead(request, auth_enabled);
        if (!tenants.ok()) return Response::Error(tenants.status());
        int64_t start = 0, end = 0;
        Status st = ParseDetectedLabelsBounds(request, clock->NowNanos(), &start, &end);
        if (!st.ok()) return Response::Error(st);
        auto got = querier::DetectLabels(q, *tenants, request.Param("query"), start, end);
        if (!got.ok()) return Response::Error(got.status());
        return Response::Json(MarshalDetectedLabels(*got));
      });

  // detected_fields, or with a field name its values: the same parameters and the same read.
  auto fields = [q, auth_enabled, clock](Request& request, bool values) -> Response {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return Response::Error(tenants.status());
    auto req = ParseDetectedFieldsQuery(request, clock->NowNanos());
    if (!req.ok()) return Response::Error(req.status());
    if (values) {
      auto got = querier::DetectFieldValues(q, *tenants, *req, request.path_vars["name"]);
      if (!got.ok()) return Response::Error(got.status());
      return Response::Json(MarshalDetectedFieldValues(*got, req->limit));
    }
    auto got = querier::DetectFields(q, *tenants, *req);
    if (!got.ok()) return Response::Error(got.status());
    return Response::Json(MarshalDetectedFields(*got, req->limit));
  };
  router->Handle(kGetPost, "/loki/api/v1/detected_fields",
                 [fields](Request& r) { return fields(r, false); });
  router->Handle(kGetPost, "/loki/api/v1/detected_field/{name}/values",
                 [fields](Request& r) { return fields(r, true); });
}

}  // namespace sluice::http
