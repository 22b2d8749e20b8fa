#include "deletion/line_filter.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::deletion {

bool LineFilter::IsDeleted(int64_t ts, std::string_view line,
                           const std::vector<model::Label>* metadata) {
  for (Part& p : parts_) {
    if (ts < p.start_ns || ts > p.end_ns) continue;
    if (!p.has_pipeline) return true;
    if (p.pipeline.OnlyLineFilters()) {
      if (p.pipeline.FilterLine(ts, line)) return true;
      continue;
    }
    builder_.Reset(&labels_, metadata);
    std::string_view l = line;
    if (p.pipeline.Process(ts, &l, &builder_)) return true;
  }
  return false;
}

bool LineFilter::MayDelete(int64_t ts) const {
  for (const Part& p : parts_) {
    if (ts >= p.start_ns && ts <= p.end_ns) return true;
  }
  return false;
}

bool LineFilter::NeedsLine(int64_t ts) const {
  bool needs = false;
  for (const Part& p : parts_) {
    if (ts < p.start_ns || ts > p.end_ns) continue;
    if (!p.has_pipeline) return false;  // deleted whatever the line
    needs = true;
  }
  return needs;
}

bool LineFilter::DeletesAll(int64_t from_ns, int64_t through_ns) const {
  for (const Part& p : parts_) {
    if (!p.has_pipeline && p.start_ns <= from_ns && p.end_ns >= through_ns) return true;
  }
  return false;
}

std::shared_ptr<const TenantDeletes> TenantDeletes::Compile(
    const std::vector<DeleteRequest>& requests) {
  auto out = std::make_shared<TenantDeletes>();
  for (const DeleteRequest& r : requests) {
    auto q = ParseDeleteQuery(r.query);
    if (!q.ok()) {
      spdlog::warn(
          "msg=\"delete request skipped: its query does not parse\" tenant={} request_id={} "
          "err=\"{}\"",
          r.tenant, r.request_id, q.status().message());
      continue;
    }
    out->requests_.push_back({r, std::move(q).value()});
  }
  return out;
}

LineFilterPtr TenantDeletes::ForStream(const model::LabelSet& labels, int64_t from_ns,
                                       int64_t through_ns) const {
  LineFilterPtr filter;
  for (const Compiled& c : requests_) {
    if (c.request.end_ns < from_ns || c.request.start_ns > through_ns) continue;
    if (!model::MatchesAll(c.query.selector->matchers, labels)) continue;
    if (filter == nullptr) {
      filter = std::make_unique<LineFilter>();
      filter->labels_ = labels;
    }
    LineFilter::Part part;
    part.start_ns = c.request.start_ns;
    part.end_ns = c.request.end_ns;
    part.has_pipeline = c.query.has_pipeline;
    if (part.has_pipeline) {
      auto pipeline = logql::log::Pipeline::Compile(*c.query.selector);
      if (!pipeline.ok()) continue;  // checked by ParseDeleteQuery; cannot happen
      part.pipeline = std::move(pipeline).value();
    }
    filter->parts_.push_back(std::move(part));
  }
  if (filter == nullptr || filter->parts_.empty()) return nullptr;
  // Requests that delete whatever the line come first: IsDeleted answers without a pipeline.
  std::stable_partition(filter->parts_.begin(), filter->parts_.end(),
                        [](const LineFilter::Part& p) { return !p.has_pipeline; });
  return filter;
}

}  // namespace sluice::deletion
