#include "agent/sender.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace sluice::agent {

namespace {

std::string StatusLabel(const PushResult& r) {
  if (r.http_status == 0) return "error";
  if (r.http_status == 429) return "429";
  return fmt::format("{}xx", r.http_status / 100);
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Sender::Sender(Options opts, std::function<PushClientPtr()> make_client, CircuitBreaker* breaker,
               AgentMetrics* metrics, DoneFn done)
    : opts_(opts),
      make_client_(std::move(make_client)),
      breaker_(breaker),
      metrics_(metrics),
      done_(std::move(done)) {}

Sender::~Sender() {
  {
    MutexLock lock(&mu_);
    closing_ = aborting_ = true;
  }
  work_cv_.SignalAll();
  space_cv_.SignalAll();
  abort_cv_.SignalAll();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void Sender::Start() {
  for (int i = 0; i < opts_.max_inflight; ++i) workers_.emplace_back([this, i] { Worker(i); });
}

void Sender::SetSubmitDeadline(std::chrono::steady_clock::time_point deadline) {
  {
    MutexLock lock(&mu_);
    submit_deadline_ = deadline;
  }
  space_cv_.SignalAll();
}

bool Sender::Submit(Batch batch) {
  MutexLock lock(&mu_);
  auto has_room = [this]() REQUIRES(mu_) {
    return closing_ || queue_.size() < static_cast<size_t>(opts_.max_inflight);
  };
  while (!has_room()) {
    if (submit_deadline_ == std::chrono::steady_clock::time_point::max()) {
      space_cv_.Wait(&mu_);
    } else if (space_cv_.WaitUntil(&mu_, submit_deadline_) == std::cv_status::timeout &&
               !has_room()) {
      return false;
    }
  }
  if (closing_) return false;
  queue_.push_back(std::move(batch));
  work_cv_.Signal();
  return true;
}

size_t Sender::waiting() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

size_t Sender::Shutdown(int64_t timeout_ns) {
  MutexLock lock(&mu_);
  closing_ = true;
  work_cv_.SignalAll();
  space_cv_.SignalAll();
  bool drained = work_cv_.WaitFor(&mu_, std::chrono::nanoseconds(timeout_ns),
                                  [this]() REQUIRES(mu_) { return queue_.empty() && busy_ == 0; });
  size_t left = queue_.size() + static_cast<size_t>(busy_);
  if (!drained) {
    aborting_ = true;
    abort_cv_.SignalAll();
  }
  lock.Unlock();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  return drained ? 0 : left;
}

bool Sender::WaitFor(int64_t ns) {
  MutexLock lock(&mu_);
  return !abort_cv_.WaitFor(&mu_, std::chrono::nanoseconds(std::max<int64_t>(ns, 0)),
                            [this]() REQUIRES(mu_) { return aborting_; });
}

void Sender::Worker(int index) {
  PushClientPtr client = make_client_();
  std::mt19937_64 rng(opts_.seed + static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull);
  while (true) {
    Batch batch;
    {
      MutexLock lock(&mu_);
      work_cv_.Wait(&mu_,
                    [this]() REQUIRES(mu_) { return aborting_ || closing_ || !queue_.empty(); });
      if (aborting_ || queue_.empty()) {
        if (closing_ || aborting_) return;
        continue;
      }
      batch = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    space_cv_.Signal();
    Deliver(batch, *client, rng);
    {
      MutexLock lock(&mu_);
      --busy_;
    }
    work_cv_.SignalAll();  // Shutdown waits for queue_ empty and busy_ == 0
  }
}

void Sender::Deliver(Batch& batch, PushClient& client, std::mt19937_64& rng) {
  if (batch.lines == 0) {  // only shed lines' offsets: nothing to send
    done_(batch, nullptr);
    return;
  }
  int attempt = 0;
  while (true) {
    while (!breaker_->Allow()) {
      // Open: sleep until the probe may go. Half-open: another worker holds the probe.
      MonotonicClock mono;
      int64_t wait =
          std::clamp<int64_t>(breaker_->RetryAt() - mono.NowNanos(), 10'000'000, 1'000'000'000);
      if (!WaitFor(wait)) return;
    }
    {
      MutexLock lock(&mu_);
      if (aborting_) return;
    }
    metrics_->inflight->Add(1);
    int64_t start = SteadyNanos();
    PushResult r = client.Push(batch.body, batch.content_type, batch.content_encoding);
    metrics_->inflight->Add(-1);
    metrics_->request_duration->WithLabels({StatusLabel(r)})
        ->Observe(static_cast<double>(SteadyNanos() - start) / 1e9);
    ErrorClass cls = Classify(r);
    if (cls == ErrorClass::kNone) {
      breaker_->OnSuccess();
      done_(batch, nullptr);
      return;
    }
    metrics_->errors->WithLabels({ErrorClassName(cls)})->Inc();
    if (IsServerFailure(cls)) {
      breaker_->OnFailure();
    } else {
      breaker_->OnSuccess();
    }
    if (!IsRetryable(cls)) {
      std::string reason = fmt::format("http_{}", r.http_status);
      spdlog::error(
          "msg=\"push rejected; dropping batch\" status={} lines={} bytes={} reason={} body=\"{}\"",
          r.http_status, batch.lines, batch.line_bytes, reason, r.error);
      done_(batch, reason.c_str());
      return;
    }
    ++attempt;
    if (opts_.max_retries > 0 && attempt > opts_.max_retries) {
      spdlog::error(
          "msg=\"push failed after max_retries; dropping batch\" class={} lines={} err=\"{}\"",
          ErrorClassName(cls), batch.lines,
          r.http_status ? std::to_string(r.http_status) : r.error);
      done_(batch, "retries_exhausted");
      return;
    }
    metrics_->retries->WithLabels({ErrorClassName(cls)})->Inc();
    int64_t delay = BackoffDelay(opts_.backoff, attempt, r.retry_after_ns, rng);
    spdlog::warn(
        "msg=\"push failed; retrying\" class={} status={} attempt={} delay_ms={} err=\"{}\"",
        ErrorClassName(cls), r.http_status, attempt, delay / 1'000'000, r.error);
    if (!WaitFor(delay)) return;
  }
}

}  // namespace sluice::agent
