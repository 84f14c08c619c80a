// grpc::Status <-> absl::Status conversion and the RegistrationError payload.
#include "client/registration_error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/protobuf/duration.pb.h"
#include "google/rpc/status.pb.h"
#include "proto/api/status_detail.h"

namespace dcr::client {
namespace {

v1::RegistrationError SampleDetail() {
  v1::RegistrationError detail;
  detail.set_reason(v1::ERROR_REASON_REGISTRATION_REJECTED);
  detail.set_action(v1::ACTION_BAD_REQUEST);
  detail.set_http_status(400);
  detail.set_error("invalid_redirect_uri");
  detail.set_error_description("[A202201] bad redirect");
  detail.set_result_code("A202201");
  detail.set_may_have_been_processed(true);
  detail.mutable_retry_after()->set_seconds(3);
  return detail;
}

std::string Details(const google::protobuf::Message& detail) {
  google::rpc::Status rpc_status;
  rpc_status.set_code(3);
  rpc_status.set_message("m");
  rpc_status.add_details()->PackFrom(detail);
  return rpc_status.SerializeAsString();
}

TEST(ClientRegistrationError, OkStaysOk) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(ClientRegistrationError, KeepsCodeAndMessageWithoutDetails) {
  absl::Status s = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "down");
  EXPECT_FALSE(GetRegistrationError(s).has_value());
}

TEST(ClientRegistrationError, EveryCanonicalCodeMapsToItself) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status s = FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), "x"));
    EXPECT_EQ(static_cast<int>(s.code()), code);
  }
}

TEST(ClientRegistrationError, DetailRoundTripsGrpcToAbslPayload) {
  const v1::RegistrationError detail = SampleDetail();
  absl::Status s = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "rejected", Details(detail)));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "rejected");
  ASSERT_TRUE(s.GetPayload(kRegistrationErrorTypeUrl).has_value());
  absl::optional<v1::RegistrationError> got = GetRegistrationError(s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->SerializeAsString(), detail.SerializeAsString());

  // And back to gRPC, as a proxy would.
  grpc::Status back = ToGrpcStatus(s);
  EXPECT_EQ(back.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(back.error_message(), "rejected");
  absl::optional<v1::RegistrationError> again = GetRegistrationError(FromGrpcStatus(back));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->SerializeAsString(), detail.SerializeAsString());
}

TEST(ClientRegistrationError, FindsDetailAfterOtherDetailTypes) {
  google::rpc::Status rpc_status;
  google::protobuf::Duration other;
  other.set_seconds(1);
  rpc_status.add_details()->PackFrom(other);
  rpc_status.add_details()->PackFrom(SampleDetail());
  absl::Status s = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::INTERNAL, "x", rpc_status.SerializeAsString()));
  ASSERT_TRUE(GetRegistrationError(s).has_value());
  EXPECT_EQ(GetRegistrationError(s)->result_code(), "A202201");
}

TEST(ClientRegistrationError, GarbageDetailsGivePlainStatus) {
  for (const std::string& garbage :
       {std::string("\xff\xff\xff\xff", 4), std::string("not a proto"), std::string(1, '\0')}) {
    absl::Status s =
        FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down", garbage));
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(s.message(), "down");
    EXPECT_FALSE(GetRegistrationError(s).has_value());
  }
}

TEST(ClientRegistrationError, GarbageInsideTheAnyIsIgnored) {
  google::rpc::Status rpc_status;
  google::protobuf::Any* any = rpc_status.add_details();
  any->set_type_url(kRegistrationErrorTypeUrl);
  any->set_value(std::string("\xff\xff\xff\xff\xff", 5));
  absl::Status s = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "down", rpc_status.SerializeAsString()));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(GetRegistrationError(s).has_value());
}

TEST(ClientRegistrationError, OtherDetailTypeOnlyGivesPlainStatus) {
  google::protobuf::Duration other;
  absl::Status s =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down", Details(other)));
  EXPECT_FALSE(GetRegistrationError(s).has_value());
}

TEST(ClientRegistrationError, CorruptPayloadReadsAsAbsent) {
  absl::Status s = absl::UnavailableError("x");
  s.SetPayload(kRegistrationErrorTypeUrl, absl::Cord("\xff\xff\xff"));
  EXPECT_FALSE(GetRegistrationError(s).has_value());
}

TEST(ClientRegistrationError, SetRegistrationErrorIgnoresOk) {
  absl::Status ok;
  SetRegistrationError(ok, SampleDetail());
  EXPECT_TRUE(ok.ok());
  EXPECT_FALSE(GetRegistrationError(ok).has_value());
}

TEST(ClientRegistrationError, TypeUrlIsTheApisOne) {
  // One definition: the client's name refers to dcr::api's array.
  EXPECT_EQ(&kRegistrationErrorTypeUrl, &api::kRegistrationErrorTypeUrl);
  EXPECT_STREQ(kRegistrationErrorTypeUrl, "type.googleapis.com/dcr.v1.RegistrationError");
}

TEST(ClientRegistrationError, ToGrpcStatusPacksAsTheApiDoes) {
  absl::Status s = absl::InvalidArgumentError("rejected");
  SetRegistrationError(s, SampleDetail());
  const v1::RegistrationError detail = SampleDetail();
  grpc::Status expected =
      api::ToGrpcStatus(absl::StatusCode::kInvalidArgument, "rejected", &detail);
  grpc::Status got = ToGrpcStatus(s);
  EXPECT_EQ(got.error_code(), expected.error_code());
  EXPECT_EQ(got.error_message(), expected.error_message());
  EXPECT_EQ(got.error_details(), expected.error_details());
}

}  // namespace
}  // namespace dcr::client
