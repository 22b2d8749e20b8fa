#pragma once

// Which entries a tenant's delete requests remove, for the two places that apply them: queries
// (querier/deletion_source.h hides deleted entries as soon as a request is accepted) and the
// compactor (which rewrites or drops chunks once a request is past its cancel period).
//
//   auto deletes = TenantDeletes::Compile(store->List(tenant));       // once per snapshot
//   if (auto filter = deletes->ForStream(labels, from_ns, through_ns)) // once per stream
//     if (filter->DeletesAll(chunk_from, chunk_through)) ...           // whole chunk goes
//     else for (entry : chunk) if ((*filter)(entry.ts, entry.line)) ... // this entry goes
//
// Thread safety: a TenantDeletes is immutable and may be shared by any number of threads. A
// LineFilter holds compiled pipelines with scratch buffers: one per stream per reading thread.

#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

#include "deletion/delete_request.h"
#include "logql/log/labels_builder.h"
#include "logql/log/pipeline.h"
#include "model/labels.h"

namespace sluice::deletion {

// The filter of one stream: the requests whose selector matches it.
class LineFilter {
 public:
  // True when the entry is deleted: some request's range holds `ts` and (if the request has a
  // pipeline) its pipeline keeps the line. `metadata` (nullable) is the entry's structured
  // metadata, which label filters of the pipeline may read.
  bool IsDeleted(int64_t ts, std::string_view line,
                 const std::vector<model::Label>* metadata = nullptr);
  bool operator()(int64_t ts, std::string_view line) { return IsDeleted(ts, line); }

  // False when no request covers `ts`: the entry stays whatever its line (no need to load it).
  bool MayDelete(int64_t ts) const;
  // True when the verdict for `ts` needs the line: a request with a pipeline covers it.
  bool NeedsLine(int64_t ts) const;
  // True when every entry in [from_ns, through_ns] is deleted whatever its line: a request
  // without pipeline covers the whole range (the compactor drops such a chunk unread).
  bool DeletesAll(int64_t from_ns, int64_t through_ns) const;

 private:
  friend class TenantDeletes;
  struct Part {
    int64_t start_ns = 0;
    int64_t end_ns = 0;
    bool has_pipeline = false;
    logql::log::Pipeline pipeline;  // compiled when has_pipeline
  };

  model::LabelSet labels_;  // the stream's, for pipelines that read labels
  std::vector<Part> parts_;
  logql::log::LabelsBuilder builder_;
};
using LineFilterPtr = std::unique_ptr<LineFilter>;

// A tenant's delete requests, parsed once.
class TenantDeletes {
 public:
  // Requests whose query does not parse are left out (Add checks every query, so only a
  // hand-edited object could do that).
  static std::shared_ptr<const TenantDeletes> Compile(const std::vector<DeleteRequest>& requests);

  bool empty() const { return requests_.empty(); }
  size_t size() const { return requests_.size(); }

  // The filter for a stream with `labels`, read over [from_ns, through_ns]; nullptr when no
  // request both matches the stream and overlaps the range (nothing of it is deleted).
  LineFilterPtr ForStream(const model::LabelSet& labels,
                          int64_t from_ns = std::numeric_limits<int64_t>::min(),
                          int64_t through_ns = std::numeric_limits<int64_t>::max()) const;

 private:
  struct Compiled {
    DeleteRequest request;
    ParsedDeleteQuery query;
  };
  std::vector<Compiled> requests_;
};

}  // namespace sluice::deletion
