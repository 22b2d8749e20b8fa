#include "storage/instrumented_store.h"

#include <gtest/gtest.h>

#include "metrics/metrics.h"

namespace sluice::storage {
namespace {

// The value of one sample of the default registry's exposition, or -1 when absent.
double Sample(const std::string& series) {
  const std::string text = metrics::DefaultRegistry().Expose();
  size_t at = text.find(series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 1));
}

TEST(InstrumentedStoreTest, CountsOperationsAndFailuresByBucketAndOperation) {
  ObjectStorePtr store = InstrumentStore(NewMemoryStore(), "instrumented-test");
  ASSERT_TRUE(store->Put("chunks/a", "bytes").ok());
  ASSERT_TRUE(store->Get("chunks/a").ok());
  EXPECT_EQ(store->Get("chunks/missing").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(store->Put("../escape", "x").ok());  // refused by the store: a failure
  ASSERT_TRUE(store->List("chunks/").ok());
  const std::string labels = "{bucket=\"instrumented-test\",operation=";
  EXPECT_EQ(Sample("loki_objstore_bucket_operations_total" + labels + "\"upload\"}"), 2);
  EXPECT_EQ(Sample("loki_objstore_bucket_operation_failures_total" + labels + "\"upload\"}"), 1);
  EXPECT_EQ(Sample("loki_objstore_bucket_operations_total" + labels + "\"get\"}"), 2);
  // NotFound is an answer, not a failure.
  EXPECT_EQ(Sample("loki_objstore_bucket_operation_failures_total" + labels + "\"get\"}"), 0);
  EXPECT_EQ(Sample("loki_objstore_bucket_operation_duration_seconds_count" + labels + "\"get\"}"),
            2);
  EXPECT_EQ(Sample("loki_objstore_bucket_operations_total" + labels + "\"iter\"}"), 1);
}

TEST(FaultInjectingStoreTest, FailsEveryOperationAtRatioOneAndNoneAtZero) {
  ObjectStorePtr failing = InjectStoreFaults(NewMemoryStore(), {0, 1.0});
  Status st = failing->Put("chunks/a", "x");
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("injected"), std::string::npos) << st.message();
  EXPECT_FALSE(failing->Get("chunks/a").ok());
  EXPECT_FALSE(failing->List("").ok());

  ObjectStorePtr slow = InjectStoreFaults(NewMemoryStore(), {20'000'000, 0});
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(slow->Put("chunks/a", "x").ok());
  ASSERT_EQ(*slow->Get("chunks/a"), "x");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
}

}  // namespace
}  // namespace sluice::storage
