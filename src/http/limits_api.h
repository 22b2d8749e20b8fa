#pragma once

// Loki's per-tenant limits endpoints:
//
//   GET /config/tenant/v1/limits       the caller's limits as YAML, keyed as in limits_config
//   GET /loki/api/v1/drilldown-limits  {"limits":{...},"pattern_ingester_enabled":b,"version":v}
//
// Grafana's Logs Drilldown reads the second to decide which tabs to show (patterns) and how far
// back to look (retention_period, max_entries_limit_per_query). Both publish only the limits in
// Loki's default `tenant_limits_allow_publish` list (pkg/loki/loki.go).

#include <string>

#include "config/overrides.h"
#include "http/server.h"

namespace sluice::http {

struct LimitsApiOptions {
  bool auth_enabled = false;
  bool pattern_ingester_enabled = false;
  std::string version;  // the build's, as /loki/api/v1/status/buildinfo reports it
};

// REQUIRES: *overrides outlives the router's use.
void RegisterLimitsRoutes(Router* router, const config::Overrides* overrides,
                          LimitsApiOptions options);

// The limits of `limits` that Loki publishes, as a JSON object.
std::string PublishedLimitsJson(const config::Limits& limits);

}  // namespace sluice::http
