#include "deletion/retention.h"

namespace sluice::deletion {

int64_t RetentionPeriodFor(const config::Limits& limits, const model::LabelSet& labels) {
  const config::StreamRetention* matched = nullptr;
  for (const config::StreamRetention& rule : limits.retention_stream) {
    if (!model::MatchesAll(rule.matchers, labels)) continue;
    if (matched != nullptr) {
      if (matched->priority > rule.priority) continue;
      if (matched->priority == rule.priority && matched->period <= rule.period) continue;
    }
    matched = &rule;
  }
  return matched != nullptr ? matched->period : limits.retention_period;
}

RetentionPolicy::RetentionPolicy(std::shared_ptr<const config::Limits> limits)
    : limits_(std::move(limits)) {
  enabled_ = limits_->retention_period > 0;
  for (const auto& rule : limits_->retention_stream) enabled_ = enabled_ || rule.period > 0;
}

int64_t RetentionPolicy::PeriodFor(const model::LabelSet& labels) const {
  if (!enabled_) return 0;
  return RetentionPeriodFor(*limits_, labels);
}

int64_t RetentionPolicy::OldestKept(const model::LabelSet& labels, int64_t now_ns) const {
  int64_t period = PeriodFor(labels);
  if (period <= 0 || period >= now_ns) return std::numeric_limits<int64_t>::min();
  return now_ns - period;
}

}  // namespace sluice::deletion
