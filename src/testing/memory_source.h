#pragma once

// An in-memory querier::LogSource for tests: streams per tenant, answered exactly as the
// LogSource contract says (one iterator per matching stream with entries in [from, through)).
// Optionally fails every call with a given status.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "iter/merge.h"
#include "model/labels.h"
#include "querier/source.h"

namespace sluice::testing {

class MemorySource final : public querier::LogSource {
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

  Result<std::vector<iter::EntryIteratorPtr>> SelectLogs(const querier::SelectParams& p) override {
    ++select_calls_;
    if (!fail_.ok()) return fail_;
    std::vector<iter::EntryIteratorPtr> out;
    for (const auto* s : Matching(p)) {
      std::vector<model::Entry> in_range;
      for (const auto& e : s->second) {
        if (e.timestamp_ns >= p.from_ns && e.timestamp_ns < p.through_ns) in_range.push_back(e);
      }
      if (!in_range.empty())
        out.push_back(iter::NewVectorIterator(s->first, std::move(in_range), p.direction));
    }
    return out;
  }

  Result<std::vector<model::LabelSet>> Series(const querier::SelectParams& p) override {
    if (!fail_.ok()) return fail_;
    std::vector<model::LabelSet> out;
    for (const auto* s : Matching(p)) {
      if (HasData(s->second, p)) out.push_back(s->first);
    }
    return out;
  }

  Result<std::vector<std::string>> LabelNames(const querier::SelectParams& p) override {
    if (!fail_.ok()) return fail_;
    std::set<std::string> names;
    for (const auto* s : Matching(p)) {
      if (!HasData(s->second, p)) continue;
      for (const auto& l : s->first.labels()) names.insert(l.name);
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  Result<std::vector<std::string>> LabelValues(const querier::SelectParams& p,
                                               std::string_view name) override {
    if (!fail_.ok()) return fail_;
    std::set<std::string> values;
    for (const auto* s : Matching(p)) {
      if (!HasData(s->second, p)) continue;
      if (const std::string* v = s->first.Get(name)) values.insert(*v);
    }
    return std::vector<std::string>(values.begin(), values.end());
  }

 private:
  using Streams = std::map<model::LabelSet, std::vector<model::Entry>>;

  std::vector<const Streams::value_type*> Matching(const querier::SelectParams& p) const {
    std::vector<const Streams::value_type*> out;
    auto t = tenants_.find(p.tenant);
    if (t == tenants_.end()) return out;
    for (const auto& kv : t->second) {
      if (model::MatchesAll(p.matchers, kv.first)) out.push_back(&kv);
    }
    return out;
  }
  static bool HasData(const std::vector<model::Entry>& entries, const querier::SelectParams& p) {
    return std::any_of(entries.begin(), entries.end(), [&](const model::Entry& e) {
      return e.timestamp_ns >= p.from_ns && e.timestamp_ns < p.through_ns;
    });
  }

  std::map<std::string, Streams> tenants_;
  Status fail_;
  int select_calls_ = 0;
};

}  // namespace sluice::testing
