#include "rpc/status.h"

#include <array>
#include <string>
#include <utility>

namespace sluice::rpc {

namespace {

struct CodeName {
  StatusCode code;
  std::string_view name;
  grpc::StatusCode grpc;
};

// The sluice codes by the name they travel under, and their canonical gRPC code.
constexpr std::array<CodeName, 10> kCodes = {{
    {StatusCode::kInvalidArgument, "invalid_argument", grpc::StatusCode::INVALID_ARGUMENT},
    {StatusCode::kUnauthenticated, "unauthenticated", grpc::StatusCode::UNAUTHENTICATED},
    {StatusCode::kNotFound, "not_found", grpc::StatusCode::NOT_FOUND},
    {StatusCode::kTooLarge, "too_large", grpc::StatusCode::RESOURCE_EXHAUSTED},
    {StatusCode::kRateLimited, "rate_limited", grpc::StatusCode::RESOURCE_EXHAUSTED},
    {StatusCode::kCorruption, "corruption", grpc::StatusCode::DATA_LOSS},
    {StatusCode::kIOError, "io_error", grpc::StatusCode::INTERNAL},
    {StatusCode::kUnavailable, "unavailable", grpc::StatusCode::UNAVAILABLE},
    {StatusCode::kDeadlineExceeded, "deadline_exceeded", grpc::StatusCode::DEADLINE_EXCEEDED},
    {StatusCode::kInternal, "internal", grpc::StatusCode::INTERNAL},
}};

constexpr std::string_view kDetailsPrefix = "sluice:";

StatusCode FromCanonical(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return StatusCode::kOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::ALREADY_EXISTS:
      return StatusCode::kInvalidArgument;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return StatusCode::kUnauthenticated;
    case grpc::StatusCode::NOT_FOUND:
      return StatusCode::kNotFound;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return StatusCode::kRateLimited;
    case grpc::StatusCode::DATA_LOSS:
      return StatusCode::kCorruption;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::CANCELLED:
      return StatusCode::kUnavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return StatusCode::kDeadlineExceeded;
    default:
      return StatusCode::kInternal;
  }
}

}  // namespace

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  for (const auto& c : kCodes) {
    if (c.code == status.code()) {
      return grpc::Status(c.grpc, status.message(),
                          std::string(kDetailsPrefix) + std::string(c.name));
    }
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, status.message());
}

Status FromGrpcStatus(const grpc::Status& status, std::string_view peer) {
  if (status.ok()) return Status::OK();
  // error_details() returns a copy: keep it.
  const std::string details_copy = status.error_details();
  std::string_view details = details_copy;
  if (details.starts_with(kDetailsPrefix)) {
    details.remove_prefix(kDetailsPrefix.size());
    for (const auto& c : kCodes) {
      if (c.name == details) return Status::FromCode(c.code, status.error_message());
    }
  }
  return Status::FromCode(FromCanonical(status.error_code()),
                          "ingester " + std::string(peer) + ": " + status.error_message());
}

}  // namespace sluice::rpc
