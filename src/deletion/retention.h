#pragma once

// How long a tenant keeps a stream's data: Loki's retention rules (limits_config
// retention_period and retention_stream; pkg/compactor/retention TenantRetentionSnapshot).
//
//   - Of the retention_stream rules whose selector matches the stream, the highest priority
//     wins; among rules of equal priority, the shortest period.
//   - No rule matches: retention_period.
//   - A period of 0 keeps the data forever.
//
// An entry has expired when it is older than now - period. The compactor deletes expired chunks;
// queries drop expired entries at once (querier/deletion_source.h), so a chunk that expires
// partway is cut at read time until the compactor gets to it.

#include <cstdint>
#include <limits>
#include <memory>

#include "config/limits.h"
#include "model/labels.h"

namespace sluice::deletion {

class RetentionPolicy {
 public:
  // The selectors were parsed when the limits were loaded (config::StreamRetention::matchers).
  // REQUIRES: limits non-null.
  explicit RetentionPolicy(std::shared_ptr<const config::Limits> limits);

  // False when nothing ever expires (retention_period 0 and every rule 0): readers skip all work.
  bool Enabled() const { return enabled_; }
  // The period that applies to a stream with `labels`, in nanoseconds; 0 = forever.
  int64_t PeriodFor(const model::LabelSet& labels) const;
  // The oldest timestamp a stream keeps at `now_ns`: entries before it have expired.
  // std::numeric_limits<int64_t>::min() when the stream keeps its data forever.
  int64_t OldestKept(const model::LabelSet& labels, int64_t now_ns) const;

  const config::Limits& limits() const { return *limits_; }

 private:
  std::shared_ptr<const config::Limits> limits_;
  bool enabled_ = false;
};

// The retention period of `labels` under `limits` (the rule above), without a policy object.
int64_t RetentionPeriodFor(const config::Limits& limits, const model::LabelSet& labels);

}  // namespace sluice::deletion
