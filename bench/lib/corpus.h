#pragma once

// The benchmark corpus: a deterministic stream of log lines shaped like issue 4's reference
// corpus, grouped into push requests the way agents send them.
//
// Synthetic lines (the default) are 40% nginx access lines, 40% JSON application logs and 20%
// logfmt, 111-297 bytes each (about 210 on average), spread evenly over `span_ns` ending at
// `end_ns`. Streams are labelled {env, instance, job, level}: each instance (one agent) runs
// the five jobs below at four levels, so an instance owns 20 streams and the number of
// instances is streams / 20. Instances are spread round-robin over the tenants.
//
//   job       format   share
//   nginx     nginx    20%      levels follow the status: 5xx error, 4xx warn, else info/debug
//   ingress   nginx    20%
//   api       json     20%      every JSON line carries a 128-bit trace_id (a third are new,
//                               the rest repeat a recent one: a request logs several lines)
//   checkout  json     20%
//   worker    logfmt   20%      half of the logfmt lines carry a trace_id
//
// Three kinds of planted strings let queries check their answers:
//   needle()         a trace id that occurs in exactly kNeedleCount lines (a rare-needle query);
//   absent_needle()  a trace id that occurs nowhere;
//   marker()         a phrase in about 1 line in 1,000, so every block holds a few: a literal
//                    filter for it has to read every block however blocks are summarised.
//
// The same options always give the same lines, streams and requests (timestamps move with
// end_ns, which defaults to the caller's choice of "now").
//
// With input files, lines come from the files instead (cycled if there are fewer than
// `lines`); the job is guessed from the line's shape (JSON, logfmt, else nginx) and the level
// from its words, and the planted strings are not planted (needle counts are then unknown).

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::bench {

enum class Job : uint8_t { kNginx, kIngress, kApi, kCheckout, kWorker };
inline constexpr int kNumJobs = 5;
enum class Level : uint8_t { kDebug, kInfo, kWarn, kError };
inline constexpr int kNumLevels = 4;
inline constexpr int kStreamsPerInstance = kNumJobs * kNumLevels;

std::string_view JobName(Job job);
std::string_view LevelName(Level level);
// The line format a job writes: "nginx", "json" or "logfmt".
std::string_view JobFormat(Job job);

inline constexpr size_t kMinLineLen = 111;
inline constexpr size_t kMaxLineLen = 297;
inline constexpr int kNeedleCount = 3;
inline constexpr int64_t kNanosPerHour = int64_t{3600} * 1'000'000'000;

struct CorpusOptions {
  uint64_t seed = 1;
  uint64_t lines = 1'000'000;
  uint32_t streams = 1000;  // rounded up to a multiple of kStreamsPerInstance
  uint32_t tenants = 2;
  int64_t end_ns = 0;  // timestamp of the last line (unix ns)
  int64_t span_ns = 2 * kNanosPerHour;
  std::vector<std::string> input_files;  // real log lines instead of synthetic ones
};

struct StreamInfo {
  std::string tenant;
  std::string labels;  // `{env="prod", instance="host-0007", job="api", level="info"}`
  uint32_t instance = 0;
  Job job = Job::kNginx;
  Level level = Level::kInfo;
};

// One line of the corpus. `line` is valid until the next call to Next().
struct CorpusLine {
  uint32_t stream = 0;  // index into CorpusGenerator::streams()
  uint32_t instance = 0;
  int64_t timestamp_ns = 0;
  std::string_view line;
};

// Not thread-safe.
class CorpusGenerator {
 public:
  // InvalidArgument for unusable options; IOError when an input file cannot be read.
  static Result<CorpusGenerator> Create(CorpusOptions opts);

  // The next line in timestamp order; false after opts.lines lines.
  bool Next(CorpusLine* out);

  const CorpusOptions& options() const { return opts_; }
  const std::vector<StreamInfo>& streams() const { return streams_; }
  uint32_t num_instances() const { return instances_; }
  std::string_view TenantOfInstance(uint32_t instance) const;
  // Index of the stream of (instance, job, level).
  uint32_t StreamIndex(uint32_t instance, Job job, Level level) const;

  std::string_view needle() const { return needle_; }
  std::string_view absent_needle() const { return absent_needle_; }
  std::string_view marker() const;
  // Lines holding needle() / marker() so far (exact once Next() returned false).
  uint64_t needle_lines() const { return needle_lines_; }
  uint64_t marker_lines() const { return marker_lines_; }
  bool synthetic() const { return real_lines_.empty(); }

 private:
  CorpusGenerator() = default;
  void BuildStreams();
  // Synthetic line of `job` at `level` into line_; returns true when it holds the marker.
  bool MakeLine(Job job, Level level, int64_t ts, bool needle);
  void MakeNginx(Level level, int64_t ts);
  bool MakeJson(Job job, Level level, int64_t ts, bool needle);
  bool MakeLogfmt(Level level, int64_t ts);
  std::string RandomHex(int digits);
  std::string TraceId();

  CorpusOptions opts_;
  std::mt19937_64 rng_;
  std::vector<StreamInfo> streams_;
  uint32_t instances_ = 0;
  uint64_t next_ = 0;
  int64_t start_ns_ = 0;
  std::string line_;
  std::string needle_, absent_needle_;
  uint64_t needle_at_[kNeedleCount] = {};
  uint64_t needle_lines_ = 0, marker_lines_ = 0;
  std::vector<std::string> ips_;
  static constexpr size_t kRecentTraces = 16;
  std::vector<std::string> recent_traces_;
  size_t next_trace_slot_ = 0;
  std::vector<std::string> real_lines_;
};

// Lines of one push request: one instance's next batch, as an agent sends it.
struct PushBatch {
  std::string tenant;
  struct StreamLines {
    uint32_t stream = 0;
    std::vector<std::pair<int64_t, std::string>> entries;  // (ts, line), ts ascending
  };
  std::vector<StreamLines> streams;
  uint32_t lines = 0;
  uint64_t raw_bytes = 0;  // sum of line lengths
};

// Groups a generator's lines into requests of `lines_per_request` lines per instance. A
// request is emitted as soon as its instance has that many lines; the rest at the end. Within
// a stream, timestamps never go back across requests.
class Batcher {
 public:
  Batcher(CorpusGenerator* gen, uint32_t lines_per_request);
  // The next request; false when the generator is exhausted and every partial batch is out.
  // `on_line` (nullable) sees every line as it is generated (e.g. to write the raw lines file).
  template <typename F>
  bool Next(PushBatch* out, F&& on_line);
  bool Next(PushBatch* out) {
    return Next(out, [](const CorpusLine&) {});
  }

 private:
  bool Flush(uint32_t instance, PushBatch* out);
  void Add(const CorpusLine& l);

  CorpusGenerator* gen_;
  uint32_t per_request_;
  std::vector<PushBatch> pending_;  // by instance
  bool exhausted_ = false;
  uint32_t drain_ = 0;  // next instance to drain once exhausted
};

template <typename F>
bool Batcher::Next(PushBatch* out, F&& on_line) {
  CorpusLine l;
  while (!exhausted_) {
    if (!gen_->Next(&l)) {
      exhausted_ = true;
      break;
    }
    on_line(l);
    Add(l);
    if (pending_[l.instance].lines >= per_request_) return Flush(l.instance, out);
  }
  while (drain_ < pending_.size()) {
    uint32_t i = drain_++;
    if (pending_[i].lines > 0) return Flush(i, out);
  }
  return false;
}

// Request bodies as agents send them.
// logproto.PushRequest, snappy block-compressed (Content-Type: application/x-protobuf).
std::string EncodeProtoSnappy(const PushBatch& batch, const std::vector<StreamInfo>& streams);
// {"streams":[{"stream":{...},"values":[["<ns>","<line>"],...]}]} (Content-Type: application/json).
std::string EncodeJson(const PushBatch& batch, const std::vector<StreamInfo>& streams);

// A small in-memory corpus for micro-benchmarks: the first `n` requests of a default corpus
// (1,000 streams, seed 1, fixed end time).
struct SmallCorpus {
  std::vector<StreamInfo> streams;
  std::vector<PushBatch> batches;
  std::string needle, marker;
};
SmallCorpus MakeSmallCorpus(uint64_t lines, uint32_t streams = 1000,
                            uint32_t lines_per_request = 1000);

}  // namespace sluice::bench
