#include "storage/index/compactor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/tenant.h"
#include "storage/index/format.h"

namespace sluice::storage::index {

Status CompactPeriod(ObjectStore* store, std::string_view tenant, int64_t period,
                     const Clock* clock) {
  if (Status st = model::ValidateTenantId(tenant); !st.ok())
    return Status::InvalidArgument(st.message());
  std::string prefix = PeriodPrefix(tenant, period);
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store->List(prefix));
  std::erase_if(keys, [](const std::string& key) { return !key.ends_with(kIndexSuffix); });
  if (keys.size() < 2) return Status::OK();

  IndexFile merged{std::string(tenant), period, {}};
  std::vector<std::string> replaced;
  for (const auto& key : keys) {
    auto data = store->Get(key);
    if (!data.ok()) {
      if (data.status().code() == StatusCode::kNotFound) continue;
      return data.status();
    }
    auto file = DecodeIndexFile(*data);
    if (!file.ok() || file->tenant != tenant || file->period != period) {
      spdlog::warn("index compaction: leaving unreadable object {} in place: {}", key,
                   file.ok() ? "tenant or period does not match its key" : file.status().message());
      continue;
    }
    for (auto& s : file->series) merged.series.push_back(std::move(s));
    replaced.push_back(key);
  }
  if (replaced.size() < 2) return Status::OK();

  // The name sorts after nothing in particular; uniqueness is what matters. The "compacted-"
  // prefix and the clock reading keep two compactors' outputs apart.
  std::string key =
      fmt::format("{}compacted-{}-{}{}", prefix, clock->NowNanos(), replaced.size(), kIndexSuffix);
  SLUICE_RETURN_IF_ERROR(store->Put(key, EncodeIndexFile(std::move(merged))));
  for (const auto& old_key : replaced) {
    if (old_key == key) continue;
    SLUICE_RETURN_IF_ERROR(store->Delete(old_key));
  }
  return Status::OK();
}

}  // namespace sluice::storage::index
