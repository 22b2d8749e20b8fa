#include "http/push/otlp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <zlib.h>

#include <cstring>
#include <map>
#include <string>

#include "config/config.h"
#include "http/push/otlp_internal.h"
#include "testing/compress.h"

namespace sluice::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kProto = "application/x-protobuf";
constexpr int64_t kNow = 1'700'000'100'000'000'000;

// A protobuf writer just big enough to build OTLP bodies field by field.
class Pb {
 public:
  Pb& Bytes(uint32_t field, std::string_view v) {
    Varint(field << 3 | 2);
    Varint(v.size());
    out_.append(v);
    return *this;
  }
  Pb& Msg(uint32_t field, const Pb& m) { return Bytes(field, m.out_); }
  Pb& Uint(uint32_t field, uint64_t v) {
    Varint(field << 3);
    Varint(v);
    return *this;
  }
  Pb& Fixed64(uint32_t field, uint64_t v) {
    Varint(field << 3 | 1);
    for (int i = 0; i < 8; ++i) {
      out_.push_back(static_cast<char>(v >> (8 * i)));
    }
    return *this;
  }
  Pb& Fixed32(uint32_t field, uint32_t v) {
    Varint(field << 3 | 5);
    for (int i = 0; i < 4; ++i) {
      out_.push_back(static_cast<char>(v >> (8 * i)));
    }
    return *this;
  }
  Pb& Double(uint32_t field, double d) {
    uint64_t v;
    std::memcpy(&v, &d, sizeof v);
    return Fixed64(field, v);
  }
  const std::string& str() const { return out_; }

 private:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

Pb StringValue(std::string_view s) { return Pb().Bytes(1, s); }
Pb Kv(std::string_view key, const Pb& value) { return Pb().Bytes(1, key).Msg(2, value); }

using sluice::testing::Gzip;
using sluice::testing::Lz4Frame;
using sluice::testing::ZstdFrame;

// One resource (service.name=api, k8s.pod.name=pod-1, host.name=h1), one scope (lib 1.0 with
// attribute scope.attr), one record with every field set.
std::string SampleProto() {
  Pb resource;
  resource.Msg(1, Kv("service.name", StringValue("api")))
      .Msg(1, Kv("k8s.pod.name", StringValue("pod-1")))
      .Msg(1, Kv("host.name", StringValue("h1")));
  Pb scope;
  scope.Bytes(1, "lib").Bytes(2, "1.0").Msg(3, Kv("scope.attr", StringValue("s")));
  Pb record;
  record.Fixed64(1, 1'700'000'000'000'000'001)
      .Uint(2, 17)
      .Bytes(3, "ERROR")
      .Msg(5, StringValue("it failed"))
      .Msg(6, Kv("http.route", StringValue("/items")))
      .Msg(6, Kv("retries", Pb().Uint(3, 3)))
      .Msg(6, Kv("ratio", Pb().Double(4, 0.5)))
      .Msg(6, Kv("ok", Pb().Uint(2, 1)))
      .Fixed32(8, 1)
      .Bytes(9, std::string("\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c", 16))
      .Bytes(10, std::string("\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74", 8))
      .Fixed64(11, 1'700'000'000'500'000'000);
  Pb scope_logs;
  scope_logs.Msg(1, scope).Msg(2, record);
  Pb resource_logs;
  resource_logs.Msg(1, resource).Msg(2, scope_logs);
  return Pb().Msg(1, resource_logs).str();
}

// The same request in OTLP JSON.
constexpr std::string_view kSampleJson = R"({"resourceLogs":[{
  "resource":{"attributes":[
    {"key":"service.name","value":{"stringValue":"api"}},
    {"key":"k8s.pod.name","value":{"stringValue":"pod-1"}},
    {"key":"host.name","value":{"stringValue":"h1"}}]},
  "scopeLogs":[{"scope":{"name":"lib","version":"1.0",
                         "attributes":[{"key":"scope.attr","value":{"stringValue":"s"}}]},
    "logRecords":[{"timeUnixNano":"1700000000000000001","severityNumber":17,
      "severityText":"ERROR","body":{"stringValue":"it failed"},
      "attributes":[{"key":"http.route","value":{"stringValue":"/items"}},
                    {"key":"retries","value":{"intValue":"3"}},
                    {"key":"ratio","value":{"doubleValue":0.5}},
                    {"key":"ok","value":{"boolValue":true}}],
      "flags":1,"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
      "observedTimeUnixNano":1700000000500000000}]}]}]})";

std::map<std::string, std::string> Metadata(const model::EntryView& e) {
  std::map<std::string, std::string> out;
  for (const auto& l : e.metadata) {
    out[l.name] = l.value;
  }
  return out;
}

void ExpectSample(const model::PushRequest& req) {
  ASSERT_EQ(req.streams.size(), 1u);
  EXPECT_EQ(req.streams[0].labels, R"({k8s_pod_name="pod-1", service_name="api"})");
  ASSERT_EQ(req.streams[0].entries.size(), 1u);
  const model::EntryView& e = req.streams[0].entries[0];
  EXPECT_EQ(e.timestamp_ns, 1'700'000'000'000'000'001);
  EXPECT_EQ(e.line, "it failed");
  std::map<std::string, std::string> want = {
      {"host_name", "h1"},
      {"scope_attr", "s"},
      {"scope_name", "lib"},
      {"scope_version", "1.0"},
      {"http_route", "/items"},
      {"retries", "3"},
      {"ratio", "0.5"},
      {"ok", "true"},
      {"severity_number", "17"},
      {"severity_text", "ERROR"},
      {"flags", "1"},
      {"trace_id", "5b8efff798038103d269b633813fc60c"},
      {"span_id", "eee19b7ec3c1b174"},
      {"observed_timestamp", "1700000000500000000"},
  };
  EXPECT_EQ(Metadata(e), want);
  // Loki's order: the record's own, then the resource's, then the scope's.
  ASSERT_GE(e.metadata.size(), 3u);
  EXPECT_EQ(e.metadata[0].name, "http_route");
  EXPECT_EQ(e.metadata[e.metadata.size() - 4].name, "host_name");
  EXPECT_EQ(e.metadata.back().name, "scope_version");
}

Result<model::PushRequest> Decode(std::string_view body, std::string_view type,
                                  std::string_view encoding = "",
                                  const config::Limits& limits = config::Limits()) {
  return DecodeOtlpLogs(body, type, encoding, PushDecodeOptions(), limits, kNow);
}

TEST(Otlp, ProtobufMapsLikeLoki) {
  auto req = Decode(SampleProto(), kProto);
  ASSERT_TRUE(req.ok()) << req.status().message();
  ExpectSample(*req);
}

TEST(Otlp, JsonMapsLikeLoki) {
  auto req = Decode(kSampleJson, "application/json; charset=utf-8");
  ASSERT_TRUE(req.ok()) << req.status().message();
  ExpectSample(*req);
}

TEST(Otlp, GzipBothEncodings) {
  auto pb = Decode(Gzip(SampleProto()), kProto, "gzip");
  ASSERT_TRUE(pb.ok()) << pb.status().message();
  ExpectSample(*pb);
  auto js = Decode(Gzip(kSampleJson), kJson, "gzip");
  ASSERT_TRUE(js.ok()) << js.status().message();
  ExpectSample(*js);
}

TEST(Otlp, ZstdAndLz4AsLokiAccepts) {
  auto zs = Decode(ZstdFrame(SampleProto()), kProto, "zstd");
  ASSERT_TRUE(zs.ok()) << zs.status().message();
  ExpectSample(*zs);
  auto lz = Decode(Lz4Frame(kSampleJson), kJson, "lz4");
  ASSERT_TRUE(lz.ok()) << lz.status().message();
  ExpectSample(*lz);
}

TEST(Otlp, BadBodiesAre400WithAMessage) {
  struct Case {
    std::string body;
    std::string_view type, encoding, want;
  };
  std::string proto = SampleProto();
  const Case cases[] = {
      {proto.substr(0, proto.size() - 3), kProto, "", "invalid OTLP protobuf logs body"},
      {"\xff\xff\xff", kProto, "", "invalid OTLP protobuf logs body"},
      {"{\"resourceLogs\":[", kJson, "", "invalid OTLP JSON logs body"},
      {R"({"resourceLogs":{}})", kJson, "", "resourceLogs: expected an array"},
      {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"abc"}]}]}]})", kJson, "",
       "traceId: expected 32 hex digits"},
      {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]})", kJson, "",
       "timeUnixNano: expected an integer"},
      {"not gzip", kJson, "gzip", "gzip"},
      {proto, "text/plain", "", "content type: text/plain is not supported"},
      {proto, kProto, "br",
       "unsupported content encoding br: only gzip, lz4 and zstd are supported"},
      {proto, kProto, "zstd", "invalid zstd body"},
      {Pb().Msg(1, Pb().Msg(2, Pb().Msg(2, Pb().Bytes(9, "short")))).str(), kProto, "",
       "trace_id must be 16 bytes, got 5"},
  };
  for (const Case& c : cases) {
    auto req = Decode(c.body, c.type, c.encoding);
    ASSERT_FALSE(req.ok()) << c.want;
    EXPECT_EQ(req.status().code(), StatusCode::kInvalidArgument) << c.want;
    EXPECT_THAT(req.status().message(), HasSubstr(c.want));
  }
}

TEST(Otlp, SizeCapsAre413) {
  PushDecodeOptions opts;
  opts.max_compressed_bytes = 10;
  auto req = DecodeOtlpLogs(SampleProto(), kProto, "", opts, config::Limits(), kNow);
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().code(), StatusCode::kTooLarge);
  EXPECT_THAT(req.status().message(), HasSubstr("message size too large"));
  opts = PushDecodeOptions();
  opts.max_decompressed_bytes = 64;  // a gzip bomb stops here
  req =
      DecodeOtlpLogs(Gzip(std::string(1 << 20, 'a')), kJson, "gzip", opts, config::Limits(), kNow);
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().code(), StatusCode::kTooLarge);
}

TEST(Otlp, DeepNestingIsRefused) {
  Pb v = StringValue("leaf");
  for (int i = 0; i < otlp_internal::kMaxValueDepth + 2; ++i) {
    v = Pb().Msg(5, Pb().Msg(1, v));  // an array holding the previous value
  }
  Pb record;
  record.Msg(5, v);
  auto req = Decode(Pb().Msg(1, Pb().Msg(2, Pb().Msg(2, record))).str(), kProto);
  ASSERT_FALSE(req.ok());
  EXPECT_THAT(req.status().message(), HasSubstr("nested deeper"));
}

TEST(Otlp, AttributeNamesAreSanitisedAsLoki) {
  using otlp_internal::NormalizeAttributeName;
  EXPECT_EQ(*NormalizeAttributeName("http.method"), "http_method");
  EXPECT_EQ(*NormalizeAttributeName("a..b__c"), "a_b_c");
  EXPECT_EQ(*NormalizeAttributeName("5xx.count"), "key_5xx_count");
  EXPECT_EQ(*NormalizeAttributeName("_private"), "_private");
  EXPECT_EQ(*NormalizeAttributeName("__name__"), "__name__");
  EXPECT_EQ(*NormalizeAttributeName("caf\xc3\xa9.x"), "caf_x");
  EXPECT_FALSE(NormalizeAttributeName("").ok());
  EXPECT_THAT(NormalizeAttributeName("..").status().message(), HasSubstr("invalid name"));
}

TEST(Otlp, NonStringBodiesRenderAsLoki) {
  using otlp_internal::AnyValue;
  using otlp_internal::AnyValueAsString;
  AnyValue map;
  map.kind = AnyValue::Kind::kKvList;
  AnyValue s;
  s.kind = AnyValue::Kind::kString;
  s.str = "<b>&";
  AnyValue n;
  n.kind = AnyValue::Kind::kDouble;
  n.d = 1e21;
  AnyValue bytes;
  bytes.kind = AnyValue::Kind::kBytes;
  bytes.str = "hi!?";
  AnyValue arr;
  arr.kind = AnyValue::Kind::kArray;
  arr.array = {n, bytes, AnyValue()};
  map.kvlist = {{"z", s}, {"a", arr}};
  EXPECT_EQ(AnyValueAsString(map), R"({"a":[1e+21,"aGkhPw==",null],"z":"\u003cb\u003e\u0026"})");
  AnyValue small;
  small.kind = AnyValue::Kind::kDouble;
  small.d = 1e-7;
  EXPECT_EQ(AnyValueAsString(small), "1e-7");
  small.d = 123456.25;
  EXPECT_EQ(AnyValueAsString(small), "123456.25");
  EXPECT_EQ(AnyValueAsString(bytes), "aGkhPw==");
}

TEST(Otlp, MapAttributesFlattenWithPrefix) {
  std::string body = R"({"resourceLogs":[{"resource":{"attributes":[
      {"key":"service.name","value":{"stringValue":"api"}}]},
    "scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"kvlistValue":{"values":[
        {"key":"msg","value":{"stringValue":"hi"}}]}},
      "attributes":[{"key":"http","value":{"kvlistValue":{"values":[
        {"key":"status.code","value":{"intValue":200}}]}}}]}]}]}]})";
  auto req = Decode(body, kJson);
  ASSERT_TRUE(req.ok()) << req.status().message();
  const auto& e = req->streams[0].entries[0];
  EXPECT_EQ(e.line, R"({"msg":"hi"})");
  EXPECT_EQ(Metadata(e)["http_status_code"], "200");
}

TEST(Otlp, TimestampFallsBackToObservedThenNow) {
  std::string body = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"observedTimeUnixNano":"42","body":{"stringValue":"a"}},
      {"body":{"stringValue":"b"}}]}]}]})";
  auto req = Decode(body, kJson);
  ASSERT_TRUE(req.ok()) << req.status().message();
  ASSERT_EQ(req->streams.size(), 1u);
  // No service.name and nothing to discover it from.
  EXPECT_EQ(req->streams[0].labels, R"({service_name="unknown_service"})");
  ASSERT_EQ(req->streams[0].entries.size(), 2u);
  EXPECT_EQ(req->streams[0].entries[0].timestamp_ns, 42);
  EXPECT_FALSE(Metadata(req->streams[0].entries[0]).contains("observed_timestamp"));
  EXPECT_EQ(req->streams[0].entries[1].timestamp_ns, kNow);
}

TEST(Otlp, ServiceNameDiscoveredFromIndexLabels) {
  std::string body = R"({"resourceLogs":[{"resource":{"attributes":[
      {"key":"k8s.container.name","value":{"stringValue":"web"}},
      {"key":"k8s.pod.name","value":{"stringValue":"web-0"}}]},
    "scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"stringValue":"x"}}]}]}]})";
  auto req = Decode(body, kJson);
  ASSERT_TRUE(req.ok()) << req.status().message();
  EXPECT_EQ(req->streams[0].labels,
            R"({k8s_container_name="web", k8s_pod_name="web-0", service_name="web"})");
  config::Limits off;
  off.discover_service_name.clear();
  req = Decode(body, kJson, "", off);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->streams[0].labels, R"({k8s_container_name="web", k8s_pod_name="web-0"})");
}

config::Limits LimitsFromYaml(std::string_view yaml) {
  auto cfg = config::ParseConfigYaml(yaml);
  EXPECT_TRUE(cfg.ok()) << cfg.status().message();
  return cfg.ok() ? cfg->limits_config : config::Limits();
}

TEST(Otlp, OtlpConfigActions) {
  config::Limits limits = LimitsFromYaml(R"(
limits_config:
  otlp_config:
    resource_attributes:
      attributes_config:
        - action: index_label
          attributes: [host.name]
        - action: drop
          regex: k8s\..*
    scope_attributes:
      - action: drop
        attributes: [scope.attr]
    log_attributes:
      - action: index_label
        attributes: [http.route]
      - action: drop
        regex: "r.*"
)");
  auto req = Decode(SampleProto(), kProto, "", limits);
  ASSERT_TRUE(req.ok()) << req.status().message();
  ASSERT_EQ(req->streams.size(), 1u);
  // The defaults' index_label rule comes first, so k8s.pod.name stays a label despite the drop.
  EXPECT_EQ(req->streams[0].labels,
            R"({host_name="h1", http_route="/items", k8s_pod_name="pod-1", service_name="api"})");
  auto md = Metadata(req->streams[0].entries[0]);
  EXPECT_FALSE(md.contains("scope_attr"));
  EXPECT_FALSE(md.contains("retries"));
  EXPECT_FALSE(md.contains("ratio"));
  EXPECT_FALSE(md.contains("http_route"));
  EXPECT_EQ(md["ok"], "true");

  limits = LimitsFromYaml(R"(
limits_config:
  otlp_config:
    resource_attributes:
      ignore_defaults: true
      attributes_config:
        - action: index_label
          attributes: [service.name]
        - action: drop
          regex: k8s\..*
)");
  req = Decode(SampleProto(), kProto, "", limits);
  ASSERT_TRUE(req.ok()) << req.status().message();
  EXPECT_EQ(req->streams[0].labels, R"({service_name="api"})");
  md = Metadata(req->streams[0].entries[0]);
  EXPECT_FALSE(md.contains("k8s_pod_name"));
  EXPECT_EQ(md["host_name"], "h1");
}

TEST(Otlp, OtlpConfigRefusesBadRules) {
  auto bad = [](std::string_view rules) {
    return config::ParseConfigYaml(std::string("limits_config:\n  otlp_config:\n") +
                                   std::string(rules))
        .status()
        .message();
  };
  EXPECT_THAT(bad("    log_attributes:\n      - action: promote\n        attributes: [a]\n"),
              HasSubstr("unsupported action"));
  EXPECT_THAT(bad("    log_attributes:\n      - action: drop\n"),
              HasSubstr("attributes or regex must be set"));
  EXPECT_THAT(bad("    log_attributes:\n      - attributes: [a]\n        regex: b\n"),
              HasSubstr("only one of attributes or regex"));
  EXPECT_THAT(bad("    scope_attributes:\n      - action: index_label\n        attributes: [a]\n"),
              HasSubstr("only supported for resource_attributes"));
  EXPECT_THAT(bad("    log_attributes:\n      - regex: \"(\"\n"), HasSubstr("invalid regex"));
}

TEST(Otlp, ErrorBodyIsGoogleRpcStatus) {
  std::string body = OtlpErrorBody("bad");
  EXPECT_EQ(body, std::string("\x12\x03"
                              "bad",
                              5));
  std::string long_message(200, 'x');
  body = OtlpErrorBody(long_message);
  EXPECT_EQ(body.substr(0, 3), std::string("\x12\xc8\x01", 3));
}

}  // namespace
}  // namespace sluice::http
