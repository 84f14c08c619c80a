// The gRPC connection against an in-process scripted gateway: the retry
// rules per RPC (dcr::api::ClientRetries: the client resends only what the
// gateway did not resend itself), deadlines, retry_after, and error details
// end to end.
#include "client/grpc_registration_connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "client/channel.h"
#include "client/registration_client.h"
#include "client/registration_error.h"
#include "client/testing/fake_registration_service.h"

namespace dcr::client {
namespace {

using ::dcr::client::testing::FakeGateway;
using ::dcr::client::testing::Outcome;
using ::dcr::client::testing::Rpc;

// `upstream_http_status` is Authlete's answer (0: none arrived).
v1::RegistrationError Detail(v1::ErrorReason reason, bool may_have_been_processed,
                             int upstream_http_status = 0) {
  v1::RegistrationError detail;
  detail.set_reason(reason);
  detail.set_http_status(503);
  detail.set_may_have_been_processed(may_have_been_processed);
  detail.set_upstream_http_status(upstream_http_status);
  return detail;
}

Outcome Unavailable(v1::ErrorReason reason, bool may_have_been_processed,
                    int upstream_http_status = 0) {
  return Outcome::Error(grpc::StatusCode::UNAVAILABLE, "unavailable",
                        Detail(reason, may_have_been_processed, upstream_http_status));
}

// What the gateway answers after its own retries of a 429 and of a 5xx.
Outcome RateLimited() { return Unavailable(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, false, 429); }
Outcome UpstreamFailed() { return Unavailable(v1::ERROR_REASON_UPSTREAM_FAILED, true, 503); }
Outcome CircuitOpen() { return Unavailable(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, false); }
Outcome GatewayGoingAway(bool may_have_been_processed) {
  return Unavailable(v1::ERROR_REASON_GATEWAY_UNAVAILABLE, may_have_been_processed);
}

Outcome BareUnavailable() {
  Outcome o;
  o.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "bare");
  return o;
}

class ClientGrpcConnection : public ::testing::Test {
 protected:
  ClientGrpcConnection() {
    // Tiny backoffs keep the suite fast; the policy is the same.
    options_.initial_backoff = absl::Milliseconds(1);
    options_.max_backoff = absl::Milliseconds(5);
  }

  RegistrationClient Client() {
    auto channel = MakeChannel(gateway_.address());
    EXPECT_TRUE(channel.ok());
    return RegistrationClient(MakeGrpcRegistrationConnection(*channel, options_));
  }

  void Script(Rpc rpc, std::initializer_list<Outcome> outcomes) {
    for (const Outcome& o : outcomes) gateway_.service().Enqueue(rpc, o);
  }
  int Calls(Rpc rpc) { return gateway_.service().CallCount(rpc); }

  static v1::RegisterClientRequest RegisterRequest() {
    v1::RegisterClientRequest request;
    request.set_metadata_json(R"({"client_name":"x"})");
    return request;
  }

  FakeGateway gateway_;
  ConnectionOptions options_;
};

v1::ClientMetadata SomeMetadata() {
  v1::ClientMetadata metadata;
  metadata.set_client_name("n");
  return metadata;
}

// ---- RegisterClient: not idempotent; resent only where the gateway did not ----

TEST_F(ClientGrpcConnection, RegisterRetriedOnUpstreamRateLimited) {
  // The gateway leaves a rate-limited Register to the client.
  Script(Rpc::kRegister, {RateLimited()});
  auto r = Client().RegisterClient(RegisterRequest());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->action(), v1::ACTION_CREATED);
  EXPECT_EQ(Calls(Rpc::kRegister), 2);
  // The retry sent the same request.
  auto calls = gateway_.service().Calls(Rpc::kRegister);
  EXPECT_EQ(calls[0].request, calls[1].request);
}

TEST_F(ClientGrpcConnection, RegisterRetriedOnCircuitOpen) {
  Script(Rpc::kRegister, {CircuitOpen()});
  EXPECT_TRUE(Client().RegisterClient(RegisterRequest()).ok());
  EXPECT_EQ(Calls(Rpc::kRegister), 2);
}

TEST_F(ClientGrpcConnection, RegisterRetriedOnGatewayUnavailableNeverSent) {
  Script(Rpc::kRegister, {GatewayGoingAway(false)});
  EXPECT_TRUE(Client().RegisterClient(RegisterRequest()).ok());
  EXPECT_EQ(Calls(Rpc::kRegister), 2);
}

// Every attempt of a Register carries the same request_id, a UUID v4.
std::string RequestIdOf(const std::string& serialized) {
  v1::RegisterClientRequest seen;
  EXPECT_TRUE(seen.ParseFromString(serialized));
  return seen.request_id();
}

TEST_F(ClientGrpcConnection, RegisterIsRetriedOnGatewayUnavailableMaybeProcessedWithItsRequestId) {
  // The replica went away with the call in flight: the state store answers
  // the resend with the first attempt's outcome, never a second client.
  Script(Rpc::kRegister, {GatewayGoingAway(true), Outcome()});
  auto r = Client().RegisterClient(RegisterRequest());
  EXPECT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(Calls(Rpc::kRegister), 2);
  const std::string id = RequestIdOf(gateway_.service().Calls(Rpc::kRegister)[0].request);
  EXPECT_EQ(id, RequestIdOf(gateway_.service().Calls(Rpc::kRegister)[1].request));
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');  // version 4
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant 10
}

TEST_F(ClientGrpcConnection, EachRegisterGetsItsOwnRequestIdAndTheCallersIsKept) {
  ASSERT_TRUE(Client().RegisterClient(RegisterRequest()).ok());
  ASSERT_TRUE(Client().RegisterClient(RegisterRequest()).ok());
  v1::RegisterClientRequest mine = RegisterRequest();
  mine.set_request_id("0b7c1f0e-2f4a-4c1d-9a57-3f1e2d4c5b6a");
  ASSERT_TRUE(Client().RegisterClient(mine).ok());
  ASSERT_EQ(Calls(Rpc::kRegister), 3);
  const auto& calls = gateway_.service().Calls(Rpc::kRegister);
  EXPECT_NE(RequestIdOf(calls[0].request), RequestIdOf(calls[1].request));
  EXPECT_EQ(RequestIdOf(calls[2].request), "0b7c1f0e-2f4a-4c1d-9a57-3f1e2d4c5b6a");
}

TEST_F(ClientGrpcConnection, RegisterNotRetriedOnOutcomeUnknown) {
  Script(Rpc::kRegister, {Outcome::Error(grpc::StatusCode::FAILED_PRECONDITION, "unknown",
                                         Detail(v1::ERROR_REASON_REQUEST_OUTCOME_UNKNOWN, true)),
                          Outcome()});
  EXPECT_EQ(Client().RegisterClient(RegisterRequest()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Calls(Rpc::kRegister), 1);
}

TEST_F(ClientGrpcConnection, RegisterNotRetriedWhenMayHaveBeenProcessed) {
  Script(Rpc::kRegister, {UpstreamFailed(), Outcome()});
  auto r = Client().RegisterClient(RegisterRequest());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(GetRegistrationError(r.status()).has_value());
  EXPECT_TRUE(GetRegistrationError(r.status())->may_have_been_processed());
  EXPECT_EQ(Calls(Rpc::kRegister), 1);
}

TEST_F(ClientGrpcConnection, RegisterNotRetriedOnUpstreamUnreachable) {
  // Nothing reached Authlete, but the gateway has already resent it.
  Script(Rpc::kRegister, {Unavailable(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, false)});
  EXPECT_FALSE(Client().RegisterClient(RegisterRequest()).ok());
  EXPECT_EQ(Calls(Rpc::kRegister), 1);
}

TEST_F(ClientGrpcConnection, RegisterStopsAtMaxAttempts) {
  for (int i = 0; i < 5; ++i) Script(Rpc::kRegister, {CircuitOpen()});
  auto r = Client().RegisterClient(RegisterRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetRegistrationError(r.status())->reason(), v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN);
  EXPECT_EQ(Calls(Rpc::kRegister), 3);
}

TEST_F(ClientGrpcConnection, RegisterIsRetriedOnBareUnavailableWithItsRequestId) {
  // No gateway answered: safe to resend only because it carries a request_id.
  Script(Rpc::kRegister, {BareUnavailable(), Outcome()});
  auto r = Client().RegisterClient(RegisterRequest());
  EXPECT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(Calls(Rpc::kRegister), 2);
  EXPECT_EQ(RequestIdOf(gateway_.service().Calls(Rpc::kRegister)[0].request),
            RequestIdOf(gateway_.service().Calls(Rpc::kRegister)[1].request));
}

TEST_F(ClientGrpcConnection, RegisterNeverRetriedOnDeadlineExceeded) {
  Script(Rpc::kRegister, {Outcome::Error(grpc::StatusCode::DEADLINE_EXCEEDED, "slow",
                                         Detail(v1::ERROR_REASON_UPSTREAM_TIMEOUT, true))});
  auto r = Client().RegisterClient(RegisterRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Calls(Rpc::kRegister), 1);
}

TEST_F(ClientGrpcConnection, GarbageDetailsAreNoDetailsAndARegisterIsResentWithItsRequestId) {
  for (int i = 0; i < 3; ++i) {
    Script(Rpc::kRegister,
           {Outcome::RawDetails(grpc::StatusCode::UNAVAILABLE, "junk", "\xff\x01garbage")});
  }
  auto r = Client().RegisterClient(RegisterRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "junk");
  EXPECT_FALSE(GetRegistrationError(r.status()).has_value());
  EXPECT_EQ(Calls(Rpc::kRegister), 3);  // max_attempts
}

TEST_F(ClientGrpcConnection, RegisterSendsMetadataJsonVerbatim) {
  v1::RegisterClientRequest request;
  request.set_service_id("42");
  request.set_metadata_json("{ \"client_name\" : \"x\" ,\n\"weird\":1e999 }");
  ASSERT_TRUE(Client().RegisterClient(request).ok());
  v1::RegisterClientRequest seen;
  ASSERT_TRUE(seen.ParseFromString(gateway_.service().Calls(Rpc::kRegister)[0].request));
  EXPECT_EQ(seen.metadata_json(), request.metadata_json());
  EXPECT_EQ(seen.service_id(), "42");
}

// ---- GetClient: a read; the gateway resends it on every Authlete failure ----

TEST_F(ClientGrpcConnection, GetNotRetriedAfterUpstreamFailed) {
  // The gateway already made its attempts: resending would multiply them.
  Script(Rpc::kGet, {UpstreamFailed(), Outcome()});
  EXPECT_EQ(Client().GetClient("1", "t").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Calls(Rpc::kGet), 1);
}

TEST_F(ClientGrpcConnection, GetNotRetriedAfterUpstreamRateLimited) {
  Script(Rpc::kGet, {RateLimited(), Outcome()});
  EXPECT_FALSE(Client().GetClient("1", "t").ok());
  EXPECT_EQ(Calls(Rpc::kGet), 1);
}

TEST_F(ClientGrpcConnection, GetNotRetriedAfterUpstreamTimeoutOrLostConnection) {
  Script(Rpc::kGet, {Unavailable(v1::ERROR_REASON_UPSTREAM_FAILED, true, 0)});
  EXPECT_FALSE(Client().GetClient("1", "t").ok());
  Script(Rpc::kGet, {Outcome::Error(grpc::StatusCode::DEADLINE_EXCEEDED, "slow",
                                    Detail(v1::ERROR_REASON_UPSTREAM_TIMEOUT, true))});
  EXPECT_FALSE(Client().GetClient("1", "t").ok());
  EXPECT_EQ(Calls(Rpc::kGet), 2);
}

TEST_F(ClientGrpcConnection, GetRetriedOnBareUnavailableUpToMaxAttempts) {
  Script(Rpc::kGet, {BareUnavailable(), BareUnavailable(), BareUnavailable(), Outcome()});
  auto r = Client().GetClient("1", "t");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Calls(Rpc::kGet), 3);
}

TEST_F(ClientGrpcConnection, GetRetriedUntilSuccess) {
  Script(Rpc::kGet, {BareUnavailable(), CircuitOpen()});
  auto r = Client().GetClient("1", "t");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->client().client_id(), "1");
  EXPECT_EQ(Calls(Rpc::kGet), 3);
}

TEST_F(ClientGrpcConnection, GetRetriedOnGarbageDetails) {
  // Unreadable details count as none: a bare UNAVAILABLE.
  Script(Rpc::kGet, {Outcome::RawDetails(grpc::StatusCode::UNAVAILABLE, "junk", "\xff\xff")});
  EXPECT_TRUE(Client().GetClient("1", "t").ok());
  EXPECT_EQ(Calls(Rpc::kGet), 2);
}

TEST_F(ClientGrpcConnection, GetRetriedOnGatewayUnavailableMaybeProcessed) {
  Script(Rpc::kGet, {GatewayGoingAway(true)});
  EXPECT_TRUE(Client().GetClient("1", "t").ok());
  EXPECT_EQ(Calls(Rpc::kGet), 2);
}

// ---- UpdateClient: idempotent (a full replacement) ----

TEST_F(ClientGrpcConnection, UpdateRetriedOnBareUnavailable) {
  Script(Rpc::kUpdate, {BareUnavailable()});
  EXPECT_TRUE(Client().UpdateClient("1", "t", SomeMetadata()).ok());
  EXPECT_EQ(Calls(Rpc::kUpdate), 2);
}

TEST_F(ClientGrpcConnection, UpdateRetriedOnGatewayUnavailableMaybeProcessed) {
  Script(Rpc::kUpdate, {GatewayGoingAway(true)});
  EXPECT_TRUE(Client().UpdateClient("1", "t", SomeMetadata()).ok());
  EXPECT_EQ(Calls(Rpc::kUpdate), 2);
}

TEST_F(ClientGrpcConnection, UpdateRetriedOnCircuitOpen) {
  Script(Rpc::kUpdate, {CircuitOpen()});
  EXPECT_TRUE(Client().UpdateClient("1", "t", SomeMetadata()).ok());
  EXPECT_EQ(Calls(Rpc::kUpdate), 2);
}

TEST_F(ClientGrpcConnection, UpdateNotRetriedAfterUpstreamFailedOrRateLimited) {
  // The gateway resent both to Authlete already.
  Script(Rpc::kUpdate, {UpstreamFailed(), RateLimited(), Outcome()});
  EXPECT_FALSE(Client().UpdateClient("1", "t", SomeMetadata()).ok());
  EXPECT_FALSE(Client().UpdateClient("1", "t", SomeMetadata()).ok());
  EXPECT_EQ(Calls(Rpc::kUpdate), 2);
}

// ---- DeleteClient: idempotent (a repeat finds the client gone) ----

TEST_F(ClientGrpcConnection, DeleteRetriedOnBareUnavailable) {
  Script(Rpc::kDelete, {BareUnavailable()});
  auto r = Client().DeleteClient("1", "t");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->action(), v1::ACTION_DELETED);
  EXPECT_EQ(Calls(Rpc::kDelete), 2);
}

TEST_F(ClientGrpcConnection, DeleteRetriedOnCircuitOpen) {
  Script(Rpc::kDelete, {CircuitOpen()});
  EXPECT_TRUE(Client().DeleteClient("1", "t").ok());
  EXPECT_EQ(Calls(Rpc::kDelete), 2);
}

TEST_F(ClientGrpcConnection, DeleteRetriedOnGatewayUnavailableMaybeProcessed) {
  // A repeated Delete finds the client gone at worst.
  Script(Rpc::kDelete, {GatewayGoingAway(true)});
  EXPECT_TRUE(Client().DeleteClient("1", "t").ok());
  EXPECT_EQ(Calls(Rpc::kDelete), 2);
}

TEST_F(ClientGrpcConnection, DeleteNotRetriedOnUpstreamFailedOrUnreachable) {
  // Never sent to Authlete: the gateway resent it itself.
  Script(Rpc::kDelete, {Unavailable(v1::ERROR_REASON_UPSTREAM_FAILED, false),
                        Unavailable(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, false), Outcome()});
  EXPECT_FALSE(Client().DeleteClient("1", "t").ok());
  EXPECT_FALSE(Client().DeleteClient("1", "t").ok());
  EXPECT_EQ(Calls(Rpc::kDelete), 2);
}

TEST_F(ClientGrpcConnection, CallOptionsMaxAttemptsOverrides) {
  Script(Rpc::kGet, {BareUnavailable(), BareUnavailable()});
  CallOptions once;
  once.max_attempts = 1;
  EXPECT_FALSE(Client().GetClient("1", "t", once).ok());
  EXPECT_EQ(Calls(Rpc::kGet), 1);
}

TEST_F(ClientGrpcConnection, NoRetryOnFinalCodes) {
  const grpc::StatusCode finals[] = {
      grpc::StatusCode::INVALID_ARGUMENT,  grpc::StatusCode::UNAUTHENTICATED,
      grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::FAILED_PRECONDITION,
      grpc::StatusCode::INTERNAL,          grpc::StatusCode::DEADLINE_EXCEEDED,
      grpc::StatusCode::RESOURCE_EXHAUSTED};
  RegistrationClient client = Client();
  int expected_calls = 0;
  for (grpc::StatusCode code : finals) {
    // Even a reason the client would resend on UNAVAILABLE does not make
    // these retryable.
    Script(Rpc::kGet, {Outcome::Error(code, "final",
                                      Detail(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, false))});
    Script(Rpc::kRegister, {Outcome::Error(code, "final",
                                           Detail(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, false))});
    ++expected_calls;
    EXPECT_EQ(static_cast<int>(client.GetClient("1", "t").status().code()), code);
    EXPECT_EQ(static_cast<int>(client.RegisterClient(RegisterRequest()).status().code()), code);
    EXPECT_EQ(Calls(Rpc::kGet), expected_calls) << code;
    EXPECT_EQ(Calls(Rpc::kRegister), expected_calls) << code;
  }
}

// ---- deadlines and time bounds ----

TEST_F(ClientGrpcConnection, CallTimeoutBecomesTheGrpcDeadline) {
  CallOptions options;
  options.timeout = absl::Seconds(3);
  ASSERT_TRUE(Client().GetClient("1", "t", options).ok());
  absl::Duration remaining = gateway_.service().Calls(Rpc::kGet)[0].deadline_remaining;
  // gRPC sends the timeout rounded up to its wire unit and the server adds it
  // to its own clock, so the server may see a few milliseconds more.
  EXPECT_LE(remaining, absl::Seconds(3) + absl::Milliseconds(50));
  EXPECT_GT(remaining, absl::Seconds(2));
}

TEST_F(ClientGrpcConnection, DefaultTimeoutComesFromConnectionOptions) {
  options_.default_timeout = absl::Seconds(7);
  ASSERT_TRUE(Client().DeleteClient("1", "t").ok());
  absl::Duration remaining = gateway_.service().Calls(Rpc::kDelete)[0].deadline_remaining;
  // gRPC sends the timeout rounded up to its wire unit and the server adds it
  // to its own clock, so the server may see a few milliseconds more.
  EXPECT_LE(remaining, absl::Seconds(7) + absl::Milliseconds(50));
  EXPECT_GT(remaining, absl::Seconds(6));
}

TEST_F(ClientGrpcConnection, SlowServerHitsDeadlineWithoutRetry) {
  Outcome slow;
  slow.delay = absl::Milliseconds(800);
  Script(Rpc::kGet, {slow});
  CallOptions options;
  options.timeout = absl::Milliseconds(150);
  const absl::Time start = absl::Now();
  auto r = Client().GetClient("1", "t", options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(700));
  EXPECT_EQ(Calls(Rpc::kGet), 1);
}

TEST_F(ClientGrpcConnection, RetryAfterIsHonoured) {
  v1::RegistrationError detail = Detail(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, false, 429);
  detail.mutable_retry_after()->set_nanos(200 * 1000 * 1000);
  Script(Rpc::kRegister, {Outcome::Error(grpc::StatusCode::UNAVAILABLE, "429", detail)});
  const absl::Time start = absl::Now();
  EXPECT_TRUE(Client().RegisterClient(RegisterRequest()).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(Calls(Rpc::kRegister), 2);
}

TEST_F(ClientGrpcConnection, RetryAfterBeyondDeadlineGivesUpAtOnce) {
  v1::RegistrationError detail = Detail(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, false);
  detail.mutable_retry_after()->set_seconds(60);
  Script(Rpc::kGet, {Outcome::Error(grpc::StatusCode::UNAVAILABLE, "open", detail)});
  CallOptions options;
  options.timeout = absl::Seconds(2);
  const absl::Time start = absl::Now();
  auto r = Client().GetClient("1", "t", options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetRegistrationError(r.status())->retry_after().seconds(), 60);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(Calls(Rpc::kGet), 1);
}

TEST_F(ClientGrpcConnection, MalformedRetryAfterIsIgnored) {
  // A negative retry_after is no minimum sleep: the tiny backoff applies.
  v1::RegistrationError detail = Detail(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, false);
  detail.mutable_retry_after()->set_seconds(-60);
  detail.mutable_retry_after()->set_nanos(-1);
  Script(Rpc::kDelete, {Outcome::Error(grpc::StatusCode::UNAVAILABLE, "open", detail)});
  const absl::Time start = absl::Now();
  EXPECT_TRUE(Client().DeleteClient("1", "t").ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(Calls(Rpc::kDelete), 2);
}

TEST_F(ClientGrpcConnection, BackoffBoundedByDeadline) {
  // Large backoffs, short deadline: the call returns the UNAVAILABLE, not a
  // DEADLINE_EXCEEDED after sleeping.
  options_.initial_backoff = absl::Seconds(5);
  options_.max_backoff = absl::Seconds(5);
  options_.max_attempts = 10;
  for (int i = 0; i < 10; ++i) Script(Rpc::kGet, {BareUnavailable()});
  CallOptions options;
  options.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  auto r = Client().GetClient("1", "t", options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST_F(ClientGrpcConnection, UnreachableGatewayIsUnavailable) {
  // Nothing listens on port 1: a transport UNAVAILABLE, without detail.
  auto channel = MakeChannel("127.0.0.1:1");
  ASSERT_TRUE(channel.ok());
  RegistrationClient client(MakeGrpcRegistrationConnection(*channel, options_));
  auto r = client.RegisterClient(RegisterRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.GetClient("1", "t").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ClientGrpcConnection, DetailSurvivesTheWire) {
  v1::RegistrationError detail;
  detail.set_reason(v1::ERROR_REASON_REGISTRATION_REJECTED);
  detail.set_action(v1::ACTION_BAD_REQUEST);
  detail.set_http_status(400);
  detail.set_error("invalid_redirect_uri");
  detail.set_response_content(R"({"error":"invalid_redirect_uri"})");
  Script(Rpc::kRegister, {Outcome::Error(grpc::StatusCode::INVALID_ARGUMENT, "rejected", detail)});
  auto r = Client().RegisterClient(RegisterRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "rejected");
  ASSERT_TRUE(GetRegistrationError(r.status()).has_value());
  EXPECT_EQ(GetRegistrationError(r.status())->SerializeAsString(), detail.SerializeAsString());
}

TEST_F(ClientGrpcConnection, SendsUserAgentPrefix) {
  ASSERT_TRUE(Client().GetClient("1", "t").ok());
  EXPECT_THAT(gateway_.service().Calls(Rpc::kGet)[0].user_agent,
              ::testing::HasSubstr("dcr-client/"));
}

}  // namespace
}  // namespace dcr::client

namespace dcr::client {
namespace {

// A target that resolves to several gateways (a headless Service's pods)
// gets calls spread over all of them by default, none with pick_first.
TEST(ClientChannel, RoundRobinSpreadsCallsOverEveryResolvedGateway) {
  testing::FakeGateway first, second;
  const std::string target = "ipv4:" + first.address() + "," + second.address();
  for (const std::string& policy : {std::string("round_robin"), std::string("pick_first")}) {
    ChannelOptions channel_options;
    channel_options.load_balancing_policy = policy;
    auto channel = MakeChannel(target, channel_options);
    ASSERT_TRUE(channel.ok());
    RegistrationClient client(MakeGrpcRegistrationConnection(*channel, ConnectionOptions{}));
    const int before_first = first.service().CallCount(testing::Rpc::kGet);
    const int before_second = second.service().CallCount(testing::Rpc::kGet);
    for (int i = 0; i < 20; ++i) (void)client.GetClient("id", "token");
    const int on_first = first.service().CallCount(testing::Rpc::kGet) - before_first;
    const int on_second = second.service().CallCount(testing::Rpc::kGet) - before_second;
    EXPECT_EQ(on_first + on_second, 20) << policy;
    if (policy == "round_robin") {
      EXPECT_GT(on_first, 0);
      EXPECT_GT(on_second, 0);
    } else {
      EXPECT_TRUE(on_first == 0 || on_second == 0) << on_first << " / " << on_second;
    }
  }
}

// ---- the administrative RPCs: the same rules by their traits ----

TEST_F(ClientGrpcConnection, AdministrativeReadsAndLockAreResentLikeGet) {
  // No answer from a gateway: only what is safe to run twice goes again.
  Script(Rpc::kList, {BareUnavailable()});
  EXPECT_TRUE(Client().ListClients(v1::ListClientsRequest()).ok());
  EXPECT_EQ(Calls(Rpc::kList), 2);
  Script(Rpc::kGetRecord, {BareUnavailable()});
  EXPECT_TRUE(Client().GetClientRecord("1").ok());
  EXPECT_EQ(Calls(Rpc::kGetRecord), 2);
  Script(Rpc::kSetLocked, {GatewayGoingAway(true)});
  EXPECT_TRUE(Client().SetClientLocked("1", true).ok());
  EXPECT_EQ(Calls(Rpc::kSetLocked), 2);
  // A 429 the gateway already resent is not resent again.
  Script(Rpc::kList, {RateLimited()});
  EXPECT_EQ(Client().ListClients(v1::ListClientsRequest()).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Calls(Rpc::kList), 3);
}

TEST_F(ClientGrpcConnection, RotationIsResentOnlyWhenNeverProcessed) {
  v1::RotateClientSecretRequest rotate;
  rotate.set_client_id("1");
  // Lost, or perhaps processed: a second refresh would make another secret.
  Script(Rpc::kRotate, {BareUnavailable()});
  EXPECT_EQ(Client().RotateClientSecret(rotate).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Calls(Rpc::kRotate), 1);
  Script(Rpc::kRotate, {GatewayGoingAway(true)});
  EXPECT_FALSE(Client().RotateClientSecret(rotate).ok());
  EXPECT_EQ(Calls(Rpc::kRotate), 2);
  // Authlete said 429, so nothing happened, and the gateway left it to us.
  Script(Rpc::kRotate, {RateLimited()});
  auto r = Client().RotateClientSecret(rotate);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->new_client_secret(), testing::kCannedSecret);
  EXPECT_EQ(Calls(Rpc::kRotate), 4);
}

}  // namespace
}  // namespace dcr::client
