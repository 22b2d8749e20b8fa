#include "ring/status_page.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "testing/fake_clock.h"

namespace sluice::ring {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kNow = 1'700'000'000LL * kSecond;  // 2023-11-14T22:13:20Z

class StatusPageTest : public ::testing::Test {
 protected:
  StatusPageTest() : clock_(kNow) {
    Desc d;
    auto& a = d.instances["ing-a"];
    a.id = "ing-a";
    a.addr = "10.0.0.1:9095";
    a.zone = "z1";
    a.state = InstanceState::kActive;
    a.timestamp = kNow / kSecond - 5;
    a.registered_timestamp = kNow / kSecond - 3600;
    a.tokens = {1u << 31, 3u << 30};
    a.partitions = {0, 2};
    auto& b = d.instances["ing-b<x>"];
    b.id = "ing-b<x>";
    b.addr = "10.0.0.2:9095";
    b.state = InstanceState::kActive;
    b.timestamp = kNow / kSecond - 600;  // stale
    b.tokens = {1u << 30};
    EXPECT_TRUE(kv_.CompareAndSwap(std::string(kDefaultRingKey), 0, d.Encode()).ok());
    ring_ = std::make_unique<Ring>(&kv_, RingOptions{}, &clock_);
    EXPECT_TRUE(ring_->Refresh().ok());
  }
  MemoryKv kv_;
  testing::FakeClock clock_;
  std::unique_ptr<Ring> ring_;
};

TEST_F(StatusPageTest, JsonHasLokisShape) {
  auto resp = RenderStatusPage(*ring_, {.method = "GET", .forget = "", .json = true});
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.content_type, "application/json");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(resp.body).get(root), simdjson::SUCCESS) << resp.body;
  EXPECT_EQ(std::string_view(root["now"]), "2023-11-14T22:13:20Z");
  simdjson::dom::array shards = root["shards"];
  ASSERT_EQ(shards.size(), 2u);
  auto a = shards.at(0);
  EXPECT_EQ(std::string_view(a["id"]), "ing-a");
  EXPECT_EQ(std::string_view(a["state"]), "ACTIVE");
  EXPECT_EQ(std::string_view(a["address"]), "10.0.0.1:9095");
  EXPECT_EQ(std::string_view(a["zone"]), "z1");
  EXPECT_EQ(std::string_view(a["timestamp"]), "2023-11-14T22:13:15Z");
  EXPECT_EQ(std::string_view(a["registered_timestamp"]), "2023-11-14T21:13:20Z");
  EXPECT_EQ(simdjson::dom::array(a["tokens"]).size(), 2u);
  EXPECT_EQ(int64_t(simdjson::dom::array(a["partitions"]).at(1)), 2);
  EXPECT_EQ(std::string_view(shards.at(1)["state"]), "UNHEALTHY");
  EXPECT_TRUE(shards.at(1)["partitions"].error());  // consumes no Kafka partition
}

TEST_F(StatusPageTest, HtmlTableEscapesAndShowsOwnership) {
  auto resp = RenderStatusPage(*ring_, {.method = "GET", .forget = "", .json = false});
  EXPECT_EQ(resp.content_type, "text/html");
  EXPECT_NE(resp.body.find("<td>ing-b&lt;x&gt;</td>"), std::string::npos) << resp.body;
  EXPECT_EQ(resp.body.find("ing-b<x>"), std::string::npos);
  // ing-a's tokens 2^31 and 3*2^30 own (2^30 .. 2^31] and (2^31 .. 3*2^30]: 50%.
  EXPECT_NE(resp.body.find("<td>50.00%</td>"), std::string::npos) << resp.body;
  EXPECT_NE(resp.body.find("<td>UNHEALTHY</td>"), std::string::npos);
  EXPECT_NE(resp.body.find("5s ago"), std::string::npos);
}

TEST_F(StatusPageTest, ForgetRemovesTheInstanceAndRedirects) {
  auto resp = RenderStatusPage(*ring_, {.method = "POST", .forget = "ing-b<x>", .json = false});
  EXPECT_EQ(resp.status, 302);
  auto stored = Desc::Decode(kv_.Get(std::string(kDefaultRingKey))->value);
  EXPECT_EQ(stored->instances.count("ing-b<x>"), 0u);
  EXPECT_EQ(stored->instances.count("ing-a"), 1u);
  EXPECT_EQ(RenderStatusPage(*ring_, {.method = "POST", .forget = "", .json = false}).status, 400);
}

}  // namespace
}  // namespace sluice::ring
