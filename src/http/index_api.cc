#include "http/index_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "http/json_writer.h"
#include "http/query_params.h"
#include "http/tenant.h"
#include "logql/syntax/parser.h"

namespace sluice::http {

namespace {

constexpr uint32_t kDefaultVolumeLimit = 100;

constexpr std::string_view kNotSelectorFormat = "only log selectors are supported: {}";

// The matchers of `query`, which must be a log query; its pipeline is ignored, as Loki's
// index answers from the stream labels alone.
Result<logql::syntax::LogSelectorPtr> ParseSelector(const Request& request) {
  std::string query = request.Param("query");
  auto expr = logql::syntax::Parse(query);
  if (!expr.ok()) return expr.status();
  if (!logql::syntax::IsLogQuery(**expr)) {
    return Status::InvalidArgument(fmt::format(kNotSelectorFormat, query));
  }
  auto selector = std::make_unique<logql::syntax::LogSelectorExpr>();
  selector->matchers = (*expr)->Cast<logql::syntax::LogSelectorExpr>().matchers;
  return Result<logql::syntax::LogSelectorPtr>(std::move(selector));
}

// Calls `fn(labels, entry)` for every entry of the selector's streams in [from, through).
template <typename Fn>
Status ForEachEntry(querier::Querier* q, const std::vector<std::string>& tenants,
                    const logql::syntax::LogSelectorExpr& selector, int64_t from, int64_t through,
                    Fn fn) {
  auto it = q->SelectLogs(tenants, selector, from, through, model::Direction::kForward);
  if (!it.ok()) return it.status();
  while ((*it)->Next()) fn((*it)->Labels(), (*it)->At());
  return (*it)->Error();
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(start, comma - start);
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

constexpr std::string_view kInvalidAggregateByFormat = "invalid aggregateBy: {}";

Response Volume(querier::Querier* q, bool auth_enabled, const Clock* clock, Request& request,
                bool range) {
  auto tenants = TenantsForRead(request, auth_enabled);
  if (!tenants.ok()) return Response::Error(tenants.status());
  // Parameters as a range query (start, end, step, limit); the query must be a selector.
  auto parsed = ParseRangeQuery(request, clock->NowNanos());
  if (!parsed.ok()) return Response::Error(parsed.status());
  auto selector = ParseSelector(request);
  if (!selector.ok()) return Response::Error(selector.status());
  uint32_t limit = request.HasParam("limit") ? parsed->limit : kDefaultVolumeLimit;
  std::string aggregate_by = request.Param("aggregateBy", "series");
  if (aggregate_by != "series" && aggregate_by != "labels") {
    return Response::Error(
        Status::InvalidArgument(fmt::format(kInvalidAggregateByFormat, aggregate_by)));
  }
  std::vector<std::string> targets = SplitComma(request.Param("targetLabels"));
  if (targets.empty()) {
    for (const auto& m : (*selector)->matchers) targets.push_back(m.name());
  }
  std::set<std::string> target_set(targets.begin(), targets.end());

  int64_t start = parsed->start_ns, end = parsed->end_ns;
  int64_t step = range ? std::max<int64_t>(parsed->step_ns, 1) : 0;
  std::map<model::LabelSet, std::map<int64_t, uint64_t>> bytes;
  Status st =
      ForEachEntry(q, *tenants, **selector, start, end,
                   [&](const model::LabelSet& labels, const model::Entry& e) {
                     // The point a sample lands on: the end of its step (Loki's volume_range
                     // buckets).
                     int64_t at = end;
                     if (range) at = start + ((e.timestamp_ns - start) / step + 1) * step;
                     if (at > end) at = end;
                     if (aggregate_by == "labels") {
                       for (const auto& l : labels.labels()) {
                         if (!target_set.empty() && target_set.count(l.name) == 0) continue;
                         bytes[model::LabelSet({model::Label{l.name, ""}})][at] += e.line.size();
                       }
                       return;
                     }
                     std::vector<model::Label> kept;
                     for (const auto& l : labels.labels()) {
                       if (target_set.count(l.name) != 0) kept.push_back(l);
                     }
                     bytes[model::LabelSet(std::move(kept))][at] += e.line.size();
                   });
  if (!st.ok()) return Response::Error(st);

  std::vector<VolumeSeries> series;
  for (auto& [labels, points] : bytes) {
    VolumeSeries s{labels, {}, 0};
    for (auto [ts, b] : points) {
      s.points.emplace_back(ts, b);
      s.total += b;
    }
    series.push_back(std::move(s));
  }
  std::stable_sort(series.begin(), series.end(),
                   [](const VolumeSeries& a, const VolumeSeries& b) { return a.total > b.total; });
  if (series.size() > limit) series.resize(limit);
  if (!range) {
    for (auto& s : series) s.points = {{end, s.total}};
  }
  return Response::Json(MarshalVolume(series, range));
}

void AppendPoint(std::string* out, int64_t ts_ns, uint64_t bytes) {
  out->push_back('[');
  // Seconds with millisecond precision, as Loki's Prometheus-style vectors and matrices.
  int64_t ms = ts_ns / 1'000'000;
  AppendJsonFloat(out, static_cast<double>(ms) / 1000.0);
  out->append(",\"");
  AppendJsonUint(out, bytes);
  out->append("\"]");
}

}  // namespace

std::string MarshalIndexStats(const IndexStats& s) {
  std::string out = "{\"streams\":";
  AppendJsonUint(&out, s.streams);
  out += ",\"chunks\":";
  AppendJsonUint(&out, s.chunks);
  out += ",\"entries\":";
  AppendJsonUint(&out, s.entries);
  out += ",\"bytes\":";
  AppendJsonUint(&out, s.bytes);
  out += "}";
  return out;
}

std::string MarshalVolume(const std::vector<VolumeSeries>& series, bool matrix) {
  std::string out = "{\"status\":\"success\",\"data\":{\"resultType\":";
  out += matrix ? "\"matrix\"" : "\"vector\"";
  out += ",\"result\":[";
  for (size_t i = 0; i < series.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"metric\":{";
    const auto& labels = series[i].labels.labels();
    for (size_t j = 0; j < labels.size(); ++j) {
      if (j > 0) out.push_back(',');
      AppendJsonString(&out, labels[j].name);
      out.push_back(':');
      AppendJsonString(&out, labels[j].value);
    }
    out += "},";
    if (matrix) {
      out += "\"values\":[";
      for (size_t k = 0; k < series[i].points.size(); ++k) {
        if (k > 0) out.push_back(',');
        AppendPoint(&out, series[i].points[k].first, series[i].points[k].second);
      }
      out += "]";
    } else {
      out += "\"value\":";
      const auto& p = series[i].points.front();
      AppendPoint(&out, p.first, p.second);
    }
    out += "}";
  }
  out += "]}}";
  return out;
}

void RegisterIndexRoutes(Router* router, querier::Querier* q, bool auth_enabled,
                         const Clock* clock) {
  const std::vector<std::string> kGetPost = {"GET", "POST"};
  router->Handle(kGetPost, "/loki/api/v1/index/stats", [q, auth_enabled, clock](Request& request) {
    auto tenants = TenantsForRead(request, auth_enabled);
    if (!tenants.ok()) return Response::Error(tenants.status());
    int64_t start = 0, end = 0;
    Status st = ParseBounds(request, clock->NowNanos(), &start, &end);
    if (!st.ok()) return Response::Error(st);
    auto selector = ParseSelector(request);
    if (!selector.ok()) return Response::Error(selector.status());
    IndexStats stats;
    std::set<model::LabelSet> streams;
    st = ForEachEntry(q, *tenants, **selector, start, end,
                      [&](const model::LabelSet& labels, const model::Entry& e) {
                        streams.insert(labels);
                        ++stats.entries;
                        stats.bytes += e.line.size();
                      });
    if (!st.ok()) return Response::Error(st);
    stats.streams = streams.size();
    auto chunks = q->ChunkCount(*tenants, **selector, start, end);
    if (!chunks.ok()) return Response::Error(chunks.status());
    stats.chunks = *chunks;
    return Response::Json(MarshalIndexStats(stats));
  });
  router->Handle(kGetPost, "/loki/api/v1/index/volume", [q, auth_enabled, clock](Request& r) {
    return Volume(q, auth_enabled, clock, r, false);
  });
  router->Handle(kGetPost, "/loki/api/v1/index/volume_range", [q, auth_enabled, clock](Request& r) {
    return Volume(q, auth_enabled, clock, r, true);
  });
}

}  // namespace sluice::http
