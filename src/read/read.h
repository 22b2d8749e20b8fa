#pragma once

// The query interface: what every reader of logs answers, and what the LogQL engine evaluates
// log and metric queries against (Loki's Querier{SelectLogs, SelectSamples}).
//
//   engine ──SelectLogs / SelectSamples──> read::Querier
//                                            ├─ read::FanOut: every StreamSource, one merge
//                                            │     ├─ ingester::Ingester   (memory)
//                                            │     ├─ querier::StoreSource (index + chunks)
//                                            │     └─ (a remote ingester over gRPC: the same
//                                            │        StreamSource, its streams sent over a
//                                            │        connection)
//                                            └─ any one StreamSource on its own
//
// One request struct says everything a source needs to know: tenants, the parsed selector
// (whose stages the reader applies) or range aggregation (whose samples it extracts), time
// range, direction, limit, and what may be pushed down (required literals, whether lines are
// read at all, parser hints). MakeSelectRequest derives the pushed-down parts from the plan
// once, so every source reads the same thing.
//
// Thread safety: implementations may be called concurrently; each call's iterators belong to
// the thread that reads them.

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chunk/block.h"
#include "common/clock.h"
#include "common/status.h"
#include "iter/iterator.h"
#include "logql/log/pipeline.h"
#include "logql/log/sample_extractor.h"
#include "logql/syntax/ast.h"
#include "model/entry.h"
#include "model/labels.h"
#include "model/matcher.h"

namespace sluice::read {

// The label a multi-tenant query ("a|b") adds to every stream, and whose matchers in a
// selector choose among the tenants.
inline constexpr std::string_view kTenantLabel = "__tenant_id__";

// Loki's text for a query that ran out of time (dskit/server maps context.DeadlineExceeded to it).
inline constexpr std::string_view kQueryTimeoutMessage =
    "request timed out, decrease the duration of the request or add more label matchers (prefer "
    "exact match over regex match) to reduce the amount of data processed";

// When a read gives up with DeadlineExceeded. In process: the clock and an optional deadline
// shared by a query's splits (lowered to cancel them); over a connection it becomes the call's
// deadline.
struct Deadline {
  const Clock* clock = nullptr;  // nullptr: no deadline
  int64_t at_ns = std::numeric_limits<int64_t>::max();
  const std::atomic<int64_t>* shared_ns = nullptr;  // nullable; must outlive the read

  bool set() const { return clock != nullptr; }
};

// Which of Loki's per-component statistics a source's reads fill.
enum class SourceKind : uint8_t {
  kStore,     // chunks fetched from the object store: Loki's querier.store section
  kIngester,  // an ingester's memory, in process or remote: Loki's ingester section
};

// What the reads of one kind of source did, in the terms of Loki's statistics
// (logqlmodel/stats: Store, Chunk, Ingester). The source fills what it alone knows; FanOut fills
// `reached`, `pipeline` and `lines_sent`. Plain counters: one thread reads a query's iterators.
struct SourceStats {
  uint64_t reached = 0;             // SelectStreams calls answered (for ingesters: totalReached)
  uint64_t chunks = 0;              // chunks the read matched: the store's refs from the index, the
                                    // ingester's chunks in memory
  uint64_t batches = 0;             // messages a remote source received; 0 in process (no batches)
  uint64_t chunks_downloaded = 0;   // fetched from the object store
  int64_t chunks_download_ns = 0;   // spent fetching them
  int64_t chunk_refs_fetch_ns = 0;  // spent asking the index for chunk refs
  chunk::BlockStats blocks;         // compressed blocks read
  // Of the entries in `pipeline`, those read from an ingester's head (not compressed yet):
  // count, line bytes, structured metadata bytes (names and values).
  uint64_t head_lines = 0;
  uint64_t head_bytes = 0;
  uint64_t head_metadata_bytes = 0;
  // Every entry the source returned as the stages saw it. lines_passed stays 0 for sample reads:
  // their stages run after the sources' copies of a stream are merged.
  logql::log::PipelineStats pipeline;
  uint64_t lines_sent = 0;  // entries the source handed on to the merge

  void Add(const SourceStats& o);
};

// What a read did, filled as its iterators are read. REQUIRES: outlives them. Sources write only
// their section (For(Kind())); FanOut derives the totals from the sections.
struct ReadStats {
  chunk::BlockStats blocks;            // all sources
  logql::log::PipelineStats pipeline;  // all sources
  uint64_t duplicates = 0;             // exact duplicates dropped by merges
  SourceStats store;                   // sources of kind kStore
  SourceStats ingester;                // sources of kind kIngester

  SourceStats& For(SourceKind kind) { return kind == SourceKind::kIngester ? ingester : store; }
  void Add(const ReadStats& o);
};

enum class Order : uint8_t {
  kTime,    // every entry in time order (`direction`), across streams
  kStream,  // stream after stream, each in time order: for consumers that evaluate streams
            // one at a time (range aggregations); needs no global heap over all streams
};

struct SelectRequest {
  std::vector<std::string> tenants;  // sorted
  // The query named several tenants ("a|b"): every stream gets __tenant_id__, even when the
  // selector's __tenant_id__ matchers left one of them in `tenants`.
  bool multi_tenant = false;
  // The parsed query this read belongs to; keeps `selector` and `aggregation` alive. Parsed once
  // per query and shared by its splits.
  std::shared_ptr<const logql::syntax::Expr> plan;
  // SelectLogs: the stream selector; the reader applies its stages (unless raw). SelectSamples:
  // the aggregation's selector. Points into *plan.
  const logql::syntax::LogSelectorExpr* selector = nullptr;
  // SelectSamples: the range aggregation whose samples to extract. Points into *plan.
  const logql::syntax::RangeAggregationExpr* aggregation = nullptr;
  int64_t from_ns = 0;     // inclusive
  int64_t through_ns = 0;  // exclusive
  model::Direction direction = model::Direction::kBackward;
  Order order = Order::kTime;
  // Entries the consumer takes at most (0: all). A hint: readers may stop early.
  uint32_t limit = 0;
  // True: entries as stored, the selector's stages not applied (the consumer runs them).
  bool raw = false;

  // Pushed down, derived from the plan by MakeSelectRequest:
  // The selector's matchers without __tenant_id__ (which chose `tenants`).
  std::vector<model::LabelMatcher> matchers;
  // Literals every line the consumer keeps contains (leading `|=` filters): readers may skip
  // blocks and lines without them; the stages still apply every filter.
  std::vector<std::string> required_literals;
  // False: the consumer reads only timestamps, so entries may come without lines (see
  // iter::EntryIterator::LineLoaded) and readers may skip decompressing them.
  bool lines_needed = true;
  // json/logfmt extract only the labels a sample reads (logql/log/parser_hints.h).
  bool parser_hints = true;

  // In process only:
  Deadline deadline;
  ReadStats* stats = nullptr;  // nullable
};

// A request reading `selector` (a LogSelectorExpr in *plan, or the selector of a
// RangeAggregationExpr for samples) for `tenants`: fills matchers (and filters the tenants by
// the __tenant_id__ matchers), required literals and lines_needed. `tenants` may come back
// empty: no tenant matches.
SelectRequest MakeSelectRequest(std::vector<std::string> tenants,
                                std::shared_ptr<const logql::syntax::Expr> plan,
                                const logql::syntax::Expr& target, int64_t from_ns,
                                int64_t through_ns);

// The literals every line a selector's pipeline keeps must contain: the plain `|= "text"`
// filters (one value, not ip()) that apply to the line as read, that is, before any stage that
// rewrites it (line_format, decolorize, unpack).
std::vector<std::string> RequiredLiterals(const logql::syntax::LogSelectorExpr& selector);

// Splits the __tenant_id__ matchers out of `matchers` and returns the tenants they accept, as
// Loki's MultiTenantQuerier does. Single-tenant reads keep their matchers untouched.
std::vector<std::string> FilterTenants(const std::vector<std::string>& tenants,
                                       std::vector<model::LabelMatcher>* matchers);

class Querier {
 public:
  virtual ~Querier() = default;
  // The entries of the selected streams in [from, through), the selector's stages applied
  // (unless raw), in req.order, exact duplicates (same stream, timestamp and line) dropped.
  virtual Result<iter::EntryIteratorPtr> SelectLogs(const SelectRequest& req) = 0;
  // The samples of req.aggregation's selector over [from, through): stages, unwrap and
  // grouping applied; each series' samples in time order.
  virtual Result<logql::log::SampleIteratorPtr> SelectSamples(const SelectRequest& req) = 0;
  // Streams with data in [from, through) matching req.matchers, sorted, without duplicates.
  virtual Result<std::vector<model::LabelSet>> Series(const SelectRequest& req) = 0;
  virtual Result<std::vector<std::string>> LabelNames(const SelectRequest& req) = 0;
  virtual Result<std::vector<std::string>> LabelValues(const SelectRequest& req,
                                                       std::string_view name) = 0;
  // The chunks holding data of the streams matching req.matchers in [from, through), for
  // Loki's index stats. A chunk counts once although memory and the store may both hold it
  // (StreamSource::CountChunks).
  virtual Result<uint64_t> ChunkCount(const SelectRequest& req) = 0;
};

// A source of streams: the ingester's memory, the chunk store, and (next) a remote ingester.
// It answers per tenant with one iterator per stream (or a few: a stream's iterators are merged
// with duplicates dropped); SelectLogs, SelectSamples, Series and the label calls of the query
// interface are built on these by FanOut, over one source or many, so a stream held by several
// sources (memory and flushed chunks, replicas) is merged before anything is evaluated on it.
class StreamSource : public Querier {
 public:
  // Which section of the statistics this source's reads fill. The default: a store.
  virtual SourceKind Kind() const { return SourceKind::kStore; }
  // Raw entries (no stages) of the streams matching req.matchers, each iterator in
  // req.direction with entries in [from, through). Readers honour required_literals and
  // lines_needed, and count into stats->For(Kind()) (nullable). The iterators must not hold
  // locks of the source.
  virtual Result<std::vector<iter::EntryIteratorPtr>> SelectStreams(const SelectRequest& req,
                                                                    std::string_view tenant) = 0;
  // Label sets of the streams matching req.matchers with data in [from, through).
  virtual Result<std::vector<model::LabelSet>> StreamLabels(const SelectRequest& req,
                                                            std::string_view tenant) = 0;
  // Defaults read StreamLabels; a source with an inverted index answers directly.
  virtual Result<std::vector<std::string>> TenantLabelNames(const SelectRequest& req,
                                                            std::string_view tenant);
  virtual Result<std::vector<std::string>> TenantLabelValues(const SelectRequest& req,
                                                             std::string_view tenant,
                                                             std::string_view name);
  // This source's chunks with data of the matching streams in [from, through) for one tenant:
  // the store's chunk references; the ingester's chunks not yet flushed (one it still holds
  // after the flush is the store's to count). Sources that keep no chunks (test fakes) keep
  // this default: 0.
  virtual Result<uint64_t> CountChunks(const SelectRequest& req, std::string_view tenant);

  // The query interface over this source alone (FanOut with one source).
  Result<iter::EntryIteratorPtr> SelectLogs(const SelectRequest& req) override;
  Result<logql::log::SampleIteratorPtr> SelectSamples(const SelectRequest& req) override;
  Result<std::vector<model::LabelSet>> Series(const SelectRequest& req) override;
  Result<std::vector<std::string>> LabelNames(const SelectRequest& req) override;
  Result<std::vector<std::string>> LabelValues(const SelectRequest& req,
                                               std::string_view name) override;
  Result<uint64_t> ChunkCount(const SelectRequest& req) override;
};

// The query interface over several sources: every source's streams for every tenant, stages
// applied per stream, then one merge (heap in time order, or stream after stream) that drops
// exact duplicates across sources. What the querier hands the engine.
class FanOut final : public Querier {
 public:
  // REQUIRES: the sources outlive the fan-out and its iterators.
  explicit FanOut(std::vector<StreamSource*> sources) : sources_(std::move(sources)) {}

  Result<iter::EntryIteratorPtr> SelectLogs(const SelectRequest& req) override;
  Result<logql::log::SampleIteratorPtr> SelectSamples(const SelectRequest& req) override;
  Result<std::vector<model::LabelSet>> Series(const SelectRequest& req) override;
  Result<std::vector<std::string>> LabelNames(const SelectRequest& req) override;
  Result<std::vector<std::string>> LabelValues(const SelectRequest& req,
                                               std::string_view name) override;
  Result<uint64_t> ChunkCount(const SelectRequest& req) override;

 private:
  std::vector<StreamSource*> sources_;
};

}  // namespace sluice::read
