#pragma once

#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "storage/object_store.h"

namespace sluice::storage::index {

// Merges the index objects of one (tenant, period) into one object, written before the old ones
// are deleted, so a reader always finds every chunk ref (for a moment twice; readers dedupe by
// chunk key). A no-op with fewer than two objects. Corrupt objects are logged and left in place
// for inspection; objects deleted by someone else meanwhile are skipped, as their refs were merged
// elsewhere.
//
// Safe to run while writers add objects (only objects listed at the start are replaced) and even
// concurrently with itself on the same period (at worst two merged objects with the same refs).
Status CompactPeriod(ObjectStore* store, std::string_view tenant, int64_t period,
                     const Clock* clock = SystemClock::Default());

}  // namespace sluice::storage::index
