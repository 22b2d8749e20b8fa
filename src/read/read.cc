#include "read/read.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/check.h"

namespace sluice::read {

void SourceStats::Add(const SourceStats& o) {
  reached += o.reached;
  chunks += o.chunks;
  batches += o.batches;
  chunks_downloaded += o.chunks_downloaded;
  chunks_download_ns += o.chunks_download_ns;
  chunk_refs_fetch_ns += o.chunk_refs_fetch_ns;
  blocks.Add(o.blocks);
  head_lines += o.head_lines;
  head_bytes += o.head_bytes;
  head_metadata_bytes += o.head_metadata_bytes;
  pipeline.Add(o.pipeline);
  lines_sent += o.lines_sent;
}

void ReadStats::Add(const ReadStats& o) {
  blocks.Add(o.blocks);
  pipeline.Add(o.pipeline);
  duplicates += o.duplicates;
  store.Add(o.store);
  ingester.Add(o.ingester);
}

std::vector<std::string> FilterTenants(const std::vector<std::string>& tenants,
                                       std::vector<model::LabelMatcher>* matchers) {
  if (tenants.size() <= 1) return tenants;
  std::vector<model::LabelMatcher> tenant_matchers, rest;
  for (auto& m : *matchers)
    (m.name() == kTenantLabel ? tenant_matchers : rest).push_back(std::move(m));
  *matchers = std::move(rest);
  std::vector<std::string> out;
  for (const auto& t : tenants) {
    bool ok = std::all_of(tenant_matchers.begin(), tenant_matchers.end(),
                          [&](const model::LabelMatcher& m) { return m.Matches(t); });
    if (ok) out.push_back(t);
  }
  return out;
}

std::vector<std::string> RequiredLiterals(const logql::syntax::LogSelectorExpr& selector) {
  using logql::syntax::StageKind;
  std::vector<std::string> out;
  for (const auto& stage : selector.stages) {
    switch (stage->kind()) {
      case StageKind::kLineFilter: {
        const auto& f = stage->Cast<logql::syntax::LineFilterStage>();
        // `or` alternatives, regexes, patterns and ip() do not name one substring; negative
        // filters require an absence. An empty literal matches every line.
        if (f.op != logql::syntax::LineFilterOp::kContains || f.values.size() != 1 ||
            f.values[0].ip || f.values[0].value.empty()) {
          break;
        }
        if (std::find(out.begin(), out.end(), f.values[0].value) == out.end())
          out.push_back(f.values[0].value);
        break;
      }
      case StageKind::kLineFormat:
      case StageKind::kDecolorize:
        return out;  // later filters see a rewritten line
      case StageKind::kParser:
        // unpack replaces the line with its `_entry` field; the other parsers only add labels.
        if (stage->Cast<logql::syntax::ParserStage>().parser == logql::syntax::ParserKind::kUnpack)
          return out;
        break;
      case StageKind::kLabelFilter:
      case StageKind::kLabelFormat:
      case StageKind::kDropLabels:
      case StageKind::kKeepLabels:
        break;  // they drop lines or change labels, never the line
    }
  }
  return out;
}

SelectRequest MakeSelectRequest(std::vector<std::string> tenants,
                                std::shared_ptr<const logql::syntax::Expr> plan,
                                const logql::syntax::Expr& target, int64_t from_ns,
                                int64_t through_ns) {
  SelectRequest req;
  if (target.kind() == logql::syntax::ExprKind::kRangeAggregation) {
    req.aggregation = &target.Cast<logql::syntax::RangeAggregationExpr>();
    req.selector = req.aggregation->range.selector.get();
    req.lines_needed = logql::log::NeedsLines(*req.aggregation);
  } else {
    req.selector = &target.Cast<logql::syntax::LogSelectorExpr>();
  }
  SLUICE_CHECK(req.selector != nullptr);
  req.plan = std::move(plan);
  req.from_ns = from_ns;
  req.through_ns = through_ns;
  req.matchers = req.selector->matchers;
  req.multi_tenant = tenants.size() > 1;
  req.tenants = FilterTenants(tenants, &req.matchers);
  req.required_literals = RequiredLiterals(*req.selector);
  return req;
}

// --- StreamSource -----------------------------------------------------------------------------

Result<std::vector<std::string>> StreamSource::TenantLabelNames(const SelectRequest& req,
                                                                std::string_view tenant) {
  SLUICE_ASSIGN_OR_RETURN(auto series, StreamLabels(req, tenant));
  std::set<std::string> names;
  for (const auto& s : series) {
    for (const auto& l : s.labels()) names.insert(l.name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<std::vector<std::string>> StreamSource::TenantLabelValues(const SelectRequest& req,
                                                                 std::string_view tenant,
                                                                 std::string_view name) {
  SLUICE_ASSIGN_OR_RETURN(auto series, StreamLabels(req, tenant));
  std::set<std::string> values;
  for (const auto& s : series) {
    if (const std::string* v = s.Get(name)) values.insert(*v);
  }
  return std::vector<std::string>(values.begin(), values.end());
}

Result<uint64_t> StreamSource::CountChunks(const SelectRequest&, std::string_view) {
  return uint64_t{0};
}

Result<uint64_t> StreamSource::ChunkCount(const SelectRequest& req) {
  return FanOut({this}).ChunkCount(req);
}

Result<iter::EntryIteratorPtr> StreamSource::SelectLogs(const SelectRequest& req) {
  return FanOut({this}).SelectLogs(req);
}

Result<logql::log::SampleIteratorPtr> StreamSource::SelectSamples(const SelectRequest& req) {
  return FanOut({this}).SelectSamples(req);
}

Result<std::vector<model::LabelSet>> StreamSource::Series(const SelectRequest& req) {
  return FanOut({this}).Series(req);
}

Result<std::vector<std::string>> StreamSource::LabelNames(const SelectRequest& req) {
  return FanOut({this}).LabelNames(req);
}

Result<std::vector<std::string>> StreamSource::LabelValues(const SelectRequest& req,
                                                           std::string_view name) {
  return FanOut({this}).LabelValues(req, name);
}

}  // namespace sluice::read
