#include "http/push/push_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>
#include <zlib.h>

#include <chrono>
#include <random>
#include <string>

#include "http/push/push_internal.h"
#include "model/labels.h"
#include "push.pb.h"
#include "testing/compress.h"

namespace sluice::http {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kProto = "application/x-protobuf";

using sluice::testing::Deflate;
using sluice::testing::Gzip;
using sluice::testing::Lz4Frame;
using sluice::testing::ZstdFrame;
std::string Zlib(std::string_view in) { return Deflate(in, 15); }
std::string RawDeflate(std::string_view in) { return Deflate(in, -15); }

std::string Snappy(std::string_view in) {
  std::string out;
  snappy::Compress(in.data(), in.size(), &out);
  return out;
}

logproto::PushRequest SampleProto() {
  logproto::PushRequest req;
  auto* s = req.add_streams();
  s->set_labels(R"({app="api", env="prod"})");
  auto* e = s->add_entries();
  e->mutable_timestamp()->set_seconds(1700000000);
  e->mutable_timestamp()->set_nanos(123);
  e->set_line("first line");
  e = s->add_entries();
  e->mutable_timestamp()->set_seconds(1700000001);
  e->set_line(std::string("bad \xff\xfe utf8", 14));
  auto* md = e->add_structuredmetadata();
  md->set_name("trace_id");
  md->set_value("abc");
  s->set_hash(42);
  s = req.add_streams();
  s->set_labels(R"({app="worker"})");
  return req;
}

std::vector<model::Label> Metadata(const model::EntryView& e) {
  return {e.metadata.begin(), e.metadata.end()};
}
model::Entry Owned(const model::EntryView& e) {
  return {e.timestamp_ns, std::string(e.line), Metadata(e)};
}

void ExpectSample(const model::PushRequest& req) {
  ASSERT_EQ(req.streams.size(), 2u);
  EXPECT_EQ(req.streams[0].labels, R"({app="api", env="prod"})");
  ASSERT_EQ(req.streams[0].entries.size(), 2u);
  EXPECT_EQ(req.streams[0].entries[0].timestamp_ns, 1700000000'000000123);
  EXPECT_EQ(req.streams[0].entries[0].line, "first line");
  EXPECT_TRUE(req.streams[0].entries[0].metadata.empty());
  EXPECT_EQ(req.streams[0].entries[1].timestamp_ns, 1700000001'000000000);
  EXPECT_EQ(req.streams[0].entries[1].line, std::string("bad \xff\xfe utf8", 14));
  EXPECT_EQ(Metadata(req.streams[0].entries[1]), (std::vector<model::Label>{{"trace_id", "abc"}}));
  EXPECT_EQ(req.streams[1].labels, R"({app="worker"})");
  EXPECT_TRUE(req.streams[1].entries.empty());
}

Result<model::PushRequest> Decode(std::string_view body, std::string_view type,
                                  std::string_view encoding = "", PushDecodeOptions opts = {}) {
  return DecodePush(body, type, encoding, opts);
}

// --- JSON ---

constexpr std::string_view kSampleJson = R"({"streams": [
  {"stream": {"app": "api", "env": "prod"},
   "values": [["1700000000000000123", "first line"],
              ["1700000001000000000", "bad \u00e9 line", {"trace_id": "abc"}]]},
  {"values": [], "stream": {"app": "worker"}}]})";

TEST(PushJson, DecodesStreamsEntriesAndMetadata) {
  auto r = Decode(kSampleJson, kJson);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->streams.size(), 2u);
  EXPECT_EQ(r->streams[0].labels, R"({app="api", env="prod"})");
  ASSERT_EQ(r->streams[0].entries.size(), 2u);
  EXPECT_EQ(Owned(r->streams[0].entries[0]),
            (model::Entry{1700000000'000000123, "first line", {}}));
  EXPECT_EQ(Owned(r->streams[0].entries[1]),
            (model::Entry{1700000001'000000000, "bad \xc3\xa9 line", {{"trace_id", "abc"}}}));
  EXPECT_EQ(r->streams[1].labels, R"({app="worker"})");
  auto labels = model::ParseLabels(r->streams[0].labels);
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels->Get("env"), "prod");
}

TEST(PushJson, ContentTypeParametersCaseAndNumericTimestamps) {
  auto r = Decode(
      R"({"streams":[{"stream":{"a":"b"},"values":[[1700000000000000000,"x"],["+5","y"],["-5","z"]]}]})",
      "Application/JSON; charset=utf-8");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->streams[0].entries.size(), 3u);
  EXPECT_EQ(r->streams[0].entries[0].timestamp_ns, 1700000000000000000);
  EXPECT_EQ(r->streams[0].entries[1].timestamp_ns, 5);
  EXPECT_EQ(r->streams[0].entries[2].timestamp_ns, -5);
}

TEST(PushJson, LabelValuesAreQuotedAndRoundTrip) {
  auto r = Decode(R"({"streams":[{"stream":{"a":"q\"uo\\te\n}","b":""},"values":[]}]})", kJson);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto labels = model::ParseLabels(r->streams[0].labels);
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  EXPECT_EQ(*labels->Get("a"), "q\"uo\\te\n}");
  EXPECT_EQ(*labels->Get("b"), "");
}

TEST(PushJson, InvalidLabelNamesCannotInject) {
  for (std::string_view body : {
           R"({"streams":[{"stream":{"a=\"x\", b":"v"},"values":[]}]})",
           R"({"streams":[{"stream":{"a\"}":"v"},"values":[]}]})",
           R"({"streams":[{"stream":{"":"v"},"values":[]}]})",
           R"({"streams":[{"stream":{"ok":"1","a-b":"v"},"values":[]}]})",
       }) {
    auto r = Decode(body, kJson);
    ASSERT_TRUE(r.ok()) << body << ": " << r.status().ToString();
    EXPECT_FALSE(model::ParseLabels(r->streams[0].labels).ok()) << r->streams[0].labels;
  }
}

TEST(PushJson, MissingStreamLabelsGiveEmptySet) {
  auto r = Decode(R"({"streams":[{"values":[["1","x"]]}]})", kJson);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->streams[0].labels, "{}");
}

TEST(PushJson, InvalidUtf8IsKeptAsBytes) {
  std::string body =
      "{\"streams\":[{\"stream\":{\"a\":\"v\xff\"},\"values\":[[\"1\",\"x\xc3\x28y\xff\xe9\","
      "{\"k\xfe\":\"v\x80\"}]]}]}";
  auto r = Decode(body, kJson);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->streams[0].entries[0].line, "x\xc3\x28y\xff\xe9");
  EXPECT_EQ(Metadata(r->streams[0].entries[0]), (std::vector<model::Label>{{"k\xfe", "v\x80"}}));
  auto labels = model::ParseLabels(r->streams[0].labels);
  ASSERT_TRUE(labels.ok()) << r->streams[0].labels;
  EXPECT_EQ(*labels->Get("a"), "v\xff");

  // A body that already holds the escape code points cannot be told apart: it is rejected.
  std::string clash = "{\"streams\":[{\"values\":[[\"1\",\"\xf4\x8f\xbe\x80\xff\"]]}]}";
  auto c = Decode(clash, kJson);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "invalid JSON push body: The input is not valid UTF-8");
  // Valid UTF-8 that happens to use them is fine.
  auto v = Decode("{\"streams\":[{\"values\":[[\"1\",\"\xf4\x8f\xbe\x80\"]]}]}", kJson);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->streams[0].entries[0].line, "\xf4\x8f\xbe\x80");
}

TEST(PushJson, WrongTypesAreInvalidArgumentWithMessage) {
  struct Case {
    std::string_view body;
    std::string_view message;
  } cases[] = {
      {R"([1,2])", "invalid JSON push body: the body must be a JSON object"},
      {R"({"foo": 1})", R"(invalid JSON push body: missing "streams")"},
      {R"({"streams": {}})", R"(invalid JSON push body: "streams" must be an array)"},
      {R"({"streams": [1]})", "invalid JSON push body: streams[0] must be an object"},
      {R"({"streams": [{"stream": {"a": "b"}, "values": {}}]})",
       R"(invalid JSON push body: streams[0].values must be an array of ["<unix ns>", "<line>"])"},
      {R"({"streams": [{"stream": [], "values": []}]})",
       "invalid JSON push body: streams[0].stream must be an object of label names to string "
       "values"},
      {R"({"streams": [{"stream": {"a": 1}, "values": []}]})",
       R"(invalid JSON push body: streams[0].stream: the value of label "a" must be a string)"},
      {R"({"streams": [{"values": [["1", "x"], "line"]}]})",
       "invalid JSON push body: streams[0].values[1] must be an array"},
      {R"({"streams": [{"values": []}, {"values": [["abc", "x"]]}]})",
       R"(invalid JSON push body: streams[1].values[0]: invalid timestamp "abc": want a string of Unix nanoseconds)"},
      {R"({"streams": [{"values": [["", "x"]]}]})", R"(invalid timestamp "": want a string)"},
      {R"({"streams": [{"values": [["12a", "x"]]}]})", R"(invalid timestamp "12a")"},
      {R"({"streams": [{"values": [["99999999999999999999", "x"]]}]})", "invalid timestamp"},
      {R"({"streams": [{"values": [[1.5, "x"]]}]})",
       "invalid JSON push body: streams[0].values[0]: invalid timestamp 1.5: want integer Unix "
       "nanoseconds"},
      {R"({"streams": [{"values": [[null, "x"]]}]})",
       "invalid JSON push body: streams[0].values[0]: the timestamp must be a string of Unix "
       "nanoseconds"},
      {R"({"streams": [{"values": [["1", 2]]}]})",
       "invalid JSON push body: streams[0].values[0]: the line must be a string"},
      {R"({"streams": [{"values": [["1"]]}]})",
       "invalid JSON push body: streams[0].values[0] must hold a timestamp and a line"},
      {R"({"streams": [{"values": [["1", "x", {}, 4]]}]})",
       "streams[0].values[0] has more than 3 elements"},
      {R"({"streams": [{"values": [["1", "x", []]]}]})",
       "streams[0].values[0]: structured metadata must be an object"},
      {R"({"streams": [{"values": [["1", "x", {"k": 1}]]}]})",
       R"(streams[0].values[0]: the value of structured metadata "k" must be a string)"},
      {R"({"streams": [)", "invalid JSON push body: "},
      {R"({"streams": []} x)", "invalid JSON push body: "},
      {"", "invalid JSON push body: "},
  };
  for (const auto& c : cases) {
    auto r = Decode(c.body, kJson);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(r.status().message(), HasSubstr(c.message)) << c.body;
  }
}

TEST(PushJson, SyntaxErrorsCarrySimdjsonMessage) {
  auto r = Decode(R"({"streams": [{"values": [["1", "x"]]}})", kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("invalid JSON push body: "));
  EXPECT_GT(r.status().message().size(), std::string_view("invalid JSON push body: ").size());
}

TEST(PushJson, GzipAndDeflateWrapped) {
  for (const std::string& body : {Gzip(kSampleJson), Zlib(kSampleJson), RawDeflate(kSampleJson)}) {
    std::string_view enc = body == Gzip(kSampleJson) ? "gzip" : "deflate";
    auto r = Decode(body, kJson, enc);
    ASSERT_TRUE(r.ok()) << enc << ": " << r.status().ToString();
    EXPECT_EQ(r->streams.size(), 2u);
    EXPECT_EQ(r->streams[0].entries[1].metadata.size(), 1u);
  }
}

// --- protobuf ---

TEST(PushProto, DecodesSnappyProtobuf) {
  std::string body = Snappy(SampleProto().SerializeAsString());
  for (std::string_view type :
       {kProto, std::string_view(""), std::string_view("application/x-protobuf; v=1")}) {
    for (std::string_view enc : {"", "snappy"}) {
      auto r = Decode(body, type, enc);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ExpectSample(*r);
    }
  }
}

// A decoded request's lines are views into buffers that are reused for later requests on the
// same thread: they must stay valid, and keep their contents, while the request lives.
TEST(PushDecode, RequestOutlivesLaterDecodesAndMoves) {
  std::string proto_body = Snappy(SampleProto().SerializeAsString());
  for (std::string_view type : {kProto, kJson}) {
    std::string_view body = type == kJson ? kSampleJson : std::string_view(proto_body);
    auto first = Decode(body, type);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    model::PushRequest kept = std::move(first).value();
    std::string other_body =
        type == kJson
            ? R"({"streams":[{"stream":{"app":"zzz"},"values":[["5","overwritten?"],["6","overwritten!"]]}]})"
            : Snappy([] {
                logproto::PushRequest other;
                auto* s = other.add_streams();
                s->set_labels(R"({app="zzzzzzzzzzzzzzzzzzzzzzzz"})");
                for (int i = 0; i < 3; ++i) s->add_entries()->set_line(std::string(40, 'z'));
                return other.SerializeAsString();
              }());
    for (int round = 0; round < 3; ++round) {
      auto later = Decode(other_body, type);
      ASSERT_TRUE(later.ok()) << later.status().ToString();
      ASSERT_FALSE(later->streams.empty());
    }
    model::PushRequest moved = std::move(kept);
    ASSERT_GE(moved.streams.size(), 1u);
    EXPECT_EQ(moved.streams[0].labels, R"({app="api", env="prod"})") << type;
    ASSERT_EQ(moved.streams[0].entries.size(), 2u);
    EXPECT_EQ(moved.streams[0].entries[0].line, "first line") << type;
    EXPECT_EQ(Metadata(moved.streams[0].entries[1]),
              (std::vector<model::Label>{{"trace_id", "abc"}}))
        << type;
  }
}

TEST(PushProto, GzipAndDeflateWrapped) {
  std::string body = Snappy(SampleProto().SerializeAsString());
  struct Case {
    std::string body;
    std::string_view encoding;
  } cases[] = {{Gzip(body), "gzip"},
               {Gzip(body), " GZIP "},
               {Zlib(body), "deflate"},
               {RawDeflate(body), "deflate"}};
  for (const auto& c : cases) {
    auto r = Decode(c.body, kProto, c.encoding);
    ASSERT_TRUE(r.ok()) << c.encoding << ": " << r.status().ToString();
    ExpectSample(*r);
  }
}

TEST(PushProto, ConcatenatedGzipMembers) {
  std::string raw = Snappy(SampleProto().SerializeAsString());
  std::string body = Gzip(raw.substr(0, 10)) + Gzip(raw.substr(10));
  auto r = Decode(body, kProto, "gzip");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectSample(*r);

  auto bad = Decode(Gzip(raw) + "junk", kProto, "gzip");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "invalid gzip body: 4 bytes of trailing garbage after the stream");
}

TEST(PushProto, TimestampRange) {
  logproto::PushRequest req;
  auto* e = req.add_streams()->add_entries();
  e->mutable_timestamp()->set_seconds(-2);
  e->mutable_timestamp()->set_nanos(999999999);
  auto r = Decode(Snappy(req.SerializeAsString()), kProto);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->streams[0].entries[0].timestamp_ns, -1000000001);

  e->mutable_timestamp()->set_nanos(-1);
  r = Decode(Snappy(req.SerializeAsString()), kProto);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "invalid protobuf push body: streams[0].entries[0]: timestamp out of range "
            "(seconds=-2, nanos=-1)");

  e->mutable_timestamp()->set_nanos(0);
  e->mutable_timestamp()->set_seconds(int64_t{1} << 40);
  r = Decode(Snappy(req.SerializeAsString()), kProto);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("timestamp out of range"));
}

TEST(PushProto, TruncatedAtEveryLength) {
  std::string raw = SampleProto().SerializeAsString();
  for (size_t n = 0; n < raw.size(); ++n) {
    std::string cut = raw.substr(0, n);
    logproto::PushRequest reference;
    bool reference_ok = reference.ParseFromString(cut);
    auto r = Decode(Snappy(cut), kProto);
    EXPECT_EQ(r.ok(), reference_ok) << "length " << n;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_THAT(r.status().message(), HasSubstr("invalid protobuf push body: "));
    }
  }
  std::string snappy = Snappy(raw);
  for (size_t n = 0; n < snappy.size(); ++n) {
    auto r = Decode(snappy.substr(0, n), kProto);
    ASSERT_FALSE(r.ok()) << "length " << n;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  std::string gz = Gzip(snappy);
  for (size_t n = 0; n < gz.size(); ++n) {
    auto r = Decode(gz.substr(0, n), kProto, "gzip");
    ASSERT_FALSE(r.ok()) << "length " << n;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

// Mutated encodings must decode exactly as protobuf's generated parser sees them.
TEST(PushProto, AgreesWithGeneratedParserOnMutations) {
  std::mt19937 rng(7);
  logproto::PushRequest sample = SampleProto();
  sample.mutable_streams(0)->mutable_entries(0)->mutable_timestamp()->set_seconds(5);
  std::string raw = sample.SerializeAsString();
  int both_ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string m = raw;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      size_t pos = rng() % m.size();
      switch (rng() % 3) {
        case 0:
          m[pos] = static_cast<char>(rng());
          break;
        case 1:
          m.erase(pos, 1 + rng() % 3);
          break;
        default:
          m.insert(pos, 1, static_cast<char>(rng()));
      }
      if (m.empty()) {
        m = raw;
      }
    }
    logproto::PushRequest reference;
    bool reference_ok = reference.ParseFromString(m);
    auto r = push_internal::ParseProtoPush(m);
    if (!reference_ok) {
      EXPECT_FALSE(r.ok()) << "mutation " << i;
      continue;
    }
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr("timestamp out of range")) << "mutation " << i;
      continue;
    }
    ++both_ok;
    ASSERT_EQ(r->streams.size(), static_cast<size_t>(reference.streams_size()));
    for (int s = 0; s < reference.streams_size(); ++s) {
      const auto& want = reference.streams(s);
      const auto& got = r->streams[s];
      EXPECT_EQ(got.labels, want.labels());
      ASSERT_EQ(got.entries.size(), static_cast<size_t>(want.entries_size()));
      for (int e = 0; e < want.entries_size(); ++e) {
        const auto& we = want.entries(e);
        EXPECT_EQ(got.entries[e].timestamp_ns,
                  we.timestamp().seconds() * 1000000000 + we.timestamp().nanos());
        EXPECT_EQ(got.entries[e].line, we.line());
        ASSERT_EQ(got.entries[e].metadata.size(),
                  static_cast<size_t>(we.structuredmetadata_size()));
        for (int k = 0; k < we.structuredmetadata_size(); ++k) {
          EXPECT_EQ(got.entries[e].metadata[k].name, we.structuredmetadata(k).name());
          EXPECT_EQ(got.entries[e].metadata[k].value, we.structuredmetadata(k).value());
        }
      }
    }
  }
  EXPECT_GT(both_ok, 100);
}

TEST(PushProto, UnknownFieldsAndGroupsAreSkipped) {
  std::string raw = SampleProto().SerializeAsString();
  // Field 9 varint, field 10 fixed32, field 11 group holding field 1 varint, at the top level.
  std::string extra =
      std::string("\x48\x01", 2) + std::string("\x55\x01\x02\x03\x04", 5) + "\x5b\x08\x01\x5c";
  auto r = Decode(Snappy(extra + raw), kProto);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectSample(*r);
  logproto::PushRequest reference;
  EXPECT_TRUE(reference.ParseFromString(extra + raw));
}

TEST(PushProto, ContentTypeOtherThanJsonIsProtobuf) {
  auto ok = Decode(Snappy(SampleProto().SerializeAsString()), "text/plain");
  ASSERT_TRUE(ok.ok());
  auto r = Decode("hello", "text/plain");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("(Content-Type \"text/plain\" is decoded as "
                                              "snappy-compressed protobuf; use application/json "
                                              "for JSON)"));
}

// --- sizes, encodings, garbage ---

TEST(PushDecode, UnsupportedEncoding) {
  auto r = Decode("x", kJson, "br");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            R"(Content-Encoding "br" not supported (supported: gzip, deflate, snappy))");
}

TEST(PushDecode, CompressedCap) {
  PushDecodeOptions opts;
  opts.max_compressed_bytes = 10;
  auto r = Decode(kSampleJson, kJson, "", opts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_THAT(r.status().message(), HasSubstr("exceeds the limit of 10 bytes"));
}

TEST(PushDecode, DecompressedCapAtEachStage) {
  PushDecodeOptions opts;
  opts.max_decompressed_bytes = 100;
  std::string big_json = R"({"streams":[{"values":[["1",")" + std::string(200, 'a') + "\"]]}]}";
  EXPECT_EQ(Decode(big_json, kJson, "", opts).status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(Decode(Gzip(big_json), kJson, "gzip", opts).status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(Decode(Zlib(big_json), kJson, "deflate", opts).status().code(), StatusCode::kTooLarge);

  logproto::PushRequest req;
  req.add_streams()->add_entries()->set_line(std::string(200, 'a'));
  std::string snappy = Snappy(req.SerializeAsString());
  ASSERT_LT(snappy.size(), 100u);
  auto r = Decode(snappy, kProto, "", opts);
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(r.status().message(), "snappy body decompresses to " +
                                      std::to_string(req.ByteSizeLong()) +
                                      " bytes, over the limit of 100 bytes");
  EXPECT_EQ(Decode(Gzip(snappy), kProto, "gzip", opts).status().code(), StatusCode::kTooLarge);

  // Exactly at the cap is fine.
  opts.max_decompressed_bytes = big_json.size();
  EXPECT_TRUE(Decode(Gzip(big_json), kJson, "gzip", opts).ok());
  EXPECT_TRUE(Decode(RawDeflate(big_json), kJson, "deflate", opts).ok());
}

TEST(PushDecode, GzipBombStopsAtCapWithBoundedMemory) {
  std::string bomb = Gzip(std::string(50 << 20, '\0'), Z_BEST_SPEED);
  ASSERT_LT(bomb.size(), 1u << 20);
  PushDecodeOptions opts;
  opts.max_decompressed_bytes = 1 << 20;
  auto start = std::chrono::steady_clock::now();
  auto r = Decode(bomb, kProto, "gzip", opts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(r.status().message(), "gzip body decompresses to more than the limit of 1048576 bytes");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));

  push_internal::ByteBuffer out;
  EXPECT_EQ(push_internal::InflateGzip(bomb, 1 << 20, &out).code(), StatusCode::kTooLarge);
  EXPECT_LE(out.capacity(), 1u << 20);
  std::string zlib_bomb = Deflate(std::string(8 << 20, '\0'), 15, Z_BEST_SPEED);
  EXPECT_EQ(push_internal::InflateDeflate(zlib_bomb, 1 << 20, &out).code(), StatusCode::kTooLarge);
  EXPECT_LE(out.capacity(), 1u << 20);
}

TEST(PushDecode, ZstdAndLz4FramesDecodeAndStopAtTheCap) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  push_internal::ByteBuffer out;
  using Decoder = Status (*)(std::string_view, uint64_t, push_internal::ByteBuffer*);
  const std::pair<Decoder, std::string (*)(std::string_view)> codecs[] = {
      {push_internal::ZstdUncompress, [](std::string_view in) { return ZstdFrame(in); }},
      {push_internal::Lz4FrameUncompress, [](std::string_view in) { return Lz4Frame(in); }},
  };
  for (auto [decode, compress] : codecs) {
    std::string frame = compress(text);
    ASSERT_TRUE(decode(frame, 1 << 20, &out).ok());
    EXPECT_EQ(out.view(), text);
    // Two frames back to back decode as one body.
    ASSERT_TRUE(decode(frame + compress("tail"), 1 << 20, &out).ok());
    EXPECT_EQ(out.view(), text + "tail");
    // Exactly at the cap passes; one byte under it is TooLarge; a 64 MiB bomb stops at the cap.
    EXPECT_TRUE(decode(frame, text.size(), &out).ok());
    EXPECT_EQ(decode(frame, text.size() - 1, &out).code(), StatusCode::kTooLarge);
    EXPECT_EQ(decode(compress(std::string(64 << 20, 'a')), 1 << 20, &out).code(),
              StatusCode::kTooLarge);
    EXPECT_LE(out.capacity(), size_t{1} << 20);
    // Truncated or corrupt frames are InvalidArgument.
    for (size_t cut : {frame.size() - 1, frame.size() / 2, size_t{3}}) {
      Status st = decode(std::string_view(frame).substr(0, cut), 1 << 20, &out);
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << cut << " " << st.message();
    }
    EXPECT_EQ(decode("not a frame at all", 1 << 20, &out).code(), StatusCode::kInvalidArgument);
  }
}

TEST(PushDecode, SnappyLengthHeaderIsCheckedBeforeAllocating) {
  // Varint 0xffffffff: a 4 GiB claim in five bytes.
  std::string huge(
      "\xff\xff\xff\xff\x0f"
      "abc",
      8);
  auto r = Decode(huge, kProto);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(r.status().message(),
            "snappy body decompresses to 4294967295 bytes, over the limit of 104857600 bytes");

  // Under the cap but impossible for the input size: rejected without reserving it.
  std::string lie(
      "\x80\x80\x80\x20"
      "abc",
      7);  // 64 MiB
  r = Decode(lie, kProto);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      r.status().message(),
      "invalid snappy body: header claims 67108864 bytes, impossible from 7 compressed bytes");

  // The bound holds for the most compressible input.
  std::string zeros(4 << 20, '\0');
  EXPECT_LT(zeros.size(), Snappy(zeros).size() * 22);
  // Zeros are not a valid protobuf, but they pass the snappy stage.
  EXPECT_EQ(Decode(Snappy(zeros), kProto).status().message(),
            "invalid protobuf push body: invalid field tag");
}

TEST(PushDecode, RandomBytesNeverCrash) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 400; ++i) {
    std::string junk(rng() % 300, '\0');
    for (char& c : junk) {
      c = static_cast<char>(rng());
    }
    if (i % 4 == 1 && junk.size() >= 2) {  // look like gzip so the header parser is exercised
      junk[0] = '\x1f';
      junk[1] = '\x8b';
    }
    PushDecodeOptions opts;
    opts.max_decompressed_bytes = 1 << 16;
    for (auto [type, enc] : {std::pair<std::string_view, std::string_view>{kProto, ""},
                             {kProto, "gzip"},
                             {kProto, "deflate"},
                             {kJson, ""},
                             {kJson, "gzip"}}) {
      auto r = Decode(junk, type, enc, opts);
      if (!r.ok()) {
        EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument ||
                    r.status().code() == StatusCode::kTooLarge)
            << r.status().ToString();
      }
    }
    // Random bytes behind valid framing reach the inner parsers.
    std::string json =
        R"({"streams":[{"stream":{"a":")" + junk + R"("},"values":[["1",")" + junk + "\"]]}]}";
    (void)Decode(json, kJson);
    (void)Decode(Snappy(junk), kProto);
    (void)Decode(Gzip(Snappy(junk)), kProto, "gzip");
  }
}

}  // namespace
}  // namespace sluice::http

namespace sluice::http {
namespace {

TEST(PushJsonLegacy, LabelsAndEntriesShape) {
  auto r = DecodePush(
      R"({"streams":[{"labels":"{job=\"a\"}","entries":[{"ts":"2023-11-14T22:13:20Z","line":"hi"}]}]})",
      "application/json", "", PushDecodeOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->streams.size(), 1u);
  EXPECT_EQ(r->streams[0].labels, R"({job="a"})");
  ASSERT_EQ(r->streams[0].entries.size(), 1u);
  EXPECT_EQ(r->streams[0].entries[0].timestamp_ns, 1700000000LL * 1'000'000'000);
  EXPECT_EQ(r->streams[0].entries[0].line, "hi");
}

TEST(PushJsonLegacy, UnknownStreamShapeIsRejectedNotDropped) {
  auto r = DecodePush(R"({"streams":[{"stream":{"a":"b"},"lines":["x"]}]})", "application/json", "",
                      PushDecodeOptions{});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "invalid JSON push body: streams[0] has no \"values\"");
}

}  // namespace
}  // namespace sluice::http
