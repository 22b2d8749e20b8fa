#pragma once

// The process collector every Prometheus client library exports (process_cpu_seconds_total,
// process_resident_memory_bytes, process_start_time_seconds, ...), read from /proc when
// scraped: what dashboards chart memory and CPU with and alerts see restarts by.

#include "metrics/metrics.h"

namespace sluice::metrics {

// Registers the process_* metrics on `registry` (once per registry).
void RegisterProcessMetrics(Registry& registry);

}  // namespace sluice::metrics
