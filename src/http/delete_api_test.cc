#include "http/delete_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "config/config.h"
#include "storage/object_store.h"
#include "testing/fake_clock.h"

namespace sluice::http {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000LL * kSecond;

class DeleteApiTest : public ::testing::Test {
 protected:
  DeleteApiTest()
      : store_(storage::NewMemoryStore()),
        overrides_(config::Limits{}, "", kSecond),
        deletes_(store_.get(), {}, &clock_) {
    EXPECT_TRUE(deletes_.Load().ok());
    DeleteApiOptions o;
    o.auth_enabled = true;
    o.clock = &clock_;
    RegisterDeleteRoutes(&router_, &deletes_, &overrides_, o);
  }

  Response Call(std::string method, std::vector<std::pair<std::string, std::string>> params,
                std::string tenant = "t1") {
    Request r;
    r.method = std::move(method);
    r.path = "/loki/api/v1/delete";
    for (auto& [k, v] : params) r.params.emplace(k, v);
    if (!tenant.empty()) r.headers["x-scope-orgid"] = tenant;
    std::string route;
    return router_.Dispatch(r, &route);
  }

  sluice::testing::FakeClock clock_{kT0 + 123 * 1'000'000};
  storage::ObjectStorePtr store_;
  config::Overrides overrides_;
  deletion::DeleteRequestStore deletes_;
  Router router_;
};

TEST_F(DeleteApiTest, AddListCancel) {
  Response add = Call("POST", {{"query", R"({app="a"} |= "secret")"},
                               {"start", "1699990000"},
                               {"end", "2023-11-14T22:13:00Z"}});
  ASSERT_EQ(add.status, 204) << add.body;
  EXPECT_TRUE(add.body.empty());
  clock_.Advance(1'000'000);  // one millisecond later
  ASSERT_EQ(Call("PUT", {{"query", R"({app="b"})"}, {"start", "1699990000"}}).status, 204);

  Response list = Call("GET", {});
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.content_type, "application/json");
  auto requests = deletes_.List("t1");
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(list.body,
            "[{\"request_id\":\"" + requests[0].request_id +
                "\",\"start_time\":1699990000,\"end_time\":1699999980,"
                "\"query\":\"{app=\\\"a\\\"} |= \\\"secret\\\"\",\"status\":\"received\","
                "\"created_at\":1700000000.123},"
                "{\"request_id\":\"" +
                requests[1].request_id +
                "\",\"start_time\":1699990000,\"end_time\":1700000000.124,"
                "\"query\":\"{app=\\\"b\\\"}\",\"status\":\"received\","
                "\"created_at\":1700000000.124}]\n");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(list.body).get(doc), simdjson::SUCCESS);

  // Per tenant.
  EXPECT_EQ(Call("GET", {}, "t2").body, "[]\n");
  EXPECT_EQ(Call("DELETE", {{"request_id", requests[0].request_id}}, "t2").status, 404);

  Response cancel = Call("DELETE", {{"request_id", requests[0].request_id}});
  EXPECT_EQ(cancel.status, 204) << cancel.body;
  EXPECT_EQ(deletes_.List("t1").size(), 1u);
  Response missing = Call("DELETE", {{"request_id", "nope"}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "could not find delete request with given id\n");

  ASSERT_TRUE(deletes_.MarkProcessed("t1", requests[1].request_id).ok());
  Response processed = Call("DELETE", {{"request_id", requests[1].request_id}});
  EXPECT_EQ(processed.status, 400);
  EXPECT_EQ(processed.body,
            "deletion of request which is in process or already processed is not allowed\n");
  EXPECT_NE(Call("GET", {}).body.find("\"status\":\"processed\""), std::string::npos);
}

TEST_F(DeleteApiTest, CancelPeriod) {
  ASSERT_EQ(Call("POST", {{"query", R"({app="a"})"}, {"start", "1699990000"}}).status, 204);
  std::string id = deletes_.List("t1")[0].request_id;
  clock_.Advance(25 * 3600 * kSecond);
  Response late = Call("DELETE", {{"request_id", id}});
  EXPECT_EQ(late.status, 400);
  EXPECT_EQ(late.body,
            "Cancellation of partially completed delete request or delete request past the "
            "deadline of 24h0m0s since its creation is not allowed. To force, use the ?force "
            "query parameter\n");
  EXPECT_EQ(Call("DELETE", {{"request_id", id}, {"force", "true"}}).status, 204);
}

TEST_F(DeleteApiTest, ParameterErrorsAsLoki) {
  auto error = [&](std::vector<std::pair<std::string, std::string>> params) {
    Response r = Call("POST", std::move(params));
    EXPECT_EQ(r.status, 400) << r.body;
    return r.body;
  };
  EXPECT_EQ(error({{"start", "1699990000"}}), "query not set\n");
  EXPECT_EQ(error({{"query", R"(rate({a="b"}[1m]))"}, {"start", "1699990000"}}),
            "invalid query expression: parse error : only log selector is supported\n");
  EXPECT_EQ(error({{"query", R"({a="b"})"}}), "start time not set\n");
  EXPECT_EQ(error({{"query", R"({a="b"})"}, {"start", "1699990000000000000"}}),
            "invalid start time: require unix seconds or RFC3339 format\n");
  EXPECT_EQ(error({{"query", R"({a="b"})"}, {"start", "1699990000"}, {"end", "soon"}}),
            "invalid end time: require unix seconds or RFC3339 format\n");
  EXPECT_EQ(error({{"query", R"({a="b"})"}, {"start", "1699990000"}, {"end", "1800000000"}}),
            "deletes in the future are not allowed\n");
  EXPECT_EQ(error({{"query", R"({a="b"})"}, {"start", "1699990000"}, {"end", "1699980000"}}),
            "start time can't be greater than end time\n");
  // max_interval applies to queries with line filters.
  std::vector<std::pair<std::string, std::string>> filtered = {
      {"query", R"({a="b"} |= "x")"}, {"start", "1699990000"}, {"end", "1699990100"}};
  auto with = [&](std::string interval) {
    auto p = filtered;
    p.emplace_back("max_interval", std::move(interval));
    return p;
  };
  EXPECT_EQ(error(with("10x")), "invalid max_interval: valid time units are 's', 'm', 'h'\n");
  EXPECT_EQ(error(with("500ms")), "invalid max_interval: valid time units are 's', 'm', 'h'\n");
  EXPECT_EQ(error(with("48h")), "max_interval can't be greater than 24h0m0s\n");
  EXPECT_EQ(error(with("5m")),
            "max_interval can't be greater than the interval to be deleted (1m40s)\n");
  EXPECT_EQ(Call("POST", with("10s")).status, 204);
  EXPECT_EQ(error({{"query", R"({a="b"} |= "x")"}, {"start", "1699990000"}, {"end", "1699990000"}}),
            "difference between start time and end time must be at least one second\n");
  // Without line filters a zero-length range is fine.
  EXPECT_EQ(Call("POST", {{"query", R"({a="b"})"}, {"start", "1699990000"}, {"end", "1699990000"}})
                .status,
            204);
  EXPECT_EQ(deletes_.List("t1").size(), 2u);
}

TEST_F(DeleteApiTest, TenantAndDeletionMode) {
  EXPECT_EQ(Call("GET", {}, "").status, 401);
  config::Limits disabled;
  disabled.deletion_mode = config::DeletionMode::kDisabled;
  config::Overrides overrides(disabled, "", kSecond);
  Router router;
  DeleteApiOptions o;
  o.clock = &clock_;
  RegisterDeleteRoutes(&router, &deletes_, &overrides, o);
  Request r;
  r.method = "POST";
  r.path = "/loki/api/v1/delete";
  r.params.emplace("query", R"({a="b"})");
  r.params.emplace("start", "1699990000");
  std::string route;
  Response refused = router.Dispatch(r, &route);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.body, "deletion is not available for this tenant\n");
  EXPECT_TRUE(deletes_.List("fake").empty());
}

TEST(DeleteApiNotServedTest, NamesWhereToGo) {
  config::Overrides overrides(config::Limits{}, "", kSecond);
  Router router;
  DeleteApiOptions o;
  o.not_served_message = "ask the compactor";
  RegisterDeleteRoutes(&router, nullptr, &overrides, o);
  Request r;
  r.method = "GET";
  r.path = "/loki/api/v1/delete";
  std::string route;
  Response resp = router.Dispatch(r, &route);
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.body, "ask the compactor\n");
}

}  // namespace
}  // namespace sluice::http
