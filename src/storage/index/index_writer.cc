#include "storage/index/index_writer.h"

#include <fmt/format.h>

#include <map>

#include "model/tenant.h"
#include "storage/index/format.h"

namespace sluice::storage::index {

namespace {

std::string SanitizeWriterId(std::string id) {
  for (char& c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return id.empty() ? "writer" : id;
}

}  // namespace

IndexWriter::IndexWriter(ObjectStore* store, std::string writer_id, const Clock* clock)
    : store_(store), writer_id_(SanitizeWriterId(std::move(writer_id))), clock_(clock) {}

Status IndexWriter::WriteBatch(std::string_view tenant,
                               const std::vector<std::pair<model::LabelSet, ChunkRef>>& refs) {
  if (Status st = model::ValidateTenantId(tenant); !st.ok())
    return Status::InvalidArgument(st.message());

  // period -> series -> chunks. Validate everything before writing anything.
  std::map<int64_t, std::map<model::LabelSet, std::vector<ChunkRef>>> by_period;
  for (const auto& [labels, ref] : refs) {
    if (ref.through_ns < ref.from_ns) {
      return Status::InvalidArgument(fmt::format("chunk {} ends before it starts", ref.key));
    }
    if (ref.key.empty()) return Status::InvalidArgument("chunk ref without a key");
    if (ref.fingerprint != labels.Fingerprint()) {
      return Status::InvalidArgument(fmt::format("chunk {}: fingerprint {:016x} is not that of {}",
                                                 ref.key, ref.fingerprint, labels.ToString()));
    }
    int64_t first = PeriodOf(ref.from_ns);
    int64_t last = PeriodOf(ref.through_ns);
    if (last - first >= kMaxPeriodsPerChunk) {
      return Status::InvalidArgument(fmt::format("chunk {} spans {} days; at most {} are indexed",
                                                 ref.key, last - first + 1, kMaxPeriodsPerChunk));
    }
    for (int64_t p = first; p <= last; ++p) by_period[p][labels].push_back(ref);
  }

  for (auto& [period, series_map] : by_period) {
    IndexFile file{std::string(tenant), period, {}};
    file.series.reserve(series_map.size());
    for (auto& [labels, chunks] : series_map) file.series.push_back({labels, std::move(chunks)});
    std::string key = fmt::format("{}{}-{}-{}{}", PeriodPrefix(tenant, period), writer_id_,
                                  clock_->NowNanos(), seq_.fetch_add(1), kIndexSuffix);
    SLUICE_RETURN_IF_ERROR(store_->Put(key, EncodeIndexFile(std::move(file))));
  }
  return Status::OK();
}

}  // namespace sluice::storage::index
