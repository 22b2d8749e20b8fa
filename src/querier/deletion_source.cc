#include "querier/deletion_source.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "deletion/line_filter.h"
#include "deletion/retention.h"

namespace sluice::querier {

namespace {

// What every iterator of one read shares.
struct ReadState {
  deletion::RetentionPolicy retention;
  std::shared_ptr<const deletion::TenantDeletes> deletes;  // null: none
  int64_t now_ns = 0;
  int64_t from_ns = 0;
  int64_t through_ns = 0;
};

// Drops the expired and deleted entries of one stream's iterator. A SelectStreams iterator
// holds one stream; the per-stream state is nevertheless recomputed if its labels change.
class FilterIterator final : public iter::ForwardingIterator {
 public:
  FilterIterator(iter::EntryIteratorPtr inner, std::shared_ptr<const ReadState> state)
      : ForwardingIterator(std::move(inner)), state_(std::move(state)) {}

  bool Next() override {
    while (inner_->Next()) {
      const model::LabelSet& labels = inner_->Labels();
      if (&labels != stream_) StartStream(labels);
      int64_t ts = inner_->At().timestamp_ns;
      if (ts < oldest_kept_) continue;
      if (filter_ != nullptr && filter_->MayDelete(ts)) {
        if (filter_->NeedsLine(ts) && !inner_->LineLoaded()) {
          Status st = inner_->LoadLine();
          if (!st.ok()) {
            error_ = std::move(st);
            return false;
          }
        }
        const model::Entry& e = inner_->At();
        if (filter_->IsDeleted(ts, e.line, &e.metadata)) continue;
      }
      return true;
    }
    return false;
  }

  Status Error() const override { return error_.ok() ? inner_->Error() : error_; }

 private:
  void StartStream(const model::LabelSet& labels) {
    stream_ = &labels;
    oldest_kept_ = state_->retention.OldestKept(labels, state_->now_ns);
    filter_ = state_->deletes != nullptr
                  ? state_->deletes->ForStream(labels, state_->from_ns, state_->through_ns)
                  : nullptr;
  }

  std::shared_ptr<const ReadState> state_;
  const model::LabelSet* stream_ = nullptr;
  int64_t oldest_kept_ = std::numeric_limits<int64_t>::min();
  deletion::LineFilterPtr filter_;
  Status error_;
};

// The oldest timestamp any stream of the tenant keeps, when every stream expires (a default
// period and no rule that keeps forever); min() otherwise. Reads need not look before it.
int64_t OldestKeptByAll(const config::Limits& limits, int64_t now_ns) {
  if (limits.retention_period <= 0) return std::numeric_limits<int64_t>::min();
  int64_t longest = limits.retention_period;
  for (const auto& rule : limits.retention_stream) {
    if (rule.period <= 0) return std::numeric_limits<int64_t>::min();
    longest = std::max(longest, rule.period);
  }
  return longest >= now_ns ? std::numeric_limits<int64_t>::min() : now_ns - longest;
}

}  // namespace

DeletionSource::DeletionSource(read::StreamSource* inner, const config::Overrides* overrides,
                               deletion::DeleteRequestStore* deletes, const Clock* clock)
    : inner_(inner), overrides_(overrides), deletes_(deletes), clock_(clock) {}

Result<std::vector<iter::EntryIteratorPtr>> DeletionSource::SelectStreams(
    const read::SelectRequest& req, std::string_view tenant) {
  std::shared_ptr<const config::Limits> limits = overrides_->ForTenant(tenant);
  deletion::RetentionPolicy retention(limits);
  std::shared_ptr<const deletion::TenantDeletes> deletes;
  if (deletes_ != nullptr && limits->deletion_mode != config::DeletionMode::kDisabled) {
    deletes = deletes_->Deletes(tenant);
  }
  if (!retention.Enabled() && deletes == nullptr) return inner_->SelectStreams(req, tenant);

  int64_t now_ns = clock_->NowNanos();
  int64_t oldest = OldestKeptByAll(*limits, now_ns);
  std::vector<iter::EntryIteratorPtr> its;
  if (oldest > req.from_ns) {
    if (oldest >= req.through_ns) return its;  // everything in range has expired
    read::SelectRequest narrowed = req;
    narrowed.from_ns = oldest;
    SLUICE_ASSIGN_OR_RETURN(its, inner_->SelectStreams(narrowed, tenant));
  } else {
    SLUICE_ASSIGN_OR_RETURN(its, inner_->SelectStreams(req, tenant));
  }
  auto state = std::make_shared<const ReadState>(
      ReadState{std::move(retention), std::move(deletes), now_ns, req.from_ns, req.through_ns});
  for (auto& it : its) it = std::make_unique<FilterIterator>(std::move(it), state);
  return its;
}

}  // namespace sluice::querier
