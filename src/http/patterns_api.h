#pragma once

// Loki's log patterns endpoint, answered by the pattern miner (src/pattern/):
//
//   GET|POST /loki/api/v1/patterns?query={sel}&start&end&step
//        {"status":"success","data":[
//            {"pattern":"user <_> logged in","level":"info","samples":[[<unix s>,<count>],...]},
//            ...]}
//
// `query` must be a bare stream selector (else 400 "only label matchers are supported", as
// Loki's syntax.ParseMatchers); start, end and step are read as for query_range (default: the
// last hour, a step giving about 250 points). Counts are per step, at step starts that are
// multiples of the step (the 10s sample interval when step is 10s). Patterns seen fewer than
// 30 times in the range are left out and at most 300 are returned, most frequent first.
// With pattern_ingester.enabled false the route answers 404 with an empty body, as Loki's
// querier does without a pattern ingester.

#include <string>
#include <vector>

#include "common/clock.h"
#include "http/server.h"
#include "pattern/miner.h"

namespace sluice::http {

// miner may be null (pattern ingester disabled). REQUIRES: miner and clock outlive the router.
void RegisterPatternRoutes(Router* router, pattern::Miner* miner, bool auth_enabled,
                           const Clock* clock = SystemClock::Default());

std::string MarshalPatterns(const std::vector<pattern::PatternSeries>& series);

}  // namespace sluice::http
