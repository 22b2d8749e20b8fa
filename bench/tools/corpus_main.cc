// sluice-bench-corpus: writes the benchmark corpus (see bench/lib/corpus.h) into a directory:
//
//   lines.txt    every line, newline-terminated, in timestamp order: the bytes the reference
//                tools (zstd, lz4, grep) are measured on
//   push.pb      the push requests, protobuf + snappy (bench/lib/request_file.h framing)
//   push.json    the same requests as JSON bodies (with --json)
//   corpus.json  what was generated: counts, sizes, time range, planted strings and how often
//                they occur, so queries can check their answers
//
//   sluice-bench-corpus --out DIR [--lines 1000000] [--streams 1000] [--tenants 2] [--seed 1]
//                       [--end-ns NS (default: now)] [--span-s 7200] [--lines-per-request 1000]
//                       [--json] [--input FILE]...

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "lib/corpus.h"
#include "lib/flags.h"
#include "lib/request_file.h"

using namespace sluice;
using namespace sluice::bench;

namespace {

int Fail(std::string_view msg) {
  std::cerr << "sluice-bench-corpus: " << msg << "\n";
  return 1;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags(argc, argv, {"json", "help"});
  const std::set<std::string> known = {"out",  "lines",  "streams", "tenants",
                                       "seed", "end-ns", "span-s",  "lines-per-request",
                                       "json", "input",  "help"};
  if (flags.GetBool("help") || !flags.Has("out")) {
    std::cerr
        << "usage: sluice-bench-corpus --out DIR [--lines N] [--streams N] [--tenants N] [--seed "
           "N]\n"
           "       [--end-ns NS] [--span-s S] [--lines-per-request N] [--json] [--input FILE]...\n";
    return flags.GetBool("help") ? 0 : 2;
  }
  if (auto unknown = flags.Unknown(known); !unknown.empty())
    return Fail("unknown flag --" + unknown[0]);

  CorpusOptions opts;
  opts.lines = static_cast<uint64_t>(flags.GetInt("lines", 1'000'000));
  opts.streams = static_cast<uint32_t>(flags.GetInt("streams", 1000));
  opts.tenants = static_cast<uint32_t>(flags.GetInt("tenants", 2));
  opts.seed = static_cast<uint64_t>(flags.GetInt("seed", 1));
  opts.span_ns = flags.GetInt("span-s", 7200) * 1'000'000'000;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  // Default end: now, rounded down to a second so that the file names a readable instant.
  opts.end_ns = flags.GetInt("end-ns", now - now % 1'000'000'000);
  opts.input_files = flags.GetAll("input");
  const auto per_request = static_cast<uint32_t>(flags.GetInt("lines-per-request", 1000));
  const bool json = flags.GetBool("json");

  auto gen = CorpusGenerator::Create(opts);
  if (!gen.ok()) return Fail(gen.status().message());

  std::filesystem::path dir = flags.Get("out");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail("cannot create " + dir.string() + ": " + ec.message());

  FILE* lines_file = std::fopen((dir / "lines.txt").c_str(), "wb");
  if (lines_file == nullptr) return Fail("cannot create lines.txt");
  auto pb = RequestFileWriter::Open(dir / "push.pb");
  if (!pb.ok()) return Fail(pb.status().message());
  std::optional<RequestFileWriter> js;
  if (json) {
    auto w = RequestFileWriter::Open(dir / "push.json");
    if (!w.ok()) return Fail(w.status().message());
    js.emplace(std::move(w).value());
  }

  uint64_t raw_bytes = 0, nlines = 0, requests = 0, pb_bytes = 0, json_bytes = 0;
  size_t min_len = SIZE_MAX, max_len = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_format, by_job, by_level;  // lines, bytes
  std::set<uint32_t> used_streams;
  int64_t first_ts = INT64_MAX, last_ts = INT64_MIN;
  const auto& streams = gen->streams();

  Batcher batcher(&*gen, per_request);
  PushBatch batch;
  auto on_line = [&](const CorpusLine& l) {
    std::fwrite(l.line.data(), 1, l.line.size(), lines_file);
    std::fputc('\n', lines_file);
    raw_bytes += l.line.size();
    ++nlines;
    min_len = std::min(min_len, l.line.size());
    max_len = std::max(max_len, l.line.size());
    const StreamInfo& s = streams[l.stream];
    for (auto* m : {&by_format, &by_job, &by_level}) {
      std::string key(m == &by_format ? JobFormat(s.job)
                      : m == &by_job  ? JobName(s.job)
                                      : LevelName(s.level));
      (*m)[key].first++;
      (*m)[key].second += l.line.size();
    }
    used_streams.insert(l.stream);
    first_ts = std::min(first_ts, l.timestamp_ns);
    last_ts = std::max(last_ts, l.timestamp_ns);
  };
  while (batcher.Next(&batch, on_line)) {
    std::string body = EncodeProtoSnappy(batch, streams);
    pb_bytes += body.size();
    if (Status st = pb->Append(batch.tenant, batch.lines, batch.raw_bytes, body); !st.ok()) {
      return Fail(st.message());
    }
    if (js) {
      body = EncodeJson(batch, streams);
      json_bytes += body.size();
      if (Status st = js->Append(batch.tenant, batch.lines, batch.raw_bytes, body); !st.ok()) {
        return Fail(st.message());
      }
    }
    ++requests;
  }
  if (std::fclose(lines_file) != 0) return Fail("cannot write lines.txt");
  if (Status st = pb->Close(); !st.ok()) return Fail(st.message());
  if (js) {
    if (Status st = js->Close(); !st.ok()) return Fail(st.message());
  }

  std::set<std::string> tenants;
  for (uint32_t i = 0; i < gen->num_instances(); ++i)
    tenants.insert(std::string(gen->TenantOfInstance(i)));
  auto breakdown = [](const std::map<std::string, std::pair<uint64_t, uint64_t>>& m) {
    std::string out = "{";
    for (const auto& [k, v] : m) {
      if (out.size() > 1) out += ", ";
      out += fmt::format("{}: {{\"lines\": {}, \"bytes\": {}}}", JsonString(k), v.first, v.second);
    }
    return out + "}";
  };
  std::string tenant_list;
  for (const auto& t : tenants) tenant_list += (tenant_list.empty() ? "" : ", ") + JsonString(t);

  std::string meta = fmt::format(
      "{{\n"
      "  \"synthetic\": {},\n  \"seed\": {},\n  \"lines\": {},\n  \"raw_bytes\": {},\n"
      "  \"lines_file_bytes\": {},\n  \"min_line_len\": {},\n  \"max_line_len\": {},\n"
      "  \"mean_line_len\": {:.1f},\n  \"streams\": {},\n  \"streams_with_lines\": {},\n"
      "  \"instances\": {},\n  \"tenants\": [{}],\n  \"start_ns\": {},\n  \"end_ns\": {},\n"
      "  \"lines_per_request\": {},\n  \"requests\": {},\n  \"push_pb_body_bytes\": {},\n"
      "  \"push_json_body_bytes\": {},\n  \"needle\": {},\n  \"needle_lines\": {},\n"
      "  \"absent_needle\": {},\n  \"marker\": {},\n  \"marker_lines\": {},\n"
      "  \"by_format\": {},\n  \"by_job\": {},\n  \"by_level\": {}\n}}\n",
      gen->synthetic(), opts.seed, nlines, raw_bytes, raw_bytes + nlines, min_len, max_len,
      nlines ? static_cast<double>(raw_bytes) / static_cast<double>(nlines) : 0.0, streams.size(),
      used_streams.size(), gen->num_instances(), tenant_list, first_ts, last_ts, per_request,
      requests, pb_bytes, json_bytes, JsonString(gen->needle()),
      gen->synthetic() ? std::to_string(gen->needle_lines()) : "null",
      JsonString(gen->absent_needle()), JsonString(gen->marker()),
      gen->synthetic() ? std::to_string(gen->marker_lines()) : "null", breakdown(by_format),
      breakdown(by_job), breakdown(by_level));
  std::ofstream(dir / "corpus.json") << meta;
  std::cout << meta;
  return 0;
}
