#include "querier/store_source.h"

#include <gtest/gtest.h>

#include "chunk/block.h"
#include "chunk/chunk.h"
#include "iter/merge.h"
#include "storage/index/index_writer.h"

namespace sluice::querier {
namespace {

using model::Direction;

class StoreSourceTest : public ::testing::Test {
 protected:
  StoreSourceTest()
      : store_(storage::NewMemoryStore()),
        writer_(store_.get(), "test"),
        reader_(store_.get(), 0) {}

  // Writes one chunk of `entries` (ts, line) for `labels` and indexes it.
  void AddChunk(const std::string& tenant, std::string_view labels, const std::string& key,
                std::vector<std::pair<int64_t, std::string>> entries) {
    model::LabelSet ls = model::ParseLabels(labels).value();
    chunk::BlockBuilder b;
    for (auto& [ts, line] : entries) b.Append(ts, line, {});
    std::vector<chunk::Block> blocks;
    blocks.push_back(b.Finish(chunk::Codec::kZstd));
    std::string bytes = chunk::EncodeChunk(ls, blocks);
    ASSERT_TRUE(store_->Put(key, bytes).ok());
    storage::index::ChunkRef ref;
    ref.fingerprint = ls.Fingerprint();
    ref.from_ns = entries.front().first;
    ref.through_ns = entries.back().first;
    ref.num_entries = static_cast<uint32_t>(entries.size());
    ref.stored_bytes = bytes.size();
    ref.key = key;
    ASSERT_TRUE(writer_.WriteBatch(tenant, {{ls, ref}}).ok());
  }

  std::vector<std::string> Read(const read::SelectRequest& p) {
    auto its = source_.SelectStreams(p, "fake");
    EXPECT_TRUE(its.ok()) << its.status().message();
    auto merged = iter::NewMergeIterator(std::move(its).value(), p.direction);
    std::vector<std::string> out;
    while (merged->Next()) {
      out.push_back(merged->Labels().ToString() + std::to_string(merged->At().timestamp_ns) + ":" +
                    merged->At().line);
    }
    EXPECT_TRUE(merged->Error().ok()) << merged->Error().message();
    return out;
  }

  read::SelectRequest Params(std::string_view selector, Direction dir, int64_t from = 0,
                             int64_t through = 1000) {
    read::SelectRequest p;
    p.tenants = {"fake"};
    auto ls = model::ParseLabels(selector).value();
    for (const auto& l : ls.labels()) {
      p.matchers.push_back(
          model::LabelMatcher::Make(model::LabelMatcher::Type::kEqual, l.name, l.value).value());
    }
    p.from_ns = from;
    p.through_ns = through;
    p.direction = dir;
    return p;
  }

  storage::ObjectStorePtr store_;
  storage::index::IndexWriter writer_;
  storage::index::IndexReader reader_;
  StoreSource source_{store_.get(), &reader_};
};

TEST_F(StoreSourceTest, ReadsChunksInOrderBothDirections) {
  AddChunk("fake", R"({app="a"})", "chunks/fake/1", {{10, "a10"}, {20, "a20"}});
  AddChunk("fake", R"({app="a"})", "chunks/fake/2", {{30, "a30"}, {40, "a40"}});
  AddChunk("fake", R"({app="b"})", "chunks/fake/3", {{15, "b15"}});
  AddChunk("other", R"({app="a"})", "chunks/other/1", {{12, "other"}});

  read::SelectRequest p = Params(R"({app="a"})", Direction::kForward);
  EXPECT_EQ(Read(p), (std::vector<std::string>{R"({app="a"}10:a10)", R"({app="a"}20:a20)",
                                               R"({app="a"}30:a30)", R"({app="a"}40:a40)"}));
  p.direction = Direction::kBackward;
  EXPECT_EQ(Read(p), (std::vector<std::string>{R"({app="a"}40:a40)", R"({app="a"}30:a30)",
                                               R"({app="a"}20:a20)", R"({app="a"}10:a10)"}));
  // Half-open range.
  EXPECT_EQ(Read(Params(R"({app="a"})", Direction::kForward, 20, 40)),
            (std::vector<std::string>{R"({app="a"}20:a20)", R"({app="a"}30:a30)"}));
}

TEST_F(StoreSourceTest, FetchesLazily) {
  AddChunk("fake", R"({app="a"})", "chunks/fake/1", {{10, "a10"}});
  AddChunk("fake", R"({app="a"})", "chunks/fake/2", {{30, "a30"}});
  AddChunk("fake", R"({app="a"})", "chunks/fake/3", {{50, "a50"}});
  auto its = source_.SelectStreams(Params(R"({app="a"})", Direction::kBackward), "fake");
  ASSERT_TRUE(its.ok());
  ASSERT_EQ(its->size(), 1u);
  EXPECT_EQ(source_.chunks_downloaded(), 0u);
  auto& it = (*its)[0];
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().line, "a50");
  EXPECT_EQ(source_.chunks_downloaded(), 1u);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(source_.chunks_downloaded(), 2u);
}

TEST_F(StoreSourceTest, OverlappingChunksAreMergedAndDeduplicated) {
  AddChunk("fake", R"({app="a"})", "chunks/fake/1", {{10, "x"}, {30, "y"}});
  AddChunk("fake", R"({app="a"})", "chunks/fake/2", {{20, "m"}, {30, "y"}, {40, "z"}});
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    std::vector<std::string> want = {R"({app="a"}10:x)", R"({app="a"}20:m)", R"({app="a"}30:y)",
                                     R"({app="a"}40:z)"};
    if (dir == Direction::kBackward) std::reverse(want.begin(), want.end());
    EXPECT_EQ(Read(Params(R"({app="a"})", dir)), want);
  }
}

TEST_F(StoreSourceTest, LabelsAndSeries) {
  AddChunk("fake", R"({app="a", env="prod"})", "chunks/fake/1", {{10, "x"}});
  AddChunk("fake", R"({app="b"})", "chunks/fake/2", {{500, "y"}});
  read::SelectRequest all = Params("{}", Direction::kForward);
  auto names = source_.LabelNames(all);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"app", "env"}));
  auto values = source_.LabelValues(Params("{}", Direction::kForward, 0, 100), "app");
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"a"}));
  auto series = source_.Series(Params(R"({app="b"})", Direction::kForward));
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].ToString(), R"({app="b"})");
  // Through is exclusive: a chunk at exactly 500 is outside [0, 500).
  auto before = source_.Series(Params(R"({app="b"})", Direction::kForward, 0, 500));
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->empty());
}

TEST_F(StoreSourceTest, MissingOrCorruptChunkIsAnError) {
  AddChunk("fake", R"({app="a"})", "chunks/fake/1", {{10, "x"}});
  AddChunk("fake", R"({app="b"})", "chunks/fake/2", {{10, "y"}});
  ASSERT_TRUE(store_->Delete("chunks/fake/1").ok());
  ASSERT_TRUE(store_->Put("chunks/fake/2", "garbage").ok());
  for (std::string_view sel : {R"({app="a"})", R"({app="b"})"}) {
    auto its = source_.SelectStreams(Params(sel, Direction::kForward), "fake");
    ASSERT_TRUE(its.ok());
    ASSERT_EQ(its->size(), 1u);
    EXPECT_FALSE((*its)[0]->Next());
    EXPECT_FALSE((*its)[0]->Error().ok());
  }
}

TEST_F(StoreSourceTest, CountsChunkReferencesInRange) {
  AddChunk("fake", R"({app="a"})", "chunks/fake/1", {{10, "a10"}, {20, "a20"}});
  AddChunk("fake", R"({app="a"})", "chunks/fake/2", {{30, "a30"}, {40, "a40"}});
  AddChunk("fake", R"({app="b"})", "chunks/fake/3", {{15, "b15"}});
  AddChunk("other", R"({app="a"})", "chunks/other/1", {{12, "other"}});
  // Indexed twice (a flush repeated after a crash): one chunk.
  AddChunk("fake", R"({app="a"})", "chunks/fake/2", {{30, "a30"}, {40, "a40"}});
  auto count = [&](std::string_view selector, int64_t from, int64_t through) {
    auto n = source_.CountChunks(Params(selector, Direction::kForward, from, through), "fake");
    EXPECT_TRUE(n.ok()) << n.status().message();
    return n.ok() ? *n : uint64_t{999};
  };
  EXPECT_EQ(count(R"({app="a"})", 0, 1000), 2u);
  EXPECT_EQ(count("{}", 0, 1000), 3u);
  EXPECT_EQ(count(R"({app="a"})", 21, 30), 0u);  // between the chunks: [21, 30) touches neither
  EXPECT_EQ(count(R"({app="a"})", 20, 31), 2u);  // both ends inclusive in the index
  EXPECT_EQ(count(R"({app="b"})", 16, 1000), 0u);
  EXPECT_EQ(source_.ChunkCount(Params(R"({app="a"})", Direction::kForward)).value(), 2u);
}

}  // namespace
}  // namespace sluice::querier
