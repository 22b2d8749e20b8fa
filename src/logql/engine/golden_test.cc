// Runs the data-driven LogQL tests in tests/logql/*.test (DuckDB's sqllogictest shape):
//
//   # a comment
//   stream {app="api", env="prod"}          a stream, then its entries until a blank line:
//   5 GET /a                                  <seconds after the base> <line>
//   10 with {trace="x"} GET /b                with structured metadata
//
//   query instant 20                        an instant query at second 20, or
//   query range 10 30 10                    a range query: start, end, step (seconds)
//   count_over_time({app="api"}[10s])       the query (one or more lines)
//   ----
//   {app="api", env="prod"} 2               expected rows until a blank line: vector rows are
//                                           `labels value`, matrix rows `labels t:v t:v ...`,
//                                           a scalar `scalar v`; `error: <prefix>` expects an
//                                           error whose message starts with <prefix>.
//
// Streams accumulate over the file; each query sees every stream declared before it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "logql/engine/engine.h"
#include "logql/syntax/parser.h"
#include "testing/memory_source.h"

namespace sluice::logql::engine {
namespace {

constexpr int64_t kBaseSec = 1'700'000'000;

int64_t Sec(double s) { return kBaseSec * 1'000'000'000 + static_cast<int64_t>(s * 1e9); }

read::SelectRequest Base() {
  read::SelectRequest base;
  base.tenants = {"t"};
  return base;
}

std::string RelTs(int64_t ms) {
  return FormatSampleValue(static_cast<double>(ms - kBaseSec * 1000) / 1000);
}

std::vector<std::string> Render(const QueryValue& v) {
  std::vector<std::string> rows;
  if (v.type == ValueType::kScalar) {
    rows.push_back("scalar " + FormatSampleValue(v.scalar.value));
    return rows;
  }
  for (const auto& s : v.series) {
    std::string row = s.labels.ToString();
    for (const auto& p : s.points) {
      row += " ";
      if (v.type == ValueType::kMatrix) row += RelTs(p.ts_ms) + ":";
      row += FormatSampleValue(p.value);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string Join(const std::vector<std::string>& rows) {
  std::string out;
  for (const auto& r : rows) out += r + "\n";
  return out;
}

void RunFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  testing::MemorySource reader;  // every stream under tenant "t"
  size_t i = 0;
  int queries = 0;
  auto blank = [&](size_t k) { return lines[k].find_first_not_of(" \t") == std::string::npos; };
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (blank(i) || line[0] == '#') {
      ++i;
      continue;
    }
    const std::string where = path.filename().string() + ":" + std::to_string(i + 1);
    if (line.rfind("stream ", 0) == 0) {
      auto labels = model::ParseLabels(line.substr(7));
      ASSERT_TRUE(labels.ok()) << where << ": " << labels.status().message();
      std::vector<model::Entry> entries;
      for (++i; i < lines.size() && !blank(i); ++i) {
        if (lines[i][0] == '#') continue;
        std::string rest = lines[i];
        size_t sp = rest.find(' ');
        model::Entry e;
        e.timestamp_ns = Sec(std::stod(rest.substr(0, sp)));
        rest = sp == std::string::npos ? "" : rest.substr(sp + 1);
        if (rest.rfind("with {", 0) == 0) {
          size_t close = rest.find("} ");
          auto md = model::ParseLabels(rest.substr(5, close - 4));
          ASSERT_TRUE(md.ok()) << where << ": " << md.status().message();
          e.metadata = md->labels();
          rest = rest.substr(close + 2);
        }
        e.line = rest;
        entries.push_back(std::move(e));
      }
      reader.Add("t", labels->ToString(), std::move(entries));
      continue;
    }
    ASSERT_EQ(line.rfind("query ", 0), 0u) << where << ": expected `stream` or `query`";
    std::istringstream head(line.substr(6));
    std::string kind;
    double start = 0, end = 0, step = 0;
    head >> kind >> start;
    EngineParams params;
    if (kind == "instant") {
      params = EngineParams{Sec(start), Sec(start), 0, true, 0};
    } else {
      ASSERT_EQ(kind, "range") << where;
      head >> end >> step;
      params = EngineParams{Sec(start), Sec(end), static_cast<int64_t>(step * 1e9), false, 0};
    }
    std::string query;
    for (++i; i < lines.size() && lines[i] != "----"; ++i)
      query += (query.empty() ? "" : "\n") + lines[i];
    ASSERT_LT(i, lines.size()) << where << ": missing ----";
    std::vector<std::string> want;
    for (++i; i < lines.size() && !blank(i); ++i) want.push_back(lines[i]);
    ++queries;

    auto expr = syntax::Parse(query);
    Result<QueryValue> got = expr.ok() ? Engine(&reader, Base(), params).Exec(**expr)
                                       : Result<QueryValue>(expr.status());
    if (want.size() == 1 && want[0].rfind("error: ", 0) == 0) {
      std::string prefix = want[0].substr(7);
      ASSERT_FALSE(got.ok()) << where << ": " << query << "\nwant error " << prefix << "\ngot\n"
                             << Join(Render(*got));
      EXPECT_EQ(got.status().message().rfind(prefix, 0), 0u)
          << where << ": " << query << "\nwant error " << prefix << "\ngot error "
          << got.status().message();
      continue;
    }
    ASSERT_TRUE(got.ok()) << where << ": " << query << "\n" << got.status().message();
    EXPECT_EQ(Join(Render(*got)), Join(want)) << where << ": " << query;
  }
  EXPECT_GT(queries, 0) << path;
}

TEST(LogqlGoldenTest, AllFiles) {
  // The sources are compiled with absolute paths, so the test data is found from here.
  std::filesystem::path dir =
      std::filesystem::path(__FILE__).parent_path() / ".." / ".." / ".." / "tests" / "logql";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0;
  std::vector<std::filesystem::path> paths;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".test") paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    SCOPED_TRACE(p.filename().string());
    RunFile(p);
    ++files;
  }
  EXPECT_GT(files, 0);
}

}  // namespace
}  // namespace sluice::logql::engine
