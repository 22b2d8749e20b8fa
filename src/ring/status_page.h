#pragma once

// Loki's ring status page (GET/POST /ring), rendered from a Ring; the HTTP server wraps the
// answer. GET: an HTML table of every instance (id, zone, state, address, registered at, last
// heartbeat, tokens, ownership %), or JSON with ?format=json or an Accept header naming
// application/json, in dskit's shape:
//   {"shards":[{"id","state","address","timestamp","registered_timestamp","zone","tokens"}],
//    "now": "<RFC 3339>"}
// where an instance with a stale heartbeat shows state "UNHEALTHY". POST forget=<id> removes the
// instance from the ring and redirects back (302, Location "#").

#include <string>
#include <utility>
#include <vector>

#include "ring/ring.h"

namespace sluice::ring {

struct StatusPageRequest {
  std::string method;  // "GET" or "POST"
  std::string forget;  // POST's form value
  bool json = false;   // ?format=json or Accept: application/json
};

struct StatusPageResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

StatusPageResponse RenderStatusPage(Ring& ring, const StatusPageRequest& request);

}  // namespace sluice::ring
