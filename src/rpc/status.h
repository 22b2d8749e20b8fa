#pragma once

// sluice Status <-> gRPC status. A sluice server sends the closest canonical gRPC code (so any
// gRPC client reads it sensibly) and the exact sluice code's name in the status details, so a
// sluice client gets the very Status the server returned:
//
//   sluice                 gRPC                 back without details (transport, foreign server)
//   kInvalidArgument       INVALID_ARGUMENT     INVALID_ARGUMENT, FAILED_PRECONDITION,
//                                               OUT_OF_RANGE, ALREADY_EXISTS -> kInvalidArgument
//   kUnauthenticated       UNAUTHENTICATED      UNAUTHENTICATED, PERMISSION_DENIED
//   kNotFound              NOT_FOUND            NOT_FOUND
//   kTooLarge              RESOURCE_EXHAUSTED   (the details tell it from a rate limit)
//   kRateLimited           RESOURCE_EXHAUSTED   RESOURCE_EXHAUSTED -> kRateLimited
//   kCorruption            DATA_LOSS            DATA_LOSS
//   kIOError, kInternal    INTERNAL             INTERNAL, UNKNOWN, UNIMPLEMENTED -> kInternal
//   kUnavailable           UNAVAILABLE          UNAVAILABLE, ABORTED, CANCELLED -> kUnavailable
//   kDeadlineExceeded      DEADLINE_EXCEEDED    DEADLINE_EXCEEDED
//
// A status without details did not come from the ingester's own code (the connection failed,
// the deadline passed in transit): its message is prefixed with the peer's address.

#include <string_view>

#include "rpc/grpc.h"

#include "common/status.h"

namespace sluice::rpc {

grpc::Status ToGrpcStatus(const Status& status);

// `peer`: the address called, named in transport errors.
Status FromGrpcStatus(const grpc::Status& status, std::string_view peer);

}  // namespace sluice::rpc
