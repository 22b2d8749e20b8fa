// A query's statistics per component, as Loki reports them: what the ingester's memory gave
// (its head, its cut blocks) lands in the ingester section, what the chunk store gave in
// querier.store and index, and both add up to the summary.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <utility>
#include <vector>

#include "http/query_responses.h"
#include "ingester/test_util.h"
#include "querier/test_util.h"

namespace sluice::querier {
namespace {

using ingester::testing::kSecond;
using ingester::testing::kT0;
using ingester::testing::MakeStream;

// Three lines, 7 + 7 + 9 = 23 bytes; the second carries structured metadata of 8 + 3 bytes.
constexpr uint64_t kLines = 3;
constexpr uint64_t kLineBytes = 23;
constexpr uint64_t kMetadataBytes = 11;

class QueryStatsTest : public ::testing::Test {
 protected:
  ~QueryStatsTest() override {
    if (stack_) {
      EXPECT_TRUE(stack_->ing->Shutdown(false).ok());
    }
  }

  void Start(uint64_t block_size = 262144) {
    stack_ = std::make_unique<testing::ReadStack>([block_size](config::Config::Ingester* c) {
      c->chunk_block_size = block_size;
      c->chunk_retain_period = 0;  // a flushed chunk leaves memory at the next sweep
    });
    ASSERT_TRUE(stack_->start_status.ok());
  }

  // The three lines at `base` + 0..2 s.
  void PushThree(int64_t base) {
    static const std::vector<model::Label> kMetadata = {{"trace_id", "abc"}};
    write::ValidatedStream s = MakeStream(
        R"({app="a"})",
        {{base, "alpha 1"}, {base + kSecond, "beta 22"}, {base + 2 * kSecond, "gamma 333"}});
    s.entries[1].metadata = kMetadata;
    std::vector<write::ValidatedStream> batch;
    batch.push_back(std::move(s));
    ASSERT_TRUE(stack_->ing->Push("t", batch).ok());
  }

  // Flushes everything and drops it from memory: only the store holds it afterwards.
  void FlushAndForget() {
    ASSERT_TRUE(stack_->ing->FlushAll().ok());
    ASSERT_TRUE(stack_->ing->FlushAll().ok());
  }

  QueryStats Exec(const std::string& query) {
    QueryRequest req;
    req.query = query;
    req.start_ns = kT0 - kSecond;
    req.end_ns = kT0 + 30 * kSecond;
    req.step_ns = 10 * kSecond;
    req.limit = 1000;
    auto r = stack_->querier->Exec({"t"}, req);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().message();
    return r.ok() ? r->stats : QueryStats{};
  }

  static simdjson::dom::element Json(simdjson::dom::parser* parser, const QueryStats& s) {
    std::string out;
    http::AppendStatsJson(&out, s);
    simdjson::dom::element doc;
    EXPECT_EQ(parser->parse(out).get(doc), simdjson::SUCCESS) << out;
    return doc;
  }

  std::unique_ptr<testing::ReadStack> stack_;
};

// `!=` is no required literal: every line reaches the stages, two pass them.
constexpr const char* kQuery = R"({app="a"} != "beta")";

TEST_F(QueryStatsTest, HeadDataFillsTheIngesterSection) {
  Start();
  PushThree(kT0);
  QueryStats s = Exec(kQuery);
  EXPECT_EQ(s.total_lines_processed, kLines);  // the summary, unchanged

  EXPECT_EQ(s.ingester.reached, 1u);
  EXPECT_EQ(s.ingester.chunks, 1u);
  EXPECT_EQ(s.ingester.head_lines, kLines);
  EXPECT_EQ(s.ingester.head_bytes, kLineBytes);
  EXPECT_EQ(s.ingester.head_metadata_bytes, kMetadataBytes);
  EXPECT_EQ(s.ingester.blocks.compressed_bytes_read, 0u);
  EXPECT_EQ(s.ingester.lines_sent, 2u);
  EXPECT_EQ(s.store.chunks, 0u);
  EXPECT_EQ(s.store.chunks_downloaded, 0u);
  EXPECT_EQ(s.store.pipeline.lines_processed, 0u);

  simdjson::dom::parser parser;
  auto doc = Json(&parser, s);
  auto ing = doc["ingester"];
  EXPECT_EQ(uint64_t(ing["totalReached"]), 1u);
  EXPECT_EQ(uint64_t(ing["totalChunksMatched"]), 1u);
  EXPECT_EQ(uint64_t(ing["totalLinesSent"]), 2u);
  EXPECT_EQ(uint64_t(ing["store"]["chunk"]["headChunkLines"]), kLines);
  EXPECT_EQ(uint64_t(ing["store"]["chunk"]["headChunkBytes"]), kLineBytes + kMetadataBytes);
  EXPECT_EQ(uint64_t(ing["store"]["chunk"]["headChunkStructuredMetadataBytes"]), kMetadataBytes);
  EXPECT_EQ(uint64_t(ing["store"]["chunk"]["decompressedLines"]), 0u);
  EXPECT_EQ(uint64_t(ing["store"]["chunk"]["decompressedBytes"]), 0u);
  EXPECT_EQ(uint64_t(ing["store"]["chunk"]["postFilterLines"]), 2u);
  EXPECT_EQ(uint64_t(doc["querier"]["store"]["totalChunksRef"]), 0u);
  EXPECT_EQ(uint64_t(doc["querier"]["store"]["chunk"]["decompressedLines"]), 0u);
  EXPECT_EQ(uint64_t(doc["index"]["totalChunks"]), 0u);
}

TEST_F(QueryStatsTest, FlushedDataFillsTheQuerierStoreSection) {
  Start();
  PushThree(kT0);
  FlushAndForget();
  QueryStats s = Exec(kQuery);
  EXPECT_EQ(s.total_lines_processed, kLines);

  EXPECT_EQ(s.store.chunks, 1u);
  EXPECT_EQ(s.store.chunks_downloaded, 1u);
  EXPECT_EQ(s.store.head_lines, 0u);
  EXPECT_EQ(s.store.pipeline.lines_processed, kLines);
  EXPECT_GT(s.store.blocks.compressed_bytes_read, 0u);
  EXPECT_EQ(s.ingester.reached, 1u);  // asked, had nothing
  EXPECT_EQ(s.ingester.chunks, 0u);
  EXPECT_EQ(s.ingester.pipeline.lines_processed, 0u);

  simdjson::dom::parser parser;
  auto doc = Json(&parser, s);
  auto st = doc["querier"]["store"];
  EXPECT_EQ(uint64_t(st["totalChunksRef"]), 1u);
  EXPECT_EQ(uint64_t(st["totalChunksDownloaded"]), 1u);
  EXPECT_EQ(uint64_t(st["chunk"]["decompressedLines"]), kLines);
  EXPECT_EQ(uint64_t(st["chunk"]["decompressedBytes"]), kLineBytes + kMetadataBytes);
  EXPECT_EQ(uint64_t(st["chunk"]["decompressedStructuredMetadataBytes"]), kMetadataBytes);
  EXPECT_EQ(uint64_t(st["chunk"]["compressedBytes"]), s.store.blocks.compressed_bytes_read);
  EXPECT_EQ(uint64_t(st["chunk"]["postFilterLines"]), 2u);
  EXPECT_EQ(uint64_t(st["chunk"]["headChunkLines"]), 0u);
  EXPECT_EQ(uint64_t(doc["index"]["totalChunks"]), 1u);
  EXPECT_EQ(uint64_t(doc["index"]["postFilterChunks"]), 1u);
  EXPECT_EQ(uint64_t(doc["ingester"]["totalLinesSent"]), 0u);
  EXPECT_EQ(uint64_t(doc["ingester"]["store"]["chunk"]["headChunkLines"]), 0u);
}

TEST_F(QueryStatsTest, BothSectionsAddUpToTheSummary) {
  Start();
  PushThree(kT0);
  FlushAndForget();
  PushThree(kT0 + 10 * kSecond);
  QueryStats s = Exec(kQuery);
  EXPECT_EQ(s.total_lines_processed, 2 * kLines);
  EXPECT_EQ(s.total_post_filter_lines, 4u);
  EXPECT_EQ(s.store.pipeline.lines_processed, kLines);
  EXPECT_EQ(s.store.chunks, 1u);
  EXPECT_EQ(s.ingester.head_lines, kLines);
  EXPECT_EQ(s.ingester.chunks, 1u);

  simdjson::dom::parser parser;
  auto doc = Json(&parser, s);
  auto q = doc["querier"]["store"]["chunk"];
  auto i = doc["ingester"]["store"]["chunk"];
  EXPECT_EQ(uint64_t(q["decompressedLines"]) + uint64_t(i["headChunkLines"]),
            uint64_t(doc["summary"]["totalLinesProcessed"]));
  EXPECT_EQ(uint64_t(q["postFilterLines"]) + uint64_t(i["postFilterLines"]),
            uint64_t(doc["summary"]["totalPostFilterLines"]));
}

// Blocks the ingester cut (compressed, still in memory) count as decompressed in the ingester's
// section, its head as head.
TEST_F(QueryStatsTest, IngesterCutBlocksCountAsDecompressed) {
  Start(/*block_size=*/16);
  PushThree(kT0);
  QueryStats s = Exec(kQuery);
  EXPECT_EQ(s.ingester.pipeline.lines_processed, kLines);
  EXPECT_LT(s.ingester.head_lines, kLines);
  EXPECT_GT(s.ingester.blocks.compressed_bytes_read, 0u);
  EXPECT_EQ(s.store.pipeline.lines_processed, 0u);
  simdjson::dom::parser parser;
  auto i = Json(&parser, s)["ingester"]["store"]["chunk"];
  EXPECT_EQ(uint64_t(i["decompressedLines"]) + uint64_t(i["headChunkLines"]), kLines);
  EXPECT_EQ(uint64_t(i["decompressedBytes"]) + uint64_t(i["headChunkBytes"]),
            kLineBytes + kMetadataBytes);
  EXPECT_EQ(uint64_t(i["compressedBytes"]), s.ingester.blocks.compressed_bytes_read);
}

// Metric queries run their stages on the merged streams: the lines each component read are
// attributed, the lines kept are the summary's alone.
TEST_F(QueryStatsTest, MetricQueriesAttributeLinesRead) {
  Start();
  PushThree(kT0);
  FlushAndForget();
  PushThree(kT0 + 10 * kSecond);
  QueryStats s = Exec(R"(sum(count_over_time({app="a"} != "beta" [1m])))");
  EXPECT_EQ(s.store.pipeline.lines_processed, kLines);
  EXPECT_EQ(s.ingester.head_lines, kLines);
  EXPECT_EQ(s.ingester.lines_sent, kLines);  // raw: the stages run after the merge
  EXPECT_EQ(s.store.pipeline.lines_passed, 0u);
  EXPECT_EQ(s.ingester.pipeline.lines_passed, 0u);
  EXPECT_EQ(s.total_post_filter_lines, 4u);
}

}  // namespace
}  // namespace sluice::querier
