// Reads that skip work (required literals, timestamps-only reads) must give exactly the answer
// of the full read. Randomised data with duplicate and equal-timestamp entries is spread over
// every place a query reads: stored chunks (overlapping ones too), the ingester's flushed and
// cut in-memory blocks, and its head.

#include <gtest/gtest.h>

#include <random>

#include "ingester/test_util.h"
#include "logql/syntax/parser.h"
#include "metrics/metrics.h"
#include "querier/test_util.h"

namespace sluice::querier {
namespace {

using ingester::testing::kSecond;
using ingester::testing::kT0;
using ingester::testing::MakeStream;

class ReadEquivalenceTest : public ::testing::Test {
 protected:
  ReadEquivalenceTest()
      : stack_([](config::Config::Ingester* c) {
          c->chunk_block_size = 600;                // many blocks, and entries left in the heads
          c->chunk_retain_period = 3600 * kSecond;  // flushed chunks stay in memory too
        }) {
    EXPECT_TRUE(stack_.start_status.ok());
  }
  ~ReadEquivalenceTest() override { EXPECT_TRUE(stack_.ing->Shutdown(false).ok()); }

  // Pushes `n` random entries per stream over 40 distinct timestamps, so timestamps repeat
  // within a stream and some entries repeat exactly. Every push also repeats a few entries of
  // earlier pushes (the same entry in memory and in the store).
  void PushRandom(std::mt19937* rng, int n) {
    static const char* kWords[] = {"error",   "ERROR", "Error", "status=200", "status=500",
                                   "timeout", "ok",    "GET",   "/api/users", "cache miss"};
    std::vector<write::ValidatedStream> batch;
    for (const char* app : {"api", "web", "db"}) {
      std::vector<std::pair<int64_t, std::string>> lines;
      for (int i = 0; i < n; ++i) {
        int64_t ts = kT0 + static_cast<int64_t>((*rng)() % 40) * kSecond / 4;
        std::string line;
        // Words run together sometimes ("rrorst"), so a literal may span what a tokenizer
        // would call a boundary.
        for (int w = 0; w < 4; ++w)
          line += std::string(kWords[(*rng)() % 10]) + ((*rng)() % 3 == 0 ? "" : " ");
        line += "trace=" + std::to_string((*rng)() % 50) + "abcdef0123456789";
        if ((*rng)() % 4 == 0 && !earlier_.empty()) {
          const auto& [ets, eline] = earlier_[(*rng)() % earlier_.size()];
          ts = ets;
          line = eline;
        }
        earlier_.emplace_back(ts, line);
        lines.emplace_back(ts, std::move(line));
      }
      batch.push_back(MakeStream(std::string(R"({app=")") + app + R"("})", std::move(lines)));
    }
    ASSERT_TRUE(stack_.ing->Push("t", batch).ok());
  }

  void Fill() {
    std::mt19937 rng(7);
    PushRandom(&rng, 60);
    ASSERT_TRUE(stack_.ing->FlushAll().ok());
    PushRandom(&rng, 60);  // overlaps the first chunk of each stream in time
    ASSERT_TRUE(stack_.ing->FlushAll().ok());
    PushRandom(&rng, 60);  // stays in memory: cut blocks and heads
  }

  QueryResult Exec(const std::string& query, model::Direction dir = model::Direction::kForward) {
    QueryRequest req;
    req.query = query;
    req.start_ns = kT0 - kSecond;
    req.end_ns = kT0 + 20 * kSecond;
    req.step_ns = kSecond;
    req.limit = 5000;
    req.direction = dir;
    auto r = stack_.querier->Exec({"t"}, req);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().message();
    return r.ok() ? std::move(r).value() : QueryResult{};
  }

  static std::string Render(const QueryResult& r) {
    std::string out;
    for (const auto& s : r.streams) {
      out += s.labels.ToString() + "\n";
      for (const auto& e : s.entries) out += std::to_string(e.timestamp_ns) + " " + e.line + "\n";
    }
    for (const auto& s : r.series) {
      out += s.labels.ToString() + "\n";
      for (const auto& p : s.points)
        out += std::to_string(p.ts_ms) + " " + std::to_string(p.value) + "\n";
    }
    return out;
  }

  // (labels, ts, line) of every entry a raw read returns; with `load`, LoadLine() first.
  std::vector<std::string> ReadAll(const logql::syntax::LogSelectorExpr& selector,
                                   bool stream_ordered, bool lines_needed, bool load) {
    read::SelectRequest p =
        read::MakeSelectRequest({"t"}, nullptr, selector, kT0 - kSecond, kT0 + 20 * kSecond);
    p.direction = model::Direction::kForward;
    p.order = stream_ordered ? read::Order::kStream : read::Order::kTime;
    p.lines_needed = lines_needed;
    auto it = stack_.fan_out->SelectLogs(p);
    EXPECT_TRUE(it.ok());
    std::vector<std::string> out;
    while ((*it)->Next()) {
      if (load) {
        EXPECT_TRUE((*it)->LoadLine().ok());
      }
      if (lines_needed || load) {
        EXPECT_TRUE((*it)->LineLoaded());
      }
      std::string row = (*it)->Labels().ToString() + " " + std::to_string((*it)->At().timestamp_ns);
      if (lines_needed || load) row += " " + (*it)->At().line;
      out.push_back(std::move(row));
    }
    EXPECT_TRUE((*it)->Error().ok()) << (*it)->Error().message();
    return out;
  }

  testing::ReadStack stack_;
  std::vector<std::pair<int64_t, std::string>> earlier_;
};

TEST_F(ReadEquivalenceTest, RequiredLiteralsDoNotChangeAnswers) {
  Fill();
  // `|~` with a plain literal filters exactly as `|=` but names no required literal, so it is
  // the full read's answer.
  for (std::string lit : {"error", "ERROR", "rror st", "Errorstatus", "status=500 trace=4",
                          "7abcdef0123456789", "no such line in any block at all"}) {
    for (auto dir : {model::Direction::kForward, model::Direction::kBackward}) {
      QueryResult with = Exec(R"({app=~".+"} |= ")" + lit + R"(")", dir);
      QueryResult without = Exec(R"({app=~".+"} |~ ")" + lit + R"(")", dir);
      EXPECT_EQ(Render(with), Render(without)) << lit;
    }
    QueryResult metric_with =
        Exec(R"(sum by (app) (count_over_time({app=~".+"} |= ")" + lit + R"(" | logfmt [2s])))");
    QueryResult metric_without =
        Exec(R"(sum by (app) (count_over_time({app=~".+"} |~ ")" + lit + R"(" | logfmt [2s])))");
    EXPECT_EQ(Render(metric_with), Render(metric_without)) << lit;
  }
  // The data has matches for some literals (the comparison is not vacuous).
  EXPECT_FALSE(Exec(R"({app=~".+"} |= "rror st")").streams.empty());
}

// A process-wide counter's value on /metrics (0 when absent).
double CounterValue(const std::string& name) {
  std::string text = metrics::DefaultRegistry().Expose();
  size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + name.size() + 2));
}

TEST_F(ReadEquivalenceTest, AbsentLiteralSkipsBlocks) {
  Fill();
  const double considered = CounterValue("sluice_query_blocks_total");
  const double skipped = CounterValue("sluice_query_blocks_skipped_by_bloom_total") +
                         CounterValue("sluice_query_blocks_skipped_by_scan_total");
  QueryResult r = Exec(R"({app=~".+"} |= "no such line in any block at all")");
  EXPECT_EQ(CounterValue("sluice_query_blocks_total") - considered,
            static_cast<double>(r.stats.blocks_considered));
  EXPECT_EQ(CounterValue("sluice_query_blocks_skipped_by_bloom_total") +
                CounterValue("sluice_query_blocks_skipped_by_scan_total") - skipped,
            static_cast<double>(r.stats.blocks_considered));
  EXPECT_TRUE(r.streams.empty());
  EXPECT_GT(r.stats.blocks_considered, 0u);
  EXPECT_EQ(r.stats.blocks_skipped_by_bloom + r.stats.blocks_skipped_by_scan,
            r.stats.blocks_considered);
  QueryResult all = Exec(R"({app=~".+"})");
  EXPECT_EQ(all.stats.blocks_skipped_by_bloom + all.stats.blocks_skipped_by_scan, 0u);
  EXPECT_EQ(all.stats.blocks_considered, r.stats.blocks_considered);
}

TEST_F(ReadEquivalenceTest, TimestampsOnlyReadsMatchFullReads) {
  Fill();
  auto expr = logql::syntax::Parse(R"({app=~".+"})");
  ASSERT_TRUE(expr.ok());
  const auto& selector = (*expr)->Cast<logql::syntax::LogSelectorExpr>();
  for (bool stream_ordered : {true, false}) {
    std::vector<std::string> full = ReadAll(selector, stream_ordered, true, false);
    ASSERT_GT(full.size(), 300u);
    // Loading every line of a timestamps-only read gives the full read, bit for bit ...
    EXPECT_EQ(ReadAll(selector, stream_ordered, false, true), full);
    // ... and without loading, the same entries (duplicates dropped the same way).
    std::vector<std::string> stamps;
    for (const auto& row : full) stamps.push_back(row.substr(0, row.find(' ', row.find('}') + 2)));
    EXPECT_EQ(ReadAll(selector, stream_ordered, false, false), stamps);
  }
  // Through the engine: a stage-less selector may be read timestamps only; `|= ""` keeps every
  // line but is a stage, so it reads lines.
  for (std::string agg : {"count_over_time", "rate", "absent_over_time"}) {
    EXPECT_EQ(Render(Exec("sum by (app) (" + agg + R"(({app=~".+"}[2s])))")),
              Render(Exec("sum by (app) (" + agg + R"(({app=~".+"} |= "" [2s])))")))
        << agg;
  }
}

}  // namespace
}  // namespace sluice::querier
