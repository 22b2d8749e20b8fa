#pragma once

// Shared fixtures for the micro-benchmarks: one small deterministic corpus (bench/lib/corpus.h),
// built once per process and shared read-only, and helpers that turn it into the inputs each hot
// path takes (bodies, validated streams, blocks, chunks).

#include <filesystem>
#include <string>
#include <vector>

#include "chunk/block.h"
#include "chunk/chunk.h"
#include "config/overrides.h"
#include "distributor/distributor.h"
#include "ingester/ingester.h"
#include "lib/corpus.h"
#include "model/entry.h"
#include "storage/index/index_writer.h"
#include "storage/object_store.h"

namespace sluice::bench::micro {

// 100,000 lines over 1,000 streams in requests of 1,000 lines (about 21 MB raw).
const SmallCorpus& Corpus();

// The lines of the whole corpus as one stream's entries (ascending timestamps).
const std::vector<model::Entry>& AllEntries();
// Entries of one job's format: "nginx", "json" or "logfmt".
const std::vector<model::Entry>& EntriesOfFormat(std::string_view format);
uint64_t RawBytes(const std::vector<model::Entry>& entries);

// The first `n` requests as request bodies.
std::vector<std::string> ProtoBodies(size_t n);
std::vector<std::string> JsonBodies(size_t n);
uint64_t RawBytesOfBatches(size_t n);
uint64_t LinesOfBatches(size_t n);

// Blocks of ~256KB raw cut from `entries`, compressed with `codec`.
std::vector<chunk::Block> MakeBlocks(const std::vector<model::Entry>& entries, chunk::Codec codec);

// A directory under $TMPDIR removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A distributor and an ingester over a temporary directory, wired as the server wires them,
// with limits that never throttle (and old samples accepted: the corpus is dated 2024).
// The WAL, when on, uses fsync=never.
struct InProcessServer {
  explicit InProcessServer(bool wal);
  ~InProcessServer();
  static config::Limits Limits();
  // Pushes the corpus' first `n` requests (all when n is 0).
  Status PushCorpus(size_t n = 0);

  TempDir dir;
  config::Overrides overrides;
  storage::ObjectStorePtr store;
  std::unique_ptr<storage::index::IndexWriter> index_writer;
  std::unique_ptr<ingester::Ingester> ing;
  std::unique_ptr<distributor::Distributor> dist;
  Status start_status;
};

}  // namespace sluice::bench::micro
