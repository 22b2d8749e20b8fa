#include "deletion/compactor_deletes.h"

#include "deletion/retention.h"

namespace sluice::deletion {

CompactorDeletes::CompactorDeletes(DeleteRequestStore* store, const config::Overrides* overrides,
                                   const Clock* clock)
    : store_(store), overrides_(overrides), clock_(clock) {}

int64_t CompactorDeletes::RetentionPeriod(std::string_view tenant,
                                          const model::LabelSet& labels) const {
  return RetentionPeriodFor(*overrides_->ForTenant(tenant), labels);
}

std::function<bool(int64_t, std::string_view)> CompactorDeletes::DeletedEntries(
    std::string_view tenant, const model::LabelSet& labels, int64_t from_ns, int64_t through_ns) {
  if (overrides_->ForTenant(tenant)->deletion_mode != config::DeletionMode::kFilterAndDelete) {
    return nullptr;
  }
  std::shared_ptr<const TenantDeletes> compiled;
  {
    MutexLock lock(&mu_);
    auto it = fixed_.find(tenant);
    if (it == fixed_.end()) {
      Fixed fixed;
      fixed.requests = store_->Pending(tenant, clock_->NowNanos());
      fixed.compiled = TenantDeletes::Compile(fixed.requests);
      it = fixed_.emplace(std::string(tenant), std::move(fixed)).first;
    }
    compiled = it->second.compiled;
  }
  if (compiled->empty()) return nullptr;
  std::shared_ptr<LineFilter> filter = compiled->ForStream(labels, from_ns, through_ns);
  if (filter == nullptr) return nullptr;
  return [filter](int64_t ts, std::string_view line) { return filter->IsDeleted(ts, line); };
}

Status CompactorDeletes::DeletesApplied(std::string_view tenant) {
  std::vector<DeleteRequest> applied;
  {
    MutexLock lock(&mu_);
    auto it = fixed_.find(tenant);
    if (it == fixed_.end()) return Status::OK();
    applied = std::move(it->second.requests);
    fixed_.erase(it);
  }
  Status first;
  for (const DeleteRequest& r : applied) {
    Status st = store_->MarkProcessed(r.tenant, r.request_id);
    // A request cancelled meanwhile (with force) is simply gone.
    if (!st.ok() && st.code() != StatusCode::kNotFound && first.ok()) first = st;
  }
  return first;
}

}  // namespace sluice::deletion
