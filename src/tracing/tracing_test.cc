#include "tracing/tracing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "otlp_trace.pb.h"
#include "tracing/exporter.h"

namespace sluice::tracing {
namespace {

TEST(TraceparentTest, ParsesAndFormatsW3CHeaders) {
  auto c = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->SpanIdHex(), "00f067aa0ba902b7");
  EXPECT_TRUE(c->sampled);
  EXPECT_EQ(FormatTraceparent(*c), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

  auto unsampled = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled);
  // A later version may append fields after the flags.
  EXPECT_TRUE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
                  .has_value());
}

TEST(TraceparentTest, RefusesMalformedHeaders) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper-case hex
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 has no more
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

// An OTLP/HTTP receiver on 127.0.0.1 keeping every export request it gets.
class Receiver {
 public:
  Receiver() {
    router_.Handle({"POST"}, "/v1/traces", [this](http::Request& req) {
      otlp::v1::ExportTraceServiceRequest export_request;
      EXPECT_EQ(req.Header("content-type"), "application/x-protobuf");
      EXPECT_TRUE(export_request.ParseFromString(req.body));
      MutexLock lock(&mu_);
      for (const auto& rs : export_request.resource_spans()) {
        for (const auto& attr : rs.resource().attributes()) {
          if (attr.key() == "service.name") service_name_ = attr.value().string_value();
        }
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& s : ss.spans()) spans_.push_back(s);
        }
      }
      return http::Response::NoContent();
    });
    http::ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.threads = 1;
    server_ = std::make_unique<http::Server>(o, &router_);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~Receiver() { server_->Stop(); }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1/traces";
  }
  std::vector<otlp::v1::Span> spans() {
    MutexLock lock(&mu_);
    return spans_;
  }
  std::string service_name() {
    MutexLock lock(&mu_);
    return service_name_;
  }

 private:
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  Mutex mu_;
  std::vector<otlp::v1::Span> spans_;
  std::string service_name_;
};

std::string Bytes(const std::array<uint8_t, 16>& a) { return std::string(a.begin(), a.end()); }
std::string Bytes(const std::array<uint8_t, 8>& a) { return std::string(a.begin(), a.end()); }

class TracingTest : public ::testing::Test {
 protected:
  void StartTracing(double ratio) {
    Options o;
    o.enabled = true;
    o.endpoint = receiver_.url();
    o.sampling_ratio = ratio;
    o.service_name = "sluice-test";
    o.export_interval_ns = 50'000'000;
    ASSERT_TRUE(Start(o).ok());
  }
  void TearDown() override { Stop(); }
  Receiver receiver_;
};

TEST_F(TracingTest, ExportsASpanTreeWithRemoteParentAndAttributes) {
  StartTracing(1.0);
  auto remote = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  SpanContext root_context, child_context, other_thread_context;
  {
    Span root = Span::Server("POST /loki/api/v1/push", remote);
    root_context = root.context();
    ScopedActive active(root);
    {
      Span child = StartSpan("push.decode");
      child.SetAttribute("bytes", 1234);
      child.SetAttribute("format", "protobuf");
      child_context = child.context();
    }
    // Work on another thread names its parent explicitly.
    std::thread([&, parent = ActiveContext()] {
      Span replicate = Span::Child("push.replicate", parent, SpanKind::kClient);
      replicate.SetError("ingester unavailable");
      other_thread_context = replicate.context();
    }).join();
  }
  Stop();  // drains the queue

  std::vector<otlp::v1::Span> spans = receiver_.spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(receiver_.service_name(), "sluice-test");
  std::map<std::string, otlp::v1::Span> by_name;
  for (const auto& s : spans) by_name[s.name()] = s;
  const auto& root = by_name.at("POST /loki/api/v1/push");
  const auto& decode = by_name.at("push.decode");
  const auto& replicate = by_name.at("push.replicate");
  EXPECT_EQ(root.trace_id(), Bytes(remote->trace_id));
  EXPECT_EQ(root.parent_span_id(), Bytes(remote->span_id));
  EXPECT_EQ(root.span_id(), Bytes(root_context.span_id));
  EXPECT_EQ(root.kind(), otlp::v1::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(decode.parent_span_id(), root.span_id());
  EXPECT_EQ(replicate.parent_span_id(), root.span_id());
  EXPECT_EQ(replicate.trace_id(), root.trace_id());
  EXPECT_EQ(replicate.kind(), otlp::v1::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(replicate.status().code(), otlp::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(replicate.status().message(), "ingester unavailable");
  EXPECT_LE(root.start_time_unix_nano(), decode.start_time_unix_nano());
  EXPECT_GE(root.end_time_unix_nano(), decode.end_time_unix_nano());
  ASSERT_EQ(decode.attributes_size(), 2);
  EXPECT_EQ(decode.attributes(0).key(), "bytes");
  EXPECT_EQ(decode.attributes(0).value().int_value(), 1234);
  EXPECT_EQ(decode.attributes(1).value().string_value(), "protobuf");
  EXPECT_NE(child_context.span_id, other_thread_context.span_id);
}

TEST_F(TracingTest, UnsampledTracesKeepIdsButRecordNothing) {
  StartTracing(0.0);
  SpanContext root_context;
  {
    Span root = Span::Server("GET /loki/api/v1/query_range", std::nullopt);
    root_context = root.context();
    EXPECT_TRUE(root_context.valid());  // propagated downstream with flags 00
    EXPECT_FALSE(root_context.sampled);
    EXPECT_FALSE(root.recording());
    ScopedActive active(root);
    Span child = StartSpan("query.split");
    EXPECT_EQ(child.context().trace_id, root_context.trace_id);
    EXPECT_FALSE(child.recording());
  }
  // A remote parent that sampled its trace is followed even at ratio 0.
  auto remote = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  { Span followed = Span::Server("ingester.Push", remote); }
  Stop();
  std::vector<otlp::v1::Span> spans = receiver_.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name(), "ingester.Push");
}

TEST_F(TracingTest, RatioSamplesAboutThatShareOfNewTraces) {
  StartTracing(0.25);
  int sampled = 0;
  for (int i = 0; i < 4000; ++i) sampled += Span::Server("x", std::nullopt).context().sampled;
  EXPECT_GT(sampled, 800);
  EXPECT_LT(sampled, 1200);
}

double CounterValue(const std::string& name) {
  const std::string text = metrics::DefaultRegistry().Expose();
  size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + name.size() + 2));
}

TEST(TracingExportTest, ACollectorThatIsDownCostsDroppedSpansNotAWait) {
  const double failures = CounterValue("sluice_tracing_export_failures_total");
  const double dropped = CounterValue("sluice_tracing_spans_dropped_total");
  Options o;
  o.enabled = true;
  o.endpoint = "http://127.0.0.1:1/v1/traces";  // nothing listens on port 1
  o.max_batch_spans = 4;
  ASSERT_TRUE(Start(o).ok());
  for (int i = 0; i < 10; ++i) Span::Server("GET /x", std::nullopt);
  Stop();  // drains: the first failed post drops the rest
  EXPECT_GE(CounterValue("sluice_tracing_export_failures_total"), failures + 1);
  EXPECT_EQ(CounterValue("sluice_tracing_spans_dropped_total"), dropped + 10);
}

TEST(TracingOffTest, NoTraceWhenTracingIsOff) {
  Span root = Span::Server("GET /ready", std::nullopt);
  EXPECT_FALSE(root.context().valid());
  ScopedActive active(root);
  EXPECT_FALSE(StartSpan("child").context().valid());
}

TEST(TracingOptionsTest, RefusesAnEnabledTracerWithoutEndpointOrWithABadRatio) {
  Options o;
  o.enabled = true;
  Status st = Start(o);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("tracing.otlp_endpoint"), std::string::npos) << st.message();
  o.endpoint = "http://127.0.0.1:1/v1/traces";
  o.sampling_ratio = 1.5;
  st = Start(o);
  EXPECT_NE(st.message().find("tracing.sampling_ratio"), std::string::npos) << st.message();
  EXPECT_FALSE(Enabled());
}

}  // namespace
}  // namespace sluice::tracing
