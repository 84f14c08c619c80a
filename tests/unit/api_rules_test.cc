// proto/api: the error reasons' one table, who retries what (the gateway's
// matrix, which must not change, and the client's share of it), and the
// RegistrationError's wire form.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/protobuf/any.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/rpc/status.pb.h"
#include "proto/api/error_rules.h"
#include "proto/api/operation.h"
#include "proto/api/status_detail.h"

namespace dcr::api {
namespace {

using absl::StatusCode;
using v1::RegistrationError;

RegistrationError Error(v1::ErrorReason reason, bool may_have_been_processed,
                        int upstream_http_status) {
  RegistrationError error;
  error.set_reason(reason);
  error.set_may_have_been_processed(may_have_been_processed);
  error.set_upstream_http_status(upstream_http_status);
  return error;
}

// The operations `retries` says yes to, as "Register,Get,Update,Delete": the
// DCR operations, or with `administrative` the others, by their full names.
template <typename Predicate>
std::string Retried(Predicate retries, bool administrative = false) {
  std::string names;
  for (Operation operation : kOperations) {
    // The RPCs only; IntrospectToken has a test of its own.
    if (!IsRpc(operation) || Traits(operation).administrative != administrative) continue;
    if (!retries(operation)) continue;
    if (administrative) {
      if (!names.empty()) names += ",";
      names += std::string(Name(operation));
      continue;
    }
    if (!names.empty()) names += ",";
    // "RegisterClient" -> "Register"
    names += std::string(Name(operation).substr(0, Name(operation).size() - 6));
  }
  return names;
}

std::string GatewayRetried(const RegistrationError& error) {
  return Retried([&](Operation operation) { return GatewayRetries(operation, error); });
}

std::string ClientRetried(StatusCode code, const RegistrationError* error) {
  return Retried([&](Operation operation) { return ClientRetries(operation, code, error); });
}

std::string ClientRetried(const RegistrationError& error) {
  return ClientRetried(StatusCode::kUnavailable, &error);
}

std::vector<v1::ErrorReason> AllReasons() {
  std::vector<v1::ErrorReason> reasons;
  for (int i = v1::ErrorReason_MIN; i <= v1::ErrorReason_MAX; ++i) {
    if (v1::ErrorReason_IsValid(i)) reasons.push_back(static_cast<v1::ErrorReason>(i));
  }
  return reasons;
}

// What is known of a failure: processed or not, and Authlete's HTTP status.
struct Knowledge {
  bool may_have_been_processed;
  int upstream_http_status;
};
constexpr Knowledge kEveryKnowledge[] = {{false, 0},   {true, 0},    {false, 200}, {true, 200},
                                         {false, 429}, {true, 429}, {false, 503}, {true, 503}};

const char* const kAll = "Register,Get,Update,Delete";
const char* const kIdempotent = "Get,Update,Delete";

// ---- the table ----

TEST(ApiRules, EveryReasonHasItsRowInEnumOrder) {
  const std::vector<v1::ErrorReason> reasons = AllReasons();
  ASSERT_EQ(ReasonRules().size(), reasons.size());
  for (v1::ErrorReason reason : reasons) {
    EXPECT_EQ(RuleOf(reason).reason, reason) << v1::ErrorReason_Name(reason);
    EXPECT_EQ(ReasonRules()[static_cast<size_t>(reason)].reason, reason);
    EXPECT_GE(RuleOf(reason).http_status, 400) << v1::ErrorReason_Name(reason);
  }
}

TEST(ApiRules, UnknownReasonFallsBackToUnspecified) {
  const auto newer = static_cast<v1::ErrorReason>(v1::ErrorReason_MAX + 7);
  EXPECT_EQ(RuleOf(newer).reason, v1::ERROR_REASON_UNSPECIFIED);
  EXPECT_EQ(CodeOf(newer, v1::ACTION_UNSPECIFIED), StatusCode::kUnknown);
  EXPECT_EQ(GatewayRetried(Error(newer, false, 0)), "");
  EXPECT_EQ(ClientRetried(Error(newer, false, 0)), "");
}

TEST(ApiRules, RejectedAsUnauthorizedIsUnauthenticatedAnd401) {
  EXPECT_EQ(CodeOf(v1::ERROR_REASON_REGISTRATION_REJECTED, v1::ACTION_UNAUTHORIZED),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(HttpStatusOf(v1::ERROR_REASON_REGISTRATION_REJECTED, v1::ACTION_UNAUTHORIZED), 401);
}

TEST(ApiRules, OtherRejectionsAndReasonsKeepTheirRow) {
  EXPECT_EQ(CodeOf(v1::ERROR_REASON_REGISTRATION_REJECTED, v1::ACTION_BAD_REQUEST),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpStatusOf(v1::ERROR_REASON_REGISTRATION_REJECTED, v1::ACTION_BAD_REQUEST), 400);
  // UNAUTHORIZED changes only a REGISTRATION_REJECTED.
  EXPECT_EQ(CodeOf(v1::ERROR_REASON_UPSTREAM_FAILED, v1::ACTION_UNAUTHORIZED),
            StatusCode::kUnavailable);
  EXPECT_EQ(HttpStatusOf(v1::ERROR_REASON_UPSTREAM_FAILED, v1::ACTION_UNAUTHORIZED), 503);
  for (v1::ErrorReason reason : AllReasons()) {
    if (reason == v1::ERROR_REASON_REGISTRATION_REJECTED) continue;
    EXPECT_EQ(CodeOf(reason, v1::ACTION_UNAUTHORIZED), RuleOf(reason).code) << reason;
    EXPECT_EQ(HttpStatusOf(reason, v1::ACTION_UNAUTHORIZED), RuleOf(reason).http_status)
        << reason;
  }
}

// ---- the gateway's retries of Authlete requests ----

TEST(ApiGatewayRetries, NothingSentGoesAgainForEveryOperation) {
  EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, false, 0)), kAll);
  EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_TIMEOUT, false, 0)), kAll);
  EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_FAILED, false, 0)), kAll);
}

TEST(ApiGatewayRetries, Http429GoesAgainExceptRegister) {
  EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, false, 429)),
            kIdempotent);
}

TEST(ApiGatewayRetries, Http5xxGoesAgainExceptRegister) {
  EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_FAILED, true, 503)), kIdempotent);
}

TEST(ApiGatewayRetries, LostAfterSendingGoesAgainOnlyForGet) {
  // The connection broke, or no answer came in time, after the request left.
  EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_FAILED, true, 0)), "Get");
  EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_TIMEOUT, true, 0)), "Get");
}

TEST(ApiGatewayRetries, BadResponseAndAuthleteErrorGoAgainOnlyForGet) {
  for (bool processed : {false, true}) {
    EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, processed, 200)),
              "Get");
    EXPECT_EQ(GatewayRetried(Error(v1::ERROR_REASON_AUTHLETE_ERROR, processed, 200)), "Get");
  }
}

TEST(ApiGatewayRetries, EveryOtherReasonIsNeverRetried) {
  const v1::ErrorReason retried[] = {
      v1::ERROR_REASON_UPSTREAM_UNREACHABLE, v1::ERROR_REASON_UPSTREAM_TIMEOUT,
      v1::ERROR_REASON_UPSTREAM_FAILED,      v1::ERROR_REASON_UPSTREAM_RATE_LIMITED,
      v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, v1::ERROR_REASON_AUTHLETE_ERROR};
  for (v1::ErrorReason reason : AllReasons()) {
    if (std::find(std::begin(retried), std::end(retried), reason) != std::end(retried)) continue;
    for (const Knowledge& k : kEveryKnowledge) {
      EXPECT_EQ(GatewayRetried(Error(reason, k.may_have_been_processed, k.upstream_http_status)),
                "")
          << v1::ErrorReason_Name(reason) << " " << k.may_have_been_processed << " "
          << k.upstream_http_status;
    }
  }
}

// ---- the administrative operations: the same rules by their traits ----

std::string AdminGatewayRetried(const RegistrationError& error) {
  return Retried([&](Operation operation) { return GatewayRetries(operation, error); }, true);
}

std::string AdminClientRetried(StatusCode code, const RegistrationError* error) {
  return Retried([&](Operation operation) { return ClientRetries(operation, code, error); },
                 true);
}

TEST(ApiAdminRetries, GatewayNeverResendsARotationThatMayHaveArrived) {
  const char* const all = "ListClients,GetClientRecord,RotateClientSecret,SetClientLocked";
  const char* const repeatable = "ListClients,GetClientRecord,SetClientLocked";
  const char* const reads = "ListClients,GetClientRecord";
  EXPECT_EQ(AdminGatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, false, 0)), all);
  EXPECT_EQ(AdminGatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, false, 429)),
            repeatable);
  EXPECT_EQ(AdminGatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_FAILED, true, 503)), repeatable);
  EXPECT_EQ(AdminGatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_FAILED, true, 0)), reads);
  EXPECT_EQ(AdminGatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_TIMEOUT, true, 0)), reads);
  EXPECT_EQ(AdminGatewayRetried(Error(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, true, 200)), reads);
  EXPECT_EQ(AdminGatewayRetried(Error(v1::ERROR_REASON_INVALID_PAGE_TOKEN, false, 0)), "");
}

TEST(ApiAdminRetries, ClientResendsWhatTheGatewayDidNotAndNeverALostRotation) {
  RegistrationError limited = Error(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, false, 429);
  EXPECT_EQ(AdminClientRetried(StatusCode::kUnavailable, &limited), "RotateClientSecret");
  EXPECT_EQ(AdminClientRetried(StatusCode::kUnavailable, nullptr),
            "ListClients,GetClientRecord,SetClientLocked");
  RegistrationError gone = Error(v1::ERROR_REASON_GATEWAY_UNAVAILABLE, true, 0);
  EXPECT_EQ(AdminClientRetried(StatusCode::kUnavailable, &gone),
            "ListClients,GetClientRecord,SetClientLocked");
  RegistrationError bad_token = Error(v1::ERROR_REASON_INVALID_PAGE_TOKEN, false, 0);
  EXPECT_EQ(AdminClientRetried(StatusCode::kInvalidArgument, &bad_token), "");
}

// The public endpoint's token introspection: a read, retried as one.
TEST(ApiIntrospection, RetriedAsARead) {
  EXPECT_FALSE(IsRpc(Operation::kIntrospectToken));
  EXPECT_EQ(OperationNamed("IntrospectToken"), absl::nullopt);
  EXPECT_TRUE(Traits(Operation::kIntrospectToken).read_only);
  EXPECT_TRUE(Traits(Operation::kIntrospectToken).idempotent);
  EXPECT_TRUE(GatewayRetries(Operation::kIntrospectToken,
                             Error(v1::ERROR_REASON_UPSTREAM_TIMEOUT, true, 0)));
  EXPECT_TRUE(GatewayRetries(Operation::kIntrospectToken,
                             Error(v1::ERROR_REASON_UPSTREAM_FAILED, true, 503)));
}

// ---- dcr::client's retries of the gateway call ----

TEST(ApiClientRetries, RateLimitedRegisterIsTheClientsToResend) {
  EXPECT_EQ(ClientRetried(Error(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, false, 429)), "Register");
}

TEST(ApiClientRetries, CircuitOpenGoesAgainForEveryOperation) {
  EXPECT_EQ(ClientRetried(Error(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, false, 0)), kAll);
}

TEST(ApiClientRetries, GatewayUnavailableByWhetherItWasSent) {
  EXPECT_EQ(ClientRetried(Error(v1::ERROR_REASON_GATEWAY_UNAVAILABLE, false, 0)), kAll);
  EXPECT_EQ(ClientRetried(Error(v1::ERROR_REASON_GATEWAY_UNAVAILABLE, true, 0)), kIdempotent);
}

TEST(ApiClientRetries, BareUnavailableOnlyForIdempotentOperations) {
  EXPECT_EQ(ClientRetried(StatusCode::kUnavailable, nullptr), kIdempotent);
}

TEST(ApiClientRetries, WhatTheGatewayRetriedIsNotResent) {
  EXPECT_EQ(ClientRetried(Error(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, false, 0)), "");
  EXPECT_EQ(ClientRetried(Error(v1::ERROR_REASON_UPSTREAM_FAILED, true, 503)), "");
  EXPECT_EQ(ClientRetried(Error(v1::ERROR_REASON_UPSTREAM_FAILED, true, 0)), "");
  EXPECT_EQ(ClientRetried(Error(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, true, 200)), "");
}

TEST(ApiClientRetries, OnlyUnavailableIsEverRetried) {
  const RegistrationError open = Error(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, false, 0);
  for (int n = 0; n <= static_cast<int>(StatusCode::kUnauthenticated); ++n) {
    const auto code = static_cast<StatusCode>(n);
    if (code == StatusCode::kUnavailable) continue;
    EXPECT_EQ(ClientRetried(code, nullptr), "") << n;
    EXPECT_EQ(ClientRetried(code, &open), "") << n;
  }
}

// The bound: whenever the gateway answered with a detail, gateway and client
// never both resend the same failure, so a client call causes at most the
// gateway's attempts of Authlete requests.
TEST(ApiClientRetries, NeverResendsWhatTheGatewayResent) {
  for (v1::ErrorReason reason : AllReasons()) {
    for (const Knowledge& k : kEveryKnowledge) {
      const RegistrationError error =
          Error(reason, k.may_have_been_processed, k.upstream_http_status);
      for (Operation operation : kOperations) {
        EXPECT_FALSE(GatewayRetries(operation, error) &&
                     ClientRetries(operation, StatusCode::kUnavailable, &error))
            << v1::ErrorReason_Name(reason) << " " << Name(operation);
      }
    }
  }
}

// ---- operations ----

TEST(ApiOperation, NamesAndTraits) {
  EXPECT_EQ(Name(Operation::kRegister), "RegisterClient");
  EXPECT_EQ(Name(Operation::kDelete), "DeleteClient");
  EXPECT_EQ(OperationNamed("GetClient"), Operation::kGet);
  EXPECT_EQ(OperationNamed("getclient"), absl::nullopt);
  EXPECT_FALSE(Traits(Operation::kRegister).idempotent);
  EXPECT_TRUE(Traits(Operation::kDelete).idempotent);
  EXPECT_TRUE(Traits(Operation::kGet).read_only);
  EXPECT_FALSE(Traits(Operation::kUpdate).read_only);
  for (Operation operation : kOperations) EXPECT_EQ(Traits(operation).operation, operation);
}

// ---- the detail on the wire ----

RegistrationError SampleDetail() {
  RegistrationError detail;
  detail.set_reason(v1::ERROR_REASON_REGISTRATION_REJECTED);
  detail.set_action(v1::ACTION_BAD_REQUEST);
  detail.set_http_status(400);
  detail.set_error("invalid_redirect_uri");
  detail.set_response_content(R"({"error":"invalid_redirect_uri"})");
  detail.set_may_have_been_processed(true);
  return detail;
}

grpc::Status WithDetails(const std::string& details) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "m", details);
}

TEST(ApiStatusDetail, RoundTrip) {
  const RegistrationError detail = SampleDetail();
  grpc::Status status = ToGrpcStatus(StatusCode::kInvalidArgument, "rejected", &detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "rejected");
  absl::optional<RegistrationError> back = RegistrationErrorOf(status);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->SerializeAsString(), detail.SerializeAsString());

  google::rpc::Status rpc_status;
  ASSERT_TRUE(rpc_status.ParseFromString(status.error_details()));
  EXPECT_EQ(rpc_status.code(), static_cast<int>(StatusCode::kInvalidArgument));
  EXPECT_EQ(rpc_status.message(), "rejected");
  ASSERT_EQ(rpc_status.details_size(), 1);
  EXPECT_EQ(rpc_status.details(0).type_url(), kRegistrationErrorTypeUrl);
}

TEST(ApiStatusDetail, NoDetailAndOk) {
  grpc::Status bare = ToGrpcStatus(StatusCode::kUnavailable, "down", nullptr);
  EXPECT_EQ(bare.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(bare.error_details().empty());
  EXPECT_FALSE(RegistrationErrorOf(bare).has_value());
  const RegistrationError detail = SampleDetail();
  grpc::Status ok = ToGrpcStatus(StatusCode::kOk, "ignored", &detail);
  EXPECT_TRUE(ok.ok());
  EXPECT_FALSE(RegistrationErrorOf(ok).has_value());
}

TEST(ApiStatusDetail, GarbageDetailsAreIgnored) {
  for (const std::string& garbage : {std::string("\xff\xff\xff"), std::string("\x0a\x05zz"),
                                    std::string(1, '\0')}) {
    EXPECT_FALSE(RegistrationErrorOf(WithDetails(garbage)).has_value());
  }
  // The right type URL over bytes that are no RegistrationError.
  google::rpc::Status rpc_status;
  google::protobuf::Any* any = rpc_status.add_details();
  any->set_type_url(kRegistrationErrorTypeUrl);
  any->set_value("\xff\xff\xff");
  EXPECT_FALSE(RegistrationErrorOf(WithDetails(rpc_status.SerializeAsString())).has_value());
  // Another message type.
  google::rpc::Status other;
  other.add_details()->PackFrom(google::protobuf::Duration());
  EXPECT_FALSE(RegistrationErrorOf(WithDetails(other.SerializeAsString())).has_value());
}

TEST(ApiStatusDetail, FindsTheDetailAmongOthers) {
  google::rpc::Status rpc_status;
  rpc_status.add_details()->PackFrom(google::protobuf::Duration());
  rpc_status.add_details()->PackFrom(SampleDetail());
  absl::optional<RegistrationError> found =
      RegistrationErrorOf(WithDetails(rpc_status.SerializeAsString()));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->error(), "invalid_redirect_uri");
}

TEST(ApiStatusDetail, ToAbslCode) {
  for (int n = 0; n <= 16; ++n) {
    EXPECT_EQ(static_cast<int>(ToAbslCode(static_cast<grpc::StatusCode>(n))), n);
  }
  for (int n : {-1, 17, 100, 1 << 20}) {
    EXPECT_EQ(ToAbslCode(static_cast<grpc::StatusCode>(n)), StatusCode::kUnknown) << n;
  }
}

TEST(ApiStatusDetail, RetryAfter) {
  RegistrationError detail;
  EXPECT_EQ(RetryAfter(detail), absl::nullopt);
  detail.mutable_retry_after()->set_seconds(1);
  detail.mutable_retry_after()->set_nanos(500000000);
  EXPECT_EQ(RetryAfter(detail), absl::Milliseconds(1500));
  detail.mutable_retry_after()->set_seconds(0);
  detail.mutable_retry_after()->set_nanos(0);
  EXPECT_EQ(RetryAfter(detail), absl::ZeroDuration());
}

TEST(ApiStatusDetail, RetryAfterRejectsMalformedValues) {
  struct {
    int64_t seconds;
    int32_t nanos;
  } const malformed[] = {{-1, 0}, {0, -1}, {-5, -5}, {0, 1000000000}, {1, 2147483647}};
  for (const auto& m : malformed) {
    RegistrationError detail;
    detail.mutable_retry_after()->set_seconds(m.seconds);
    detail.mutable_retry_after()->set_nanos(m.nanos);
    EXPECT_EQ(RetryAfter(detail), absl::nullopt) << m.seconds << "s " << m.nanos << "ns";
  }
}

TEST(ApiStatusDetail, SetRetryAfter) {
  RegistrationError detail;
  SetRetryAfter(absl::Milliseconds(2250), detail);
  EXPECT_EQ(detail.retry_after().seconds(), 2);
  EXPECT_EQ(detail.retry_after().nanos(), 250000000);
  EXPECT_EQ(RetryAfter(detail), absl::Milliseconds(2250));
  SetRetryAfter(-absl::Seconds(3), detail);
  EXPECT_EQ(RetryAfter(detail), absl::ZeroDuration());
}

TEST(ApiStatusDetail, SetRetryAfterWritesAValidDurationForAnyWait) {
  // google.protobuf.Duration's range ends at 315,576,000,000 s.
  for (absl::Duration wait : {absl::InfiniteDuration(), absl::Hours(1e9)}) {
    RegistrationError detail;
    SetRetryAfter(wait, detail);
    EXPECT_EQ(detail.retry_after().nanos(), 0);
    EXPECT_EQ(detail.retry_after().seconds(), 315576000000);
    EXPECT_EQ(RetryAfter(detail), absl::Seconds(315576000000));
  }
}

}  // namespace
}  // namespace dcr::api
