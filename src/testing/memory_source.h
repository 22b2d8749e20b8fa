#pragma once

// An in-memory read::StreamSource for tests: streams per tenant, answered exactly as the
// StreamSource contract says (one iterator per matching stream with entries in [from, through)).
// Optionally fails every call with a given status.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "iter/merge.h"
#include "model/labels.h"
#include "read/read.h"

namespace sluice::testing {

class MemorySource : public read::StreamSource {
 public:
  // Adds entries to a stream (created on first use); entries are kept sorted by timestamp.
  void Add(const std::string& tenant, std::string_view labels, std::vector<model::Entry> entries) {
    model::LabelSet ls = model::ParseLabels(labels).value();
    auto& stream = tenants_[tenant][ls];
    stream.insert(stream.end(), entries.begin(), entries.end());
    std::stable_sort(stream.begin(), stream.end(),
                     [](const model::Entry& a, const model::Entry& b) {
                       return a.timestamp_ns < b.timestamp_ns;
                     });
  }
  void Add(const std::string& tenant, std::string_view labels, int64_t ts, std::string line) {
    Add(tenant, labels, std::vector<model::Entry>{model::Entry{ts, std::move(line), {}}});
  }
  void FailWith(Status st) { fail_ = std::move(st); }
  int select_calls() const { return select_calls_; }

  Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const read::SelectRequest& p,
                                                            std::string_view tenant) override {
    ++select_calls_;
    if (!fail_.ok()) return fail_;
    std::vector<iter::EntryIteratorPtr> out;
    for (const auto* s : Matching(p, tenant)) {
      std::vector<model::Entry> in_range;
      for (const auto& e : s->second) {
        if (e.timestamp_ns >= p.from_ns && e.timestamp_ns < p.through_ns) in_range.push_back(e);
      }
      if (!in_range.empty())
        out.push_back(iter::NewVectorIterator(s->first, std::move(in_range), p.direction));
    }
    return out;
  }

  Result<std::vector<model::LabelSet>> StreamLabels(const read::SelectRequest& p,
                                                    std::string_view tenant) override {
    if (!fail_.ok()) return fail_;
    std::vector<model::LabelSet> out;
    for (const auto* s : Matching(p, tenant)) {
      if (HasData(s->second, p)) out.push_back(s->first);
    }
    return out;
  }

  using Streams = std::map<model::LabelSet, std::vector<model::Entry>>;

  std::vector<const Streams::value_type*> Matching(const read::SelectRequest& p,
                                                   std::string_view tenant) const {
    std::vector<const Streams::value_type*> out;
    auto t = tenants_.find(std::string(tenant));
    if (t == tenants_.end()) return out;
    for (const auto& kv : t->second) {
      if (model::MatchesAll(p.matchers, kv.first)) out.push_back(&kv);
    }
    return out;
  }
  static bool HasData(const std::vector<model::Entry>& entries, const read::SelectRequest& p) {
    return std::any_of(entries.begin(), entries.end(), [&](const model::Entry& e) {
      return e.timestamp_ns >= p.from_ns && e.timestamp_ns < p.through_ns;
    });
  }

  std::map<std::string, Streams> tenants_;
  Status fail_;
  int select_calls_ = 0;
};

}  // namespace sluice::testing
