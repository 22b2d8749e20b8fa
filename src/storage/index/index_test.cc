#include <gtest/gtest.h>

#include <thread>

#include "storage/filesystem_store.h"
#include "storage/index/compactor.h"
#include "storage/index/format.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_writer.h"
#include "storage/test_util.h"

namespace sluice::storage::index {
namespace {

using model::LabelMatcher;
using Refs = std::vector<std::pair<model::LabelSet, ChunkRef>>;
using Strings = std::vector<std::string>;

constexpr int64_t kDay = kPeriodNanos;
constexpr int64_t kHour = 3600LL * 1'000'000'000;
constexpr int64_t kT0 = 19000 * kDay;  // Midnight starting period 19000.

model::LabelSet Labels(std::string_view text) {
  auto ls = model::ParseLabels(text);
  EXPECT_TRUE(ls.ok()) << text;
  return *ls;
}

std::pair<model::LabelSet, ChunkRef> Ref(std::string_view labels, int64_t from, int64_t through,
                                         std::string key) {
  auto ls = Labels(labels);
  ChunkRef ref{ls.Fingerprint(), from, through, 10, 1000, 200, std::move(key)};
  return {std::move(ls), std::move(ref)};
}

LabelMatcher M(std::string_view name, std::string_view op, std::string_view value) {
  LabelMatcher::Type type = op == "="    ? LabelMatcher::Type::kEqual
                            : op == "!=" ? LabelMatcher::Type::kNotEqual
                            : op == "=~" ? LabelMatcher::Type::kRegexMatch
                                         : LabelMatcher::Type::kRegexNoMatch;
  auto m = LabelMatcher::Make(type, std::string(name), std::string(value));
  EXPECT_TRUE(m.ok());
  return *m;
}

Strings LabelStrings(const std::vector<SeriesChunks>& series) {
  Strings out;
  for (const auto& s : series) out.push_back(s.labels.ToString());
  return out;
}
Strings LabelStrings(const std::vector<model::LabelSet>& series) {
  Strings out;
  for (const auto& s : series) out.push_back(s.ToString());
  return out;
}
Strings ChunkKeys(const SeriesChunks& s) {
  Strings out;
  for (const auto& c : s.chunks) out.push_back(c.key);
  return out;
}

class IndexTest : public ::testing::Test {
 protected:
  IndexTest()
      : store_(NewMemoryStore()),
        clock_(kT0 + 12 * kHour),
        writer_(store_.get(), "ingester-1", &clock_) {}

  void Write(std::string_view tenant, const Refs& refs) {
    ASSERT_TRUE(writer_.WriteBatch(tenant, refs).ok());
    clock_.Advance(1);
  }

  // The six-series fixture used by the matcher tests, all in period 19000.
  void WriteFixture() {
    Write("t",
          {Ref(R"({app="api", env="prod", pod="api-1"})", kT0 + kHour, kT0 + 2 * kHour, "c/api1"),
           Ref(R"({app="api", env="prod", pod="api-2"})", kT0 + kHour, kT0 + 2 * kHour, "c/api2"),
           Ref(R"({app="api", env="dev", pod="api-3"})", kT0 + kHour, kT0 + 2 * kHour, "c/api3"),
           Ref(R"({app="db", env="prod"})", kT0 + kHour, kT0 + 2 * kHour, "c/db"),
           Ref(R"({app="web"})", kT0 + kHour, kT0 + 2 * kHour, "c/web"),
           Ref(R"({job="cron", env="prod"})", kT0 + kHour, kT0 + 2 * kHour, "c/cron")});
  }

  Strings SelectLabels(std::vector<LabelMatcher> matchers, int64_t from = kT0,
                       int64_t through = kT0 + kDay - 1) {
    auto got = reader_.Select("t", matchers, from, through);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? LabelStrings(*got) : Strings{};
  }

  ObjectStorePtr store_;
  ManualClock clock_;
  IndexWriter writer_;
  IndexReader reader_{store_.get(), 0, &clock_};
};

TEST_F(IndexTest, RoundTrip) {
  auto [labels, ref] = Ref(R"({app="api", env="prod"})", kT0 + 100, kT0 + 200, "chunks/t/abc");
  Write("t", {{labels, ref}});
  auto keys = store_->List("index/");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_TRUE((*keys)[0].starts_with("index/19000/t/ingester-1-")) << (*keys)[0];
  EXPECT_TRUE((*keys)[0].ends_with(".idx"));

  auto got = reader_.Select("t", {M("app", "=", "api")}, kT0, kT0 + kHour);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].labels, labels);
  ASSERT_EQ((*got)[0].chunks.size(), 1u);
  EXPECT_EQ((*got)[0].chunks[0], ref);
}

TEST_F(IndexTest, Matchers) {
  WriteFixture();
  EXPECT_EQ(SelectLabels({M("app", "=", "api"), M("env", "=", "prod")}),
            (Strings{R"({app="api", env="prod", pod="api-1"})",
                     R"({app="api", env="prod", pod="api-2"})"}));
  EXPECT_EQ(SelectLabels({M("app", "=", "api"), M("env", "!=", "prod")}),
            Strings{R"({app="api", env="dev", pod="api-3"})"});
  EXPECT_EQ(SelectLabels({M("app", "=~", "d.|w.*")}),
            (Strings{R"({app="db", env="prod"})", R"({app="web"})"}));
  EXPECT_EQ(SelectLabels({M("app", "=~", ".+"), M("app", "!~", "api|db")}),
            Strings{R"({app="web"})"});
  EXPECT_EQ(SelectLabels({M("pod", "=~", "api-[12]"), M("pod", "!=", "api-1")}),
            Strings{R"({app="api", env="prod", pod="api-2"})"});
  // A missing label matches as "": env="" selects series without env.
  EXPECT_EQ(SelectLabels({M("app", "=~", ".+"), M("env", "=", "")}), Strings{R"({app="web"})"});
  EXPECT_EQ(SelectLabels({M("env", "!=", "")}).size(), 5u);
  EXPECT_EQ(SelectLabels({M("env", "=", "prod"), M("app", "!~", "a.*")}),
            (Strings{R"({app="db", env="prod"})", R"({env="prod", job="cron"})"}));
  // Anchored regexes.
  EXPECT_TRUE(SelectLabels({M("app", "=~", "ap")}).empty());
  // No such label or value.
  EXPECT_TRUE(SelectLabels({M("app", "=", "nope")}).empty());
  EXPECT_TRUE(SelectLabels({M("nope", "=", "x")}).empty());
  EXPECT_TRUE(SelectLabels({M("nope", "=~", ".+")}).empty());
  // Matchers the postings cannot narrow scan every series.
  EXPECT_EQ(SelectLabels({M("app", "!=", "api")}).size(), 3u);
  EXPECT_EQ(SelectLabels({}).size(), 6u);
}

TEST_F(IndexTest, TimeRangeFiltersChunksInclusively) {
  Write("t", {Ref(R"({app="a"})", kT0 + 100, kT0 + 200, "c/1"),
              Ref(R"({app="a"})", kT0 + 300, kT0 + 400, "c/2"),
              Ref(R"({app="b"})", kT0 + 500, kT0 + 600, "c/3")});
  auto sel = [&](int64_t from, int64_t through) {
    auto got = reader_.Select("t", {M("app", "=~", ".+")}, from, through);
    EXPECT_TRUE(got.ok());
    Strings out;
    for (const auto& s : *got) {
      for (const auto& c : s.chunks) out.push_back(c.key);
    }
    return out;
  };
  EXPECT_EQ(sel(kT0, kT0 + 1000), (Strings{"c/1", "c/2", "c/3"}));
  EXPECT_EQ(sel(kT0 + 200, kT0 + 300), (Strings{"c/1", "c/2"}));  // Both ends inclusive.
  EXPECT_EQ(sel(kT0 + 201, kT0 + 299), Strings{});
  EXPECT_EQ(sel(kT0 + 350, kT0 + 350), Strings{"c/2"});
  EXPECT_EQ(sel(kT0 + 401, kT0 + 500), Strings{"c/3"});
  EXPECT_EQ(sel(kT0 + 601, kT0 + kDay), Strings{});
  EXPECT_EQ(sel(kT0 + 300, kT0 + 100), Strings{});  // Empty range.
  // Series without a chunk in range are not returned by Series either.
  auto series = reader_.Series("t", {M("app", "=~", ".+")}, kT0 + 450, kT0 + 550);
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(LabelStrings(*series), Strings{R"({app="b"})"});
}

TEST_F(IndexTest, ChunkSpanningMidnightIsInBothPeriods) {
  Write("t", {Ref(R"({app="a"})", kT0 + kDay - kHour, kT0 + kDay + kHour, "c/span"),
              Ref(R"({app="a"})", kT0 + kDay + 2 * kHour, kT0 + kDay + 3 * kHour, "c/next")});
  EXPECT_EQ(store_->List("index/19000/t/")->size(), 1u);
  EXPECT_EQ(store_->List("index/19001/t/")->size(), 1u);

  auto day1 = reader_.Select("t", {M("app", "=", "a")}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(day1.ok());
  ASSERT_EQ(day1->size(), 1u);
  EXPECT_EQ(ChunkKeys((*day1)[0]), Strings{"c/span"});
  auto day2 = reader_.Select("t", {M("app", "=", "a")}, kT0 + kDay + 30 * 60 * 1'000'000'000LL,
                             kT0 + 2 * kDay);
  ASSERT_TRUE(day2.ok());
  EXPECT_EQ(ChunkKeys((*day2)[0]), (Strings{"c/span", "c/next"}));
  // Across both periods the spanning chunk appears once.
  auto both = reader_.Select("t", {M("app", "=", "a")}, kT0, kT0 + 2 * kDay);
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->size(), 1u);
  EXPECT_EQ(ChunkKeys((*both)[0]), (Strings{"c/span", "c/next"}));
}

TEST_F(IndexTest, WritersFilesAreMerged) {
  IndexWriter other(store_.get(), "ingester/2 ☃", &clock_);  // Sanitized into one path component.
  Write("t", {Ref(R"({app="a"})", kT0 + 100, kT0 + 200, "c/1"),
              Ref(R"({app="b"})", kT0 + 100, kT0 + 200, "c/b")});
  ASSERT_TRUE(other
                  .WriteBatch("t", {Ref(R"({app="a"})", kT0 + 300, kT0 + 400, "c/2"),
                                    Ref(R"({app="a"})", kT0 + 100, kT0 + 200,
                                        "c/1")})  // A replica's duplicate.
                  .ok());
  Write("t", {Ref(R"({app="a"})", kT0 + 50, kT0 + 60, "c/0")});
  auto keys = store_->List("index/19000/t/");
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_TRUE((*keys)[2].starts_with("index/19000/t/ingester_2____-")) << (*keys)[2];

  auto got = reader_.Select("t", {M("app", "=~", "a|b")}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(ChunkKeys((*got)[0]), (Strings{"c/0", "c/1", "c/2"}));
  EXPECT_EQ(ChunkKeys((*got)[1]), Strings{"c/b"});
}

TEST_F(IndexTest, ReaderSeesNewObjectsAfterRefreshInterval) {
  IndexReader reader(store_.get(), 10 * kNanosPerSecond, &clock_);
  Write("t", {Ref(R"({app="a"})", kT0 + 100, kT0 + 200, "c/1")});
  auto select = [&] {
    auto got = reader.Select("t", {M("app", "=~", ".+")}, kT0, kT0 + kDay - 1);
    EXPECT_TRUE(got.ok());
    return LabelStrings(*got);
  };
  EXPECT_EQ(select(), Strings{R"({app="a"})"});
  Write("t", {Ref(R"({app="b"})", kT0 + 100, kT0 + 200, "c/2")});
  EXPECT_EQ(select(), Strings{R"({app="a"})"});  // Cached listing.
  clock_.Advance(10 * kNanosPerSecond);
  EXPECT_EQ(select(), (Strings{R"({app="a"})", R"({app="b"})"}));
  // With interval 0 (the fixture's reader) every call re-lists.
  Write("t", {Ref(R"({app="c"})", kT0 + 100, kT0 + 200, "c/3")});
  EXPECT_EQ(SelectLabels({M("app", "=~", ".+")}).size(), 3u);
}

TEST_F(IndexTest, CorruptAndMisplacedObjectsAreSkipped) {
  Write("t", {Ref(R"({app="a"})", kT0 + 100, kT0 + 200, "c/1")});
  ASSERT_TRUE(store_->Put("index/19000/t/garbage.idx", "not an index object").ok());
  std::string good = *store_->Get(store_->List("index/19000/t/")->front());
  ASSERT_TRUE(store_->Put("index/19000/t/torn.idx", good.substr(0, good.size() / 2)).ok());
  // A valid object for another tenant, filed under this one.
  IndexFile foreign{"u", 19000, {}};
  auto [ls, ref] = Ref(R"({app="foreign"})", kT0 + 100, kT0 + 200, "c/x");
  foreign.series.push_back({ls, {ref}});
  ASSERT_TRUE(store_->Put("index/19000/t/foreign.idx", EncodeIndexFile(foreign)).ok());
  ASSERT_TRUE(store_->Put("index/19000/t/README", "not an index object either").ok());

  for (int i = 0; i < 2; ++i) {  // The second time from the cache.
    EXPECT_EQ(SelectLabels({M("app", "=~", ".+")}), Strings{R"({app="a"})"});
    auto names = reader_.LabelNames("t", kT0, kT0 + kDay);
    ASSERT_TRUE(names.ok());
    EXPECT_EQ(*names, Strings{"app"});
  }
}

TEST_F(IndexTest, LabelNamesValuesAndSeries) {
  WriteFixture();
  Write("t", {Ref(R"({app="old", region="eu"})", kT0 - kDay + 10, kT0 - kDay + 20, "c/old")});
  const int64_t from = kT0, through = kT0 + kDay - 1;

  auto names = reader_.LabelNames("t", from, through);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (Strings{"app", "env", "job", "pod"}));
  names = reader_.LabelNames("t", kT0 - kDay, through);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (Strings{"app", "env", "job", "pod", "region"}));
  EXPECT_TRUE(reader_.LabelNames("t", kT0 + 3 * kHour, through)->empty());

  auto values = reader_.LabelValues("t", "app", {}, from, through);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (Strings{"api", "db", "web"}));
  values = reader_.LabelValues("t", "app", {}, kT0 - kDay, through);
  EXPECT_EQ(*values, (Strings{"api", "db", "old", "web"}));
  values = reader_.LabelValues("t", "pod", {M("env", "=", "prod")}, from, through);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (Strings{"api-1", "api-2"}));
  values = reader_.LabelValues("t", "env", {M("app", "!=", "api")}, from, through);
  EXPECT_EQ(*values, Strings{"prod"});
  EXPECT_TRUE(reader_.LabelValues("t", "nope", {}, from, through)->empty());
  EXPECT_TRUE(reader_.LabelValues("t", "app", {}, kT0 + 3 * kHour, through)->empty());

  auto series = reader_.Series("t", {M("env", "=", "prod")}, from, through);
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(
      LabelStrings(*series),
      (Strings{R"({app="api", env="prod", pod="api-1"})", R"({app="api", env="prod", pod="api-2"})",
               R"({app="db", env="prod"})", R"({env="prod", job="cron"})"}));
}

TEST_F(IndexTest, TenantsAreIsolated) {
  Write("t", {Ref(R"({app="a"})", kT0 + 100, kT0 + 200, "c/1")});
  Write("u", {Ref(R"({app="b"})", kT0 + 100, kT0 + 200, "c/2")});
  auto got = reader_.Series("u", {M("app", "=~", ".+")}, kT0, kT0 + kDay);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(LabelStrings(*got), Strings{R"({app="b"})"});
  EXPECT_TRUE(reader_.Series("v", {M("app", "=~", ".+")}, kT0, kT0 + kDay)->empty());
}

TEST_F(IndexTest, RejectsBadInput) {
  EXPECT_EQ(writer_.WriteBatch("../x", {Ref(R"({a="1"})", 1, 2, "k")}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(writer_.WriteBatch("", {Ref(R"({a="1"})", 1, 2, "k")}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(writer_.WriteBatch("t", {Ref(R"({a="1"})", 2, 1, "k")}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(writer_.WriteBatch("t", {Ref(R"({a="1"})", 1, 2, "")}).code(),
            StatusCode::kInvalidArgument);
  auto wrong_fp = Ref(R"({a="1"})", 1, 2, "k");
  wrong_fp.second.fingerprint ^= 1;
  EXPECT_EQ(writer_.WriteBatch("t", {wrong_fp}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(writer_.WriteBatch("t", {Ref(R"({a="1"})", 0, 40 * kDay, "k")}).code(),
            StatusCode::kInvalidArgument);
  // Nothing was written for the rejected batch, even its valid refs.
  EXPECT_EQ(writer_.WriteBatch("t", {Ref(R"({a="1"})", 1, 2, "ok"), Ref(R"({a="1"})", 2, 1, "bad")})
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->List("")->empty());
  EXPECT_TRUE(writer_.WriteBatch("t", {}).ok());
  EXPECT_TRUE(store_->List("")->empty());

  EXPECT_EQ(reader_.Select("../x", {}, 0, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reader_.LabelNames("t", 0, 2000 * kDay).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(IndexTest, CompactionMergesObjectsWithoutChangingResults) {
  for (int i = 0; i < 5; ++i) {
    Write("t",
          {Ref(R"({app="a"})", kT0 + i * 100, kT0 + i * 100 + 50, "c/a" + std::to_string(i)),
           Ref(R"({app="b"})", kT0 + i * 100, kT0 + i * 100 + 50, "c/b" + std::to_string(i % 2))});
  }
  ASSERT_TRUE(store_->Put("index/19000/t/garbage.idx", "junk").ok());
  auto before = reader_.Select("t", {M("app", "=~", ".+")}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 2u);
  EXPECT_EQ((*before)[1].chunks.size(), 2u);

  ASSERT_TRUE(CompactPeriod(store_.get(), "t", 19000, &clock_).ok());
  auto keys = *store_->List("index/19000/t/");
  ASSERT_EQ(keys.size(), 2u);  // The merged object and the corrupt one, left for inspection.
  EXPECT_TRUE(keys[0].starts_with("index/19000/t/compacted-")) << keys[0];
  EXPECT_EQ(keys[1], "index/19000/t/garbage.idx");

  auto after = reader_.Select("t", {M("app", "=~", ".+")}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before);
  // Compacting again, and compacting a period with nothing to merge, are no-ops.
  ASSERT_TRUE(CompactPeriod(store_.get(), "t", 19000, &clock_).ok());
  EXPECT_EQ(*store_->List("index/19000/t/"), keys);
  ASSERT_TRUE(CompactPeriod(store_.get(), "t", 12345, &clock_).ok());
}

// Lists a deleted object once, as a listing taken just before a compaction's deletes would.
class StaleListStore final : public ForwardingStore {
 public:
  explicit StaleListStore(ObjectStore* base) : ForwardingStore(base) {}
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    auto keys = ForwardingStore::List(prefix);
    if (keys.ok() && !stale_.empty()) {
      keys->push_back(std::exchange(stale_, ""));
      std::sort(keys->begin(), keys->end());
    }
    return keys;
  }
  std::string stale_;
};

TEST_F(IndexTest, ObjectsDeletedAfterListingAreReListed) {
  Write("t", {Ref(R"({app="a"})", kT0 + 100, kT0 + 200, "c/1")});
  Write("t", {Ref(R"({app="a"})", kT0 + 300, kT0 + 400, "c/2")});
  std::string old_key = store_->List("index/19000/t/")->front();
  ASSERT_TRUE(CompactPeriod(store_.get(), "t", 19000, &clock_).ok());
  StaleListStore stale(store_.get());
  stale.stale_ = old_key;
  IndexReader reader(&stale, 0, &clock_);
  auto got = reader.Select("t", {M("app", "=", "a")}, kT0, kT0 + kDay - 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(ChunkKeys((*got)[0]), (Strings{"c/1", "c/2"}));
}

TEST_F(IndexTest, ConcurrentWritersAndReaders) {
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        std::string pod = std::to_string(w * 100 + i);
        ASSERT_TRUE(writer_
                        .WriteBatch("t", {Ref(R"({app="a", pod=")" + pod + R"("})", kT0 + i,
                                              kT0 + i + 1, "c/" + pod)})
                        .ok());
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 25; ++i)
      ASSERT_TRUE(reader_.Select("t", {M("app", "=", "a")}, kT0, kT0 + kDay - 1).ok());
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->List("index/")->size(), 100u);  // Unique names even at the same clock reading.
  EXPECT_EQ(SelectLabels({M("app", "=", "a")}).size(), 100u);
}

TEST(IndexFilesystemTest, EndToEndOnDisk) {
  TempDir dir;
  auto store = NewFilesystemStore(dir.path());
  IndexWriter writer(store.get(), "ingester-1");
  IndexReader reader(store.get(), 0);
  ASSERT_TRUE(
      writer.WriteBatch("t", {Ref(R"({app="a"})", kT0 + 100, kT0 + kDay + 100, "chunks/t/1")})
          .ok());
  auto got = reader.Select("t", {M("app", "=", "a")}, kT0 + kDay, kT0 + kDay);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(ChunkKeys((*got)[0]), Strings{"chunks/t/1"});
  ASSERT_TRUE(CompactPeriod(store.get(), "t", 19000).ok());
  EXPECT_EQ(store->List("index/")->size(), 2u);
}

}  // namespace
}  // namespace sluice::storage::index
