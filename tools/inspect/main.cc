// sluice-inspect: read-only dumps of sluice's on-disk formats, for debugging and for checking
// what a crash left behind (LevelDB's leveldbutil plays this role there).
//
//   sluice-inspect wal FILE...      records of WAL segments or checkpoints (never truncates)
//   sluice-inspect chunk FILE...    a chunk's labels, blocks and (with -v) entries
//   sluice-inspect index FILE...    an index file's series and chunk refs

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chunk/chunk.h"
#include "common/duration.h"
#include "ingester/wal/format.h"
#include "ingester/wal/reader.h"
#include "storage/index/format.h"

namespace sluice {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int DumpWal(const std::string& path, bool verbose) {
  auto reader = wal::RecordReader::Open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), reader.status().ToString().c_str());
    return 1;
  }
  wal::SeriesDecoder series;
  wal::EntriesDecoder entries;
  uint64_t records = 0;
  while (true) {
    auto outcome = (*reader)->Next();
    if (!outcome.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), outcome.status().ToString().c_str());
      return 1;
    }
    if (*outcome == wal::RecordReader::Outcome::kEof) break;
    if (*outcome == wal::RecordReader::Outcome::kCorrupt) {
      std::printf("corrupt at offset %llu: %s (a replay truncates the file here)\n",
                  static_cast<unsigned long long>((*reader)->good_offset()),
                  (*reader)->corruption().c_str());
      break;
    }
    ++records;
    auto type = static_cast<wal::RecordType>((*reader)->type());
    std::printf("@%llu ", static_cast<unsigned long long>((*reader)->record_offset()));
    if (type == wal::RecordType::kSeries && series.Decode((*reader)->payload()).ok()) {
      std::printf("series tenant=%.*s\n", static_cast<int>(series.tenant().size()),
                  series.tenant().data());
      for (const auto& s : series.series()) {
        std::printf("  ref=%016llx %.*s\n", static_cast<unsigned long long>(s.ref),
                    static_cast<int>(s.labels.size()), s.labels.data());
      }
    } else if (type == wal::RecordType::kEntries && entries.Decode((*reader)->payload()).ok()) {
      std::printf("entries tenant=%.*s count=%zu\n", static_cast<int>(entries.tenant().size()),
                  entries.tenant().data(), entries.num_entries());
      for (const auto& g : entries.groups()) {
        std::printf("  ref=%016llx entries=%zu\n", static_cast<unsigned long long>(g.ref),
                    g.entries.size());
        if (!verbose) continue;
        for (const auto& e : g.entries) {
          std::printf("    %s %s\n", FormatRfc3339Nano(e.timestamp_ns).c_str(), e.line.c_str());
        }
      }
    } else {
      std::printf("record type=%d (undecodable payload of %zu bytes)\n", static_cast<int>(type),
                  (*reader)->payload().size());
    }
  }
  std::printf("%llu records\n", static_cast<unsigned long long>(records));
  return 0;
}

int DumpChunk(const std::string& path, bool verbose) {
  auto data = ReadFile(path);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  size_t size = data->size();
  auto chunk = chunk::Chunk::Decode(std::move(data).value());
  if (!chunk.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), chunk.status().ToString().c_str());
    return 1;
  }
  auto meta = chunk->meta();
  std::printf("labels %s\nentries %u raw_bytes %llu stored_bytes %zu\nfrom %s\nthrough %s\n",
              chunk->labels().ToString().c_str(), meta.num_entries,
              static_cast<unsigned long long>(meta.raw_bytes), size,
              FormatRfc3339Nano(meta.min_ts).c_str(), FormatRfc3339Nano(meta.max_ts).c_str());
  for (size_t i = 0; i < chunk->blocks().size(); ++i) {
    const auto& b = chunk->blocks()[i];
    std::printf(
        "block %zu: entries=%u raw=%u (heads %u) compressed=%zu (heads %u) bloom=%zu codec=%.*s %s "
        ".. %s\n",
        i, b.num_entries, b.raw_len, b.heads_raw_len, b.data.size(), b.heads_len, b.bloom.size(),
        static_cast<int>(chunk::CodecName(b.codec).size()), chunk::CodecName(b.codec).data(),
        FormatRfc3339Nano(b.min_ts).c_str(), FormatRfc3339Nano(b.max_ts).c_str());
  }
  if (verbose) {
    auto it = chunk->Iterator(INT64_MIN, INT64_MAX, model::Direction::kForward);
    while (it->Next())
      std::printf("  %s %s\n", FormatRfc3339Nano(it->At().timestamp_ns).c_str(),
                  it->At().line.c_str());
    if (!it->Error().ok()) std::printf("error: %s\n", it->Error().ToString().c_str());
  }
  return 0;
}

int DumpIndex(const std::string& path) {
  auto data = ReadFile(path);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  auto file = storage::index::DecodeIndexFile(*data);
  if (!file.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), file.status().ToString().c_str());
    return 1;
  }
  std::printf("tenant %s period %lld series %zu\n", file->tenant.c_str(),
              static_cast<long long>(file->period), file->series.size());
  for (const auto& s : file->series) {
    std::printf("%s\n", s.labels.ToString().c_str());
    for (const auto& c : s.chunks) {
      std::printf("  %s entries=%u raw=%llu stored=%llu %s .. %s\n", c.key.c_str(), c.num_entries,
                  static_cast<unsigned long long>(c.raw_bytes),
                  static_cast<unsigned long long>(c.stored_bytes),
                  FormatRfc3339Nano(c.from_ns).c_str(), FormatRfc3339Nano(c.through_ns).c_str());
    }
  }
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool verbose = false;
  std::erase_if(args, [&](const std::string& a) { return a == "-v" ? (verbose = true) : false; });
  if (args.size() < 2) {
    std::fprintf(stderr, "usage: sluice-inspect [-v] wal|chunk|index FILE...\n");
    return 2;
  }
  int rc = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args.size() > 2) std::printf("== %s\n", args[i].c_str());
    if (args[0] == "wal") {
      rc |= sluice::DumpWal(args[i], verbose);
    } else if (args[0] == "chunk") {
      rc |= sluice::DumpChunk(args[i], verbose);
    } else if (args[0] == "index") {
      rc |= sluice::DumpIndex(args[i]);
    } else {
      std::fprintf(stderr, "unknown format %s: want wal, chunk or index\n", args[0].c_str());
      return 2;
    }
  }
  return rc;
}
