#include "querier/querier.h"

#include <gtest/gtest.h>

#include "logql/syntax/parser.h"
#include "testing/fake_clock.h"
#include "testing/memory_source.h"

namespace sluice::querier {
namespace {

using model::Direction;

// "labels ts:line ts:line | labels ..." for compact expectations.
std::string Render(const QueryResult& r) {
  std::string out;
  for (const auto& s : r.streams) {
    if (!out.empty()) out += " | ";
    out += s.labels.ToString();
    for (const auto& e : s.entries) out += " " + std::to_string(e.timestamp_ns) + ":" + e.line;
  }
  return out;
}

class QuerierTest : public ::testing::Test {
 protected:
  QuerierTest() : overrides_(config::Limits{}, "", 0) {
    // The same stream in memory and in the store overlaps at ts 3 and 4 (a flush in progress).
    memory_.Add("fake", R"({app="api", env="prod"})", {{3, "c", {}}, {4, "d", {}}, {5, "e", {}}});
    store_.Add("fake", R"({app="api", env="prod"})",
               {{1, "a", {}}, {2, "b", {}}, {3, "c", {}}, {4, "d", {}}});
    store_.Add("fake", R"({app="web", env="prod"})", {{2, "web error", {}}, {6, "web ok", {}}});
    memory_.Add("other", R"({app="api", env="dev"})", {{2, "other b", {}}, {7, "other g", {}}});
  }

  Querier MakeQuerier() { return Querier(&fan_out_, &overrides_, &clock_); }

  Result<QueryResult> Run(std::string query, uint32_t limit = 100,
                          Direction dir = Direction::kBackward,
                          std::vector<std::string> tenants = {"fake"}) {
    Querier q = MakeQuerier();
    QueryRequest req;
    req.query = std::move(query);
    req.start_ns = 0;
    req.end_ns = 100;
    req.limit = limit;
    req.direction = dir;
    return q.Exec(tenants, req);
  }

  testing::FakeClock clock_{10'000 * kNanosPerSecond};
  config::Overrides overrides_;
  testing::MemorySource memory_;
  testing::MemorySource store_;
  read::FanOut fan_out_{{&memory_, &store_}};
};

TEST_F(QuerierTest, MergesSourcesAndDropsDuplicatesForward) {
  auto r = Run(R"({app="api"})", 100, Direction::kForward);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Render(*r), R"({app="api", env="prod"} 1:a 2:b 3:c 4:d 5:e)");
  EXPECT_EQ(r->stats.duplicates, 2u);
  EXPECT_EQ(r->stats.total_entries_returned, 5u);
  EXPECT_EQ(r->stats.total_lines_processed, 7u);
}

TEST_F(QuerierTest, BackwardWithLimitKeepsNewest) {
  auto r = Run(R"({env="prod"})", 3, Direction::kBackward);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Render(*r), R"({app="api", env="prod"} 5:e 4:d | {app="web", env="prod"} 6:web ok)");
  auto f = Run(R"({env="prod"})", 3, Direction::kForward);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Render(*f), R"({app="api", env="prod"} 1:a 2:b | {app="web", env="prod"} 2:web error)");
}

TEST_F(QuerierTest, AppliesLineFilters) {
  auto r = Run(R"({env="prod"} |~ "error|^d$")", 100, Direction::kForward);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Render(*r), R"({app="api", env="prod"} 4:d | {app="web", env="prod"} 2:web error)");
  EXPECT_EQ(r->stats.total_post_filter_lines, 3u);  // d twice (memory and store), web error
}

TEST_F(QuerierTest, TimeRangeIsHalfOpen) {
  Querier q = MakeQuerier();
  QueryRequest req;
  req.query = R"({app="api"})";
  req.start_ns = 2;
  req.end_ns = 4;
  req.direction = Direction::kForward;
  auto r = q.Exec({"fake"}, req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Render(*r), R"({app="api", env="prod"} 2:b 3:c)");
}

TEST_F(QuerierTest, MultiTenantAddsTenantLabel) {
  auto r = Run(R"({app="api"})", 100, Direction::kForward, {"fake", "other"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Render(*r), R"({__tenant_id__="fake", app="api", env="prod"} 1:a 2:b 3:c 4:d 5:e | )"
                        R"({__tenant_id__="other", app="api", env="dev"} 2:other b 7:other g)");
  // A __tenant_id__ matcher picks tenants.
  auto only =
      Run(R"({app="api", __tenant_id__="other"})", 100, Direction::kForward, {"fake", "other"});
  ASSERT_TRUE(only.ok()) << only.status().message();
  EXPECT_EQ(Render(*only), R"({__tenant_id__="other", app="api", env="dev"} 2:other b 7:other g)");
}

TEST_F(QuerierTest, TenantsAreIsolated) {
  auto r = Run(R"({app="api"})", 100, Direction::kForward, {"other"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Render(*r), R"({app="api", env="dev"} 2:other b 7:other g)");
}

TEST_F(QuerierTest, Interval) {
  Querier q = MakeQuerier();
  QueryRequest req;
  req.query = R"({app="api"})";
  req.start_ns = 0;
  req.end_ns = 100;
  req.interval_ns = 2;
  req.direction = Direction::kForward;
  auto r = q.Exec({"fake"}, req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Render(*r), R"({app="api", env="prod"} 1:a 3:c 5:e)");
}

TEST_F(QuerierTest, GroupsByFinalLabels) {
  // Streams are keyed by the labels after the pipeline, so one stream splits by what it parses.
  auto r = Run(R"q({app="web"} | regexp "web (?P<status>\\w+)")q", 100, Direction::kForward);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Render(*r), R"({app="web", env="prod", status="error"} 2:web error | )"
                        R"({app="web", env="prod", status="ok"} 6:web ok)");
  // Duplicates across sources are still dropped when the pipeline sets labels.
  r = Run(R"({app="api", env="prod"} | pattern "<letter>")", 100, Direction::kForward);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->streams.size(), 5u);
  EXPECT_EQ(r->stats.duplicates, 2u);
  // Errors are part of the labels.
  r = Run(R"({app="web"} | json)", 100, Direction::kForward);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Render(*r),
            R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't )"
            R"(find closing '}' symbol", app="web", env="prod"} 2:web error 6:web ok)");
}

TEST_F(QuerierTest, Errors) {
  auto parse = Run(R"({app="api")");
  EXPECT_EQ(parse.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse.status().message().rfind("parse error at line 1, col ", 0), 0u)
      << parse.status().message();

  auto bad_stage = Run(R"({app="api"} | logfmt | addr = ip("abc"))");
  EXPECT_EQ(bad_stage.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_stage.status().message(), R"(ip: invalid pattern: "abc")");

  auto limit = Run(R"({app="api"})", 5001);
  EXPECT_EQ(limit.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(limit.status().message(),
            "max entries limit per query exceeded, limit > max_entries_limit (5001 > 5000)");

  Querier q = MakeQuerier();
  QueryRequest too_long;
  too_long.query = R"({app="api"})";
  too_long.start_ns = 0;
  too_long.end_ns = 722LL * 3600 * kNanosPerSecond;
  EXPECT_EQ(q.Exec({"fake"}, too_long).status().message(),
            "the query time range exceeds the limit (query length: 722h0m0s, limit: 30d1h)");

  store_.FailWith(Status::IOError("disk on fire"));
  auto io = Run(R"({app="api"})");
  EXPECT_EQ(io.status().code(), StatusCode::kIOError);
}

TEST_F(QuerierTest, QueryTimeoutStopsLongScans) {
  testing::FakeClock slow(0, 30 * kNanosPerSecond);  // every read: 30s later
  testing::MemorySource big;
  std::vector<model::Entry> entries;
  for (int i = 0; i < 5000; ++i) entries.push_back(model::Entry{i, "x", {}});
  big.Add("fake", R"({app="big"})", entries);
  Querier q(&big, &overrides_, &slow);
  QueryRequest req;
  req.query = R"({app="big"} |= "never")";
  req.start_ns = 0;
  req.end_ns = 10'000;
  auto r = q.Exec({"fake"}, req);
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(QuerierTest, LabelsValuesSeries) {
  Querier q = MakeQuerier();
  auto names = q.Labels({"fake"}, 0, 100);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"app", "env"}));

  auto values = q.LabelValues({"fake"}, "app", 0, 100, "");
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"api", "web"}));
  auto filtered = q.LabelValues({"fake"}, "app", 0, 100, R"({app=~"w.*"})");
  ASSERT_TRUE(filtered.ok()) << filtered.status().message();
  EXPECT_EQ(*filtered, (std::vector<std::string>{"web"}));
  auto tenants = q.LabelValues({"fake", "other"}, "__tenant_id__", 0, 100, "");
  ASSERT_TRUE(tenants.ok());
  EXPECT_EQ(*tenants, (std::vector<std::string>{"fake", "other"}));

  auto series = q.Series({"fake"}, {R"({app="web"})", R"({app="api"})", R"({env="prod"})"}, 0, 100);
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 2u);
  EXPECT_EQ((*series)[0].ToString(), R"({app="api", env="prod"})");
  EXPECT_EQ((*series)[1].ToString(), R"({app="web", env="prod"})");
  // Time range restricts series.
  auto late = q.Series({"fake"}, {R"({env="prod"})"}, 6, 100);
  ASSERT_TRUE(late.ok());
  ASSERT_EQ(late->size(), 1u);

  auto bad = q.Series({"fake"}, {"{app="}, 0, 100);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

// Metric queries go through the LogQL engine (logql/engine/, tested there); these check the
// wiring: reads merged and de-duplicated across sources, tenants, result types and statistics.
TEST_F(QuerierTest, MetricQueries) {
  Querier q = MakeQuerier();
  QueryRequest instant;
  instant.query = R"(count_over_time({app="api"}[1m]))";
  instant.instant = true;
  instant.end_ns = 10 + 1;  // time = 10, as ParseInstantQuery sets it
  auto r = q.Exec({"fake"}, instant);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->type, ResultType::kVector);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].labels.ToString(), R"({app="api", env="prod"})");
  EXPECT_EQ(r->series[0].points, (std::vector<logql::engine::Point>{{0, 5}}));
  EXPECT_EQ(r->stats.duplicates, 2u);
  EXPECT_EQ(r->stats.total_lines_processed, 7u);
  EXPECT_EQ(r->stats.total_post_filter_lines, 5u);
  EXPECT_EQ(r->stats.total_entries_returned, 1u);

  QueryRequest range;
  range.query = R"(sum by (__tenant_id__) (count_over_time({env=~"prod|dev"} |~ "b|g" [1m])))";
  range.start_ns = 0;
  range.end_ns = 2 * kNanosPerSecond;
  range.step_ns = kNanosPerSecond;
  r = q.Exec({"fake", "other"}, range);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->type, ResultType::kMatrix);
  ASSERT_EQ(r->series.size(), 2u);
  EXPECT_EQ(r->series[0].labels.ToString(), R"({__tenant_id__="fake"})");
  // "b", "web error", "web ok" (every entry sits in the first nanoseconds: none at step 0).
  EXPECT_EQ(r->series[0].points, (std::vector<logql::engine::Point>{{1000, 3}, {2000, 3}}));
  EXPECT_EQ(r->series[1].labels.ToString(), R"({__tenant_id__="other"})");
  EXPECT_EQ(r->series[1].points, (std::vector<logql::engine::Point>{{1000, 2}, {2000, 2}}));

  QueryRequest scalar = instant;
  scalar.query = "2 * 3";
  r = q.Exec({"fake"}, scalar);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, ResultType::kScalar);
  EXPECT_EQ(r->scalar.value, 6);

  config::Limits one_series;
  one_series.max_query_series = 1;
  config::Overrides limited(one_series, "", 0);
  Querier lq(&fan_out_, &limited, &clock_);
  QueryRequest many = instant;
  many.query = R"(count_over_time({env="prod"}[1m]))";
  r = lq.Exec({"fake"}, many);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("maximum number of series (1) reached", 0), 0u);
}

TEST(RequiredLiteralsTest, OnlyLiteralsEveryKeptLineContains) {
  auto literals = [](std::string_view query) {
    auto expr = logql::syntax::Parse(query);
    EXPECT_TRUE(expr.ok()) << query;
    return read::RequiredLiterals((*expr)->Cast<logql::syntax::LogSelectorExpr>());
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(literals(R"({a="b"})"), V{});
  EXPECT_EQ(literals(R"({a="b"} |= "x" |= `y\z` |= "x")"), (V{"x", "y\\z"}));
  // Case-sensitive as written; an empty literal, `or`, regexes, patterns, ip() and negative
  // filters name no required substring, but filters after them still count.
  EXPECT_EQ(literals(R"({a="b"} |= "" |= "Err" or "warn" |~ "x" |> "<_> y" != "no" |= "Yes")"),
            V{"Yes"});
  EXPECT_EQ(literals(R"({a="b"} |= ip("10.0.0.1") |= "k")"), V{"k"});
  // Parsers, label filters and label changes keep the line: later filters still see it.
  EXPECT_EQ(literals(R"({a="b"} | json | x="1" | label_format y=x | drop z |= "after")"),
            V{"after"});
  // Stages that rewrite the line end the list.
  EXPECT_EQ(literals(R"({a="b"} |= "one" | line_format "{{.x}}" |= "two")"), V{"one"});
  EXPECT_EQ(literals(R"({a="b"} |= "one" | decolorize |= "two")"), V{"one"});
  EXPECT_EQ(literals(R"({a="b"} |= "one" | unpack |= "two")"), V{"one"});
  EXPECT_EQ(literals(R"({a="b"} |= "one" | logfmt |= "two")"), (V{"one", "two"}));
}

// An instant query at `time` sees (time - range, time]: the entry exactly one range back is out,
// the one exactly at `time` is in (Loki 3.2+, pkg/logql/evaluator.go: the read's end gets a
// "leap nanosecond"); a range query evaluated at the same instant counts the same.
TEST_F(QuerierTest, InstantWindowEdges) {
  const int64_t t = 1000 * kNanosPerSecond;
  const int64_t range = 300 * kNanosPerSecond;
  memory_.Add("edges", R"({app="edge"})",
              {{t - range - 1, "before start", {}},
               {t - range, "at start", {}},
               {t - range + 1, "after start", {}},
               {t, "at time", {}},
               {t + 1, "after time", {}}});
  Querier q = MakeQuerier();
  QueryRequest instant;
  instant.query = R"(count_over_time({app="edge"}[5m]))";
  instant.instant = true;
  instant.end_ns = t + 1;  // as ParseInstantQuery sets it for time=t
  auto got = q.Exec({"edges"}, instant);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->series.size(), 1u);
  EXPECT_EQ(got->series[0].points, (std::vector<logql::engine::Point>{{t / 1'000'000, 2}}));

  QueryRequest range_query = instant;
  range_query.instant = false;
  range_query.start_ns = t;
  range_query.end_ns = t;
  range_query.step_ns = 60 * kNanosPerSecond;
  got = q.Exec({"edges"}, range_query);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->series.size(), 1u);
  EXPECT_EQ(got->series[0].points, (std::vector<logql::engine::Point>{{t / 1'000'000, 2}}));
}

// Log queries group by every label of an entry (structured metadata and parsed labels folded
// in), or by the stream labels alone with categorize_labels.
TEST_F(QuerierTest, LogStreamsFoldOrCategorizeLabels) {
  memory_.Add("md", R"({app="m"})",
              {{1, "level=info", {{"trace", "a"}}},
               {2, "level=warn", {{"trace", "b"}}},
               {3, "level=info", {}}});
  Querier q = MakeQuerier();
  QueryRequest req;
  req.query = R"({app="m"} | logfmt)";
  req.start_ns = 0;
  req.end_ns = 100;
  req.direction = Direction::kForward;
  auto folded = q.Exec({"md"}, req);
  ASSERT_TRUE(folded.ok()) << folded.status().message();
  EXPECT_EQ(Render(*folded), R"({app="m", level="info", trace="a"} 1:level=info | )"
                             R"({app="m", level="info"} 3:level=info | )"
                             R"({app="m", level="warn", trace="b"} 2:level=warn)");
  req.categorize_labels = true;
  auto categorized = q.Exec({"md"}, req);
  ASSERT_TRUE(categorized.ok());
  EXPECT_EQ(Render(*categorized), R"({app="m"} 1:level=info 2:level=warn 3:level=info)");
  const auto& entries = categorized->streams[0].entries;
  EXPECT_EQ(entries[0].metadata, (std::vector<model::Label>{{"trace", "a"}}));
  EXPECT_EQ(entries[0].parsed, (std::vector<model::Label>{{"level", "info"}}));
  EXPECT_TRUE(entries[2].metadata.empty());
}

}  // namespace
}  // namespace sluice::querier
