#pragma once

// Helpers shared by the WAL tests (header-only, test code only).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <csignal>

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <spdlog/spdlog.h>

#include "ingester/wal/reader.h"
#include "model/entry.h"

namespace sluice::wal::testing {

// While alive, writes past `bytes` of any file of this process fail with EFBIG: a full disk for
// the WAL's and the checkpoint's files alike. SIGXFSZ, which would end the process, is ignored.
class ScopedFileSizeLimit {
 public:
  explicit ScopedFileSizeLimit(rlim_t bytes) {
    signal(SIGXFSZ, SIG_IGN);
    EXPECT_EQ(getrlimit(RLIMIT_FSIZE, &saved_), 0);
    rlimit small = saved_;
    small.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  }
  ~ScopedFileSizeLimit() { EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &saved_), 0); }
  ScopedFileSizeLimit(const ScopedFileSizeLimit&) = delete;
  ScopedFileSizeLimit& operator=(const ScopedFileSizeLimit&) = delete;

 private:
  rlimit saved_{};
};

// A fresh directory, removed with everything in it at scope exit.
class TempDir {
 public:
  // prefer_memory: under /dev/shm when there is one, for tests that make hundreds of
  // directories and fsyncs but test no durability.
  explicit TempDir(bool prefer_memory = false) {
    std::string base = ::testing::TempDir();
    if (prefer_memory && std::filesystem::is_directory("/dev/shm")) {
      base = "/dev/shm/";
    }
    std::string tmpl = base + "sluice_wal_XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// Silences the expected warnings of corruption tests while in scope.
class QuietLogs {
 public:
  QuietLogs() : saved_(spdlog::get_level()) { spdlog::set_level(spdlog::level::err); }
  ~QuietLogs() { spdlog::set_level(saved_); }

 private:
  spdlog::level::level_enum saved_;
};

// Views of `entries`, as the write path passes them to the WAL (valid while `entries` lives).
inline std::vector<model::EntryView> Views(const std::vector<model::Entry>& entries) {
  std::vector<model::EntryView> out;
  for (const auto& e : entries) out.push_back(model::EntryView::Of(e));
  return out;
}

inline model::Entry MakeEntry(int64_t ts, std::string line,
                              std::vector<model::Label> metadata = {}) {
  return model::Entry{ts, std::move(line), std::move(metadata)};
}

// Records every callback, in order.
class RecordingHandler : public ReplayHandler {
 public:
  struct Event {
    bool series;
    std::string tenant;
    uint64_t ref;
    std::string labels;                 // series
    std::vector<model::Entry> entries;  // entries
  };

  void OnSeries(std::string_view tenant, uint64_t ref, std::string_view labels) override {
    events.push_back({true, std::string(tenant), ref, std::string(labels), {}});
    labels_[{std::string(tenant), ref}] = std::string(labels);
  }
  void OnEntries(std::string_view tenant, uint64_t ref,
                 std::span<const model::Entry> entries) override {
    // Each segment is self-contained: a series record always comes first.
    EXPECT_TRUE(labels_.contains({std::string(tenant), ref}))
        << "entries before series for " << tenant << "/" << ref;
    events.push_back({false, std::string(tenant), ref, {}, {entries.begin(), entries.end()}});
    auto& all = entries_[{std::string(tenant), ref}];
    all.insert(all.end(), entries.begin(), entries.end());
  }

  // All entries of a stream, in replay order.
  const std::vector<model::Entry>& Entries(const std::string& tenant, uint64_t ref) {
    return entries_[{tenant, ref}];
  }
  std::string Labels(const std::string& tenant, uint64_t ref) { return labels_[{tenant, ref}]; }
  size_t NumStreams() const { return entries_.size(); }
  size_t NumEntries() const {
    size_t n = 0;
    for (const auto& [key, v] : entries_) {
      n += v.size();
    }
    return n;
  }

  std::vector<Event> events;

 private:
  std::map<std::tuple<std::string, uint64_t>, std::string> labels_;
  std::map<std::tuple<std::string, uint64_t>, std::vector<model::Entry>> entries_;
};

}  // namespace sluice::wal::testing
