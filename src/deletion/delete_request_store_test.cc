#include "deletion/delete_request_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "storage/filesystem_store.h"
#include "storage/test_util.h"
#include "testing/fake_clock.h"

namespace sluice::deletion {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kT0 = 1'700'000'000LL * kSecond;

model::LabelSet L(std::string_view text) { return model::ParseLabels(text).value(); }

TEST(DeleteQueryTest, AcceptsLogQueriesWithPipelines) {
  auto q = ParseDeleteQuery(R"({app="a"})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_FALSE(q->has_pipeline);
  q = ParseDeleteQuery(R"({app="a"} |= "secret" != "keep")");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->has_pipeline);
  EXPECT_TRUE(ParseDeleteQuery(R"({app="a"} | logfmt | level="debug")").ok());
}

TEST(DeleteQueryTest, RefusesWhatLokiRefuses) {
  auto metric = ParseDeleteQuery(R"(rate({app="a"}[1m]))");
  ASSERT_FALSE(metric.ok());
  EXPECT_EQ(metric.status().message(),
            "invalid query expression: parse error : only log selector is supported");
  auto syntax = ParseDeleteQuery(R"({app="a")");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().message().rfind("invalid query expression: parse error", 0), 0u)
      << syntax.status().message();
  auto regex = ParseDeleteQuery(R"({app="a"} |~ "(")");
  ASSERT_FALSE(regex.ok());
  EXPECT_EQ(regex.status().message().rfind("invalid query expression: ", 0), 0u);
  EXPECT_FALSE(ParseDeleteQuery(R"({app=~".*"})").ok());  // empty-compatible selector
}

TEST(DeleteRequestCodecTest, RoundTrips) {
  DeleteRequest r{"5ab6bc63",
                  "tenant-1",
                  "{app=\"a\\\"b\"} |= \"x\\ny\"",
                  1000 * kSecond,
                  2000 * kSecond,
                  3000 * kSecond + 7'000'000,
                  DeleteStatus::kReceived};
  auto back = DecodeDeleteRequest(EncodeDeleteRequest(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, r);
  EXPECT_FALSE(DecodeDeleteRequest("{\"request_id\":1}").ok());
  EXPECT_FALSE(DecodeDeleteRequest("not json").ok());
}

TEST(LineFilterTest, SelectorRangeAndLineFilters) {
  auto deletes = TenantDeletes::Compile({
      {"1", "t", R"({app="a"})", 100, 200, 0, DeleteStatus::kReceived},
      {"2", "t", R"({app="b"} |= "secret")", 100, 200, 0, DeleteStatus::kProcessed},
      {"3", "t", R"({app="c"} | logfmt | level="debug")", 0, 1000, 0, DeleteStatus::kReceived},
  });
  ASSERT_EQ(deletes->size(), 3u);
  // No request for this stream.
  EXPECT_EQ(deletes->ForStream(L(R"({app="z"})")), nullptr);
  // The range does not overlap the request.
  EXPECT_EQ(deletes->ForStream(L(R"({app="a"})"), 300, 400), nullptr);

  auto a = deletes->ForStream(L(R"({app="a", pod="p"})"));
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->IsDeleted(99, "x"));
  EXPECT_TRUE(a->IsDeleted(100, "x"));  // both ends inclusive
  EXPECT_TRUE(a->IsDeleted(200, "x"));
  EXPECT_FALSE(a->IsDeleted(201, "x"));
  EXPECT_TRUE(a->DeletesAll(100, 200));
  EXPECT_FALSE(a->DeletesAll(50, 200));
  EXPECT_FALSE(a->NeedsLine(150));

  auto b = deletes->ForStream(L(R"({app="b"})"));
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE((*b)(150, "a secret line"));
  EXPECT_FALSE((*b)(150, "a public line"));
  EXPECT_FALSE((*b)(250, "a secret line"));
  EXPECT_TRUE(b->NeedsLine(150));
  EXPECT_FALSE(b->MayDelete(250));
  EXPECT_FALSE(b->DeletesAll(100, 200));

  auto c = deletes->ForStream(L(R"({app="c"})"));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->IsDeleted(10, "level=debug msg=x"));
  EXPECT_FALSE(c->IsDeleted(10, "level=info msg=x"));
  // Structured metadata is visible to the label filters.
  std::vector<model::Label> metadata = {{"level", "debug"}};
  EXPECT_TRUE(c->IsDeleted(10, "msg=x", &metadata));
}

class DeleteRequestStoreTest : public ::testing::Test {
 protected:
  DeleteRequestStoreTest() : store_(storage::NewMemoryStore()) {}

  std::unique_ptr<DeleteRequestStore> Open() {
    DeleteRequestStoreOptions o;
    o.refresh_interval_ns = 10 * kSecond;
    auto s = std::make_unique<DeleteRequestStore>(store_.get(), o, &clock_);
    EXPECT_TRUE(s->Load().ok());
    return s;
  }

  sluice::testing::FakeClock clock_{kT0};
  storage::ObjectStorePtr store_;
};

TEST_F(DeleteRequestStoreTest, AddListAndSurviveRestart) {
  auto s = Open();
  auto added = s->Add("t1", R"({app="a"} |= "x")", kT0 - 2 * kHour + 123'456'789, kT0 - kHour);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->request_id.size(), 8u);
  EXPECT_EQ(added->start_ns, kT0 - 2 * kHour + 123'000'000);  // milliseconds, as Loki
  EXPECT_EQ(added->created_at_ns, kT0);
  EXPECT_EQ(added->status, DeleteStatus::kReceived);
  clock_.Advance(kSecond);
  ASSERT_TRUE(s->Add("t1", R"({app="b"})", kT0 - kHour, kT0).ok());
  ASSERT_TRUE(s->Add("t2", R"({app="c"})", kT0 - kHour, kT0).ok());

  auto list = s->List("t1");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0], *added);  // oldest first
  EXPECT_EQ(list[1].query, R"({app="b"})");
  EXPECT_TRUE(s->List("nobody").empty());
  EXPECT_EQ(s->Tenants(), (std::vector<std::string>{"t1", "t2"}));
  auto keys = store_->List("delete_requests/t1/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].rfind(".json"), (*keys)[0].size() - 5);

  // Another process (a restart) reads the same requests.
  auto again = Open();
  EXPECT_EQ(again->List("t1"), list);
  EXPECT_EQ(again->List("t2").size(), 1u);
}

TEST_F(DeleteRequestStoreTest, AddValidates) {
  auto s = Open();
  auto bad = s->Add("t", R"(rate({a="b"}[1m]))", 0, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto order = s->Add("t", R"({a="b"})", 10 * kSecond, 5 * kSecond);
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().message(), "start time can't be greater than end time");
  EXPECT_TRUE(s->List("t").empty());
}

TEST_F(DeleteRequestStoreTest, CancelWithinThePeriodOnly) {
  auto s = Open();
  auto r1 = s->Add("t", R"({a="1"})", kT0 - kHour, kT0).value();
  auto r2 = s->Add("t", R"({a="2"})", kT0 - kHour, kT0).value();
  auto r3 = s->Add("t", R"({a="3"})", kT0 - kHour, kT0).value();
  EXPECT_EQ(s->Cancel("t", "nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(s->Cancel("t", "nope").message(), kRequestNotFoundMessage);
  EXPECT_EQ(s->Cancel("other", r1.request_id).code(), StatusCode::kNotFound);  // per tenant
  ASSERT_TRUE(s->Cancel("t", r1.request_id).ok());
  EXPECT_EQ(s->List("t").size(), 2u);
  EXPECT_FALSE(store_->Get("delete_requests/t/" + r1.request_id + ".json").ok());

  ASSERT_TRUE(s->MarkProcessed("t", r2.request_id).ok());
  Status processed = s->Cancel("t", r2.request_id, /*force=*/true);
  EXPECT_EQ(processed.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(processed.message(), kAlreadyProcessedMessage);

  clock_.Advance(24 * kHour + kSecond);
  Status late = s->Cancel("t", r3.request_id);
  EXPECT_EQ(late.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(late.message(),
            "Cancellation of partially completed delete request or delete request past the "
            "deadline of 24h0m0s since its creation is not allowed. To force, use the ?force "
            "query parameter");
  EXPECT_TRUE(s->Cancel("t", r3.request_id, /*force=*/true).ok());
  auto left = s->List("t");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].request_id, r2.request_id);
  EXPECT_EQ(left[0].status, DeleteStatus::kProcessed);
  EXPECT_EQ(s->MarkProcessed("t", "nope").code(), StatusCode::kNotFound);
}

TEST_F(DeleteRequestStoreTest, PendingAfterTheCancelPeriod) {
  auto s = Open();
  auto r1 = s->Add("t", R"({a="1"})", kT0 - kHour, kT0).value();
  clock_.Advance(kHour);
  auto r2 = s->Add("t", R"({a="2"})", kT0 - kHour, kT0).value();
  EXPECT_TRUE(s->Pending("t", kT0 + 23 * kHour).empty());
  auto due = s->Pending("t", kT0 + 24 * kHour);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].request_id, r1.request_id);
  EXPECT_EQ(s->Pending("t", kT0 + 25 * kHour).size(), 2u);
  ASSERT_TRUE(s->MarkProcessed("t", r1.request_id).ok());
  due = s->Pending("t", kT0 + 25 * kHour);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].request_id, r2.request_id);
}

TEST_F(DeleteRequestStoreTest, OtherProcessesSeeChangesAfterTheRefreshInterval) {
  auto writer = Open();
  auto reader = Open();
  EXPECT_EQ(reader->Deletes("t"), nullptr);
  auto r = writer->Add("t", R"({a="1"})", kT0 - kHour, kT0).value();
  EXPECT_NE(writer->Deletes("t"), nullptr);  // its own change, at once
  EXPECT_TRUE(reader->List("t").empty());    // cached
  clock_.Advance(10 * kSecond);
  ASSERT_EQ(reader->List("t").size(), 1u);
  auto deletes = reader->Deletes("t");
  ASSERT_NE(deletes, nullptr);
  EXPECT_NE(deletes->ForStream(L(R"({a="1"})")), nullptr);

  ASSERT_TRUE(writer->MarkProcessed("t", r.request_id).ok());
  clock_.Advance(10 * kSecond);
  ASSERT_EQ(reader->List("t").size(), 1u);
  EXPECT_EQ(reader->List("t")[0].status, DeleteStatus::kProcessed);
  // A processed request still filters (filter-only keeps the data).
  EXPECT_NE(reader->Deletes("t"), nullptr);

  // A reader may cancel a request it has not seen yet.
  auto r2 = writer->Add("t", R"({a="2"})", kT0 - kHour, kT0).value();
  ASSERT_TRUE(reader->Cancel("t", r2.request_id).ok());
  clock_.Advance(10 * kSecond);
  EXPECT_EQ(writer->List("t").size(), 1u);
}

TEST_F(DeleteRequestStoreTest, FilesystemStoreAndConcurrentUse) {
  storage::TempDir dir;
  auto fs = storage::NewFilesystemStore(dir.path());
  DeleteRequestStore s(fs.get(), {}, &clock_);
  ASSERT_TRUE(s.Load().ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        if (!s.Add("t", fmt::format("{{a=\"{}-{}\"}}", t, i), kT0 - kHour, kT0).ok()) ++failures;
        (void)s.Deletes("t");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(s.List("t").size(), 40u);
  DeleteRequestStore reopened(fs.get(), {}, &clock_);
  ASSERT_TRUE(reopened.Load().ok());
  EXPECT_EQ(reopened.List("t").size(), 40u);
}

TEST(GoDurationTest, FormatsAsGo) {
  EXPECT_EQ(GoDurationString(24 * kHour), "24h0m0s");
  EXPECT_EQ(GoDurationString(90 * kSecond), "1m30s");
  EXPECT_EQ(GoDurationString(5 * kSecond), "5s");
  EXPECT_EQ(GoDurationString(1500 * 1'000'000LL), "1.5s");
  EXPECT_EQ(GoDurationString(500 * 1'000'000LL), "500ms");
  EXPECT_EQ(GoDurationString(0), "0s");
}

}  // namespace
}  // namespace sluice::deletion
