// sluice-bench-query: runs a set of LogQL queries over the whole corpus time range and prints a
// JSON array with, per query: HTTP status, wall time, the server's CPU time (from
// /proc/<pid>/stat when --pid is given), what came back (entries, series, points), whether
// that matches what the corpus holds, and the raw bytes the selector covers.
//
//   sluice-bench-query --corpus DIR/corpus.json --port 3100 [--host 127.0.0.1] [--pid PID]
//       [--repeat 3] [--only NAME]... [--list]
//
// The default set (see DefaultQueries) follows issue 4: a rare needle, an absent needle, a
// full-scan literal (a marker phrase present in every block), a plain selector, two label-only
// metric queries and two that parse JSON / logfmt and unwrap. Around each run it also reads the
// server's block counters from /metrics (sluice_query_blocks_*: blocks considered, skipped by
// bloom, decompressed, skipped by scan), outside the CPU measurement. A server that answers 400 to
// a query kind it does not implement yet is recorded as "supported": false, not as a failure.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "lib/flags.h"
#include "lib/http_client.h"

using namespace sluice;
using namespace sluice::bench;

namespace {

struct QueryDef {
  std::string name;
  std::string query;
  bool metric = false;
  uint32_t limit = 100;
  int64_t step_s = 60;
  int64_t expect = -1;         // entries (log queries) the answer must hold; -1: not checked
  uint64_t scanned_bytes = 0;  // raw bytes of the streams the selector covers
  std::string note;
};

struct Corpus {
  int64_t start_ns = 0, end_ns = 0;
  uint64_t raw_bytes = 0;
  std::string needle, absent_needle, marker;
  int64_t needle_lines = -1, marker_lines = -1;
  std::vector<std::string> tenants;
  std::map<std::string, uint64_t> job_bytes;
};

// simdjson lookups go through get() into named values: chained temporaries trip GCC 12's
// dangling-pointer warning inside simdjson's headers.
template <typename T>
bool Field(simdjson::dom::element e, std::string_view key, T* out) {
  simdjson::dom::object o;
  simdjson::dom::element v;
  return e.get_object().get(o) == simdjson::SUCCESS && o.at_key(key).get(v) == simdjson::SUCCESS &&
         v.get(*out) == simdjson::SUCCESS;
}

Result<Corpus> LoadCorpus(const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.load(path).get(doc) != simdjson::SUCCESS)
    return Status::IOError("cannot parse " + path);
  Corpus c;
  std::string_view sv;
  bool ok = Field(doc, "start_ns", &c.start_ns) && Field(doc, "end_ns", &c.end_ns) &&
            Field(doc, "raw_bytes", &c.raw_bytes);
  if (!ok) return Status::Corruption(path + ": missing start_ns, end_ns or raw_bytes");
  if (Field(doc, "needle", &sv)) c.needle = std::string(sv);
  if (Field(doc, "absent_needle", &sv)) c.absent_needle = std::string(sv);
  if (Field(doc, "marker", &sv)) c.marker = std::string(sv);
  int64_t v;
  if (Field(doc, "needle_lines", &v)) c.needle_lines = v;
  if (Field(doc, "marker_lines", &v)) c.marker_lines = v;
  simdjson::dom::array tenants;
  if (Field(doc, "tenants", &tenants)) {
    for (simdjson::dom::element t : tenants) {
      if (t.get(sv) == simdjson::SUCCESS) c.tenants.emplace_back(sv);
    }
  }
  simdjson::dom::object jobs;
  if (Field(doc, "by_job", &jobs)) {
    for (auto kv : jobs) {
      uint64_t bytes = 0;
      if (Field(kv.value, "bytes", &bytes)) c.job_bytes[std::string(kv.key)] = bytes;
    }
  }
  return c;
}

std::vector<QueryDef> DefaultQueries(const Corpus& c) {
  const std::string all = R"({env=~"prod|staging"})";
  uint64_t json_bytes =
      c.job_bytes.count("api") ? c.job_bytes.at("api") + c.job_bytes.at("checkout") : 0;
  uint64_t logfmt_bytes = c.job_bytes.count("worker") ? c.job_bytes.at("worker") : 0;
  auto expect_le = [](int64_t n, uint32_t limit) {
    return n < 0 ? -1 : std::min<int64_t>(n, limit);
  };
  std::vector<QueryDef> q;
  q.push_back({"needle_rare", fmt::format(R"({} |= "{}")", all, c.needle), false, 100, 0,
               expect_le(c.needle_lines, 100), c.raw_bytes, "a trace id in 3 lines"});
  q.push_back({"needle_absent", fmt::format(R"({} |= "{}")", all, c.absent_needle), false, 100, 0,
               0, c.raw_bytes, "a trace id in no line"});
  q.push_back({"scan_literal", fmt::format(R"({} |= "{}")", all, c.marker), false, 10000, 0,
               expect_le(c.marker_lines, 10000), c.raw_bytes,
               "a phrase in every block: no block can be skipped"});
  q.push_back({"selector_tail", R"({env="prod", job="api"})", false, 1000, 0, 1000, 0,
               "the newest 1,000 lines of a few streams"});
  q.push_back({"metric_count_by_level",
               fmt::format("sum by (level) (count_over_time({}[1m]))", all), true, 0, 60, -1,
               c.raw_bytes, "label-only"});
  q.push_back({"metric_rate_by_job", fmt::format("sum by (job) (rate({}[5m]))", all), true, 0, 60,
               -1, c.raw_bytes, "label-only"});
  q.push_back(
      {"metric_json_quantile",
       R"(quantile_over_time(0.99, {job=~"api|checkout"} | json | unwrap duration_ms [5m]) by (job))",
       true, 0, 60, -1, json_bytes, "json parse + unwrap"});
  q.push_back(
      {"metric_logfmt_quantile",
       R"(quantile_over_time(0.9, {job="worker"} | logfmt | unwrap duration_ms [5m]) by (queue))",
       true, 0, 60, -1, logfmt_bytes, "logfmt parse + unwrap"});
  return q;
}

// utime + stime of a process in seconds, or -1.
double ProcessCpuSeconds(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t rparen = s.rfind(')');
  if (rparen == std::string::npos) return -1;
  std::istringstream fields(s.substr(rparen + 2));
  std::string f;
  // Fields after the command: state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime(14) stime(15).
  std::vector<std::string> v;
  while (v.size() < 13 && fields >> f) v.push_back(f);
  if (v.size() < 13) return -1;
  return static_cast<double>(std::stoll(v[11]) + std::stoll(v[12])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Outcome {
  int status = 0;
  std::string error;
  int64_t entries = 0, series = 0, points = 0;
  uint64_t bytes_processed = 0;
};

Outcome Inspect(int status, const std::string& body) {
  Outcome o;
  o.status = status;
  if (status != 200) {
    o.error = body.substr(0, 300);
    return o;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) {
    o.error = "response is not JSON";
    return o;
  }
  simdjson::dom::element data, stats, summary;
  simdjson::dom::array result;
  if (Field(doc, "data", &data) && Field(data, "result", &result)) {
    std::string_view type;
    (void)Field(data, "resultType", &type);
    for (simdjson::dom::element r : result) {
      o.series++;
      simdjson::dom::array values;
      if (Field(r, "values", &values)) {
        (type == "streams" ? o.entries : o.points) += static_cast<int64_t>(values.size());
      } else {
        o.points++;  // a vector sample
      }
    }
  }
  uint64_t b = 0;
  if (Field(doc, "data", &data) && Field(data, "stats", &stats) &&
      Field(stats, "summary", &summary) && Field(summary, "totalBytesProcessed", &b)) {
    o.bytes_processed = b;
  }
  return o;
}

// The sluice_query_blocks_* counters of a /metrics page (an empty map when unreachable).
std::map<std::string, double> BlockCounters(HttpConnection& conn) {
  std::map<std::string, double> out;
  auto resp = conn.Do("GET", "/metrics", {}, "");
  if (!resp.ok() || resp->status != 200) return out;
  std::istringstream lines(resp->body);
  std::string line;
  constexpr std::string_view kPrefix = "sluice_query_blocks_";
  while (std::getline(lines, line)) {
    if (line.rfind(kPrefix, 0) != 0) continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(kPrefix.size(), space - kPrefix.size())] += std::atof(line.c_str() + space + 1);
  }
  return out;
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags(argc, argv, {"list", "help"});
  const std::set<std::string> known = {"corpus", "host", "port", "pid",
                                       "repeat", "only", "list", "help"};
  if (flags.GetBool("help") || !flags.Has("corpus")) {
    std::cerr << "usage: sluice-bench-query --corpus corpus.json --port P [--host H] [--pid PID] "
                 "[--repeat N]\n"
                 "       [--only NAME]... [--list]\n";
    return flags.GetBool("help") ? 0 : 2;
  }
  if (auto unknown = flags.Unknown(known); !unknown.empty()) {
    std::cerr << "sluice-bench-query: unknown flag --" << unknown[0] << "\n";
    return 2;
  }
  auto corpus = LoadCorpus(flags.Get("corpus"));
  if (!corpus.ok()) {
    std::cerr << "sluice-bench-query: " << corpus.status().message() << "\n";
    return 1;
  }
  auto queries = DefaultQueries(*corpus);
  if (flags.GetBool("list")) {
    for (const auto& q : queries) std::cout << q.name << "\t" << q.query << "\n";
    return 0;
  }
  auto only = flags.GetAll("only");
  const int pid = static_cast<int>(flags.GetInt("pid", 0));
  const int repeat = std::max<int>(1, static_cast<int>(flags.GetInt("repeat", 3)));
  std::string tenants;
  for (const auto& t : corpus->tenants) tenants += (tenants.empty() ? "" : "|") + t;

  HttpConnection conn(flags.Get("host", "127.0.0.1"), static_cast<int>(flags.GetInt("port", 3100)),
                      600'000);
  std::cout << "[\n";
  bool first_out = true;
  for (const auto& q : queries) {
    if (!only.empty() && std::find(only.begin(), only.end(), q.name) == only.end()) continue;
    std::string target = fmt::format("/loki/api/v1/query_range?query={}&start={}&end={}",
                                     UrlEncode(q.query), corpus->start_ns, corpus->end_ns + 1);
    if (q.metric) {
      target += fmt::format("&step={}", q.step_s);
    } else {
      target += fmt::format("&limit={}&direction=backward", q.limit);
    }
    std::vector<double> walls, cpus;
    Outcome last;
    std::map<std::string, double> blocks;  // the last run's counter increments
    for (int i = 0; i < repeat; ++i) {
      std::map<std::string, double> before = BlockCounters(conn);
      double cpu0 = pid > 0 ? ProcessCpuSeconds(pid) : -1;
      auto t0 = std::chrono::steady_clock::now();
      auto resp = conn.Do("GET", target, {{"X-Scope-OrgID", tenants}}, "");
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double cpu1 = pid > 0 ? ProcessCpuSeconds(pid) : -1;
      if (!resp.ok()) {
        last = Outcome{};
        last.error = resp.status().message();
        break;
      }
      last = Inspect(resp->status, resp->body);
      blocks = BlockCounters(conn);
      for (auto& [name, v] : blocks) v -= before[name];
      walls.push_back(wall);
      if (pid > 0) cpus.push_back(cpu1 - cpu0);
      if (last.status != 200) break;  // an unsupported query fails the same way every time
    }
    auto median = [](std::vector<double> v) {
      if (v.empty()) return -1.0;
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    double cpu_mean = -1;
    if (!cpus.empty()) {
      double s = 0;
      for (double c : cpus) s += c;
      cpu_mean = s / static_cast<double>(cpus.size());
    }
    bool supported = last.status == 200;
    std::string correct = "null";
    if (supported && q.expect >= 0) correct = last.entries == q.expect ? "true" : "false";
    std::string block_fields;
    for (const auto& [name, v] : blocks) {
      block_fields += fmt::format("{}\"{}\": {:.0f}", block_fields.empty() ? "" : ", ", name, v);
    }
    std::cout
        << (first_out ? "" : ",\n")
        << fmt::format(
               "  {{\"name\": \"{}\", \"query\": \"{}\", \"metric\": {}, \"note\": \"{}\", "
               "\"status\": {}, "
               "\"supported\": {}, \"error\": \"{}\", \"runs\": {}, \"wall_s_median\": {:.4f}, "
               "\"server_cpu_s_mean\": {:.4f}, \"entries\": {}, \"series\": {}, \"points\": {}, "
               "\"expected_entries\": {}, \"correct\": {}, \"scanned_bytes\": {}, "
               "\"stats_bytes_processed\": {}, \"blocks\": {{{}}}}}",
               q.name, Escape(q.query), q.metric, q.note, last.status, supported,
               Escape(last.error), walls.size(), median(walls), cpu_mean, last.entries, last.series,
               last.points, q.expect, correct, q.scanned_bytes, last.bytes_processed, block_fields);
    first_out = false;
    std::cout.flush();
  }
  std::cout << "\n]\n";
  return 0;
}
