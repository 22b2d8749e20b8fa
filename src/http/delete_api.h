#pragma once

// Loki's log deletion endpoints (pkg/compactor/deletion/request_handler.go), per tenant
// (X-Scope-OrgID as every other route):
//
//   POST|PUT /loki/api/v1/delete?query=<log query>&start=<t>&end=<t>[&max_interval=<d>]  -> 204
//   GET      /loki/api/v1/delete                        -> 200 [{"request_id":..,"start_time":..,
//                                                          "end_time":..,"query":..,"status":..,
//                                                          "created_at":..}] (seconds, oldest
//                                                          first)
//   DELETE   /loki/api/v1/delete?request_id=<id>[&force=true]                         -> 204
//
// `start` is required, `end` defaults to now; both are Unix seconds (exactly 10 digits) or
// RFC3339. A tenant whose deletion_mode is disabled gets 403 "deletion is not available for this
// tenant". Errors are Loki's texts with its status codes (400 for a bad parameter, 404 for an
// unknown request id, 400 for cancelling a processed request or one past the cancel period).
//
// Loki splits a request with line filters into max_interval pieces for its compactor; sluice
// keeps it whole (the pieces are an implementation detail of Loki's compactor) but checks the
// parameter as Loki does.

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "config/overrides.h"
#include "deletion/delete_request_store.h"
#include "http/server.h"

namespace sluice::http {

struct DeleteApiOptions {
  bool auth_enabled = false;
  // Loki's compactor.delete_max_interval: the largest max_interval a request may ask for
  // (0 = no cap).
  int64_t max_interval_ns = 24LL * 3600 * 1'000'000'000;
  const Clock* clock = SystemClock::Default();
  // The 404 body when this process keeps no delete requests (store == nullptr): which process
  // to ask instead.
  std::string not_served_message =
      "this sluice process does not serve delete requests: send them to the process that runs "
      "the compactor";
};

// Registers /loki/api/v1/delete. `store` null: every method answers 404 with
// options.not_served_message. REQUIRES: *store, *overrides and *options.clock outlive the
// router's use.
void RegisterDeleteRoutes(Router* router, deletion::DeleteRequestStore* store,
                          const config::Overrides* overrides, DeleteApiOptions options);

}  // namespace sluice::http
