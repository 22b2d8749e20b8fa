#include "micro/micro_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "config/config.h"
#include "http/push/push_decoder.h"
#include "storage/filesystem_store.h"

namespace sluice::bench::micro {

namespace {
// The ingester and the WAL log every replay and checkpoint at info: noise between results.
const bool kQuiet = [] {
  spdlog::set_level(spdlog::level::warn);
  return true;
}();
}  // namespace

const SmallCorpus& Corpus() {
  static const SmallCorpus corpus = MakeSmallCorpus(100'000);
  return corpus;
}

const std::vector<model::Entry>& AllEntries() {
  static const std::vector<model::Entry> entries = [] {
    std::vector<model::Entry> out;
    for (const auto& b : Corpus().batches) {
      for (const auto& s : b.streams) {
        for (const auto& [ts, line] : s.entries) out.push_back(model::Entry{ts, line, {}});
      }
    }
    std::stable_sort(out.begin(), out.end(), [](const model::Entry& a, const model::Entry& b) {
      return a.timestamp_ns < b.timestamp_ns;
    });
    return out;
  }();
  return entries;
}

const std::vector<model::Entry>& EntriesOfFormat(std::string_view format) {
  static const std::map<std::string, std::vector<model::Entry>, std::less<>> by_format = [] {
    std::map<std::string, std::vector<model::Entry>, std::less<>> out;
    const auto& c = Corpus();
    for (const auto& b : c.batches) {
      for (const auto& s : b.streams) {
        auto& v = out[std::string(JobFormat(c.streams[s.stream].job))];
        for (const auto& [ts, line] : s.entries) v.push_back(model::Entry{ts, line, {}});
      }
    }
    for (auto& [k, v] : out) {
      std::stable_sort(v.begin(), v.end(), [](const model::Entry& a, const model::Entry& b) {
        return a.timestamp_ns < b.timestamp_ns;
      });
    }
    return out;
  }();
  static const std::vector<model::Entry> empty;
  auto it = by_format.find(format);
  return it == by_format.end() ? empty : it->second;
}

uint64_t RawBytes(const std::vector<model::Entry>& entries) {
  uint64_t n = 0;
  for (const auto& e : entries) n += e.line.size();
  return n;
}

std::vector<std::string> ProtoBodies(size_t n) {
  const auto& c = Corpus();
  std::vector<std::string> out;
  for (size_t i = 0; i < n && i < c.batches.size(); ++i)
    out.push_back(EncodeProtoSnappy(c.batches[i], c.streams));
  return out;
}

std::vector<std::string> JsonBodies(size_t n) {
  const auto& c = Corpus();
  std::vector<std::string> out;
  for (size_t i = 0; i < n && i < c.batches.size(); ++i)
    out.push_back(EncodeJson(c.batches[i], c.streams));
  return out;
}

uint64_t RawBytesOfBatches(size_t n) {
  uint64_t total = 0;
  const auto& c = Corpus();
  for (size_t i = 0; i < n && i < c.batches.size(); ++i) total += c.batches[i].raw_bytes;
  return total;
}

uint64_t LinesOfBatches(size_t n) {
  uint64_t total = 0;
  const auto& c = Corpus();
  for (size_t i = 0; i < n && i < c.batches.size(); ++i) total += c.batches[i].lines;
  return total;
}

std::vector<chunk::Block> MakeBlocks(const std::vector<model::Entry>& entries, chunk::Codec codec) {
  std::vector<chunk::Block> out;
  chunk::BlockBuilder b;
  for (const auto& e : entries) {
    b.Append(e.timestamp_ns, e.line, e.metadata);
    if (b.raw_bytes() >= chunk::kTargetBlockRawSize) out.push_back(b.Finish(codec));
  }
  if (!b.empty()) out.push_back(b.Finish(codec));
  return out;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TMPDIR");
  path_ = std::filesystem::path(tmp != nullptr ? tmp : "/tmp") /
          fmt::format("sluice-bench-{}-{}", getpid(), counter.fetch_add(1));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

InProcessServer::InProcessServer(bool wal) : overrides(Limits(), "", 0) {
  config::Config c;
  c.common.path_prefix = dir.path().string();
  c.ingester.wal.enabled = wal;
  c.ingester.wal.fsync = "never";
  start_status = c.Finalize();
  if (!start_status.ok()) return;
  store = storage::NewFilesystemStore(c.storage.chunks_directory);
  index_writer = std::make_unique<storage::index::IndexWriter>(store.get(), "bench");
  ing = std::make_unique<ingester::Ingester>(c.ingester, &overrides, store.get(),
                                             index_writer.get(), SystemClock::Default());
  start_status = ing->Start();
  dist = std::make_unique<distributor::Distributor>(&overrides, ing.get(), SystemClock::Default());
}

InProcessServer::~InProcessServer() {
  if (ing) (void)ing->Shutdown(false);
}

config::Limits InProcessServer::Limits() {
  config::Limits l;
  l.ingestion_rate_mb = 1e9;
  l.ingestion_burst_size_mb = 1e9;
  l.per_stream_rate_limit = 1ull << 40;
  l.per_stream_rate_limit_burst = 1ull << 40;
  l.max_global_streams_per_user = 0;
  l.reject_old_samples = false;
  l.max_entries_limit_per_query = 1'000'000;
  l.max_query_series = 100'000;
  return l;
}

Status InProcessServer::PushCorpus(size_t n) {
  const auto& c = Corpus();
  if (n == 0 || n > c.batches.size()) n = c.batches.size();
  http::PushDecodeOptions opts;
  for (size_t i = 0; i < n; ++i) {
    std::string body = EncodeProtoSnappy(c.batches[i], c.streams);
    auto req = http::DecodePush(body, "application/x-protobuf", "", opts);
    if (!req.ok()) return req.status();
    SLUICE_RETURN_IF_ERROR(dist->Push(c.batches[i].tenant, *req));
  }
  return Status::OK();
}

}  // namespace sluice::bench::micro
