#include "lib/corpus.h"

#include <snappy.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <fstream>

#include <fmt/format.h>

#include "push.pb.h"

namespace sluice::bench {

namespace {

constexpr std::array<std::string_view, kNumJobs> kJobNames = {"nginx", "ingress", "api", "checkout",
                                                              "worker"};
constexpr std::array<std::string_view, kNumLevels> kLevelNames = {"debug", "info", "warn", "error"};
constexpr std::string_view kMarker = "cache stampede detected";
// One line in this many (JSON and logfmt lines only) carries the marker.
constexpr uint64_t kMarkerEvery = 600;

// Level shares in percent: debug, info, warn, error.
constexpr std::array<int, kNumLevels> kLevelWeights = {12, 70, 12, 6};

constexpr std::array<std::string_view, 12> kPaths = {
    "/api/v1/products",
    "/api/v1/products/{id}",
    "/api/v1/cart",
    "/api/v1/cart/items",
    "/api/v1/checkout",
    "/api/v1/users/{id}/orders",
    "/static/js/app.{hex}.js",
    "/healthz",
    "/api/v2/search?q=shoes&page={n}",
    "/login",
    "/images/{id}.jpg",
    "/api/v1/recommendations?user={id}",
};
constexpr std::array<std::string_view, 6> kUserAgents = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148",
    "curl/8.4.0",
    "Go-http-client/1.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "kube-probe/1.28",
};
// Browsers dominate real access logs; probes and clients fill the rest.
constexpr std::array<int, 6> kUserAgentWeights = {45, 25, 4, 4, 18, 4};
constexpr std::array<std::string_view, 4> kReferers = {
    "-", "https://shop.example.com/", "https://shop.example.com/cart", "https://www.google.com/"};
constexpr std::array<std::string_view, 4> kMethods = {"GET", "POST", "PUT", "DELETE"};
constexpr std::array<int, 4> kMethodWeights = {70, 20, 5, 5};

struct Messages {
  std::array<std::string_view, 4> by_level[kNumLevels];
};
constexpr Messages kJsonMessages = {{
    {"querying database", "cache lookup", "loaded feature flags", "serializing response"},
    {"request completed", "order created", "payment authorized", "session refreshed"},
    {"slow query detected", "retrying upstream call", "rate limit close",
     "deprecated endpoint used"},
    {"upstream timeout", "failed to charge card", "database connection reset", "invalid token"},
}};
constexpr Messages kLogfmtMessages = {{
    {"polling queue", "lease renewed", "heartbeat sent", "batch assembled"},
    {"job completed", "job started", "message acknowledged", "batch flushed"},
    {"job retried", "lease about to expire", "queue backlog growing", "slow consumer"},
    {"job failed", "dead-lettered message", "broker unreachable", "panic recovered"},
}};
constexpr std::array<std::string_view, 4> kLoggers = {"http.handler", "payment.client",
                                                      "orders.service", "auth.middleware"};
constexpr std::array<std::string_view, 4> kQueues = {"emails", "invoices", "thumbnails",
                                                     "webhooks"};
constexpr std::array<std::string_view, 4> kCallers = {"worker/queue.go:142", "worker/lease.go:77",
                                                      "worker/run.go:310", "broker/conn.go:58"};

template <size_t N>
size_t PickWeighted(std::mt19937_64& rng, const std::array<int, N>& weights) {
  int total = 0;
  for (int w : weights) total += w;
  int r = static_cast<int>(rng() % static_cast<uint64_t>(total));
  for (size_t i = 0; i < N; ++i) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  return N - 1;
}

uint64_t Uniform(std::mt19937_64& rng, uint64_t n) { return rng() % n; }

// Expands {id} {hex} {n} in a path template.
void AppendPath(std::mt19937_64& rng, std::string_view tmpl, std::string* out) {
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] == '{') {
      size_t end = tmpl.find('}', i);
      std::string_view var = tmpl.substr(i + 1, end - i - 1);
      if (var == "id") {
        fmt::format_to(std::back_inserter(*out), "{}", 1000 + Uniform(rng, 90000));
      } else if (var == "hex") {
        fmt::format_to(std::back_inserter(*out), "{:08x}", static_cast<uint32_t>(Uniform(rng, 64)));
      } else {
        fmt::format_to(std::back_inserter(*out), "{}", 1 + Uniform(rng, 20));
      }
      i = end + 1;
    } else {
      out->push_back(tmpl[i++]);
    }
  }
}

struct Civil {
  int year, month, day, hour, minute, second;
};
Civil ToCivil(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  return {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
}
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void AppendIsoTime(int64_t ns, int frac_digits, std::string* out) {
  Civil c = ToCivil(ns);
  int64_t frac = ns % 1'000'000'000;
  for (int i = frac_digits; i < 9; ++i) frac /= 10;
  fmt::format_to(std::back_inserter(*out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:0{}}Z", c.year,
                 c.month, c.day, c.hour, c.minute, c.second, frac, frac_digits);
}

void AppendJsonEscaped(std::string_view s, std::string* out) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      fmt::format_to(std::back_inserter(*out), "\\u{:04x}", c);
    } else {
      out->push_back(ch);
    }
  }
}

Job GuessJob(std::string_view line) {
  if (!line.empty() && line.front() == '{') return Job::kApi;
  if (line.find("level=") != std::string_view::npos ||
      line.find("msg=") != std::string_view::npos) {
    return Job::kWorker;
  }
  return Job::kNginx;
}

Level GuessLevel(std::string_view line) {
  auto has = [&](std::string_view w) { return line.find(w) != std::string_view::npos; };
  if (has("error") || has("ERROR") || has("\" 5")) return Level::kError;
  if (has("warn") || has("WARN") || has("\" 4")) return Level::kWarn;
  if (has("debug") || has("DEBUG")) return Level::kDebug;
  return Level::kInfo;
}

}  // namespace

std::string_view JobName(Job job) { return kJobNames[static_cast<size_t>(job)]; }
std::string_view LevelName(Level level) { return kLevelNames[static_cast<size_t>(level)]; }
std::string_view JobFormat(Job job) {
  switch (job) {
    case Job::kNginx:
    case Job::kIngress:
      return "nginx";
    case Job::kApi:
    case Job::kCheckout:
      return "json";
    case Job::kWorker:
      return "logfmt";
  }
  return "nginx";
}

Result<CorpusGenerator> CorpusGenerator::Create(CorpusOptions opts) {
  if (opts.lines == 0) return Status::InvalidArgument("lines must be positive");
  if (opts.tenants == 0) return Status::InvalidArgument("tenants must be positive");
  if (opts.streams == 0) return Status::InvalidArgument("streams must be positive");
  if (opts.span_ns <= 0) return Status::InvalidArgument("span must be positive");
  CorpusGenerator g;
  g.opts_ = std::move(opts);
  g.rng_.seed(g.opts_.seed);
  g.instances_ = (g.opts_.streams + kStreamsPerInstance - 1) / kStreamsPerInstance;
  g.start_ns_ = g.opts_.end_ns - g.opts_.span_ns;
  g.BuildStreams();

  for (const auto& path : g.opts_.input_files) {
    std::ifstream in(path);
    if (!in) return Status::IOError("cannot read " + path);
    std::string line;
    while (g.real_lines_.size() < g.opts_.lines && std::getline(in, line)) {
      if (!line.empty()) g.real_lines_.push_back(line);
    }
  }
  if (!g.opts_.input_files.empty() && g.real_lines_.empty()) {
    return Status::InvalidArgument("the input files hold no lines");
  }

  // Planted strings come from their own generator, so they do not shift the corpus.
  std::mt19937_64 planted(g.opts_.seed ^ 0x9E3779B97F4A7C15ull);
  for (auto* s : {&g.needle_, &g.absent_needle_}) {
    uint64_t hi = planted();
    uint64_t lo = planted();
    *s = fmt::format("{:016x}{:016x}", hi, lo);
  }
  for (int i = 0; i < kNeedleCount; ++i) {
    g.needle_at_[i] = g.opts_.lines * static_cast<uint64_t>(i + 1) / (kNeedleCount + 1);
  }
  for (int i = 0; i < 2000; ++i) {
    uint64_t a = planted() % 8;
    uint64_t b = planted() % 256;
    uint64_t c = 1 + planted() % 254;
    g.ips_.push_back(fmt::format("10.{}.{}.{}", a, b, c));
  }
  return g;
}

void CorpusGenerator::BuildStreams() {
  streams_.clear();
  streams_.reserve(static_cast<size_t>(instances_) * kStreamsPerInstance);
  for (uint32_t i = 0; i < instances_; ++i) {
    std::string_view env = (i / opts_.tenants) % 2 == 0 ? "prod" : "staging";
    for (int j = 0; j < kNumJobs; ++j) {
      for (int l = 0; l < kNumLevels; ++l) {
        StreamInfo s;
        s.tenant = std::string(TenantOfInstance(i));
        s.instance = i;
        s.job = static_cast<Job>(j);
        s.level = static_cast<Level>(l);
        s.labels = fmt::format(R"({{env="{}", instance="host-{:04}", job="{}", level="{}"}})", env,
                               i, JobName(s.job), LevelName(s.level));
        streams_.push_back(std::move(s));
      }
    }
  }
}

std::string_view CorpusGenerator::TenantOfInstance(uint32_t instance) const {
  static const std::array<std::string, 8> kTenants = {"tenant-a", "tenant-b", "tenant-c",
                                                      "tenant-d", "tenant-e", "tenant-f",
                                                      "tenant-g", "tenant-h"};
  return kTenants[instance % opts_.tenants % kTenants.size()];
}

uint32_t CorpusGenerator::StreamIndex(uint32_t instance, Job job, Level level) const {
  return instance * kStreamsPerInstance + static_cast<uint32_t>(job) * kNumLevels +
         static_cast<uint32_t>(level);
}

std::string_view CorpusGenerator::marker() const { return kMarker; }

std::string CorpusGenerator::RandomHex(int digits) {
  std::string out;
  while (static_cast<int>(out.size()) < digits)
    fmt::format_to(std::back_inserter(out), "{:016x}", rng_());
  out.resize(static_cast<size_t>(digits));
  return out;
}

std::string CorpusGenerator::TraceId() {
  // A request logs a few lines: two in three lines reuse one of the last few trace ids.
  if (!recent_traces_.empty() && Uniform(rng_, 3) != 0)
    return recent_traces_[Uniform(rng_, recent_traces_.size())];
  std::string id = RandomHex(32);
  if (recent_traces_.size() < kRecentTraces) {
    recent_traces_.push_back(id);
  } else {
    recent_traces_[next_trace_slot_++ % kRecentTraces] = id;
  }
  return id;
}

bool CorpusGenerator::Next(CorpusLine* out) {
  if (next_ >= opts_.lines) return false;
  const uint64_t i = next_++;
  // Evenly spaced timestamps, the last one at end_ns.
  int64_t ts = start_ns_ + static_cast<int64_t>(static_cast<__int128>(opts_.span_ns) *
                                                static_cast<__int128>(i + 1) /
                                                static_cast<__int128>(opts_.lines));
  uint32_t instance = static_cast<uint32_t>(Uniform(rng_, instances_));
  Job job;
  Level level;
  if (!real_lines_.empty()) {
    line_ = real_lines_[i % real_lines_.size()];
    job = GuessJob(line_);
    level = GuessLevel(line_);
    if (line_.find(kMarker) != std::string::npos) ++marker_lines_;
  } else {
    bool needle =
        std::find(std::begin(needle_at_), std::end(needle_at_), i) != std::end(needle_at_);
    job = needle ? Job::kApi : static_cast<Job>(Uniform(rng_, kNumJobs));
    level = static_cast<Level>(PickWeighted(rng_, kLevelWeights));
    // Draw until the line fits the size range; the templates almost always do at once.
    for (int attempt = 0;; ++attempt) {
      bool marked = MakeLine(job, level, ts, needle);
      if ((line_.size() >= kMinLineLen && line_.size() <= kMaxLineLen) || attempt == 20) {
        if (line_.size() > kMaxLineLen) line_.resize(kMaxLineLen);
        if (line_.size() < kMinLineLen) line_.append(kMinLineLen - line_.size(), ' ');
        if (marked) ++marker_lines_;
        break;
      }
    }
    if (needle) ++needle_lines_;
  }
  out->stream = StreamIndex(instance, job, level);
  out->instance = instance;
  out->timestamp_ns = ts;
  out->line = line_;
  return true;
}

bool CorpusGenerator::MakeLine(Job job, Level level, int64_t ts, bool needle) {
  line_.clear();
  switch (JobFormat(job).front()) {
    case 'n':
      MakeNginx(level, ts);
      return false;
    case 'j':
      return MakeJson(job, level, ts, needle);
    default:
      return MakeLogfmt(level, ts);
  }
}

void CorpusGenerator::MakeNginx(Level level, int64_t ts) {
  int status;
  switch (level) {
    case Level::kError:
      status = 500 + static_cast<int>(Uniform(rng_, 4));
      break;
    case Level::kWarn:
      status = std::array<int, 4>{400, 401, 403, 404}[Uniform(rng_, 4)];
      break;
    default:
      status = std::array<int, 6>{200, 200, 200, 201, 204, 304}[Uniform(rng_, 6)];
      break;
  }
  // Draws happen in a fixed order (function arguments are evaluated in an unspecified one).
  Civil c = ToCivil(ts);
  std::string_view ip = ips_[Uniform(rng_, ips_.size())];
  std::string_view method = kMethods[PickWeighted(rng_, kMethodWeights)];
  auto out = std::back_inserter(line_);
  fmt::format_to(out, "{} - - [{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000] \"{} ", ip, c.day,
                 kMonths[static_cast<size_t>(c.month - 1)], c.year, c.hour, c.minute, c.second,
                 method);
  AppendPath(rng_, kPaths[Uniform(rng_, kPaths.size())], &line_);
  uint64_t bytes = 100 + Uniform(rng_, 20000);
  std::string_view referer = kReferers[Uniform(rng_, kReferers.size())];
  std::string_view agent = kUserAgents[PickWeighted(rng_, kUserAgentWeights)];
  uint64_t secs = Uniform(rng_, 2);
  uint64_t millis = Uniform(rng_, 1000);
  fmt::format_to(out, " HTTP/1.1\" {} {} \"{}\" \"{}\" {}.{:03}", status, bytes, referer, agent,
                 secs, millis);
}

bool CorpusGenerator::MakeJson(Job job, Level level, int64_t ts, bool needle) {
  bool marked = !needle && Uniform(rng_, kMarkerEvery) == 0;
  std::string_view msg =
      marked ? kMarker : kJsonMessages.by_level[static_cast<size_t>(level)][Uniform(rng_, 4)];
  std::string trace = needle ? needle_ : TraceId();
  int status = level == Level::kError ? 500 : level == Level::kWarn ? 429 : 200;
  std::string_view logger = kLoggers[Uniform(rng_, kLoggers.size())];
  uint64_t user = 10000 + Uniform(rng_, 5000);
  // Mostly fast, with a tail.
  uint64_t ms = Uniform(rng_, 10) == 0 ? Uniform(rng_, 2000) : Uniform(rng_, 60);
  uint64_t ms_frac = Uniform(rng_, 10);
  line_.append("{\"ts\":\"");
  AppendIsoTime(ts, 6, &line_);
  fmt::format_to(std::back_inserter(line_),
                 R"(","level":"{}","logger":"{}.{}","msg":"{}","trace_id":"{}","user_id":{},)"
                 R"("duration_ms":{}.{},"status":{},"path":")",
                 LevelName(level), JobName(job), logger, msg, trace, user, ms, ms_frac, status);
  AppendPath(rng_, kPaths[Uniform(rng_, kPaths.size())], &line_);
  line_.append("\"}");
  return marked;
}

bool CorpusGenerator::MakeLogfmt(Level level, int64_t ts) {
  bool marked = Uniform(rng_, kMarkerEvery) == 0;
  std::string_view msg =
      marked ? kMarker : kLogfmtMessages.by_level[static_cast<size_t>(level)][Uniform(rng_, 4)];
  std::string_view caller = kCallers[Uniform(rng_, kCallers.size())];
  std::string_view queue = kQueues[Uniform(rng_, kQueues.size())];
  std::string job_id = RandomHex(12);
  uint64_t attempts = 1 + Uniform(rng_, 3);
  uint64_t ms = Uniform(rng_, 10) == 0 ? Uniform(rng_, 5000) : Uniform(rng_, 200);
  line_.append("ts=");
  AppendIsoTime(ts, 3, &line_);
  auto out = std::back_inserter(line_);
  fmt::format_to(out,
                 " level={} caller={} msg=\"{}\" queue={} job_id={} attempts={} duration_ms={}",
                 LevelName(level), caller, msg, queue, job_id, attempts, ms);
  if (Uniform(rng_, 2) == 0) fmt::format_to(out, " trace_id={}", TraceId());
  return marked;
}

// --- Batcher ------------------------------------------------------------------------------------

Batcher::Batcher(CorpusGenerator* gen, uint32_t lines_per_request)
    : gen_(gen),
      per_request_(std::max<uint32_t>(1, lines_per_request)),
      pending_(gen->num_instances()) {}

void Batcher::Add(const CorpusLine& l) {
  PushBatch& b = pending_[l.instance];
  auto it = std::find_if(b.streams.begin(), b.streams.end(),
                         [&](const PushBatch::StreamLines& s) { return s.stream == l.stream; });
  if (it == b.streams.end()) {
    b.streams.push_back({l.stream, {}});
    it = b.streams.end() - 1;
  }
  it->entries.emplace_back(l.timestamp_ns, std::string(l.line));
  b.lines++;
  b.raw_bytes += l.line.size();
}

bool Batcher::Flush(uint32_t instance, PushBatch* out) {
  *out = std::move(pending_[instance]);
  out->tenant = std::string(gen_->TenantOfInstance(instance));
  pending_[instance] = PushBatch{};
  return true;
}

// --- Encoders -----------------------------------------------------------------------------------

std::string EncodeProtoSnappy(const PushBatch& batch, const std::vector<StreamInfo>& streams) {
  logproto::PushRequest req;
  for (const auto& s : batch.streams) {
    auto* sa = req.add_streams();
    sa->set_labels(streams[s.stream].labels);
    for (const auto& [ts, line] : s.entries) {
      auto* e = sa->add_entries();
      e->mutable_timestamp()->set_seconds(ts / 1'000'000'000);
      e->mutable_timestamp()->set_nanos(static_cast<int32_t>(ts % 1'000'000'000));
      e->set_line(line);
    }
  }
  std::string raw = req.SerializeAsString();
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

std::string EncodeJson(const PushBatch& batch, const std::vector<StreamInfo>& streams) {
  std::string out;
  out.reserve(batch.raw_bytes + batch.lines * 32 + 256);
  out.append("{\"streams\":[");
  bool first_stream = true;
  for (const auto& s : batch.streams) {
    if (!first_stream) out.push_back(',');
    first_stream = false;
    const StreamInfo& info = streams[s.stream];
    // The labels as a JSON object, from the same values as the label string.
    fmt::format_to(
        std::back_inserter(out),
        R"({{"stream":{{"env":"{}","instance":"host-{:04}","job":"{}","level":"{}"}},"values":[)",
        info.labels.find("\"prod\"") != std::string::npos ? "prod" : "staging", info.instance,
        JobName(info.job), LevelName(info.level));
    bool first = true;
    for (const auto& [ts, line] : s.entries) {
      if (!first) out.push_back(',');
      first = false;
      fmt::format_to(std::back_inserter(out), "[\"{}\",\"", ts);
      AppendJsonEscaped(line, &out);
      out.append("\"]");
    }
    out.append("]}");
  }
  out.append("]}");
  return out;
}

SmallCorpus MakeSmallCorpus(uint64_t lines, uint32_t streams, uint32_t lines_per_request) {
  CorpusOptions opts;
  opts.lines = lines;
  opts.streams = streams;
  // Fixed, so micro-benchmarks are identical run to run: 2024-01-01T00:00:00Z.
  opts.end_ns = int64_t{1704067200} * 1'000'000'000;
  auto gen = CorpusGenerator::Create(opts);
  SmallCorpus c;
  if (!gen.ok()) return c;
  Batcher batcher(&*gen, lines_per_request);
  PushBatch b;
  while (batcher.Next(&b)) c.batches.push_back(std::move(b));
  c.streams = gen->streams();
  c.needle = std::string(gen->needle());
  c.marker = std::string(gen->marker());
  return c;
}

}  // namespace sluice::bench
