#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice {

// The outcome of an operation on untrusted input (pushes, queries, disk, network).
// Each code maps to exactly one HTTP status (see HttpStatusFor) so handlers never guess.
enum class StatusCode : uint8_t {
  kOk,
  kInvalidArgument,   // 400: malformed input, failed validation
  kUnauthenticated,   // 401: missing tenant id
  kNotFound,          // 404
  kTooLarge,          // 413: body over a size cap
  kRateLimited,       // 429: a rate or stream limit
  kCorruption,        // on-disk data failed a checksum or a format check
  kIOError,           // the disk or the network failed
  kUnavailable,       // 503: not ready, shutting down, queue full
  kDeadlineExceeded,  // 504: a query or call ran out of time
  kInternal,          // 500: a bug
};

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status Unauthenticated(std::string msg) {
    return {StatusCode::kUnauthenticated, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status TooLarge(std::string msg) { return {StatusCode::kTooLarge, std::move(msg)}; }
  static Status RateLimited(std::string msg) { return {StatusCode::kRateLimited, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) {
    return {StatusCode::kDeadlineExceeded, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  // A status of any code (kOk ignores the message): for errors carried across a hop.
  static Status FromCode(StatusCode code, std::string msg) {
    return code == StatusCode::kOk ? Status() : Status(code, std::move(msg));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "code: message", for logs.
  std::string ToString() const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

int HttpStatusFor(StatusCode code);

// Whether a call to a remote component got no answer (unavailable, timed out, failed inside or
// in I/O): worth a retry, and what a circuit breaker counts. Every other error is an answer that
// refused the request (a 4xx), which a retry would only repeat.
bool IsUnanswered(const Status& status);

// Either a value or a non-OK Status. A small stand-in for C++23's std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sluice

#define SLUICE_RETURN_IF_ERROR(expr) \
  do {                               \
    ::sluice::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)
#define SLUICE_ASSIGN_OR_RETURN(lhs, expr)                                                  \
  auto SLUICE_CONCAT(_res_, __LINE__) = (expr);                                             \
  if (!SLUICE_CONCAT(_res_, __LINE__).ok()) return SLUICE_CONCAT(_res_, __LINE__).status(); \
  lhs = std::move(SLUICE_CONCAT(_res_, __LINE__)).value()
