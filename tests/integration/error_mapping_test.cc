// Every action and every upstream failure mode reaches the caller as the
// documented gRPC status with a dcr.v1.RegistrationError detail (README
// "Error mapping"), through real gRPC and real HTTP.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway_test_env.h"
#include "nlohmann/json.hpp"

namespace dcr::testing {
namespace {

using emulator::FaultKind;
using emulator::FaultRule;
using emulator::FaultSpec;

class ErrorMappingTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(EnvOptions options) {
    env_.reset();
    auto env = GatewayTestEnv::Start(std::move(options));
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
  }

  v1::ClientInformation RegisterOne() {
    v1::RegisterClientRequest request;
    request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
    v1::RegisterClientResponse response;
    grpc::Status status = env_->stub().RegisterClient(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.client();
  }

  // Calls `operation` (against `client` where it needs one).
  grpc::Status Call(emulator::Operation operation, const v1::ClientInformation& client,
                    absl::Duration timeout = absl::Seconds(10)) {
    auto context = Context(timeout);
    switch (operation) {
      case emulator::Operation::kRegister: {
        v1::RegisterClientRequest request;
        request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
        v1::RegisterClientResponse response;
        return env_->stub().RegisterClient(context.get(), request, &response);
      }
      case emulator::Operation::kGet: {
        v1::GetClientRequest request;
        request.set_client_id(client.client_id());
        request.set_registration_access_token(client.registration_access_token());
        v1::GetClientResponse response;
        return env_->stub().GetClient(context.get(), request, &response);
      }
      case emulator::Operation::kUpdate: {
        v1::UpdateClientRequest request;
        request.set_client_id(client.client_id());
        request.set_registration_access_token(client.registration_access_token());
        request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
        v1::UpdateClientResponse response;
        return env_->stub().UpdateClient(context.get(), request, &response);
      }
      case emulator::Operation::kDelete: {
        v1::DeleteClientRequest request;
        request.set_client_id(client.client_id());
        request.set_registration_access_token(client.registration_access_token());
        v1::DeleteClientResponse response;
        return env_->stub().DeleteClient(context.get(), request, &response);
      }
      default:
        break;  // the management operations: client_lifecycle_test.cc
    }
    return grpc::Status::CANCELLED;
  }

  std::unique_ptr<GatewayTestEnv> env_;
};

// --- Authlete processed the request: the action decides -------------------

TEST_F(ErrorMappingTest, BadRequestIsInvalidArgumentWithRfc7591Error) {
  v1::RegisterClientRequest request;
  request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb#fragment"]})");
  v1::RegisterClientResponse response;
  grpc::Status status = env_->stub().RegisterClient(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto detail = DetailOf(status);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_REGISTRATION_REJECTED);
  EXPECT_EQ(detail->action(), v1::ACTION_BAD_REQUEST);
  EXPECT_EQ(detail->http_status(), 400);
  EXPECT_EQ(detail->error(), "invalid_redirect_uri");
  EXPECT_FALSE(detail->error_description().empty());
  EXPECT_FALSE(detail->result_code().empty());
  // The body to relay to the end client, verbatim.
  const auto content = nlohmann::json::parse(detail->response_content());
  EXPECT_EQ(content["error"], "invalid_redirect_uri");
}

TEST_F(ErrorMappingTest, UnauthorizedIsUnauthenticated) {
  v1::ClientInformation client = RegisterOne();
  client.set_registration_access_token("not-the-token");
  for (auto op : {emulator::Operation::kGet, emulator::Operation::kUpdate,
                  emulator::Operation::kDelete}) {
    grpc::Status status = Call(op, client);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    auto detail = DetailOf(status);
    ASSERT_TRUE(detail.has_value());
    EXPECT_EQ(detail->action(), v1::ACTION_UNAUTHORIZED);
    EXPECT_EQ(detail->http_status(), 401);
    EXPECT_EQ(detail->reason(), v1::ERROR_REASON_REGISTRATION_REJECTED);
    // Never echo the presented token back.
    EXPECT_EQ(status.error_message().find("not-the-token"), std::string::npos);
  }
}

TEST_F(ErrorMappingTest, InternalServerErrorActionIsInternal) {
  FaultRule rule;
  rule.kind = FaultKind::kUnknownAction;
  rule.action_value = "INTERNAL_SERVER_ERROR";
  env_->emulator().SetFaults(FaultSpec{{rule}});
  grpc::Status status = Call(emulator::Operation::kRegister, {});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  auto detail = DetailOf(status);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->action(), v1::ACTION_INTERNAL_SERVER_ERROR);
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_AUTHLETE_ERROR);
  EXPECT_EQ(detail->http_status(), 500);
}

// --- Authlete refused the gateway itself -----------------------------------

TEST_F(ErrorMappingTest, WrongGatewayCredentialIsFailedPrecondition) {
  Start(TweakGateway(
      [](config::GatewayConfig& config) { config.authlete.credential = "wrong-token"; }));
  grpc::Status status = Call(emulator::Operation::kRegister, {});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  auto detail = DetailOf(status);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_GATEWAY_CREDENTIALS_REJECTED);
  EXPECT_THAT(detail->upstream_http_status(), ::testing::AnyOf(401, 403));
  EXPECT_FALSE(detail->result_code().empty());
  EXPECT_EQ(status.error_message().find("wrong-token"), std::string::npos);
}

TEST_F(ErrorMappingTest, ServiceUnknownToAuthleteIsFailedPrecondition) {
  Start(TweakGateway([](config::GatewayConfig& config) {
    config.authlete.credential = kOrganizationToken;
    config.allowed_service_ids = {"99999999999999"};
  }));
  v1::RegisterClientRequest request;
  request.set_service_id("99999999999999");
  request.set_metadata_json("{}");
  v1::RegisterClientResponse response;
  grpc::Status status = env_->stub().RegisterClient(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  auto detail = DetailOf(status);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->upstream_http_status(), 404);
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_SERVICE_NOT_FOUND);
}

// --- The gateway refuses before calling Authlete ---------------------------

TEST_F(ErrorMappingTest, BadInputNeverReachesAuthlete) {
  auto expect_refused = [&](grpc::Status status, grpc::StatusCode code,
                            v1::ErrorReason reason) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    auto detail = DetailOf(status);
    ASSERT_TRUE(detail.has_value());
    EXPECT_EQ(detail->reason(), reason);
  };
  v1::GetClientRequest get;
  v1::GetClientResponse got;
  get.set_registration_access_token("token");
  expect_refused(env_->stub().GetClient(Context().get(), get, &got),
                 grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);
  get.set_client_id("123");
  get.clear_registration_access_token();
  expect_refused(env_->stub().GetClient(Context().get(), get, &got),
                 grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);
  get.set_registration_access_token(std::string(5000, 'a'));
  expect_refused(env_->stub().GetClient(Context().get(), get, &got),
                 grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);

  v1::RegisterClientRequest reg;
  v1::RegisterClientResponse registered;
  expect_refused(env_->stub().RegisterClient(Context().get(), reg, &registered),
                 grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);
  reg.set_metadata_json(std::string(70 * 1024, ' ') + "{}");
  expect_refused(env_->stub().RegisterClient(Context().get(), reg, &registered),
                 grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);
  reg.set_metadata_json("{}");
  reg.set_service_id("../../admin");
  expect_refused(env_->stub().RegisterClient(Context().get(), reg, &registered),
                 grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);
  reg.set_service_id(kSecondServiceId);  // Real, but not allowed on this gateway.
  expect_refused(env_->stub().RegisterClient(Context().get(), reg, &registered),
                 grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_SERVICE_NOT_ALLOWED);
  reg.clear_service_id();
  reg.mutable_metadata()->set_client_name("typed");
  (*reg.mutable_metadata()->mutable_additional_metadata())["client_name"].set_string_value(
      "twice");
  expect_refused(env_->stub().RegisterClient(Context().get(), reg, &registered),
                 grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);

  EXPECT_EQ(env_->emulator().stats().total, 0);
}

// --- Authlete misbehaves ---------------------------------------------------

// Each fault below stays on until cleared, so every attempt the gateway makes
// meets it. `attempts` is what README "Resilience" promises per RPC:
// Get is retried after any upstream failure; Update and Delete only after an
// HTTP 429 or 5xx answer; Register never once its request was sent.
struct Attempts {
  int register_ = 1, get = 1, update = 1, delete_ = 1;
  int For(emulator::Operation op) const {
    switch (op) {
      case emulator::Operation::kRegister: return register_;
      case emulator::Operation::kGet: return get;
      case emulator::Operation::kUpdate: return update;
      case emulator::Operation::kDelete: return delete_;
      default: break;
    }
    return 0;
  }
};
constexpr int kMax = 3;  // the gateway's default --upstream_max_attempts

struct FaultCase {
  std::string name;
  FaultRule rule;
  grpc::StatusCode code;
  v1::ErrorReason reason;
  Attempts attempts;
  absl::Duration caller_timeout = absl::Seconds(10);
};

void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

FaultRule Rule(FaultKind kind) {
  FaultRule rule;
  rule.kind = kind;
  rule.count = 1;
  return rule;
}

int64_t RequestsOf(const emulator::Stats& stats, emulator::Operation op) {
  switch (op) {
    case emulator::Operation::kRegister: return stats.register_requests;
    case emulator::Operation::kGet: return stats.get_requests;
    case emulator::Operation::kUpdate: return stats.update_requests;
    case emulator::Operation::kDelete: return stats.delete_requests;
    default: return stats.management_requests;
  }
  return 0;
}

std::vector<FaultCase> FaultCases() {
  FaultRule http_503 = Rule(FaultKind::kHttpError);
  http_503.http_status = 503;
  http_503.body = "<html>unavailable</html>";
  FaultRule authlete_500 = Rule(FaultKind::kHttpError);
  authlete_500.http_status = 500;  // Empty body: Authlete's A001101 refusal.
  FaultRule latency = Rule(FaultKind::kLatency);
  latency.latency_ms = 3000;
  FaultRule slow = Rule(FaultKind::kSlowBody);
  slow.chunk_bytes = 4;
  slow.chunk_delay_ms = 100;
  const Attempts all_but_register{1, kMax, kMax, kMax};
  const Attempts get_only{1, kMax, 1, 1};
  return {
      {"http_503", http_503, grpc::StatusCode::UNAVAILABLE, v1::ERROR_REASON_UPSTREAM_FAILED,
       all_but_register},
      {"authlete_500", authlete_500, grpc::StatusCode::UNAVAILABLE,
       v1::ERROR_REASON_UPSTREAM_FAILED, all_but_register},
      {"rate_limit", Rule(FaultKind::kRateLimit), grpc::StatusCode::UNAVAILABLE,
       v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, all_but_register},
      {"reset_before", Rule(FaultKind::kResetBeforeProcessing), grpc::StatusCode::UNAVAILABLE,
       v1::ERROR_REASON_UPSTREAM_FAILED, get_only},
      {"reset_after", Rule(FaultKind::kResetAfterProcessing), grpc::StatusCode::UNAVAILABLE,
       v1::ERROR_REASON_UPSTREAM_FAILED, get_only},
      {"truncated_body", Rule(FaultKind::kTruncatedBody), grpc::StatusCode::INTERNAL,
       v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, get_only},
      {"malformed_json", Rule(FaultKind::kMalformedJson), grpc::StatusCode::INTERNAL,
       v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, get_only},
      {"unknown_action", Rule(FaultKind::kUnknownAction), grpc::StatusCode::INTERNAL,
       v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, get_only},
      // The caller's 500 ms leave no room for a second attempt.
      {"latency_past_deadline", latency, grpc::StatusCode::DEADLINE_EXCEEDED,
       v1::ERROR_REASON_UPSTREAM_TIMEOUT, Attempts{}, absl::Milliseconds(500)},
      {"slow_body_past_deadline", slow, grpc::StatusCode::DEADLINE_EXCEEDED,
       v1::ERROR_REASON_UPSTREAM_TIMEOUT, Attempts{}, absl::Milliseconds(500)},
  };
}

class FaultTest : public ErrorMappingTest,
                  public ::testing::WithParamInterface<std::tuple<FaultCase, emulator::Operation>> {};

TEST_P(FaultTest, MapsToDocumentedStatusAndRecovers) {
  const auto& [fault, operation] = GetParam();
  const v1::ClientInformation client = RegisterOne();
  FaultRule rule = fault.rule;
  rule.operation = operation;
  rule.count = -1;  // every attempt fails
  env_->emulator().SetFaults(FaultSpec{{rule}});
  const emulator::Stats before = env_->emulator().stats();

  const absl::Time start = absl::Now();
  grpc::Status status = Call(operation, client, fault.caller_timeout);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.error_code(), fault.code) << status.error_message();
  // Within the deadline plus a small margin.
  EXPECT_LT(took, fault.caller_timeout + absl::Milliseconds(500));
  const int expected_attempts = fault.attempts.For(operation);
  // The caller's own deadline may fire first, in which case gRPC reports it
  // without the gateway's detail; otherwise the detail names the reason.
  if (auto detail = DetailOf(status); detail.has_value()) {
    EXPECT_EQ(detail->reason(), fault.reason) << v1::ErrorReason_Name(detail->reason());
    EXPECT_EQ(detail->upstream_attempts(), expected_attempts);
    if (fault.rule.kind == FaultKind::kRateLimit) {
      EXPECT_EQ(detail->retry_after().seconds(), 1);
    }
  } else {
    EXPECT_EQ(fault.code, grpc::StatusCode::DEADLINE_EXCEEDED) << "detail missing";
  }
  const emulator::Stats after = env_->emulator().stats();
  EXPECT_EQ(RequestsOf(after, operation) - RequestsOf(before, operation), expected_attempts);
  // Whatever happened to its answer, Register created at most one client.
  EXPECT_LE(after.clients_stored - before.clients_stored,
            operation == emulator::Operation::kRegister ? 1 : 0);

  // The gateway is up and the next call works once the fault clears (a
  // delete that may have been processed is checked on a fresh client).
  env_->emulator().ClearFaults();
  if (operation == emulator::Operation::kDelete) {
    EXPECT_TRUE(Call(operation, RegisterOne()).ok());
  } else {
    grpc::Status again = Call(operation, client);
    EXPECT_TRUE(again.ok()) << again.error_message();
  }
}

// A fault that hits one request only: the RPCs that may be retried succeed
// on the second attempt; the others report the failure after one.
TEST_P(FaultTest, OneFailedAttemptIsRetriedOnlyWhenSafe) {
  const auto& [fault, operation] = GetParam();
  const v1::ClientInformation client = RegisterOne();
  FaultRule rule = fault.rule;
  rule.operation = operation;
  rule.count = 1;
  env_->emulator().SetFaults(FaultSpec{{rule}});
  const emulator::Stats before = env_->emulator().stats();
  grpc::Status status = Call(operation, client, fault.caller_timeout);
  const emulator::Stats after = env_->emulator().stats();
  if (fault.attempts.For(operation) > 1) {
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(RequestsOf(after, operation) - RequestsOf(before, operation), 2);
  } else {
    EXPECT_EQ(status.error_code(), fault.code) << status.error_message();
    EXPECT_EQ(RequestsOf(after, operation) - RequestsOf(before, operation), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(
    FaultsTimesRpcs, FaultTest,
    ::testing::Combine(::testing::ValuesIn(FaultCases()),
                       ::testing::Values(emulator::Operation::kRegister,
                                         emulator::Operation::kGet,
                                         emulator::Operation::kUpdate,
                                         emulator::Operation::kDelete)),
    [](const auto& info) {
      return std::get<0>(info.param).name + "_" +
             std::string(emulator::OperationName(std::get<1>(info.param)));
    });

// The connection breaks after Authlete created the client: the gateway must
// not resend (libcurl would, on a reused connection), so exactly one client
// exists and the caller learns that the request may have been processed.
TEST_F(ErrorMappingTest, RegisterIsNeverResentAfterTheConnectionDrops) {
  RegisterOne();  // Leaves a warm keep-alive connection for reuse.
  const auto before = env_->emulator().stats();
  FaultRule rule = Rule(FaultKind::kResetAfterProcessing);
  rule.operation = emulator::Operation::kRegister;
  env_->emulator().SetFaults(FaultSpec{{rule}});
  grpc::Status status = Call(emulator::Operation::kRegister, {});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  auto detail = DetailOf(status);
  ASSERT_TRUE(detail.has_value());
  EXPECT_TRUE(detail->may_have_been_processed());
  const auto after = env_->emulator().stats();
  EXPECT_EQ(after.register_requests - before.register_requests, 1);
  EXPECT_EQ(after.clients_stored - before.clients_stored, 1);
}

TEST_F(ErrorMappingTest, GatewayMaximumTimeoutWinsOverALongDeadline) {
  Start(TweakGateway([](config::GatewayConfig& config) {
    config.max_upstream_timeout = absl::Milliseconds(300);
  }));
  FaultRule rule = Rule(FaultKind::kLatency);
  rule.latency_ms = 2000;
  env_->emulator().SetFaults(FaultSpec{{rule}});
  const absl::Time start = absl::Now();
  grpc::Status status = Call(emulator::Operation::kRegister, {}, absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  auto detail = DetailOf(status);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_UPSTREAM_TIMEOUT);
  EXPECT_TRUE(detail->may_have_been_processed());
}

TEST_F(ErrorMappingTest, UnreachableAuthleteIsUnavailableAndNotProcessed) {
  const v1::ClientInformation client = RegisterOne();
  env_->emulator().Shutdown();
  for (auto op : {emulator::Operation::kRegister, emulator::Operation::kGet}) {
    grpc::Status status = Call(op, client);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    auto detail = DetailOf(status);
    ASSERT_TRUE(detail.has_value());
    EXPECT_EQ(detail->reason(), v1::ERROR_REASON_UPSTREAM_UNREACHABLE);
    EXPECT_FALSE(detail->may_have_been_processed());
  }
}

}  // namespace
}  // namespace dcr::testing
