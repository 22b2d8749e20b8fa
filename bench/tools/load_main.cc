// sluice-bench-load: pushes a pre-encoded request file (sluice-bench-corpus) over HTTP with N
// keep-alive connections and prints a JSON summary: lines/s, raw bytes/s, status counts and
// latency percentiles.
//
//   sluice-bench-load --file push.pb --port 3100 [--host 127.0.0.1] [--connections 4]
//       [--content-type application/x-protobuf] [--rate REQ_PER_S (0: as fast as possible)]
//       [--first I] [--count N] [--max-seconds 600] [--path /loki/api/v1/push]
//
// Requests first..first+count-1 are sent in file order, each once (so every line is pushed
// exactly once). With --rate, request k is due at start + k/rate (an open-loop schedule);
// `latency` is measured from the send, `latency_from_schedule` from the due time, which also
// counts the time a request waited behind slow ones. The run stops after --max-seconds
// whatever is left.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "lib/flags.h"
#include "lib/http_client.h"
#include "lib/request_file.h"

using namespace sluice;
using namespace sluice::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct ThreadResult {
  std::vector<int64_t> latency_ns, from_schedule_ns;
  std::map<std::string, uint64_t> statuses;
  uint64_t ok_lines = 0, ok_raw_bytes = 0, body_bytes = 0, sent = 0;
  std::string first_error;
};

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t idx = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(idx), v.end());
  return static_cast<double>(v[idx]) / 1e6;
}

std::string LatencyJson(std::vector<int64_t> v) {
  if (v.empty()) return "null";
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  double mean = sum / static_cast<double>(v.size()) / 1e6;
  double mx = static_cast<double>(*std::max_element(v.begin(), v.end())) / 1e6;
  return fmt::format(
      R"({{"p50": {:.3f}, "p90": {:.3f}, "p99": {:.3f}, "p999": {:.3f}, "max": {:.3f}, "mean": {:.3f}}})",
      Percentile(v, 0.50), Percentile(v, 0.90), Percentile(v, 0.99), Percentile(v, 0.999), mx,
      mean);
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 300)) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags(argc, argv, {"help"});
  const std::set<std::string> known = {"file",         "host", "port",  "connections",
                                       "content-type", "rate", "first", "count",
                                       "max-seconds",  "path", "help"};
  if (flags.GetBool("help") || !flags.Has("file") || !flags.Has("port")) {
    std::cerr << "usage: sluice-bench-load --file push.pb --port P [--host H] [--connections N]\n"
                 "       [--content-type T] [--rate R] [--first I] [--count N] [--max-seconds S] "
                 "[--path P]\n";
    return flags.GetBool("help") ? 0 : 2;
  }
  if (auto unknown = flags.Unknown(known); !unknown.empty()) {
    std::cerr << "sluice-bench-load: unknown flag --" << unknown[0] << "\n";
    return 2;
  }
  auto file = ReadRequestFile(flags.Get("file"));
  if (!file.ok()) {
    std::cerr << "sluice-bench-load: " << file.status().message() << "\n";
    return 1;
  }
  const std::string host = flags.Get("host", "127.0.0.1");
  const int port = static_cast<int>(flags.GetInt("port", 3100));
  const int connections = std::max<int>(1, static_cast<int>(flags.GetInt("connections", 4)));
  const std::string content_type = flags.Get("content-type", "application/x-protobuf");
  const std::string path = flags.Get("path", "/loki/api/v1/push");
  const double rate = flags.GetDouble("rate", 0);
  const size_t total = file->frames.size();
  const size_t first = std::min<size_t>(total, static_cast<size_t>(flags.GetInt("first", 0)));
  const size_t count = std::min<size_t>(
      total - first, static_cast<size_t>(flags.GetInt("count", static_cast<int64_t>(total))));
  const auto max_duration = std::chrono::duration<double>(flags.GetDouble("max-seconds", 600));

  std::atomic<size_t> next{0};
  std::vector<ThreadResult> results(static_cast<size_t>(connections));
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(max_duration);
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      ThreadResult& r = results[static_cast<size_t>(t)];
      HttpConnection conn(host, port);
      while (true) {
        size_t k = next.fetch_add(1);
        if (k >= count) break;
        Clock::time_point due = start;
        if (rate > 0) {
          due = start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(static_cast<double>(k) / rate));
          if (due > deadline) break;
          std::this_thread::sleep_until(due);
        }
        if (Clock::now() > deadline) break;
        const RequestFrame& f = file->frames[first + k];
        HttpHeaders headers = {{"Content-Type", content_type}, {"X-Scope-OrgID", f.tenant}};
        auto sent_at = Clock::now();
        auto resp = conn.Do("POST", path, headers, f.body);
        auto done = Clock::now();
        ++r.sent;
        r.body_bytes += f.body.size();
        if (!resp.ok()) {
          r.statuses["io_error"]++;
          if (r.first_error.empty()) r.first_error = resp.status().message();
          continue;
        }
        r.statuses[std::to_string(resp->status)]++;
        if (resp->status / 100 == 2) {
          r.ok_lines += f.lines;
          r.ok_raw_bytes += f.raw_bytes;
          r.latency_ns.push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(done - sent_at).count());
          if (rate > 0) {
            r.from_schedule_ns.push_back(
                std::chrono::duration_cast<std::chrono::nanoseconds>(done - due).count());
          }
        } else if (r.first_error.empty()) {
          r.first_error = fmt::format("{}: {}", resp->status, resp->body);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  ThreadResult all;
  for (auto& r : results) {
    all.latency_ns.insert(all.latency_ns.end(), r.latency_ns.begin(), r.latency_ns.end());
    all.from_schedule_ns.insert(all.from_schedule_ns.end(), r.from_schedule_ns.begin(),
                                r.from_schedule_ns.end());
    for (const auto& [k, v] : r.statuses) all.statuses[k] += v;
    all.ok_lines += r.ok_lines;
    all.ok_raw_bytes += r.ok_raw_bytes;
    all.body_bytes += r.body_bytes;
    all.sent += r.sent;
    if (all.first_error.empty()) all.first_error = r.first_error;
  }
  std::string statuses;
  for (const auto& [k, v] : all.statuses)
    statuses += fmt::format("{}\"{}\": {}", statuses.empty() ? "" : ", ", k, v);
  uint64_t ok_requests = all.latency_ns.size();
  std::cout << fmt::format(
      "{{\"requests_planned\": {}, \"requests_sent\": {}, \"requests_ok\": {}, \"statuses\": "
      "{{{}}},\n"
      " \"lines_ok\": {}, \"raw_bytes_ok\": {}, \"body_bytes_sent\": {}, \"elapsed_s\": {:.3f},\n"
      " \"requests_per_s\": {:.2f}, \"lines_per_s\": {:.0f}, \"raw_mb_per_s\": {:.2f}, "
      "\"connections\": {},\n"
      " \"rate\": {}, \"latency_ms\": {},\n \"latency_from_schedule_ms\": {},\n \"first_error\": "
      "\"{}\"}}\n",
      count, all.sent, ok_requests, statuses, all.ok_lines, all.ok_raw_bytes, all.body_bytes,
      elapsed, static_cast<double>(ok_requests) / elapsed,
      static_cast<double>(all.ok_lines) / elapsed,
      static_cast<double>(all.ok_raw_bytes) / elapsed / 1e6, connections, rate,
      LatencyJson(all.latency_ns), LatencyJson(all.from_schedule_ns), Escape(all.first_error));
  return 0;
}
