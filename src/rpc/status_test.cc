#include "rpc/status.h"

#include <gtest/gtest.h>

namespace sluice::rpc {
namespace {

TEST(RpcStatusTest, EverySluiceCodeComesBackAsItWent) {
  const Status all[] = {
      Status::InvalidArgument("bad labels"),
      Status::Unauthenticated("no org id"),
      Status::NotFound("nothing"),
      Status::TooLarge("too big"),
      Status::RateLimited("slow down"),
      Status::Corruption("crc"),
      Status::IOError("disk"),
      Status::Unavailable("not ready"),
      Status::DeadlineExceeded("late"),
      Status::Internal("bug"),
  };
  for (const Status& st : all) {
    Status back = FromGrpcStatus(ToGrpcStatus(st), "10.0.0.1:9095");
    EXPECT_EQ(back.code(), st.code()) << st.ToString();
    EXPECT_EQ(back.message(), st.message()) << "an ingester's own error is relayed unchanged";
  }
  EXPECT_TRUE(ToGrpcStatus(Status::OK()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "x").ok());
}

TEST(RpcStatusTest, CanonicalCodesForOtherClients) {
  EXPECT_EQ(ToGrpcStatus(Status::RateLimited("r")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus(Status::InvalidArgument("v")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcStatus(Status::Unavailable("u")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(Status::DeadlineExceeded("d")).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(ToGrpcStatus(Status::Unauthenticated("a")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToGrpcStatus(Status::Corruption("c")).error_code(), grpc::StatusCode::DATA_LOSS);
}

TEST(RpcStatusTest, TransportErrorsMapByCodeAndNameThePeer) {
  struct Case {
    grpc::StatusCode code;
    StatusCode want;
  };
  const Case cases[] = {
      {grpc::StatusCode::UNAVAILABLE, StatusCode::kUnavailable},
      {grpc::StatusCode::CANCELLED, StatusCode::kUnavailable},
      {grpc::StatusCode::ABORTED, StatusCode::kUnavailable},
      {grpc::StatusCode::DEADLINE_EXCEEDED, StatusCode::kDeadlineExceeded},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, StatusCode::kRateLimited},
      {grpc::StatusCode::INVALID_ARGUMENT, StatusCode::kInvalidArgument},
      {grpc::StatusCode::FAILED_PRECONDITION, StatusCode::kInvalidArgument},
      {grpc::StatusCode::UNAUTHENTICATED, StatusCode::kUnauthenticated},
      {grpc::StatusCode::PERMISSION_DENIED, StatusCode::kUnauthenticated},
      {grpc::StatusCode::NOT_FOUND, StatusCode::kNotFound},
      {grpc::StatusCode::DATA_LOSS, StatusCode::kCorruption},
      {grpc::StatusCode::UNIMPLEMENTED, StatusCode::kInternal},
      {grpc::StatusCode::UNKNOWN, StatusCode::kInternal},
  };
  for (const auto& c : cases) {
    Status st = FromGrpcStatus(grpc::Status(c.code, "connection reset"), "10.0.0.1:9095");
    EXPECT_EQ(st.code(), c.want) << c.code;
    EXPECT_EQ(st.message(), "ingester 10.0.0.1:9095: connection reset");
  }
  // Details that are not ours do not count as ours.
  Status st = FromGrpcStatus(grpc::Status(grpc::StatusCode::INTERNAL, "m", "sluice:no_such"), "p");
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_EQ(st.message(), "ingester p: m");
}

}  // namespace
}  // namespace sluice::rpc
