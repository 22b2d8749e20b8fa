#include "http/query_api.h"

#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "http/drilldown_api.h"
#include "http/index_api.h"
#include "http/json_writer.h"
#include "http/query_params.h"
#include "http/query_responses.h"
#include "http/tail.h"
#include "http/tenant.h"
#include "logql/syntax/parser.h"
#include "logql/syntax/printer.h"

namespace sluice::http {

namespace {

// Runs a query on the frontend when there is one, else on the querier.
using ExecFn = std::function<Result<querier::QueryResult>(const std::vector<std::string>&,
                                                          const querier::QueryRequest&)>;

Response QueryResponse(const ExecFn& exec, Request& request,
                       const std::vector<std::string>& tenants, const querier::QueryRequest& parsed,
                       bool legacy) {
  const bool categorize = !legacy && HasEncodingFlag(request, kCategorizeLabelsFlag);
  querier::QueryRequest req = parsed;
  req.categorize_labels = categorize;
  auto result = exec(tenants, req);
  if (!result.ok()) return Response::Error(result.status());
  if (legacy) return Response::Json(MarshalLegacyStreamsResponse(*result));
  if (result->type != querier::ResultType::kStreams) {
    return Response::Json(MarshalMetricResponse(*result, categorize));
  }
  return Response::Json(MarshalStreamsResponse(*result, categorize));
}

// Loki refuses metric queries on the legacy query endpoint by result type.
constexpr std::string_view kLegacyMetricMessage =
    "legacy endpoints only support streams result type";

// query_range, query and the legacy query route, run by `exec`.
void RegisterExecRoutes(Router* router, const ExecFn& exec, bool auth_enabled, const Clock* clock) {
  const std::vector<std::string> kGetPost = {"GET", "POST"};
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
        return Response::Error(Status::InvalidArgument(std::string(kLegacyMetricMessage)));
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
}

void RegisterFormatQueryRoute(Router* router) {
  const std::vector<std::string> kGetPost = {"GET", "POST"};
  // Loki's format_query (pkg/loki/format_query_handler.go): no tenant needed; the body is Go's
  // json.Encoder output, newline included. A query that does not parse is a 400 with status
  // "invalid-query" and the parser's message under "error". The text is the canonical printer's
  // (logql/syntax/printer.h), which is what Loki's Prettify writes for any query whose printed
  // form fits its 100-column line; longer queries Loki breaks over indented lines, sluice does not.
  router->Handle(kGetPost, "/loki/api/v1/format_query", [](Request& request) {
    auto expr = logql::syntax::Parse(request.Param("query"));
    std::string out;
    if (!expr.ok()) {
      out = "{\"status\":\"invalid-query\",\"error\":";
      AppendJsonString(&out, expr.status().message());
      out.append("}\n");
      return Response::Json(std::move(out), 400);
    }
    out = "{\"status\":\"success\",\"data\":";
    AppendJsonString(&out, logql::syntax::Print(**expr));
    out.append("}\n");
    return Response::Json(std::move(out));
  });
}

// The routes the frontend process passes whole to a querier (QueryFrontend::Forward): every
// read of query_api.h but the split ones, format_query (answered locally) and tail (polled
// through the frontend).
constexpr std::string_view kPassThroughRoutes[] = {
    "/loki/api/v1/labels",
    "/loki/api/v1/label",
    "/api/prom/label",
    "/loki/api/v1/label/{name}/values",
    "/api/prom/label/{name}/values",
    "/loki/api/v1/series",
    "/loki/api/v1/index/stats",
    "/loki/api/v1/index/volume",
    "/loki/api/v1/index/volume_range",
    "/loki/api/v1/detected_labels",
    "/loki/api/v1/detected_fields",
    "/loki/api/v1/detected_field/{name}/values",
    "/loki/api/v1/patterns",
};

}  // namespace

void RegisterQueryRoutes(Router* router, querier::Querier* q, bool auth_enabled, const Clock* clock,
                         querier::QueryFrontend* frontend) {
  const std::vector<std::string> kGetPost = {"GET", "POST"};
  ExecFn exec = [q, frontend](const std::vector<std::string>& tenants,
                              const querier::QueryRequest& r) {
    return frontend != nullptr ? frontend->Exec(tenants, r) : q->Exec(tenants, r);
  };
  RegisterExecRoutes(router, exec, auth_enabled, clock);

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

  RegisterFormatQueryRoute(router);

  RegisterIndexRoutes(router, q, auth_enabled, clock);
  RegisterDrilldownRoutes(router, q, auth_enabled, clock);
  RegisterTailRoutes(router, q, q->overrides(), auth_enabled, clock);
}

void RegisterFrontendQueryRoutes(Router* router, querier::QueryFrontend* frontend,
                                 bool auth_enabled, const Clock* clock,
                                 const config::Overrides* overrides) {
  ExecFn exec = [frontend](const std::vector<std::string>& tenants,
                           const querier::QueryRequest& r) { return frontend->Exec(tenants, r); };
  RegisterExecRoutes(router, exec, auth_enabled, clock);
  RegisterFormatQueryRoute(router);

  auto forward = [frontend, auth_enabled](Request& request) -> Response {
    // The tenant is checked here too: it names the queue, and a 401 needs no querier.
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return Response::Error(tenants.status());
    querier::HttpJob job;
    job.method = request.method;
    job.path = request.path;
    job.params.assign(request.params.begin(), request.params.end());
    job.headers.assign(request.headers.begin(), request.headers.end());
    job.body = request.body;
    auto reply = frontend->Forward(*tenants, std::move(job));
    if (!reply.ok()) return Response::Error(reply.status());
    Response out;
    out.status = reply->status;
    out.content_type = std::move(reply->content_type);
    out.body = std::move(reply->body);
    out.headers = std::move(reply->headers);
    return out;
  };
  for (std::string_view route : kPassThroughRoutes) {
    router->Handle({"GET", "POST"}, std::string(route), forward);
  }
  RegisterTailRoutes(router, std::make_shared<FrontendTailSource>(frontend, overrides), overrides,
                     auth_enabled, clock);
}

}  // namespace sluice::http
