#pragma once

// Decorators around any ObjectStore, applied by main/storage.cc over the configured backend:
//
//   InstrumentStore: every operation counted and timed under the names Loki's instrumented bucket
//     (thanos objstore) exports, so one alert and one panel cover the filesystem store and S3
//     alike: loki_objstore_bucket_operations_total, ..._operation_failures_total and
//     ..._operation_duration_seconds, labelled {bucket, operation} with operation one of get,
//     get_range, upload, delete, iter. NotFound from Get is an answer, not a failure.
//
//   InjectStoreFaults: TEST-ONLY fault injection (the -testing.fault.* flags, off by default),
//     for the incident drills: each operation first sleeps `delay_ns`, then fails with IOError
//     with probability `error_ratio`. Never configure it in production.

#include <cstdint>
#include <string>

#include "storage/object_store.h"

namespace sluice::storage {

ObjectStorePtr InstrumentStore(ObjectStorePtr inner, std::string bucket);

struct StoreFaults {
  int64_t delay_ns = 0;
  double error_ratio = 0;  // 0..1
  bool any() const { return delay_ns > 0 || error_ratio > 0; }
};
ObjectStorePtr InjectStoreFaults(ObjectStorePtr inner, StoreFaults faults);

}  // namespace sluice::storage
