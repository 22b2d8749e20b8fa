#pragma once

// Loki's index read endpoints, answered from the entries themselves (sluice keeps no separate
// per-stream size statistics):
//
//   GET|POST /loki/api/v1/index/stats?query={sel}&start&end
//        {"streams":N,"chunks":N,"entries":N,"bytes":N}       bytes = raw line bytes
//        chunks: the chunks holding data of the streams in the range, each once: the store's
//        chunk references and the ingester's chunks not yet flushed (Loki sums its ingesters'
//        chunks, flushed ones they still hold included, with the store's)
//   GET|POST /loki/api/v1/index/volume?query={sel}&start&end&limit&targetLabels&aggregateBy
//        {"status":"success","data":{"resultType":"vector","result":[
//            {"metric":{"job":"a"},"value":[<end seconds>,"<bytes>"]}, ...]}}
//   GET|POST /loki/api/v1/index/volume_range?...&step
//        the same as a matrix: one [<seconds>,"<bytes>"] point per step with data
//
// Volume groups by `targetLabels` (comma separated) or, without it, by the label names of the
// selector's matchers; aggregateBy=labels reports one series per label name ({"job":""}) instead.
// Series are ordered by bytes, largest first, and cut at `limit` (default 100).

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "http/server.h"
#include "model/labels.h"
#include "querier/querier.h"

namespace sluice::http {

struct IndexStats {
  uint64_t streams = 0;
  uint64_t chunks = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

// One series of a volume answer: its labels and bytes per step (a single point for /volume).
struct VolumeSeries {
  model::LabelSet labels;
  std::vector<std::pair<int64_t, uint64_t>> points;  // (timestamp ns, bytes)
  uint64_t total = 0;
};

// REQUIRES: *q and *clock outlive the router's use.
void RegisterIndexRoutes(Router* router, querier::Querier* q, bool auth_enabled,
                         const Clock* clock = SystemClock::Default());

std::string MarshalIndexStats(const IndexStats& stats);
std::string MarshalVolume(const std::vector<VolumeSeries>& series, bool matrix);

}  // namespace sluice::http
