#include "agent/batcher.h"

#include <gtest/gtest.h>

#include "agent/source.h"
#include "http/push/push_decoder.h"

namespace sluice::agent {
namespace {

class BatcherTest : public ::testing::Test {
 protected:
  BatcherTest() {
    a_->id = 1;
    a_->path = "/a";
    b_->id = 2;
    b_->path = "/b";
  }
  Item Line(const TrackedFilePtr& f, std::string text, uint64_t start,
            StreamLabelsPtr labels = nullptr) {
    Item it;
    it.file = f;
    it.labels = labels ? labels : labels_;
    it.line = std::move(text);
    it.start_offset = start;
    it.end_offset = start + it.line.size() + 1;
    it.charge = it.line.size() + kItemOverhead;
    return it;
  }
  model::PushRequest Decode(const Batch& b) {
    auto r = http::DecodePush(b.body, b.content_type, "", {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : model::PushRequest{};
  }

  TrackedFilePtr a_ = std::make_shared<TrackedFile>();
  TrackedFilePtr b_ = std::make_shared<TrackedFile>();
  StreamLabelsPtr labels_ = MakeStreamLabels({{"job", "app"}, {"filename", "/a"}});
};

TEST_F(BatcherTest, CutsBySize) {
  BatchBuilder b(10, Encoding::kProtobuf);
  EXPECT_FALSE(
      b.WouldOverflow(Line(a_, std::string(50, 'x'), 0)));  // an empty batch takes anything
  b.Add(Line(a_, "12345", 0), 1000);
  EXPECT_FALSE(b.WouldOverflow(Line(a_, "12345", 6)));
  b.Add(Line(a_, "12345", 6), 1000);
  EXPECT_TRUE(b.WouldOverflow(Line(a_, "1", 12)));
  EXPECT_EQ(b.bytes(), 10u);
}

TEST_F(BatcherTest, ProtobufRoundTripsThroughTheServerDecoder) {
  BatchBuilder b(1 << 20, Encoding::kProtobuf);
  auto other = MakeStreamLabels({{"job", "app"}, {"filename", "/b"}});
  b.Add(Line(a_, "a1", 0), 5'000'000'000);
  b.Add(Line(b_, "b1", 0, other), 5'000'000'000);
  b.Add(Line(a_, "a2", 3), 5'000'000'000);
  Batch batch = b.Cut(7);
  EXPECT_EQ(batch.id, 7u);
  EXPECT_EQ(batch.lines, 3u);
  EXPECT_EQ(batch.line_bytes, 6u);
  EXPECT_EQ(batch.content_type, "application/x-protobuf");
  auto req = Decode(batch);
  ASSERT_EQ(req.streams.size(), 2u);
  EXPECT_EQ(req.streams[0].labels, "{filename=\"/a\", job=\"app\"}");
  ASSERT_EQ(req.streams[0].entries.size(), 2u);
  EXPECT_EQ(req.streams[0].entries[0].line, "a1");
  EXPECT_EQ(req.streams[0].entries[0].timestamp_ns, 5'000'000'000);
  EXPECT_EQ(req.streams[0].entries[1].timestamp_ns, 5'000'000'001);  // strictly increasing per file
  EXPECT_EQ(req.streams[1].entries[0].timestamp_ns, 5'000'000'000);
  EXPECT_TRUE(b.empty());
}

TEST_F(BatcherTest, JsonRoundTripsWithEscapes) {
  BatchBuilder b(1 << 20, Encoding::kJson);
  b.Add(Line(a_, "quote \" back \\ tab \t ctl \x01 <&>", 0), 42);
  Batch batch = b.Cut(1);
  EXPECT_EQ(batch.content_type, "application/json");
  auto req = Decode(batch);
  ASSERT_EQ(req.streams.size(), 1u);
  EXPECT_EQ(req.streams[0].entries[0].line, "quote \" back \\ tab \t ctl \x01 <&>");
  EXPECT_EQ(req.streams[0].entries[0].timestamp_ns, 42);
}

TEST_F(BatcherTest, TimestampsNeverGoBackwardsWhenTheClockDoes) {
  BatchBuilder b(1 << 20, Encoding::kProtobuf);
  b.Add(Line(a_, "x", 0), 1000);
  b.Add(Line(a_, "y", 2), 500);  // the wall clock stepped back
  b.Add(Line(a_, "z", 4), 2000);
  auto req = Decode(b.Cut(1));
  auto& e = req.streams[0].entries;
  EXPECT_EQ(e[0].timestamp_ns, 1000);
  EXPECT_EQ(e[1].timestamp_ns, 1001);
  EXPECT_EQ(e[2].timestamp_ns, 2000);
}

TEST_F(BatcherTest, RunsFollowConsecutiveOffsetsAndTimestamps) {
  BatchBuilder b(1 << 20, Encoding::kProtobuf);
  b.Add(Line(a_, "x", 0), 1000);  // ts 1000, [0,2)
  b.Add(Line(a_, "y", 2), 1000);  // ts 1001, continues
  b.Add(Line(a_, "z", 4), 5000);  // ts 5000: a new run
  Batch batch = b.Cut(1);
  ASSERT_EQ(batch.segments.size(), 1u);
  EXPECT_EQ(batch.segments[0].runs, (std::vector<TimestampRun>{{0, 4, 1000}, {4, 6, 5000}}));
  EXPECT_EQ(a_->last_ts, 5000);
}

TEST_F(BatcherTest, PresetTimestampsFromTheJournalAreKept) {
  a_->last_ts = 9000;  // restored from positions
  BatchBuilder b(1 << 20, Encoding::kProtobuf);
  Item first = Line(a_, "x", 0);
  first.preset_ts = 700;
  Item second = Line(a_, "y", 2);
  second.preset_ts = 701;
  b.Add(std::move(first), 1'000'000);
  b.Add(std::move(second), 1'000'000);
  b.Add(Line(a_, "new", 4), 1'000'000);
  Batch batch = b.Cut(1);
  auto req = Decode(batch);
  auto& e = req.streams[0].entries;
  EXPECT_EQ(e[0].timestamp_ns, 700);
  EXPECT_EQ(e[1].timestamp_ns, 701);
  EXPECT_EQ(e[2].timestamp_ns, 1'000'000);
  EXPECT_EQ(batch.segments[0].runs, (std::vector<TimestampRun>{{0, 4, 700}, {4, 8, 1'000'000}}));
}

TEST_F(BatcherTest, ShedLinesCarryOffsetsButNoEntries) {
  BatchBuilder b(1 << 20, Encoding::kProtobuf);
  b.Add(Line(a_, "keep", 0), 100);
  Item shed = Line(a_, "", 5);
  shed.shed = true;
  shed.line_count = 3;
  shed.end_offset = 20;
  b.Add(std::move(shed), 100);
  b.Add(Line(a_, "keep2", 20), 100);
  Batch batch = b.Cut(1);
  EXPECT_EQ(batch.lines, 2u);
  EXPECT_EQ(batch.shed_lines, 3u);
  // The shed lines consumed timestamps 101..103, so the run stays one run.
  EXPECT_EQ(batch.segments[0].runs, (std::vector<TimestampRun>{{0, 26, 100}}));
  auto req = Decode(batch);
  ASSERT_EQ(req.streams[0].entries.size(), 2u);
  EXPECT_EQ(req.streams[0].entries[1].timestamp_ns, 104);
}

TEST_F(BatcherTest, OnlyShedLinesMakeAnEmptyBody) {
  BatchBuilder b(1 << 20, Encoding::kProtobuf);
  Item shed = Line(a_, "", 0);
  shed.shed = true;
  b.Add(std::move(shed), 100);
  EXPECT_FALSE(b.empty());
  Batch batch = b.Cut(1);
  EXPECT_EQ(batch.lines, 0u);
  EXPECT_TRUE(batch.body.empty());
  EXPECT_EQ(batch.segments.size(), 1u);
}

TEST_F(BatcherTest, NonPersistentSourcesAreNotJournaled) {
  auto in = std::make_shared<TrackedFile>();
  in->id = 3;
  in->persistent = false;
  BatchBuilder b(1 << 20, Encoding::kProtobuf);
  b.Add(Line(in, "x", 0), 1);
  Batch batch = b.Cut(1);
  EXPECT_TRUE(batch.segments.empty());
  EXPECT_EQ(batch.lines, 1u);
}

TEST_F(BatcherTest, GzipBodiesDecodeThroughTheServerDecoder) {
  for (Encoding enc : {Encoding::kProtobuf, Encoding::kJson}) {
    BatchBuilder plain(1 << 20, enc);
    BatchBuilder gz(1 << 20, enc, Compression::kGzip);
    for (int i = 0; i < 200; ++i) {
      std::string line =
          "level=info msg=\"request served\" path=/api/v1/items status=200 i=" + std::to_string(i);
      plain.Add(Line(a_, line, i * 100), 1000);
      gz.Add(Line(b_, line, i * 100), 1000);
    }
    Batch p = plain.Cut(1);
    Batch g = gz.Cut(2);
    EXPECT_TRUE(p.content_encoding.empty());
    EXPECT_EQ(g.content_encoding, "gzip");
    EXPECT_EQ(g.content_type, p.content_type);
    EXPECT_LT(g.body.size(), p.body.size());
    EXPECT_FALSE(
        http::DecodePush(g.body, g.content_type, "", {}).ok());  // really gzip, not the plain body
    auto req = http::DecodePush(g.body, g.content_type, g.content_encoding, {});
    ASSERT_TRUE(req.ok()) << req.status().ToString();
    ASSERT_EQ(req->streams.size(), 1u);
    ASSERT_EQ(req->streams[0].entries.size(), 200u);
    EXPECT_EQ(req->streams[0].entries[199].line,
              "level=info msg=\"request served\" path=/api/v1/items status=200 i=199");
  }
}

TEST_F(BatcherTest, JournalEntriesKeepTheirTimestampsAndCarryTheLastCursor) {
  a_->journal = true;
  BatchBuilder b(1 << 20, Encoding::kProtobuf);
  Item e1 = Line(a_, "one", 0);
  e1.preset_ts = 5'000;
  e1.cursor = "c1";
  Item piece = Line(a_, "tw", 4);  // the first piece of a split entry: no cursor of its own
  piece.preset_ts = 3'000;
  piece.end_offset = 6;
  Item rest = Line(a_, "o", 6);
  rest.preset_ts = 3'000;
  rest.cursor = "c2";
  b.Add(std::move(e1), 1'000'000);
  b.Add(std::move(piece), 1'000'000);
  b.Add(std::move(rest), 1'000'000);
  Batch batch = b.Cut(1);
  ASSERT_EQ(batch.segments.size(), 1u);
  EXPECT_EQ(batch.segments[0].cursor, "c2");
  // One run however the timestamps go: journal runs only delimit entries.
  EXPECT_EQ(batch.segments[0].runs, (std::vector<TimestampRun>{{0, 8, 0}}));
  auto req = Decode(batch);
  auto& e = req.streams[0].entries;
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].timestamp_ns, 5'000);
  EXPECT_EQ(e[1].timestamp_ns, 3'000);
  EXPECT_EQ(e[2].timestamp_ns, 3'000);
}

}  // namespace
}  // namespace sluice::agent
