// The write path's hand-written wire format (write/push_wire.h) against protobuf's generated
// logproto::PushRequest: the encoder writes the same bytes, the decoder reads what the generated
// parser reads.

#include "write/push_wire.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "common/clock.h"
#include "common/coding.h"

namespace sluice::write {
namespace {

// What a decoded stream says, one line per entry, as the generated parser's message says it.
std::string Render(const std::vector<ValidatedStream>& streams) {
  std::string out;
  for (const auto& s : streams) {
    out += s.labels_text() + "\n";
    for (const auto& e : s.entries) {
      out += " " + std::to_string(e.timestamp_ns) + " [" + std::string(e.line) + "]";
      for (const auto& m : e.metadata) out += " " + m.name + "=" + m.value;
      out += "\n";
    }
  }
  return out;
}

std::string Render(const logproto::PushRequest& req) {
  std::string out;
  for (const auto& s : req.streams()) {
    out += model::ParseLabels(s.labels())->ToString() + "\n";
    for (const auto& e : s.entries()) {
      const int64_t ns =
          static_cast<int64_t>(static_cast<uint64_t>(e.timestamp().seconds()) * kNanosPerSecond +
                               static_cast<uint64_t>(int64_t{e.timestamp().nanos()}));
      out += " " + std::to_string(ns) + " [" + e.line() + "]";
      for (const auto& m : e.structuredmetadata()) out += " " + m.name() + "=" + m.value();
      out += "\n";
    }
  }
  return out;
}

class PushWireTest : public ::testing::Test {
 protected:
  // Streams with the cases the encoding has: timestamps before 1970, on a second, at 0; empty
  // lines; metadata with empty names or values; lines long enough for multi-byte lengths.
  std::vector<ValidatedStream> Sample() {
    std::vector<ValidatedStream> streams = {
        MakeStream(R"({app="a"})", {{1'700'000'000'123'456'789, "one"},
                                    {1'700'000'001'000'000'000, ""},
                                    {0, "at zero"},
                                    {-1, "just before 1970"},
                                    {-1'500'000'000, "long ago"}}),
        MakeStream(R"({app="b", pod="p-1"})",
                   {{5, std::string(300, 'x')}, {6, std::string(70'000, 'y')}}),
        MakeStream(R"({app="c"})", {}),
    };
    streams[0].entries[0].metadata = Metadata({{"trace_id", "abc"}, {"", "no name"}});
    streams[0].entries[1].metadata = Metadata({{"empty", ""}});
    streams[1].entries[1].metadata = Metadata({{"k", std::string(200, 'v')}});
    return streams;
  }

  // The entries borrow their lines and metadata from the fixture.
  ValidatedStream MakeStream(const std::string& labels_text,
                             std::vector<std::pair<int64_t, std::string>> lines) {
    ValidatedStream vs;
    vs.labels = StreamLabels::Make(*model::ParseLabels(labels_text));
    for (auto& [ts, line] : lines) {
      vs.entries.push_back(model::EntryView{ts, lines_.emplace_back(std::move(line)), {}});
    }
    return vs;
  }

  std::span<const model::Label> Metadata(std::vector<model::Label> labels) {
    return metadata_.emplace_back(std::move(labels));
  }

  std::deque<std::string> lines_;
  std::deque<std::vector<model::Label>> metadata_;
};

TEST_F(PushWireTest, EncoderWritesWhatProtobufSerializes) {
  std::vector<ValidatedStream> streams = Sample();
  logproto::PushRequest reference;
  ToProto(streams, &reference);
  std::string want;
  ASSERT_TRUE(reference.SerializeToString(&want));
  EXPECT_EQ(EncodePushRequest(streams), want);
  EXPECT_EQ(PushRequestWriter(streams).size(), want.size());
  // Stream by stream, as a replicated push would reuse them.
  std::string joined;
  for (const auto& s : streams) {
    const size_t size = StreamAdapterSize(s);
    std::string one(size, '\0');
    EXPECT_EQ(WriteStreamAdapter(s, size, one.data()), one.data() + size);
    EXPECT_EQ(one, reference.streams(static_cast<int>(&s - streams.data())).SerializeAsString());
  }
  EXPECT_EQ(EncodePushRequest({}), "");
}

TEST_F(PushWireTest, WritersPiecesAreOneStreamRequestsThatConcatenateToTheRequest) {
  std::vector<ValidatedStream> streams = Sample();
  PushRequestWriter writer(streams);
  std::string bytes(writer.size(), '\0');
  writer.Write(bytes.data());
  size_t at = 0;
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < streams.size(); ++i) {
    const std::string_view piece(bytes.data() + at, writer.stream_field_size(i));
    at += piece.size();
    EXPECT_EQ(piece, EncodePushRequest(std::span<const ValidatedStream>(&streams[i], 1)));
    pieces.push_back(piece);
  }
  EXPECT_EQ(at, bytes.size());

  // A replica's request: some pieces, in any order, decoded in place without joining them.
  std::vector<std::string_view> some = {pieces[1], pieces[0]};
  ReceivedPush got;
  ASSERT_TRUE(DecodePushRequest(some, nullptr, &got).ok());
  std::vector<ValidatedStream> want = {streams[1], streams[0]};
  EXPECT_EQ(Render(got.streams), Render(want));
  const std::string_view line = got.streams[0].entries[1].line;
  EXPECT_GE(line.data(), bytes.data());
  EXPECT_LE(line.data() + line.size(), bytes.data() + bytes.size());
  // Metadata of entries in several pieces all point at the right labels.
  EXPECT_EQ(got.streams[0].entries[1].metadata[0].value, std::string(200, 'v'));
  EXPECT_EQ(got.streams[1].entries[0].metadata[0].value, "abc");
}

// A pusher that only implements Push: PushEncoded's default hands it the decoded streams.
class RecordingPusher final : public Pusher {
 public:
  Status Push(std::string_view tenant, std::vector<ValidatedStream>& streams) override {
    tenant_ = std::string(tenant);
    rendered_ = Render(streams);
    return status_;
  }
  std::string tenant_;
  std::string rendered_;
  Status status_;
};

TEST_F(PushWireTest, DefaultPushEncodedDecodesAndPushes) {
  std::vector<ValidatedStream> streams = Sample();
  const std::string a = EncodePushRequest(std::span<const ValidatedStream>(streams).first(1));
  const std::string b = EncodePushRequest(std::span<const ValidatedStream>(streams).subspan(1));
  RecordingPusher pusher;
  const std::vector<std::string_view> pieces = {a, b};
  ASSERT_TRUE(pusher.PushEncoded("tenant-1", pieces).ok());
  EXPECT_EQ(pusher.tenant_, "tenant-1");
  EXPECT_EQ(pusher.rendered_, Render(streams));

  pusher.status_ = Status::RateLimited("slow down");
  EXPECT_EQ(pusher.PushEncoded("t", pieces).code(), StatusCode::kRateLimited);
  const std::vector<std::string_view> bad = {a.substr(0, a.size() - 1)};
  EXPECT_EQ(pusher.PushEncoded("t", bad).code(), StatusCode::kInvalidArgument);
}

TEST_F(PushWireTest, DecoderReadsWhatTheGeneratedParserReads) {
  std::vector<ValidatedStream> streams = Sample();
  logproto::PushRequest reference;
  ToProto(streams, &reference);
  const std::string bytes = reference.SerializeAsString();
  LabelsCache cache;
  for (LabelsCache* labels : {&cache, static_cast<LabelsCache*>(nullptr)}) {
    ReceivedPush got;
    ASSERT_TRUE(DecodePushRequest(bytes, labels, &got).ok());
    EXPECT_EQ(Render(got.streams), Render(streams));
    EXPECT_EQ(Render(got.streams), Render(reference));
    // Lines are views into the received bytes, not copies.
    const std::string_view line = got.streams[1].entries[1].line;
    EXPECT_GE(line.data(), bytes.data());
    EXPECT_LE(line.data() + line.size(), bytes.data() + bytes.size());
    EXPECT_EQ(got.streams[0].fingerprint(), streams[0].fingerprint());
  }
}

TEST_F(PushWireTest, DecoderFollowsProtobufOnUnusualButValidBytes) {
  // Built by hand: labels after the entries, unknown fields of every wire type (a group
  // included), a known field with the wrong wire type, a repeated timestamp (merged), a repeated
  // line (last wins), a repeated stream labels field (last wins).
  auto varint = [](uint64_t v) {
    std::string s;
    coding::PutVarint64(&s, v);
    return s;
  };
  auto field = [&](uint32_t number, const std::string& payload) {
    return varint(number << 3 | 2) + varint(payload.size()) + payload;
  };
  std::string ts1 = varint(1 << 3) + varint(100);                     // seconds = 100
  std::string ts2 = varint(2 << 3) + varint(7);                       // nanos = 7
  std::string unknowns = varint(9 << 3 | 0) + varint(123) +           // varint
                         varint(10 << 3 | 1) + std::string(8, 'a') +  // fixed64
                         varint(11 << 3 | 5) + std::string(4, 'b') +  // fixed32
                         varint(12 << 3 | 3) + varint(1 << 3) + varint(5) +
                         varint(12 << 3 | 4);  // a group holding a varint
  std::string entry = field(1, ts1) + field(2, "first") + unknowns + field(1, ts2) +
                      field(2, "second") + varint(2 << 3 | 0) + varint(5) +  // line as varint
                      field(3, field(1, "k") + field(2, "v"));
  std::string stream = field(2, entry) + field(1, R"({app="wrong"})") + unknowns +
                       field(1, R"({app="x"})") + varint(3 << 3) + varint(42);
  std::string request = unknowns + field(1, stream) + field(5, "ignored");

  logproto::PushRequest reference;
  ASSERT_TRUE(reference.ParseFromString(request));
  ReceivedPush got;
  Status st = DecodePushRequest(request, nullptr, &got);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Render(got.streams), Render(reference));
  EXPECT_EQ(Render(got.streams), "{app=\"x\"}\n 100000000007 [second] k=v\n");
}

TEST_F(PushWireTest, MalformedBytesAreRefusedAsTheGeneratedParserRefusesThem) {
  std::vector<ValidatedStream> streams = Sample();
  const std::string bytes = EncodePushRequest(streams);
  // Every truncation, and seeded random corruptions: ours fails exactly when protobuf's does
  // (and then with InvalidArgument), and agrees on the content when both succeed.
  std::mt19937 rng(7);
  int checked = 0;
  for (size_t cut = 0; cut < bytes.size(); cut += 1 + cut / 50) {
    std::string in = bytes.substr(0, cut);
    if (cut % 3 == 1 && !in.empty()) in[rng() % in.size()] = static_cast<char>(rng());
    logproto::PushRequest reference;
    const bool want_ok = reference.ParseFromString(in);
    ReceivedPush got;
    Status st = DecodePushRequest(in, nullptr, &got);
    bool labels_ok = true;
    for (const auto& s : reference.streams()) labels_ok &= model::ParseLabels(s.labels()).ok();
    if (want_ok && labels_ok) {
      ASSERT_TRUE(st.ok()) << "cut " << cut << ": " << st.ToString();
      EXPECT_EQ(Render(got.streams), Render(reference)) << "cut " << cut;
    } else {
      ASSERT_FALSE(st.ok()) << "cut " << cut;
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    }
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST_F(PushWireTest, LabelsAreParsedOncePerTextAndBadOnesRefused) {
  LabelsCache cache(2);
  auto a1 = cache.Get(R"({app="a"})");
  auto a2 = cache.Get(R"({app="a"})");
  ASSERT_TRUE(a1.ok() && a2.ok());
  EXPECT_EQ(a1->get(), a2->get());
  EXPECT_EQ((*a1)->text, R"({app="a"})");
  // Full: it starts over, and what was handed out stays valid.
  ASSERT_TRUE(cache.Get(R"({app="b"})").ok());
  ASSERT_TRUE(cache.Get(R"({app="c"})").ok());
  EXPECT_EQ((*a1)->labels.ToString(), R"({app="a"})");
  EXPECT_EQ(cache.Get("{app=").status().code(), StatusCode::kInvalidArgument);

  logproto::PushRequest bad;
  bad.add_streams()->set_labels("not labels");
  ReceivedPush got;
  EXPECT_EQ(DecodePushRequest(bad.SerializeAsString(), &cache, &got).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::write
