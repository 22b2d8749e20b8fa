// The compactor's pass over the index and chunks, its marker sweep and its lease loop.
//
// Marker object ("markers/<unix_ns>-<instance>-<seq>"), text, one line each:
//   sluice-marker 1 <marked unix ns>
//   <tenant> <first period> <last period> <chunk key>      one per chunk, any number
// The periods are those the chunk's [from, through] covers: the index folders that may list it.

#include "compactor/compactor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "chunk/block.h"
#include "chunk/chunk.h"
#include "common/check.h"
#include "common/checksum.h"
#include "metrics/metrics.h"
#include "model/tenant.h"
#include "storage/index/chunk_ref.h"
#include "storage/index/format.h"

namespace sluice::compactor {

Policy::~Policy() = default;

namespace {

using storage::index::ChunkRef;
using storage::index::IndexFile;
using storage::index::PeriodOf;
using storage::index::SeriesChunks;

constexpr std::string_view kIndexPrefix = "index/";

struct CompactorMetrics {
  metrics::Registry& r = metrics::DefaultRegistry();
  metrics::Family<metrics::Gauge>* running =
      r.NewGauge("loki_compactor_running",
                 "Value will be 1 if compactor is currently running on this instance");
  metrics::Family<metrics::Counter>* runs =
      r.NewCounter("loki_compactor_compact_tables_operation_total",
                   "Total number of tables compaction done by status", {"status"});
  metrics::Family<metrics::Gauge>* run_duration =
      r.NewGauge("loki_compactor_compact_tables_operation_duration_seconds",
                 "Time (in seconds) spent in compacting all the tables");
  metrics::Family<metrics::Gauge>* last_success =
      r.NewGauge("loki_compactor_compact_tables_operation_last_successful_run_timestamp_seconds",
                 "Unix timestamp of the last successful compaction run");
  metrics::Family<metrics::Counter>* periods =
      r.NewCounter("sluice_compactor_periods_compacted_total",
                   "(tenant, day) index folders rewritten by the compactor.");
  metrics::Family<metrics::Counter>* chunks_merged =
      r.NewCounter("sluice_compactor_chunks_merged_total",
                   "Chunks replaced by merging overlapping chunks (replicas) of a series.");
  metrics::Family<metrics::Counter>* chunks_rewritten =
      r.NewCounter("sluice_compactor_chunks_rewritten_total",
                   "Chunks rewritten without the entries delete requests remove.");
  metrics::Family<metrics::Counter>* chunks_written =
      r.NewCounter("sluice_compactor_chunks_written_total", "Chunks written by the compactor.");
  metrics::Family<metrics::Counter>* chunks_expired = r.NewCounter(
      "sluice_compactor_chunks_expired_total", "Chunk refs removed from the index by retention.");
  metrics::Family<metrics::Counter>* bytes_before =
      r.NewCounter("sluice_compactor_chunk_bytes_before_total",
                   "Stored bytes of the chunks the compactor replaced.");
  metrics::Family<metrics::Counter>* bytes_after = r.NewCounter(
      "sluice_compactor_chunk_bytes_after_total", "Stored bytes of the chunks that replaced them.");
  metrics::Family<metrics::Counter>* duplicates =
      r.NewCounter("sluice_compactor_duplicate_entries_dropped_total",
                   "Entries dropped as exact duplicates (same timestamp, line and metadata).");
  metrics::Family<metrics::Counter>* deleted_lines =
      r.NewCounter("loki_compactor_deleted_lines", "Number of deleted lines per user", {"user"});
  metrics::Family<metrics::Counter>* marked =
      r.NewCounter("loki_boltdb_shipper_retention_marker_count_total",
                   "Total count of markers created per table.", {"table"});
  metrics::Family<metrics::Gauge>* marker_files =
      r.NewGauge("loki_boltdb_shipper_retention_sweeper_marker_files_current",
                 "The current total of marker files valid for deletion.");
  metrics::Family<metrics::Histogram>* chunk_deleted =
      r.NewHistogram("loki_boltdb_shipper_retention_sweeper_chunk_deleted_duration_seconds",
                     "Time (in seconds) spent in deleting chunk", {"status"},
                     metrics::ExponentialBuckets(0.0005, 4, 10));
};

CompactorMetrics& Metrics() {
  static CompactorMetrics* m = new CompactorMetrics();
  return *m;
}

// Characters allowed in an object-key component we build from an instance id.
std::string SafeComponent(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') c = '_';
  }
  return out.empty() ? "_" : out;
}

bool ParseInt(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The index of one (tenant, period) as found now: every readable object merged, series by labels,
// chunk refs by key.
struct LoadedPeriod {
  int64_t period = 0;
  std::vector<std::string> keys;  // the objects merged here: the ones a rewrite replaces
  std::map<model::LabelSet, std::map<std::string, ChunkRef>> series;
};

Result<LoadedPeriod> LoadPeriod(storage::ObjectStore* store, std::string_view tenant,
                                int64_t period) {
  LoadedPeriod out;
  out.period = period;
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> keys,
                          store->List(storage::index::PeriodPrefix(tenant, period)));
  for (const auto& key : keys) {
    if (!key.ends_with(storage::index::kIndexSuffix)) continue;
    auto data = store->Get(key);
    if (!data.ok()) {
      if (data.status().code() == StatusCode::kNotFound) continue;  // replaced meanwhile
      return data.status();
    }
    auto file = storage::index::DecodeIndexFile(*data);
    if (!file.ok() || file->tenant != tenant || file->period != period) {
      // As CompactPeriod: left in place for inspection; readers skip it too.
      spdlog::warn("msg=\"compactor: leaving unreadable index object in place\" key={} err=\"{}\"",
                   key,
                   file.ok() ? "tenant or period does not match its key" : file.status().message());
      continue;
    }
    for (auto& s : file->series) {
      auto& refs = out.series[s.labels];
      for (auto& c : s.chunks) refs.emplace(c.key, std::move(c));
    }
    out.keys.push_back(key);
  }
  return out;
}

IndexFile ToIndexFile(std::string_view tenant, const LoadedPeriod& p) {
  IndexFile file{std::string(tenant), p.period, {}};
  for (const auto& [labels, refs] : p.series) {
    if (refs.empty()) continue;  // a series without chunks is forgotten
    SeriesChunks s{labels, {}};
    for (const auto& [key, ref] : refs) s.chunks.push_back(ref);
    file.series.push_back(std::move(s));
  }
  return file;
}

// A chunk key in a marker, with the index folders that may list it.
struct MarkedChunk {
  std::string tenant;
  int64_t first_period = 0, last_period = 0;
  std::string key;
};

MarkedChunk Mark(std::string_view tenant, const ChunkRef& ref) {
  return {std::string(tenant), PeriodOf(ref.from_ns), PeriodOf(ref.through_ns), ref.key};
}

std::string EncodeMarker(int64_t marked_ns, const std::vector<MarkedChunk>& chunks) {
  std::string out = fmt::format("sluice-marker 1 {}\n", marked_ns);
  for (const auto& c : chunks) {
    out += fmt::format("{} {} {} {}\n", c.tenant, c.first_period, c.last_period, c.key);
  }
  return out;
}

Result<std::vector<MarkedChunk>> DecodeMarker(std::string_view data) {
  std::vector<MarkedChunk> out;
  bool header = true;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
    if (header) {
      if (!line.starts_with("sluice-marker 1 ")) return Status::Corruption("not a marker");
      header = false;
      continue;
    }
    if (line.empty()) continue;
    std::string_view parts[4];
    for (int i = 0; i < 3; ++i) {
      size_t sp = line.find(' ');
      if (sp == std::string_view::npos) return Status::Corruption("marker line too short");
      parts[i] = line.substr(0, sp);
      line = line.substr(sp + 1);
    }
    parts[3] = line;
    MarkedChunk c;
    c.tenant = std::string(parts[0]);
    if (!ParseInt(parts[1], &c.first_period) || !ParseInt(parts[2], &c.last_period) ||
        c.last_period < c.first_period || c.last_period - c.first_period > 1000 ||
        !storage::ValidateKey(parts[3]).ok()) {
      return Status::Corruption("bad marker line");
    }
    c.key = std::string(parts[3]);
    out.push_back(std::move(c));
  }
  if (header) return Status::Corruption("empty marker");
  return out;
}

// Compressed output a period's rewrite holds before writing it (with its marker).
constexpr uint64_t kPendingBytes = 64 << 20;

// The entries of a group of overlapping chunks of one series, merged by time (equal timestamps in
// the group's order). A chunk is fetched only when the merge reaches its first timestamp and
// dropped when it is used up, so memory holds the chunks open at one point in time (about the
// replication factor), not the group, which for a busy stream can be a whole day.
class GroupReader {
 public:
  // REQUIRES: `group` sorted by from_ns; *store outlives the reader.
  GroupReader(storage::ObjectStore* store, const std::vector<ChunkRef>& group)
      : store_(store), group_(group) {}

  // The next entry into *out; false at the end or on an error (status()).
  bool Next(model::Entry* out) {
    if (!status_.ok()) return false;
    while (next_ < group_.size()) {
      int64_t min_ts = INT64_MAX;
      for (const auto& o : open_) min_ts = std::min(min_ts, o.it->At().timestamp_ns);
      if (group_[next_].from_ns > min_ts) break;
      if (!Open(group_[next_++])) return false;
    }
    if (open_.empty()) return false;
    size_t best = 0;  // the first (in group order) of the smallest timestamps
    for (size_t i = 1; i < open_.size(); ++i) {
      if (open_[i].it->At().timestamp_ns < open_[best].it->At().timestamp_ns) best = i;
    }
    *out = open_[best].it->At();
    if (!open_[best].it->Next()) {
      status_ = open_[best].it->Error();
      open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(best));
    }
    return true;
  }
  Status status() const { return status_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct OpenChunk {
    std::unique_ptr<chunk::Chunk> chunk;  // pinned: the iterator points into it
    iter::EntryIteratorPtr it;            // positioned on its next entry
  };

  bool Open(const ChunkRef& ref) {
    auto bytes = store_->Get(ref.key);
    if (!bytes.ok()) {
      status_ = bytes.status();
      return false;
    }
    bytes_read_ += bytes->size();
    auto decoded = chunk::Chunk::Decode(std::move(bytes).value());
    if (!decoded.ok()) {
      status_ =
          Status::Corruption(fmt::format("chunk {}: {}", ref.key, decoded.status().message()));
      return false;
    }
    OpenChunk o{std::make_unique<chunk::Chunk>(std::move(decoded).value()), nullptr};
    o.it = o.chunk->Iterator(INT64_MIN, INT64_MAX, model::Direction::kForward);
    if (!o.it->Next()) {
      status_ = o.it->Error();
      return status_.ok();  // an empty chunk
    }
    // Kept in group order, so ties go to the earlier chunk.
    open_.push_back(std::move(o));
    return true;
  }

  storage::ObjectStore* const store_;
  const std::vector<ChunkRef>& group_;
  size_t next_ = 0;
  std::vector<OpenChunk> open_;
  Status status_;
  uint64_t bytes_read_ = 0;
};

}  // namespace

// The rewrite of one (tenant, period): what it replaces and what it writes.
struct Compactor::Job {
  std::string tenant;
  LoadedPeriod main;
  // Other periods listing chunks this job replaces, with the edits they need.
  struct Edit {
    std::set<std::string> remove;
    std::vector<std::pair<model::LabelSet, ChunkRef>> add;
  };
  std::map<int64_t, Edit> edits;
  bool changed = false;
};

Compactor::Compactor(Options options, storage::ObjectStore* store, ring::KvStore* kv,
                     Policy* policy, const Clock* clock)
    : options_(std::move(options)),
      store_(store),
      kv_(kv),
      policy_(policy),
      clock_(clock),
      name_tag_(fmt::format("{}.{:08x}", SafeComponent(options_.instance_id),
                            static_cast<uint32_t>(std::random_device()()))) {
  Metrics();
}

Compactor::~Compactor() { Stop(); }

Status Compactor::RunOnce(RunStats* stats) {
  return RunPass(stats, [] { return true; });
}

Status Compactor::RunPass(RunStats* stats, const std::function<bool()>& keep_going) {
  auto& m = Metrics();
  RunStats local;
  RunStats* s = stats != nullptr ? stats : &local;
  const int64_t start = clock_->NowNanos();
  const auto wall_start = std::chrono::steady_clock::now();

  // Every (tenant, period) with index objects: "index/<period>/<tenant>/<object>".
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store_->List(kIndexPrefix));
  std::map<std::string, std::set<int64_t>> tenants;
  for (const auto& key : keys) {
    std::string_view rest = std::string_view(key).substr(kIndexPrefix.size());
    size_t a = rest.find('/');
    if (a == std::string_view::npos) continue;
    size_t b = rest.find('/', a + 1);
    if (b == std::string_view::npos) continue;
    int64_t period = 0;
    std::string_view tenant = rest.substr(a + 1, b - a - 1);
    if (!ParseInt(rest.substr(0, a), &period) || !model::ValidateTenantId(tenant).ok()) continue;
    tenants[std::string(tenant)].insert(period);
  }

  Status first_error;
  bool stopped = false;
  for (const auto& [tenant, periods] : tenants) {
    bool tenant_ok = true;
    for (int64_t period : periods) {
      if (!keep_going()) {
        stopped = true;
        break;
      }
      Status st = CompactPeriod(tenant, period, s, keep_going);
      if (!st.ok()) {
        ++s->periods_failed;
        tenant_ok = false;
        spdlog::error("msg=\"compactor: period failed\" tenant={} period={} err=\"{}\"", tenant,
                      period, st.message());
        if (first_error.ok()) first_error = st;
      }
    }
    if (stopped) break;
    if (tenant_ok && policy_ != nullptr) policy_->DeletesApplied(tenant);
  }
  if (!stopped) {
    Status st = SweepMarkers(s);
    if (!st.ok() && first_error.ok()) first_error = st;
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  m.run_duration->WithLabels({})->Set(seconds);
  if (first_error.ok() && !stopped) {
    m.runs->WithLabels({"success"})->Inc();
    m.last_success->WithLabels({})->Set(static_cast<double>(start) / 1e9);
  } else {
    m.runs->WithLabels({"failure"})->Inc();
  }
  spdlog::info(
      "msg=\"compactor run done\" ok={} stopped={} duration={:.3f}s tenants={} periods={} "
      "merged={} rewritten={} written={} expired={} marked={} deleted={} duplicates={} "
      "deleted_entries={} bytes_before={} bytes_after={} failed={}",
      first_error.ok(), stopped, seconds, tenants.size(), s->periods_compacted, s->chunks_merged,
      s->chunks_rewritten, s->chunks_written, s->chunks_expired, s->chunks_marked,
      s->chunks_deleted, s->duplicates_dropped, s->entries_deleted, s->bytes_before, s->bytes_after,
      s->periods_failed);
  return first_error;
}

Status Compactor::CompactPeriod(std::string_view tenant, int64_t period, RunStats* stats,
                                const std::function<bool()>& keep_going) {
  auto& m = Metrics();
  Job job;
  job.tenant = std::string(tenant);
  SLUICE_ASSIGN_OR_RETURN(job.main, LoadPeriod(store_, tenant, period));
  const int64_t now = clock_->NowNanos();
  RunStats s;  // added to *stats only when the job completes

  // Rewritten chunks wait here (compressed) until a batch is large enough to write: first a
  // marker listing them and the chunks they replace, then the chunks.
  struct Pending {
    std::vector<MarkedChunk> marks;
    std::vector<std::pair<std::string, std::string>> chunks;  // key, bytes
    uint64_t bytes = 0;
  } pending;
  auto write_pending = [&]() -> Status {
    if (pending.marks.empty()) return Status::OK();
    const std::string marker_key =
        fmt::format("{}{}-{}-{}", kMarkerPrefix, now, name_tag_, seq_.fetch_add(1));
    SLUICE_RETURN_IF_ERROR(store_->Put(marker_key, EncodeMarker(now, pending.marks)));
    s.chunks_marked += pending.marks.size();
    m.marked->WithLabels({fmt::format("{}", period)})
        ->Inc(static_cast<double>(pending.marks.size()));
    for (const auto& [key, data] : pending.chunks) SLUICE_RETURN_IF_ERROR(store_->Put(key, data));
    pending = Pending();
    return Status::OK();
  };

  for (auto& series : job.main.series) {
    // (Not structured bindings: lambdas below capture them, which clang 14 rejects.)
    const model::LabelSet& labels = series.first;
    auto& refs = series.second;
    // Retention: a chunk wholly before the cutoff goes; one straddling it stays (queries filter).
    if (options_.retention_enabled && policy_ != nullptr && !refs.empty()) {
      const int64_t retention = policy_->RetentionPeriod(tenant, labels);
      if (retention > 0) {
        const int64_t cutoff = now - retention;
        for (auto it = refs.begin(); it != refs.end();) {
          if (it->second.through_ns < cutoff) {
            pending.marks.push_back(Mark(tenant, it->second));
            ++s.chunks_expired;
            job.changed = true;
            it = refs.erase(it);
          } else {
            ++it;
          }
        }
      }
    }
    if (refs.empty()) continue;

    // Groups of chunks whose time ranges overlap (transitively), in time order.
    std::vector<ChunkRef> sorted;
    int64_t series_from = INT64_MAX, series_through = INT64_MIN;
    for (const auto& [key, ref] : refs) {
      sorted.push_back(ref);
      series_from = std::min(series_from, ref.from_ns);
      series_through = std::max(series_through, ref.through_ns);
    }
    std::sort(sorted.begin(), sorted.end(), [](const ChunkRef& a, const ChunkRef& b) {
      return std::tie(a.from_ns, a.through_ns, a.key) < std::tie(b.from_ns, b.through_ns, b.key);
    });
    std::function<bool(int64_t, std::string_view)> deleted;
    if (policy_ != nullptr) {
      deleted = policy_->DeletedEntries(tenant, labels, series_from, series_through);
    }
    std::vector<std::vector<ChunkRef>> groups;
    int64_t group_through = INT64_MIN;
    for (auto& ref : sorted) {
      if (groups.empty() || ref.from_ns > group_through) {
        groups.emplace_back();
        group_through = ref.through_ns;
      }
      group_through = std::max(group_through, ref.through_ns);
      groups.back().push_back(std::move(ref));
    }

    for (const auto& group : groups) {
      if (group.size() < 2 && !deleted) continue;
      // The lease is renewed here too, so a long period does not outlive it; giving up before
      // the index is written leaves only marked chunks behind.
      if (!keep_going()) return Status::Unavailable("compactor pass stopped (lease lost or Stop)");
      GroupReader reader(store_, group);
      std::vector<model::Entry> run;  // the entries written with the current timestamp
      uint64_t removed = 0, duplicates = 0;
      std::vector<ChunkRef> outputs;
      std::vector<std::string> output_data;
      const chunk::FinishOptions finish{.level = options_.compression_level,
                                        .bloom = options_.blooms};
      const uint64_t fp = labels.Fingerprint();
      chunk::BlockBuilder builder;
      std::vector<chunk::Block> blocks;
      uint64_t chunk_raw = 0;  // raw bytes of `blocks`
      auto finish_chunk = [&] {
        if (!builder.empty()) blocks.push_back(builder.Finish(options_.codec, finish));
        if (blocks.empty()) return;
        ChunkRef ref;
        ref.fingerprint = fp;
        ref.from_ns = blocks.front().min_ts;
        ref.through_ns = blocks.back().max_ts;
        for (const auto& b : blocks) {
          ref.num_entries += b.num_entries;
          ref.raw_bytes += b.raw_len;
        }
        std::string data = chunk::EncodeChunk(labels, blocks);
        ref.stored_bytes = data.size();
        // As the ingester's flush names them (ingester/flush.cc): content-addressed.
        ref.key = fmt::format("chunks/{}/{:016x}-{:x}-{:x}-{:08x}", job.tenant, fp, ref.from_ns,
                              ref.through_ns, Crc32(data));
        outputs.push_back(std::move(ref));
        output_data.push_back(std::move(data));
        blocks.clear();
        chunk_raw = 0;
      };
      model::Entry e;
      while (reader.Next(&e)) {
        if (deleted && deleted(e.timestamp_ns, e.line)) {
          ++removed;
          continue;
        }
        const bool new_ts = run.empty() || run.front().timestamp_ns != e.timestamp_ns;
        if (new_ts) {
          run.clear();
          // The replacement chunks are cut at the target size, but never between equal
          // timestamps, so they do not overlap each other (and the next run leaves them alone).
          if (options_.target_chunk_size > 0 &&
              chunk_raw + builder.raw_bytes() >= options_.target_chunk_size) {
            finish_chunk();
          }
        } else if (std::any_of(run.begin(), run.end(), [&](const model::Entry& r) {
                     return r.line == e.line && r.metadata == e.metadata;
                   })) {
          ++duplicates;  // a replica's copy
          continue;
        }
        builder.Append(e.timestamp_ns, e.line, e.metadata);
        if (builder.raw_bytes() >= options_.flush_block_size) {
          chunk_raw += builder.raw_bytes();
          blocks.push_back(builder.Finish(options_.codec, finish));
        }
        run.push_back(std::move(e));
      }
      SLUICE_RETURN_IF_ERROR(reader.status());
      if (group.size() < 2 && removed == 0) continue;  // nothing to delete in this chunk
      finish_chunk();
      s.entries_deleted += removed;
      s.duplicates_dropped += duplicates;
      if (removed > 0) m.deleted_lines->WithLabels({job.tenant})->Inc(static_cast<double>(removed));
      s.bytes_before += reader.bytes_read();
      s.chunks_written += outputs.size();
      (group.size() >= 2 ? s.chunks_merged : s.chunks_rewritten) += group.size();
      job.changed = true;

      // This period: the group's refs out, the outputs overlapping it in.
      std::set<std::string> output_keys;
      for (const auto& o : outputs) output_keys.insert(o.key);
      for (const auto& old : group) {
        refs.erase(old.key);
        if (!output_keys.contains(old.key)) pending.marks.push_back(Mark(tenant, old));
      }
      const int64_t start = storage::index::PeriodStart(period);
      const int64_t end = storage::index::PeriodStart(period + 1) - 1;
      for (size_t i = 0; i < outputs.size(); ++i) {
        const ChunkRef& o = outputs[i];
        if (o.Overlaps(start, end)) refs.emplace(o.key, o);
        // Marked too: deleted by the sweep only if no index references it, i.e. if this job
        // died before its index was written.
        pending.marks.push_back(Mark(tenant, o));
        s.bytes_after += output_data[i].size();
        pending.bytes += output_data[i].size();
        pending.chunks.emplace_back(o.key, std::move(output_data[i]));
      }
      // Every other period listing one of the old chunks gets the same replacement (the
      // multi-period rule, docs/compactor.md).
      std::set<int64_t> others;
      for (const auto& old : group) {
        for (int64_t q = PeriodOf(old.from_ns); q <= PeriodOf(old.through_ns); ++q) {
          if (q == period) continue;
          job.edits[q].remove.insert(old.key);
          others.insert(q);
        }
      }
      for (int64_t q : others) {
        const int64_t qs = storage::index::PeriodStart(q);
        const int64_t qe = storage::index::PeriodStart(q + 1) - 1;
        for (const auto& o : outputs) {
          if (o.Overlaps(qs, qe)) job.edits[q].add.emplace_back(labels, o);
        }
      }
      if (pending.bytes >= kPendingBytes) SLUICE_RETURN_IF_ERROR(write_pending());
    }
  }

  if (!job.changed && job.main.keys.size() < 2) return Status::OK();

  // Crash-safety order (docs/compactor.md): markers and new chunks (in batches, each marker
  // before its chunks), new index objects (other periods first, this one last), then the old
  // index objects go. Any prefix of this leaves every index object pointing only at chunks that
  // exist, and every chunk written or unreferenced in a marker.
  SLUICE_RETURN_IF_ERROR(write_pending());

  std::vector<std::string> replaced;
  auto write_period = [&](LoadedPeriod& p) -> Status {
    IndexFile file = ToIndexFile(tenant, p);
    if (!file.series.empty()) {
      const std::string key =
          fmt::format("{}compacted-{}-{}-{}{}", storage::index::PeriodPrefix(tenant, p.period), now,
                      name_tag_, seq_.fetch_add(1), storage::index::kIndexSuffix);
      SLUICE_RETURN_IF_ERROR(store_->Put(key, storage::index::EncodeIndexFile(std::move(file))));
      std::erase(p.keys, key);
    }
    replaced.insert(replaced.end(), p.keys.begin(), p.keys.end());
    s.index_objects_replaced += p.keys.size();
    ++s.periods_compacted;
    return Status::OK();
  };
  for (auto& [q, edit] : job.edits) {
    SLUICE_ASSIGN_OR_RETURN(LoadedPeriod other, LoadPeriod(store_, tenant, q));
    bool touched = false;
    for (auto& [labels, refs] : other.series) {
      for (const auto& key : edit.remove) touched = refs.erase(key) > 0 || touched;
    }
    for (const auto& [labels, ref] : edit.add) {
      touched = true;
      other.series[labels].emplace(ref.key, ref);
    }
    if (touched) SLUICE_RETURN_IF_ERROR(write_period(other));
  }
  SLUICE_RETURN_IF_ERROR(write_period(job.main));
  for (const auto& key : replaced) SLUICE_RETURN_IF_ERROR(store_->Delete(key));

  m.periods->WithLabels({})->Inc(static_cast<double>(s.periods_compacted));
  m.chunks_merged->WithLabels({})->Inc(static_cast<double>(s.chunks_merged));
  m.chunks_rewritten->WithLabels({})->Inc(static_cast<double>(s.chunks_rewritten));
  m.chunks_written->WithLabels({})->Inc(static_cast<double>(s.chunks_written));
  m.chunks_expired->WithLabels({})->Inc(static_cast<double>(s.chunks_expired));
  m.bytes_before->WithLabels({})->Inc(static_cast<double>(s.bytes_before));
  m.bytes_after->WithLabels({})->Inc(static_cast<double>(s.bytes_after));
  m.duplicates->WithLabels({})->Inc(static_cast<double>(s.duplicates_dropped));
  spdlog::info(
      "msg=\"compactor: period compacted\" tenant={} period={} objects={} merged={} rewritten={} "
      "written={} expired={} marked={} bytes_before={} bytes_after={}",
      tenant, period, s.index_objects_replaced, s.chunks_merged, s.chunks_rewritten,
      s.chunks_written, s.chunks_expired, s.chunks_marked, s.bytes_before, s.bytes_after);

  stats->periods_compacted += s.periods_compacted;
  stats->index_objects_replaced += s.index_objects_replaced;
  stats->chunks_merged += s.chunks_merged;
  stats->chunks_rewritten += s.chunks_rewritten;
  stats->chunks_written += s.chunks_written;
  stats->chunks_expired += s.chunks_expired;
  stats->chunks_marked += s.chunks_marked;
  stats->entries_deleted += s.entries_deleted;
  stats->duplicates_dropped += s.duplicates_dropped;
  stats->bytes_before += s.bytes_before;
  stats->bytes_after += s.bytes_after;
  return Status::OK();
}

Status Compactor::SweepMarkers(RunStats* stats) {
  auto& m = Metrics();
  RunStats local;
  RunStats* s = stats != nullptr ? stats : &local;
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> markers, store_->List(kMarkerPrefix));
  const int64_t now = clock_->NowNanos();
  std::vector<std::pair<std::string, int64_t>> due;
  for (const auto& key : markers) {
    std::string_view name = std::string_view(key).substr(kMarkerPrefix.size());
    int64_t marked_ns = 0;
    if (!ParseInt(name.substr(0, name.find('-')), &marked_ns)) continue;  // not ours
    if (now - marked_ns >= options_.retention_delete_delay_ns) due.emplace_back(key, marked_ns);
  }
  m.marker_files->WithLabels({})->Set(static_cast<double>(due.size()));

  // Chunk keys each (tenant, period) index references now, loaded once per sweep.
  std::map<std::pair<std::string, int64_t>, std::unordered_set<std::string>> referenced;
  auto is_referenced = [&](const MarkedChunk& c) -> Result<bool> {
    for (int64_t p = c.first_period; p <= c.last_period; ++p) {
      auto it = referenced.find({c.tenant, p});
      if (it == referenced.end()) {
        SLUICE_ASSIGN_OR_RETURN(LoadedPeriod loaded, LoadPeriod(store_, c.tenant, p));
        std::unordered_set<std::string> keys;
        for (const auto& [labels, refs] : loaded.series) {
          for (const auto& [key, ref] : refs) keys.insert(key);
        }
        it = referenced.emplace(std::make_pair(c.tenant, p), std::move(keys)).first;
      }
      if (it->second.contains(c.key)) return true;
    }
    return false;
  };

  Status first_error;
  for (const auto& [marker_key, marked_ns] : due) {
    auto data = store_->Get(marker_key);
    if (!data.ok()) {
      if (data.status().code() != StatusCode::kNotFound && first_error.ok()) {
        first_error = data.status();
      }
      continue;
    }
    auto chunks = DecodeMarker(*data);
    if (!chunks.ok()) {
      spdlog::warn("msg=\"compactor: leaving unreadable marker in place\" key={} err=\"{}\"",
                   marker_key, chunks.status().message());
      continue;
    }
    // A chunk some index still references is not deleted: its marker entry was written before
    // the index stopped pointing at it (a crashed or in-flight job), or a later write listed it
    // again. Whoever removes the last reference writes a new marker.
    std::vector<std::string> to_delete;
    Status st;
    for (const auto& c : *chunks) {
      auto ref = is_referenced(c);
      if (!ref.ok()) {
        st = ref.status();
        break;
      }
      if (!*ref) to_delete.push_back(c.key);
    }
    if (!st.ok()) {
      if (first_error.ok()) first_error = st;
      continue;
    }
    std::sort(to_delete.begin(), to_delete.end());
    to_delete.erase(std::unique(to_delete.begin(), to_delete.end()), to_delete.end());

    const int workers =
        std::clamp<int>(options_.retention_delete_worker_count, 1, Options::kMaxDeleteWorkers);
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> deleted{0};
    Mutex err_mu;
    Status delete_error;
    auto work = [&] {
      for (size_t i = next.fetch_add(1); i < to_delete.size(); i = next.fetch_add(1)) {
        const auto t0 = std::chrono::steady_clock::now();
        Status d = store_->Delete(to_delete[i]);
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        m.chunk_deleted->WithLabels({d.ok() ? "success" : "failure"})->Observe(secs);
        if (d.ok()) {
          deleted.fetch_add(1);
        } else {
          MutexLock lock(&err_mu);
          if (delete_error.ok()) delete_error = d;
        }
      }
    };
    const size_t n = std::min<size_t>(static_cast<size_t>(workers), to_delete.size());
    if (n <= 1) {
      work();
    } else {
      std::vector<std::thread> threads;
      for (size_t w = 0; w < n; ++w) threads.emplace_back(work);
      for (auto& t : threads) t.join();
    }
    s->chunks_deleted += deleted.load();
    {
      MutexLock lock(&err_mu);
      if (!delete_error.ok()) {  // the marker stays; the next sweep retries
        if (first_error.ok()) first_error = delete_error;
        continue;
      }
    }
    SLUICE_RETURN_IF_ERROR(store_->Delete(marker_key));
    spdlog::info("msg=\"compactor: marker swept\" marker={} chunks={} deleted={}", marker_key,
                 chunks->size(), deleted.load());
  }
  return first_error;
}

// The lease value: "<instance id> <expiry unix ns>".
Result<bool> Compactor::AcquireLease() {
  if (kv_ == nullptr) return Status::InvalidArgument("compactor: no KV store for the lease");
  auto& m = Metrics();
  SLUICE_ASSIGN_OR_RETURN(ring::KvValue current, kv_->Get(options_.lease_key));
  const int64_t now = clock_->NowNanos();
  if (current.revision != 0 && !current.value.empty()) {
    std::string_view v = current.value;
    size_t sp = v.rfind(' ');
    int64_t expiry = 0;
    std::string_view holder = sp == std::string_view::npos ? v : v.substr(0, sp);
    if (sp != std::string_view::npos) ParseInt(v.substr(sp + 1), &expiry);
    if (holder != options_.instance_id && expiry > now) {
      lease_held_.store(false);
      m.running->WithLabels({})->Set(0);
      return false;
    }
  }
  auto rev =
      kv_->CompareAndSwap(options_.lease_key, current.revision,
                          fmt::format("{} {}", options_.instance_id, now + options_.lease_ttl_ns));
  if (!rev.ok()) {
    lease_held_.store(false);
    m.running->WithLabels({})->Set(0);
    if (ring::IsRevisionConflict(rev.status())) return false;  // someone else was faster
    return rev.status();
  }
  if (!lease_held_.exchange(true)) {
    spdlog::info("msg=\"compactor: lease taken\" instance={} key={}", options_.instance_id,
                 options_.lease_key);
  }
  m.running->WithLabels({})->Set(1);
  return true;
}

Status Compactor::ReleaseLease() {
  if (kv_ == nullptr || !lease_held_.exchange(false)) return Status::OK();
  Metrics().running->WithLabels({})->Set(0);
  SLUICE_ASSIGN_OR_RETURN(ring::KvValue current, kv_->Get(options_.lease_key));
  std::string_view v = current.value;
  if (current.revision == 0 || v.substr(0, v.rfind(' ')) != options_.instance_id) {
    return Status::OK();
  }
  // Expired now: the next AcquireLease of any instance takes it.
  auto rev = kv_->CompareAndSwap(options_.lease_key, current.revision,
                                 fmt::format("{} {}", options_.instance_id, 0));
  if (!rev.ok() && !ring::IsRevisionConflict(rev.status())) return rev.status();
  return Status::OK();
}

void Compactor::Start() {
  SLUICE_CHECK(kv_ != nullptr);
  {
    MutexLock lock(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Compactor::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
  Status st = ReleaseLease();
  if (!st.ok())
    spdlog::warn("msg=\"compactor: releasing the lease failed\" err=\"{}\"", st.message());
}

void Compactor::Loop() {
  int64_t last_run = INT64_MIN;
  int64_t last_renew = clock_->NowNanos();
  auto stopped = [this] {
    MutexLock lock(&mu_);
    return stop_;
  };
  while (!stopped()) {
    auto held = AcquireLease();
    if (!held.ok()) {
      spdlog::warn("msg=\"compactor: lease check failed\" err=\"{}\"", held.status().message());
    } else if (*held) {
      last_renew = clock_->NowNanos();
      if (last_run == INT64_MIN || last_renew - last_run >= options_.compaction_interval_ns) {
        last_run = last_renew;
        // Between periods the lease is renewed (and the pass abandoned if it was lost or the
        // compactor is stopping), so a long pass never runs past a lost lease by more than one
        // period's work.
        Status st = RunPass(nullptr, [&] {
          if (stopped()) return false;
          if (clock_->NowNanos() - last_renew < options_.lease_renew_interval_ns) return true;
          auto again = AcquireLease();
          if (!again.ok() || !*again) return false;
          last_renew = clock_->NowNanos();
          return true;
        });
        if (!st.ok()) spdlog::warn("msg=\"compactor run failed\" err=\"{}\"", st.message());
      }
    }
    MutexLock lock(&mu_);
    cv_.WaitFor(&mu_, std::chrono::nanoseconds(options_.lease_renew_interval_ns),
                [this]() REQUIRES(mu_) { return stop_; });
  }
}

}  // namespace sluice::compactor
