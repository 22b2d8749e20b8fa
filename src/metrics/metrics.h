#pragma once

// A small Prometheus metrics registry with text exposition (format 0.0.4).
// Hot paths look a labelled child up once (`WithLabels`) and keep the pointer: children live
// as long as the registry, and their updates are single atomic operations.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::metrics {

class Counter {
 public:
  void Inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);
  // Cumulative counts per bucket (+Inf last), sum and count.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

std::vector<double> ExponentialBuckets(double start, double factor, int count);
// Prometheus client_golang's DefBuckets.
std::vector<double> DefaultBuckets();

// A metric family with label dimensions; T is Counter, Gauge or Histogram.
template <typename T>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  // REQUIRES: values.size() == label_names().size(). Thread-safe; the pointer stays valid.
  T* WithLabels(const std::vector<std::string>& values) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    auto& slot = children_[values];
    if (!slot) slot = make_();
    return slot.get();
  }
  // Drops every child whose label `index` equals `value` (for example a deleted tenant's series).
  void RemoveMatching(size_t index, const std::string& value) EXCLUDES(mu_);

  const std::vector<std::string>& label_names() const { return label_names_; }
  template <typename Fn>
  void ForEach(Fn fn) const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    for (const auto& [values, child] : children_) fn(values, *child);
  }

 private:
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ GUARDED_BY(mu_);
};

class Registry {
 public:
  Family<Counter>* NewCounter(std::string name, std::string help,
                              std::vector<std::string> labels = {});
  Family<Gauge>* NewGauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>* NewHistogram(std::string name, std::string help,
                                  std::vector<std::string> labels, std::vector<double> buckets);
  // A gauge or counter computed when scraped, from state its owner keeps anyway (the WAL
  // writer's totals, memory in use ...).
  void NewCallbackGauge(std::string name, std::string help, std::function<double()> fn);
  void NewCallbackCounter(std::string name, std::string help, std::function<double()> fn);

  // Prometheus text format.
  std::string Expose() const;

 private:
  struct Entry;
  mutable Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ GUARDED_BY(mu_);
};

// The process-wide registry behind /metrics.
Registry& DefaultRegistry();

}  // namespace sluice::metrics
