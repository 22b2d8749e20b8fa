#pragma once

// Hides what retention and delete requests remove, from the moment they apply: a
// read::StreamSource decorator put in front of every source (the ingesters' memory and the
// store), so a query never returns
//   (a) an entry older than now minus its stream's retention period (deletion/retention.h):
//       a chunk that expires partway is cut here until the compactor deletes it, and
//   (b) an entry matched by one of the tenant's delete requests (deletion/line_filter.h), when
//       the tenant's deletion_mode is not `disabled` (`filter-only` filters here and nowhere
//       else; `filter-and-delete` also has the compactor remove the entries).
// Both are per tenant (config::Overrides, re-read on every read). A tenant with no retention
// and no delete requests gets the inner source's iterators as they are: no cost.
//
// Only entries are filtered: Series and the label calls pass through (as in Loki, a stream
// stays listed until the compactor removes its chunks).
//
// Thread safety: as the inner source; each iterator belongs to the thread that reads it.

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "config/overrides.h"
#include "deletion/delete_request_store.h"
#include "read/read.h"

namespace sluice::querier {

class DeletionSource final : public read::StreamSource {
 public:
  // `deletes` may be null: no delete requests (retention alone). REQUIRES: *inner, *overrides,
  // *deletes and *clock outlive the source and every iterator it returns.
  DeletionSource(read::StreamSource* inner, const config::Overrides* overrides,
                 deletion::DeleteRequestStore* deletes,
                 const Clock* clock = SystemClock::Default());

  read::SourceKind Kind() const override { return inner_->Kind(); }
  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& req,
                                                            std::string_view tenant) override;
  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& req,
                                                    std::string_view tenant) override {
    return inner_->StreamLabels(req, tenant);
  }
  Result<std::vector<std::string>> TenantLabelNames(const read::SelectRequest& req,
                                                    std::string_view tenant) override {
    return inner_->TenantLabelNames(req, tenant);
  }
  Result<std::vector<std::string>> TenantLabelValues(const read::SelectRequest& req,
                                                     std::string_view tenant,
                                                     std::string_view name) override {
    return inner_->TenantLabelValues(req, tenant, name);
  }
  Result<uint64_t> CountChunks(const read::SelectRequest& req, std::string_view tenant) override {
    return inner_->CountChunks(req, tenant);
  }

 private:
  read::StreamSource* inner_;
  const config::Overrides* overrides_;
  deletion::DeleteRequestStore* deletes_;
  const Clock* clock_;
};

}  // namespace sluice::querier
