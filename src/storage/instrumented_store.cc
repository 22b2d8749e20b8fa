#include "storage/instrumented_store.h"

#include <chrono>
#include <random>
#include <thread>
#include <utility>

#include "metrics/metrics.h"

namespace sluice::storage {

namespace {

enum Operation { kGet, kGetRange, kUpload, kDelete, kIter, kOperations };
constexpr const char* kOperationNames[kOperations] = {"get", "get_range", "upload", "delete",
                                                      "iter"};

class InstrumentedStore final : public ObjectStore {
 private:
  struct OpMetrics {
    metrics::Counter* total;
    metrics::Counter* failures;
    metrics::Histogram* duration;
  };

  static const Status& StatusOf(const Status& s) { return s; }
  template <typename T>
  static const Status& StatusOf(const Result<T>& r) {
    return r.status();
  }

  template <typename Fn>
  auto Timed(Operation op, Fn&& fn) {
    auto start = std::chrono::steady_clock::now();
    auto result = fn();
    OpMetrics& m = ops_[op];
    m.total->Inc();
    const Status& st = StatusOf(result);
    if (st.ok() || st.code() == StatusCode::kNotFound) {
      m.duration->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    } else {
      m.failures->Inc();
    }
    return result;
  }

 public:
  InstrumentedStore(ObjectStorePtr inner, const std::string& bucket) : inner_(std::move(inner)) {
    metrics::Registry& r = metrics::DefaultRegistry();
    static auto* total = r.NewCounter("loki_objstore_bucket_operations_total",
                                      "Total number of all attempted operations against a bucket.",
                                      {"bucket", "operation"});
    static auto* failures = r.NewCounter("loki_objstore_bucket_operation_failures_total",
                                         "Total number of operations against a bucket that failed.",
                                         {"bucket", "operation"});
    static auto* duration = r.NewHistogram(
        "loki_objstore_bucket_operation_duration_seconds",
        "Duration of successful operations against the bucket.", {"bucket", "operation"},
        {.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10});
    for (int op = 0; op < kOperations; ++op) {
      ops_[op] = {total->WithLabels({bucket, kOperationNames[op]}),
                  failures->WithLabels({bucket, kOperationNames[op]}),
                  duration->WithLabels({bucket, kOperationNames[op]})};
    }
  }

  Status Put(std::string_view key, std::string_view data) override {
    return Timed(kUpload, [&] { return inner_->Put(key, data); });
  }
  Result<std::string> Get(std::string_view key) override {
    return Timed(kGet, [&] { return inner_->Get(key); });
  }
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    return Timed(kGetRange, [&] { return inner_->GetRange(key, offset, length); });
  }
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    return Timed(kIter, [&] { return inner_->List(prefix); });
  }
  Status Delete(std::string_view key) override {
    return Timed(kDelete, [&] { return inner_->Delete(key); });
  }

 private:
  ObjectStorePtr inner_;
  OpMetrics ops_[kOperations];
};

class FaultInjectingStore final : public ObjectStore {
 public:
  FaultInjectingStore(ObjectStorePtr inner, StoreFaults faults)
      : inner_(std::move(inner)), faults_(faults) {}

  Status Put(std::string_view key, std::string_view data) override {
    SLUICE_RETURN_IF_ERROR(Fault("put", key));
    return inner_->Put(key, data);
  }
  Result<std::string> Get(std::string_view key) override {
    SLUICE_RETURN_IF_ERROR(Fault("get", key));
    return inner_->Get(key);
  }
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    SLUICE_RETURN_IF_ERROR(Fault("get_range", key));
    return inner_->GetRange(key, offset, length);
  }
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    SLUICE_RETURN_IF_ERROR(Fault("list", prefix));
    return inner_->List(prefix);
  }
  Status Delete(std::string_view key) override {
    SLUICE_RETURN_IF_ERROR(Fault("delete", key));
    return inner_->Delete(key);
  }

 private:
  Status Fault(std::string_view op, std::string_view key) {
    if (faults_.delay_ns > 0)
      std::this_thread::sleep_for(std::chrono::nanoseconds(faults_.delay_ns));
    if (faults_.error_ratio <= 0) return Status::OK();
    thread_local std::minstd_rand rng{std::random_device{}()};
    if (std::uniform_real_distribution<double>(0, 1)(rng) >= faults_.error_ratio) {
      return Status::OK();
    }
    return Status::IOError("injected object store fault (-testing.fault.store-error-ratio): " +
                           std::string(op) + " " + std::string(key));
  }

  ObjectStorePtr inner_;
  StoreFaults faults_;
};

}  // namespace

ObjectStorePtr InstrumentStore(ObjectStorePtr inner, std::string bucket) {
  return std::make_unique<InstrumentedStore>(std::move(inner), bucket);
}

ObjectStorePtr InjectStoreFaults(ObjectStorePtr inner, StoreFaults faults) {
  return std::make_unique<FaultInjectingStore>(std::move(inner), faults);
}

}  // namespace sluice::storage
