// read::FanOut: the query interface over every StreamSource, and the iterators that own a
// read's pipeline and publish its statistics.

#include <algorithm>
#include <set>
#include <utility>

#include "common/check.h"
#include "iter/merge.h"
#include "metrics/metrics.h"
#include "read/read.h"
#include "tracing/tracing.h"

namespace sluice::read {

namespace {

// How many entries an iterator reads between two looks at the clock.
constexpr uint32_t kDeadlineCheckEvery = 1024;

// Ends a source's iteration with DeadlineExceeded once the read is past its deadline, so a
// long scan that matches nothing still stops.
class DeadlineIterator final : public iter::ForwardingIterator {
 public:
  DeadlineIterator(iter::EntryIteratorPtr it, const Deadline& deadline)
      : ForwardingIterator(std::move(it)), deadline_(deadline) {}

  bool Next() override {
    if (!status_.ok()) return false;
    if (++reads_ % kDeadlineCheckEvery == 0 && PastDeadline()) return false;
    if (inner_->Next()) return true;
    // Sources skip whole blocks and lines without returning them (required literals): a scan
    // that matches nothing still looks at the clock once per source.
    PastDeadline();
    return false;
  }
  Status Error() const override { return status_.ok() ? inner_->Error() : status_; }

 private:
  bool PastDeadline() {
    int64_t at = deadline_.at_ns;
    if (deadline_.shared_ns != nullptr)
      at = std::min(at, deadline_.shared_ns->load(std::memory_order_relaxed));
    if (deadline_.clock->NowNanos() <= at) return false;
    status_ = Status::DeadlineExceeded(std::string(kQueryTimeoutMessage));
    return true;
  }

  Deadline deadline_;
  uint32_t reads_ = 0;
  Status status_;
};

// Process-wide block counters: Loki has no per-block figures, hence sluice_ names.
struct BlockMetrics {
  metrics::Registry& r = metrics::DefaultRegistry();
  metrics::Counter* considered =
      r.NewCounter("sluice_query_blocks_total",
                   "Compressed blocks in the time range of a query's streams.")
          ->WithLabels({});
  metrics::Counter* skipped_by_bloom =
      r.NewCounter("sluice_query_blocks_skipped_by_bloom_total",
                   "Blocks a query ruled out by their bloom filter, without decompressing them.")
          ->WithLabels({});
  metrics::Counter* decompressed =
      r.NewCounter("sluice_query_blocks_decompressed_total", "Blocks a query decompressed.")
          ->WithLabels({});
  metrics::Counter* skipped_by_scan =
      r.NewCounter("sluice_query_blocks_skipped_by_scan_total",
                   "Blocks a query decompressed and searched without finding a line holding "
                   "every literal.")
          ->WithLabels({});
};
BlockMetrics& Metrics() {
  static BlockMetrics m;
  return m;
}

// What one read owns while its iterators run: the compiled pipeline the per-stream iterators
// point at, and the counters the readers add to. Publishes them into the request's stats and
// the process counters as the read ends (and again, for what came since, if read further).
struct ReadState {
  logql::log::Pipeline pipeline;
  ReadStats stats;
  ReadStats published;
  ReadStats* out = nullptr;

  void Publish(uint64_t duplicates) {
    stats.duplicates = duplicates;
    stats.blocks = stats.store.blocks;
    stats.blocks.Add(stats.ingester.blocks);
    stats.pipeline = stats.store.pipeline;
    stats.pipeline.Add(stats.ingester.pipeline);
    // Stages run per source, before the merge: what passed them is what the source sent on.
    stats.store.lines_sent = stats.store.pipeline.lines_passed;
    stats.ingester.lines_sent = stats.ingester.pipeline.lines_passed;
    const chunk::BlockStats& b = stats.blocks;
    const chunk::BlockStats& p = published.blocks;
    BlockMetrics& m = Metrics();
    m.considered->Inc(static_cast<double>(b.blocks - p.blocks));
    m.skipped_by_bloom->Inc(static_cast<double>(b.skipped_by_bloom - p.skipped_by_bloom));
    m.decompressed->Inc(static_cast<double>(b.decompressed - p.decompressed));
    m.skipped_by_scan->Inc(static_cast<double>(b.skipped_by_scan - p.skipped_by_scan));
    published = stats;
    if (out != nullptr) *out = stats;
  }
};

// The iterator SelectLogs returns. `Merge` is iter::MergeIterator (time order) or
// iter::StreamOrderedIterator (stream after stream).
template <typename Merge>
class SelectIterator final : public iter::EntryIterator {
 public:
  SelectIterator(std::unique_ptr<ReadState> state, std::unique_ptr<Merge> merge)
      : state_(std::move(state)), merge_(std::move(merge)) {}
  ~SelectIterator() override { state_->Publish(merge_->duplicates()); }

  bool Next() override {
    if (merge_->Next()) return true;
    state_->Publish(merge_->duplicates());
    return false;
  }
  const model::Entry& At() const override { return merge_->At(); }
  const model::LabelSet& Labels() const override { return merge_->Labels(); }
  Status Error() const override { return merge_->Error(); }
  bool LineLoaded() const override { return merge_->LineLoaded(); }
  Status LoadLine() override { return merge_->LoadLine(); }

 private:
  // Declared before merge_: the iterators inside the merge point into it.
  std::unique_ptr<ReadState> state_;
  std::unique_ptr<Merge> merge_;
};

// The iterator SelectSamples returns: extracts samples from a raw stream-ordered read. The
// read's own statistics count the lines read; the extractor's, the lines its stages kept.
class SelectSamplesIterator final : public logql::log::SampleIterator {
 public:
  SelectSamplesIterator(std::unique_ptr<ReadStats> read_stats,
                        std::unique_ptr<logql::log::PipelineStats> extracted,
                        std::unique_ptr<logql::log::SampleExtractor> extractor, ReadStats* out)
      : read_stats_(std::move(read_stats)),
        extracted_(std::move(extracted)),
        extractor_(std::move(extractor)),
        out_(out) {}
  ~SelectSamplesIterator() override { Publish(); }

  bool Next() override {
    if (extractor_->Next()) return true;
    Publish();
    return false;
  }
  const logql::log::ExtractedSample& At() const override { return extractor_->At(); }
  Status Error() const override { return extractor_->Error(); }
  const logql::log::SeriesTable& series() const override { return extractor_->series(); }

 private:
  void Publish() {
    if (out_ == nullptr) return;
    *out_ = *read_stats_;
    out_->pipeline.lines_passed = extracted_->lines_passed;
    // The stages ran on the merged streams: what passed them belongs to no one source.
    out_->store.pipeline.lines_passed = 0;
    out_->ingester.pipeline.lines_passed = 0;
  }

  std::unique_ptr<ReadStats> read_stats_;  // the raw read publishes into it
  std::unique_ptr<logql::log::PipelineStats> extracted_;
  std::unique_ptr<logql::log::SampleExtractor> extractor_;  // owns the raw read's iterator
  ReadStats* out_;
};

std::vector<std::string> SortedUnique(std::set<std::string> values) {
  return std::vector<std::string>(values.begin(), values.end());
}

model::LabelSet WithTenant(const model::LabelSet& labels, const std::string& tenant) {
  std::vector<model::Label> out;
  for (const auto& l : labels.labels()) {
    if (l.name != kTenantLabel) out.push_back(l);
  }
  out.push_back(model::Label{std::string(kTenantLabel), tenant});
  return model::LabelSet(std::move(out));
}

}  // namespace

Result<iter::EntryIteratorPtr> FanOut::SelectLogs(const SelectRequest& req) {
  SLUICE_CHECK(req.selector != nullptr);
  auto state = std::make_unique<ReadState>();
  state->out = req.stats;
  if (!req.raw) {
    SLUICE_ASSIGN_OR_RETURN(state->pipeline, logql::log::Pipeline::Compile(*req.selector));
  }
  // Stream-ordered reads rely on every iterator keeping one stream's labels: no stage may
  // change them. Only a consumer that runs the stages itself may be handed lines it did not
  // ask for.
  SLUICE_CHECK(req.order != Order::kStream || state->pipeline.IsNoop());
  SLUICE_CHECK(req.lines_needed || state->pipeline.IsNoop());

  // Readers count into their section of the read's own statistics.
  SelectRequest sreq = req;
  sreq.stats = &state->stats;
  const bool multi_tenant = req.multi_tenant;
  std::vector<iter::EntryIteratorPtr> its;
  for (const auto& tenant : req.tenants) {
    for (StreamSource* source : sources_) {
      // Opening the source's streams: the index lookup and the first reads (an ingester's
      // heads); the lines themselves are pulled later, by the merge.
      tracing::Span span = tracing::StartSpan("query.read");
      span.SetAttribute("source", source->Kind() == SourceKind::kStore ? "store" : "ingester");
      span.SetAttribute("tenant", tenant);
      tracing::ScopedActive active(span);
      auto selected = source->SelectStreams(sreq, tenant);
      if (!selected.ok()) span.SetError(selected.status().message());
      SLUICE_ASSIGN_OR_RETURN(std::vector<iter::EntryIteratorPtr> got, std::move(selected));
      span.SetAttribute("streams", got.size());
      span.End();
      SourceStats& section = state->stats.For(source->Kind());
      ++section.reached;
      for (auto& it : got) {
        if (req.deadline.set())
          it = std::make_unique<DeadlineIterator>(std::move(it), req.deadline);
        it = logql::log::NewPipelineIterator(std::move(it), &state->pipeline, &section.pipeline);
        if (multi_tenant) {
          // A source's iterator reads one stream: stream-ordered reads build the labels once.
          it = req.order == Order::kStream
                   ? iter::NewStreamLabelAddingIterator(std::move(it), std::string(kTenantLabel),
                                                        tenant)
                   : iter::NewLabelAddingIterator(std::move(it), std::string(kTenantLabel), tenant);
        }
        its.push_back(std::move(it));
      }
    }
  }
  if (req.order == Order::kStream) {
    auto merge = std::make_unique<iter::StreamOrderedIterator>(std::move(its), req.direction);
    return iter::EntryIteratorPtr(std::make_unique<SelectIterator<iter::StreamOrderedIterator>>(
        std::move(state), std::move(merge)));
  }
  auto merge = std::make_unique<iter::MergeIterator>(std::move(its), req.direction);
  return iter::EntryIteratorPtr(
      std::make_unique<SelectIterator<iter::MergeIterator>>(std::move(state), std::move(merge)));
}

Result<logql::log::SampleIteratorPtr> FanOut::SelectSamples(const SelectRequest& req) {
  SLUICE_CHECK(req.aggregation != nullptr);
  // Samples come from the raw entries after the sources' copies of a stream are merged, so a
  // line held twice (memory and a flushed chunk, two replicas) counts once.
  SelectRequest raw = req;
  raw.raw = true;
  raw.order = Order::kStream;
  raw.direction = model::Direction::kForward;
  auto read_stats = std::make_unique<ReadStats>();
  raw.stats = read_stats.get();
  SLUICE_ASSIGN_OR_RETURN(iter::EntryIteratorPtr entries, SelectLogs(raw));
  auto extracted = std::make_unique<logql::log::PipelineStats>();
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<logql::log::SampleExtractor> extractor,
                          logql::log::SampleExtractor::Make(*req.aggregation, std::move(entries),
                                                            extracted.get(), req.parser_hints));
  return logql::log::SampleIteratorPtr(std::make_unique<SelectSamplesIterator>(
      std::move(read_stats), std::move(extracted), std::move(extractor), req.stats));
}

Result<std::vector<model::LabelSet>> FanOut::Series(const SelectRequest& req) {
  const bool multi_tenant = req.multi_tenant;
  std::set<model::LabelSet> out;
  for (const auto& tenant : req.tenants) {
    for (StreamSource* source : sources_) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<model::LabelSet> got, source->StreamLabels(req, tenant));
      for (auto& ls : got) out.insert(multi_tenant ? WithTenant(ls, tenant) : std::move(ls));
    }
  }
  return std::vector<model::LabelSet>(out.begin(), out.end());
}

Result<std::vector<std::string>> FanOut::LabelNames(const SelectRequest& req) {
  std::set<std::string> names;
  for (const auto& tenant : req.tenants) {
    for (StreamSource* source : sources_) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> got, source->TenantLabelNames(req, tenant));
      names.insert(std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
    }
  }
  return SortedUnique(std::move(names));
}

Result<std::vector<std::string>> FanOut::LabelValues(const SelectRequest& req,
                                                     std::string_view name) {
  std::set<std::string> values;
  for (const auto& tenant : req.tenants) {
    for (StreamSource* source : sources_) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> got,
                              source->TenantLabelValues(req, tenant, name));
      values.insert(std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
    }
  }
  return SortedUnique(std::move(values));
}

Result<uint64_t> FanOut::ChunkCount(const SelectRequest& req) {
  uint64_t n = 0;
  for (const auto& tenant : req.tenants) {
    for (StreamSource* source : sources_) {
      SLUICE_ASSIGN_OR_RETURN(uint64_t got, source->CountChunks(req, tenant));
      n += got;
    }
  }
  return n;
}

}  // namespace sluice::read
