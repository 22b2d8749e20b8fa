#include "http/patterns_api.h"

#include <string_view>

#include "http/json_writer.h"
#include "http/query_params.h"
#include "http/tenant.h"
#include "logql/syntax/ast.h"
#include "logql/syntax/parser.h"

namespace sluice::http {

namespace {

// Loki 3's logqlmodel.ErrParseMatchers.
constexpr std::string_view kOnlyMatchersMessage = "only label matchers are supported";

// Loki's syntax.ParseMatchers(query, true): the whole query is parsed and validated as LogQL,
// then it must be a selector without a pipeline.
Result<std::vector<model::LabelMatcher>> ParseSelectorOnly(const std::string& query) {
  auto expr = logql::syntax::Parse(query);
  if (!expr.ok()) return expr.status();
  if (!logql::syntax::IsLogQuery(**expr)) {
    return Status::InvalidArgument(std::string(kOnlyMatchersMessage));
  }
  const auto& selector = (*expr)->Cast<logql::syntax::LogSelectorExpr>();
  if (!selector.stages.empty()) return Status::InvalidArgument(std::string(kOnlyMatchersMessage));
  return selector.matchers;
}

}  // namespace

std::string MarshalPatterns(const std::vector<pattern::PatternSeries>& series) {
  std::string out = "{\"status\":\"success\",\"data\":[";
  for (size_t i = 0; i < series.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"pattern\":";
    AppendJsonString(&out, series[i].pattern);
    out += ",\"level\":";
    AppendJsonString(&out, series[i].level);
    out += ",\"samples\":[";
    for (size_t j = 0; j < series[i].samples.size(); ++j) {
      if (j > 0) out.push_back(',');
      out.push_back('[');
      // Whole seconds, as Loki's model.Time.Unix().
      AppendJsonInt(&out, series[i].samples[j].ts_ms / 1000);
      out.push_back(',');
      AppendJsonInt(&out, series[i].samples[j].count);
      out.push_back(']');
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

void RegisterPatternRoutes(Router* router, pattern::Miner* miner, bool auth_enabled,
                           const Clock* clock) {
  router->Handle({"GET", "POST"}, "/loki/api/v1/patterns",
                 [miner, auth_enabled, clock](Request& request) -> Response {
                   auto tenants = TenantsForRead(request, auth_enabled);
                   if (!tenants.ok()) return Response::Error(tenants.status());
                   // Loki's loghttp.ParsePatternsQuery: the bounds and step of a range query.
                   auto parsed = ParseRangeQuery(request, clock->NowNanos());
                   if (!parsed.ok()) return Response::Error(parsed.status());
                   auto matchers = ParseSelectorOnly(parsed->query);
                   if (!matchers.ok()) return Response::Error(matchers.status());
                   if (miner == nullptr) return Response::Text("", 404);
                   auto series = miner->Query(*tenants, *matchers, parsed->start_ns, parsed->end_ns,
                                              parsed->step_ns);
                   return Response::Json(MarshalPatterns(series));
                 });
}

}  // namespace sluice::http
