// The registration pipeline, stage by stage, and ClientRegistrationService
// as a whole against a StrictMock upstream connection: every refusal is
// decided before anything reaches the connection, every answer is the one
// the reason table gives.
#include <atomic>
#include <memory>
#include <thread>
#include <string>
#include <utility>

#include <atomic>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "proto/api/status_detail.h"
#include "service/authlete/authlete_connection.h"
#include "service/callers/caller_guard.h"
#include "service/metrics/metrics.h"
#include "service/registration/call_builder.h"
#include "service/registration/call_observer.h"
#include "service/registration/client_registration_service.h"
#include "service/registration/incoming_call.h"
#include "service/registration/reply.h"
#include "service/state/state_store.h"
#include "tests/testing/mock_authlete_connection.h"

namespace dcr::registration {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::StrictMock;
using api::Operation;
using core::DcrCall;
using core::DcrResponse;
using core::Error;

CallBuilder Builder(std::size_t max_metadata_bytes = 1024) {
  CallBuilder::Options options;
  options.default_service_id = "111";
  options.allowed_service_ids = {"222"};
  options.max_metadata_bytes = max_metadata_bytes;
  return CallBuilder(options);
}

v1::ErrorReason ReasonOf(const core::ErrorOr<DcrCall>& call) {
  return call.ok() ? v1::ERROR_REASON_UNSPECIFIED : call.error().reason();
}

// --- Stage 1: the incoming call ------------------------------------------------

TEST(IncomingCallTest, BearerTokenIsTakenFromTheAuthorizationHeader) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("  bearer   abc  "), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), absl::nullopt);
  EXPECT_EQ(BearerToken("Bearer"), absl::nullopt);
  EXPECT_EQ(BearerToken(""), absl::nullopt);
}

// --- Stage 3: building the call ----------------------------------------------

TEST(CallBuilderTest, ServiceIdIsTheDefaultOrAnAllowedOne) {
  v1::GetClientRequest get;
  get.set_client_id("c");
  get.set_registration_access_token("t");
  core::ErrorOr<DcrCall> call = Builder().Build(get);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->operation, Operation::kGet);
  EXPECT_EQ(call->service_id, "111");
  EXPECT_EQ(call->client_id, "c");
  EXPECT_EQ(call->token, "t");

  get.set_service_id("222");
  EXPECT_EQ(Builder().Build(get)->service_id, "222");
  get.set_service_id("333");
  EXPECT_EQ(ReasonOf(Builder().Build(get)), v1::ERROR_REASON_SERVICE_NOT_ALLOWED);
  EXPECT_EQ(Builder().Build(get).error().code(), absl::StatusCode::kPermissionDenied);
  get.set_service_id("../admin");
  EXPECT_EQ(ReasonOf(Builder().Build(get)), v1::ERROR_REASON_INVALID_REQUEST);
}

TEST(CallBuilderTest, ClientIdAndTokenArePresentAndBounded) {
  v1::DeleteClientRequest del;
  EXPECT_THAT(Builder().Build(del).error().message(), HasSubstr("client_id is required"));
  del.set_client_id("c");
  EXPECT_THAT(Builder().Build(del).error().message(),
              HasSubstr("registration_access_token is required"));
  del.set_registration_access_token(std::string(4097, 't'));
  EXPECT_EQ(ReasonOf(Builder().Build(del)), v1::ERROR_REASON_INVALID_REQUEST);
  del.set_registration_access_token("t");
  del.set_client_id(std::string(257, 'c'));
  EXPECT_EQ(ReasonOf(Builder().Build(del)), v1::ERROR_REASON_INVALID_REQUEST);
  del.set_client_id("c");
  EXPECT_TRUE(Builder().Build(del).ok());
}

TEST(CallBuilderTest, MetadataIsRequiredSerializedAndBounded) {
  v1::RegisterClientRequest reg;
  EXPECT_EQ(ReasonOf(Builder().Build(reg)), v1::ERROR_REASON_INVALID_REQUEST);
  reg.set_metadata_json(R"({"a": 1})");
  EXPECT_EQ(Builder().Build(reg)->json, R"({"a": 1})");  // verbatim
  reg.mutable_metadata()->add_redirect_uris("https://app.example/cb");
  EXPECT_EQ(Builder().Build(reg)->json, R"({"redirect_uris":["https://app.example/cb"]})");
  reg.set_metadata_json(std::string(2000, ' ') + "{}");
  core::ErrorOr<DcrCall> big = Builder().Build(reg);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.error().message(), HasSubstr("the limit is 1024"));

  // RFC 7592 §2.2: an update's document carries the client id.
  v1::UpdateClientRequest update;
  update.set_client_id("c1");
  update.set_registration_access_token("t");
  update.mutable_metadata()->set_client_name("x");
  core::ErrorOr<DcrCall> call = Builder().Build(update);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_THAT(call->json, HasSubstr(R"("client_id":"c1")"));
}

// --- Stage 5: the reply ----------------------------------------------------------

TEST(ReplyTest, CarriesTheAnswerAndTheParsedClient) {
  DcrResponse answer;
  answer.action = v1::ACTION_CREATED;
  answer.result_code = "A0001";
  answer.result_message = "[A0001] ok";
  answer.response_content = R"({"client_id":"42","client_secret":"s"})";
  v1::RegisterClientResponse reply;
  FillReply(answer, reply);
  EXPECT_EQ(reply.action(), v1::ACTION_CREATED);
  EXPECT_EQ(reply.http_status(), 201);
  EXPECT_EQ(reply.result_code(), "A0001");
  EXPECT_EQ(reply.response_content(), answer.response_content);
  EXPECT_EQ(reply.client().client_id(), "42");
  EXPECT_EQ(ClientIdOf(reply), "42");

  answer.action = v1::ACTION_DELETED;
  v1::DeleteClientResponse deleted;
  FillReply(answer, deleted);
  EXPECT_EQ(deleted.http_status(), 204);
  EXPECT_EQ(ClientIdOf(deleted), "");
}

// --- Stage 6: the observer -----------------------------------------------------

TEST(CallObserverTest, CountsCallsByRpcCodeAndAction) {
  metrics::Registry registry;
  CallObserver observer({/*log_requests=*/false, /*audit_reads=*/false}, &registry);
  CallRecord record;
  record.operation = Operation::kGet;
  record.start = absl::Now();
  record.action = v1::ACTION_OK;
  observer.Started(Operation::kGet);
  observer.Finished(record, nullptr);
  observer.Started(Operation::kGet);
  Error refused(v1::ERROR_REASON_CALLER_NOT_PERMITTED, "no");
  observer.Finished(record, &refused);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr(
      R"(dcr_gateway_rpc_calls_total{rpc="GetClient",code="OK",action="ACTION_OK"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(dcr_gateway_rpc_calls_total{rpc="GetClient",)"
                              R"(code="PERMISSION_DENIED",action="ACTION_UNSPECIFIED"} 1)"));
  EXPECT_THAT(text, HasSubstr("dcr_gateway_rpc_in_flight{rpc=\"GetClient\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("dcr_gateway_rpc_duration_seconds_count{rpc=\"GetClient\"} 2\n"));
}

// --- The service as a whole ----------------------------------------------------

using MockConnection = authlete::MockAuthleteConnection;

class ServiceTest : public ::testing::Test {
 protected:
  // A service whose callers file names one caller, "portal", allowed to
  // register and read with the key "portal-key".
  void SetUp() override {
    auto callers = callers::ParseCallersFile(absl::StrCat(
        R"({"callers": [{"name": "portal", "api_key_sha256": [")",
        callers::HashApiKeyHex("portal-key"),
        R"("], "rpcs": ["RegisterClient", "GetClient"], "service_ids": ["*"],)"
        R"( "redirect_uri_patterns": ["https://*.portal.example/cb"], "grant_types": ["*"]}]})"));
    ASSERT_TRUE(callers.ok()) << callers.status();
    ClientRegistrationService::Options options;
    options.call.default_service_id = "111";
    options.observe.log_requests = false;
    options.max_upstream_timeout = absl::Seconds(7);
    admission::BudgetOptions budget;
    budget.max_bytes = 1 << 30;
    budget.max_calls = 2;
    budget_ = std::make_shared<admission::InFlightBudget>(budget, 1);
    options.idempotency.retention = absl::Minutes(5);
    options.idempotency.reservation_ttl = absl::Seconds(10);
    service_ = std::make_unique<ClientRegistrationService>(
        options, std::make_shared<callers::CallerGuard>(*std::move(callers)), upstream_,
        &registry_, budget_, store_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::ClientRegistrationService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  std::unique_ptr<grpc::ClientContext> Context(bool with_key = true) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (with_key) context->AddMetadata("authorization", "Bearer portal-key");
    return context;
  }

  static v1::RegisterClientRequest Register(const std::string& redirect_uri) {
    v1::RegisterClientRequest request;
    request.mutable_metadata()->add_redirect_uris(redirect_uri);
    return request;
  }

  std::shared_ptr<StrictMock<MockConnection>> upstream_ =
      std::make_shared<StrictMock<MockConnection>>();
  // Null: the service's own in-process store. Set before SetUp.
  std::shared_ptr<state::StateStore> store_;
  metrics::Registry registry_;
  std::shared_ptr<admission::InFlightBudget> budget_;
  std::unique_ptr<ClientRegistrationService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ClientRegistrationService::Stub> stub_;
  int port_ = 0;
};

TEST_F(ServiceTest, AnAdmittedCallReachesTheConnectionAndIsAnswered) {
  EXPECT_CALL(*upstream_, Call(_, _, _))
      .WillOnce([](const DcrCall& call, absl::Duration timeout, auto done) {
        EXPECT_EQ(call.operation, Operation::kRegister);
        EXPECT_EQ(call.service_id, "111");
        EXPECT_EQ(call.json, R"({"redirect_uris":["https://a.portal.example/cb"]})");
        // The caller's 5 s deadline, under the 7 s cap.
        EXPECT_LE(timeout, absl::Seconds(5));
        EXPECT_GT(timeout, absl::Seconds(3));
        EXPECT_EQ(call.traceparent.size(), 55u);  // a new span: 00-<32>-<16>-<2>
        DcrResponse answer;
        answer.action = v1::ACTION_CREATED;
        answer.response_content = R"({"client_id":"42"})";
        std::move(done)(std::move(answer));
      });
  v1::RegisterClientResponse response;
  grpc::Status status =
      stub_->RegisterClient(Context().get(), Register("https://a.portal.example/cb"), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.http_status(), 201);
  EXPECT_EQ(response.client().client_id(), "42");
}

TEST_F(ServiceTest, ACallBeyondTheBudgetIsRefusedAtOnceAndTheBudgetComesBack) {
  // The connection holds the first two calls (the budget's two) unanswered.
  absl::Mutex mu;
  std::vector<authlete::AuthleteConnection::Callback> held;
  EXPECT_CALL(*upstream_, Call(_, _, _))
      .Times(2)
      .WillRepeatedly([&](const DcrCall&, absl::Duration, auto done) {
        absl::MutexLock lock(&mu);
        held.push_back(std::move(done));
      });
  struct Pending {
    std::unique_ptr<grpc::ClientContext> context;
    v1::RegisterClientRequest request;
    v1::RegisterClientResponse response;
    absl::Notification done;
    grpc::Status status;
  };
  Pending first, second;
  for (Pending* p : {&first, &second}) {
    p->context = Context();
    p->request = Register("https://a.portal.example/cb");
    stub_->async()->RegisterClient(p->context.get(), &p->request, &p->response,
                                   [p](grpc::Status s) {
                                     p->status = std::move(s);
                                     p->done.Notify();
                                   });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(+[](std::vector<authlete::AuthleteConnection::Callback>* h) {
          return h->size() == 2;
        }, &held),
        absl::Seconds(5)));
  }
  EXPECT_EQ(budget_->InUse().calls, 2);
  // The third: refused at once, the connection never sees it (StrictMock).
  v1::RegisterClientResponse response;
  grpc::Status status =
      stub_->RegisterClient(Context().get(), Register("https://a.portal.example/cb"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(status);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_GATEWAY_OVERLOADED);
  EXPECT_FALSE(detail->may_have_been_processed());
  // Answering the held calls gives their shares back.
  for (auto& done : held) {
    DcrResponse answer;
    answer.action = v1::ACTION_CREATED;
    answer.response_content = R"({"client_id":"42"})";
    std::move(done)(std::move(answer));
  }
  ASSERT_TRUE(first.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  ASSERT_TRUE(second.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_TRUE(second.status.ok()) << second.status.error_message();
  EXPECT_EQ(budget_->InUse().calls, 0);
  EXPECT_EQ(budget_->InUse().bytes, 0);
}

TEST_F(ServiceTest, RefusalsNeverReachTheConnection) {
  // StrictMock: any Call would fail the test.
  v1::RegisterClientResponse response;
  grpc::Status no_key =
      stub_->RegisterClient(Context(false).get(), Register("https://a.portal.example/cb"), &response);
  EXPECT_EQ(no_key.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(api::RegistrationErrorOf(no_key)->reason(), v1::ERROR_REASON_CALLER_UNAUTHENTICATED);

  v1::DeleteClientRequest del;
  del.set_client_id("c");
  del.set_registration_access_token("t");
  v1::DeleteClientResponse deleted;
  grpc::Status not_allowed = stub_->DeleteClient(Context().get(), del, &deleted);
  EXPECT_EQ(not_allowed.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(api::RegistrationErrorOf(not_allowed)->reason(),
            v1::ERROR_REASON_CALLER_NOT_PERMITTED);

  grpc::Status evil =
      stub_->RegisterClient(Context().get(), Register("https://evil.example/cb"), &response);
  EXPECT_EQ(evil.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  grpc::Status invalid =
      stub_->RegisterClient(Context().get(), v1::RegisterClientRequest(), &response);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(invalid);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_INVALID_REQUEST);
  EXPECT_EQ(detail->http_status(), 400);
}

TEST_F(ServiceTest, AnUpstreamErrorBecomesItsGrpcStatusWithTheDetail) {
  EXPECT_CALL(*upstream_, Call(_, _, _)).WillOnce([](const DcrCall&, absl::Duration, auto done) {
    Error rejected(v1::ERROR_REASON_REGISTRATION_REJECTED, "token refused");
    rejected.set_action(v1::ACTION_UNAUTHORIZED);
    rejected.set_response_content(R"({"error":"invalid_token"})");
    rejected.set_upstream_attempts(1);
    std::move(done)(std::move(rejected));
  });
  v1::GetClientRequest get;
  get.set_client_id("c");
  get.set_registration_access_token("wrong");
  v1::GetClientResponse response;
  grpc::Status status = stub_->GetClient(Context().get(), get, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "token refused");
  absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(status);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->http_status(), 401);
  EXPECT_EQ(detail->action(), v1::ACTION_UNAUTHORIZED);
  EXPECT_EQ(detail->response_content(), R"({"error":"invalid_token"})");
  EXPECT_EQ(detail->upstream_attempts(), 1);
  EXPECT_THAT(registry_.Render(),
              HasSubstr(R"(dcr_gateway_rpc_calls_total{rpc="GetClient",code="UNAUTHENTICATED",)"
                        R"(action="ACTION_UNAUTHORIZED"} 1)"));
}

// --- Stage 4b: idempotency (RegisterClient with a request_id) ----------------

constexpr char kRequestId[] = "0b7c1f0e-2f4a-4c1d-9a57-3f1e2d4c5b6a";

TEST(CallBuilderTest, RequestIdIsAUuidAndLowercased) {
  v1::RegisterClientRequest request;
  request.set_metadata_json("{}");
  EXPECT_EQ(Builder().Build(request)->request_id, "");
  request.set_request_id("0B7C1F0E-2F4A-4C1D-9A57-3F1E2D4C5B6A");
  EXPECT_EQ(Builder().Build(request)->request_id, kRequestId);
  for (const char* bad : {"x", "0b7c1f0e2f4a4c1d9a573f1e2d4c5b6a", "0b7c1f0e-2f4a-4c1d-9a57-3f1e2d4c5b6g",
                          "0b7c1f0e-2f4a-4c1d-9a57_3f1e2d4c5b6a",
                          "0b7c1f0e-2f4a-4c1d-9a57-3f1e2d4c5b6a0"}) {
    request.set_request_id(bad);
    EXPECT_EQ(ReasonOf(Builder().Build(request)), v1::ERROR_REASON_INVALID_REQUEST_ID) << bad;
    EXPECT_EQ(Builder().Build(request).error().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(IdempotencyKeyTest, PartsCannotBeShiftedIntoEachOther) {
  EXPECT_NE(IdempotencyStage::Key("a", "1", kRequestId), IdempotencyStage::Key("a1", "", kRequestId));
  EXPECT_NE(IdempotencyStage::Fingerprint("1", "{}"), IdempotencyStage::Fingerprint("1", "{ }"));
  EXPECT_NE(IdempotencyStage::Fingerprint("1", "{}"), IdempotencyStage::Fingerprint("2", "{}"));
  EXPECT_EQ(IdempotencyStage::Fingerprint("1", "{}").size(), 32u);
}

DcrResponse Created(const std::string& client_id) {
  DcrResponse answer;
  answer.action = v1::ACTION_CREATED;
  answer.result_code = "A202001";
  answer.response_content = absl::StrCat(R"({"client_id":")", client_id,
                                         R"(","client_secret":"s-)", client_id,
                                         R"(","registration_access_token":"t-)", client_id,
                                         R"("})");
  return answer;
}

v1::RegisterClientRequest WithId(v1::RegisterClientRequest request, const char* id = kRequestId) {
  request.set_request_id(id);
  return request;
}

TEST_F(ServiceTest, ARetryWithTheSameRequestIdGetsTheFirstReplyByteForByte) {
  EXPECT_CALL(*upstream_, Call(_, _, _))
      .WillOnce([](const DcrCall& call, absl::Duration, auto done) {
        EXPECT_EQ(call.request_id, kRequestId);
        std::move(done)(Created("42"));
      });
  const v1::RegisterClientRequest request = WithId(Register("https://a.portal.example/cb"));
  v1::RegisterClientResponse first, second;
  ASSERT_TRUE(stub_->RegisterClient(Context().get(), request, &first).ok());
  ASSERT_TRUE(stub_->RegisterClient(Context().get(), request, &second).ok());
  EXPECT_EQ(first.client().client_secret(), "s-42");
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  const std::string metrics = registry_.Render();
  EXPECT_THAT(metrics, HasSubstr(R"(dcr_gateway_idempotency_total{outcome="sent"} 1)"));
  EXPECT_THAT(metrics, HasSubstr(R"(dcr_gateway_idempotency_total{outcome="replayed"} 1)"));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("s-42")));
}

TEST_F(ServiceTest, TheSameRequestIdWithAnotherRequestIsRefusedUnsent) {
  EXPECT_CALL(*upstream_, Call(_, _, _)).WillOnce([](const DcrCall&, absl::Duration, auto done) {
    std::move(done)(Created("42"));
  });
  v1::RegisterClientResponse response;
  ASSERT_TRUE(stub_->RegisterClient(Context().get(),
                                    WithId(Register("https://a.portal.example/cb")), &response)
                  .ok());
  grpc::Status reused = stub_->RegisterClient(
      Context().get(), WithId(Register("https://b.portal.example/cb")), &response);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(api::RegistrationErrorOf(reused)->reason(), v1::ERROR_REASON_REQUEST_ID_REUSED);
  grpc::Status bad = stub_->RegisterClient(
      Context().get(), WithId(Register("https://a.portal.example/cb"), "nope"), &response);
  EXPECT_EQ(api::RegistrationErrorOf(bad)->reason(), v1::ERROR_REASON_INVALID_REQUEST_ID);
}

TEST_F(ServiceTest, AnOutcomeThatMayHaveBeenProcessedIsNeverSentAgain) {
  EXPECT_CALL(*upstream_, Call(_, _, _)).WillOnce([](const DcrCall&, absl::Duration, auto done) {
    std::move(done)(Error(v1::ERROR_REASON_UPSTREAM_FAILED, "connection reset after sending"));
  });
  const v1::RegisterClientRequest request = WithId(Register("https://a.portal.example/cb"));
  v1::RegisterClientResponse response;
  grpc::Status first = stub_->RegisterClient(Context().get(), request, &response);
  EXPECT_EQ(api::RegistrationErrorOf(first)->reason(), v1::ERROR_REASON_UPSTREAM_FAILED);
  for (int i = 0; i < 3; ++i) {
    grpc::Status again = stub_->RegisterClient(Context().get(), request, &response);
    EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(again);
    ASSERT_TRUE(detail.has_value());
    EXPECT_EQ(detail->reason(), v1::ERROR_REASON_REQUEST_OUTCOME_UNKNOWN);
    EXPECT_TRUE(detail->may_have_been_processed());
    EXPECT_THAT(again.error_message(), HasSubstr("creation time"));
  }
}

TEST_F(ServiceTest, AFailureThatWasNotProcessedFreesTheRequestId) {
  EXPECT_CALL(*upstream_, Call(_, _, _))
      .WillOnce([](const DcrCall&, absl::Duration, auto done) {
        std::move(done)(Error(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, "refused"));
      })
      .WillOnce([](const DcrCall&, absl::Duration, auto done) { std::move(done)(Created("7")); });
  const v1::RegisterClientRequest request = WithId(Register("https://a.portal.example/cb"));
  v1::RegisterClientResponse response;
  grpc::Status first = stub_->RegisterClient(Context().get(), request, &response);
  EXPECT_EQ(first.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(stub_->RegisterClient(Context().get(), request, &response).ok());
  EXPECT_EQ(response.client().client_id(), "7");
}

TEST_F(ServiceTest, ADuplicateWaitsForTheCallInFlightAndSharesItsReply) {
  absl::Mutex mu;
  authlete::AuthleteConnection::Callback held;
  absl::Notification sent;
  EXPECT_CALL(*upstream_, Call(_, _, _))
      .WillOnce([&](const DcrCall&, absl::Duration, auto done) {
        absl::MutexLock lock(&mu);
        held = std::move(done);
        sent.Notify();
      });
  const v1::RegisterClientRequest request = WithId(Register("https://a.portal.example/cb"));
  v1::RegisterClientResponse first, second;
  grpc::Status first_status, second_status;
  std::thread a([&] { first_status = stub_->RegisterClient(Context().get(), request, &first); });
  sent.WaitForNotification();
  std::thread b([&] { second_status = stub_->RegisterClient(Context().get(), request, &second); });
  absl::SleepFor(absl::Milliseconds(300));  // b polls meanwhile: never sent
  {
    absl::MutexLock lock(&mu);
    std::move(held)(Created("9"));
  }
  a.join();
  b.join();
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  ASSERT_TRUE(second_status.ok()) << second_status.error_message();
  EXPECT_EQ(second.client().registration_access_token(), "t-9");
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  EXPECT_THAT(registry_.Render(),
              HasSubstr(R"(dcr_gateway_idempotency_total{outcome="waited"} 1)"));
}

// A store that answers as the test says; StrictMock: any call not expected
// fails the test.
class MockStore : public state::StateStore {
 public:
  MOCK_METHOD(void, Reserve,
              (absl::string_view key, absl::string_view fingerprint, absl::Duration ttl,
               state::ReserveCallback done),
              (override));
  MOCK_METHOD(void, Complete,
              (const state::Reservation& reservation, absl::string_view record,
               absl::Duration ttl, state::DoneCallback done),
              (override));
  MOCK_METHOD(void, MarkUnknown,
              (const state::Reservation& reservation, absl::Duration ttl,
               state::DoneCallback done),
              (override));
  MOCK_METHOD(void, Release, (const state::Reservation& reservation, state::DoneCallback done),
              (override));
  MOCK_METHOD(void, Acquire,
              (absl::string_view bucket_key, double rate_per_s, double burst, absl::Time now,
               state::RateCallback done),
              (override));
  MOCK_METHOD(state::StoreHealth, Health, (), (const, override));
};

class MockStoreServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    store_ = mock_store_;
    ServiceTest::SetUp();
  }
  // Two calls, each reserved with `held` (the caller's key): Authlete
  // creates the first client and leaves the second call unanswered (maybe
  // processed).
  void ExpectTwoReservedCallsCreatedThenTimedOut(const state::Reservation& held) {
    EXPECT_CALL(*mock_store_, Reserve(_, _, _, _))
        .Times(2)
        .WillRepeatedly([held](absl::string_view key, absl::string_view, absl::Duration,
                               auto done) {
          EXPECT_THAT(std::string(key), HasSubstr("portal"));
          state::ReserveResult mine;
          mine.outcome = state::ReserveOutcome::kReserved;
          mine.reservation = held;
          std::move(done)(std::move(mine));
        });
    EXPECT_CALL(*upstream_, Call(_, _, _))
        .WillOnce([](const DcrCall&, absl::Duration, auto done) { std::move(done)(Created("5")); })
        .WillOnce([](const DcrCall&, absl::Duration, auto done) {
          std::move(done)(
              Error(v1::ERROR_REASON_UPSTREAM_TIMEOUT, "no answer", core::Sent::kMaybe));
        });
  }
  std::shared_ptr<StrictMock<MockStore>> mock_store_ = std::make_shared<StrictMock<MockStore>>();
};

TEST_F(MockStoreServiceTest, WithoutARequestIdTheStoreIsNeverAsked) {
  EXPECT_CALL(*upstream_, Call(_, _, _)).WillOnce([](const DcrCall&, absl::Duration, auto done) {
    std::move(done)(Created("1"));
  });
  v1::RegisterClientResponse response;
  EXPECT_TRUE(
      stub_->RegisterClient(Context().get(), Register("https://a.portal.example/cb"), &response)
          .ok());
}

TEST_F(MockStoreServiceTest, AStoreThatCannotAnswerRefusesTheCallUnsent) {
  EXPECT_CALL(*mock_store_, Reserve(_, _, _, _))
      .WillOnce([](absl::string_view, absl::string_view, absl::Duration ttl, auto done) {
        EXPECT_EQ(ttl, absl::Seconds(10));
        std::move(done)(absl::UnavailableError("not connected"));
      });
  v1::RegisterClientResponse response;
  grpc::Status status = stub_->RegisterClient(
      Context().get(), WithId(Register("https://a.portal.example/cb")), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(status);
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_STATE_STORE_UNAVAILABLE);
  EXPECT_FALSE(detail->may_have_been_processed());
}

TEST_F(MockStoreServiceTest, ADuplicateStillInFlightAtItsDeadlineIsNotSent) {
  EXPECT_CALL(*mock_store_, Reserve(_, _, _, _))
      .WillRepeatedly([](absl::string_view, absl::string_view, absl::Duration, auto done) {
        state::ReserveResult busy;
        busy.outcome = state::ReserveOutcome::kInFlight;
        busy.retry_after = absl::Milliseconds(50);
        std::move(done)(std::move(busy));
      });
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  context.AddMetadata("authorization", "Bearer portal-key");
  v1::RegisterClientResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = stub_->RegisterClient(
      &context, WithId(Register("https://a.portal.example/cb")), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(api::RegistrationErrorOf(status)->reason(), v1::ERROR_REASON_REQUEST_IN_PROGRESS);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
}

TEST_F(MockStoreServiceTest, ASuccessIsCompletedAndAMaybeProcessedFailureMarkedUnknown) {
  state::Reservation held{"k", "f", "t1"};
  ExpectTwoReservedCallsCreatedThenTimedOut(held);
  EXPECT_CALL(*mock_store_, Complete(_, _, _, _))
      .WillOnce([](const state::Reservation& r, absl::string_view record, absl::Duration ttl,
                   auto done) {
        EXPECT_EQ(r.token, "t1");
        EXPECT_EQ(ttl, absl::Minutes(5));
        v1::RegisterClientResponse stored;
        EXPECT_TRUE(stored.ParseFromString(std::string(record)));
        EXPECT_EQ(stored.client().client_secret(), "s-5");
        std::move(done)(absl::OkStatus());
      });
  EXPECT_CALL(*mock_store_, MarkUnknown(_, _, _))
      .WillOnce([](const state::Reservation&, absl::Duration ttl, auto done) {
        EXPECT_EQ(ttl, absl::Minutes(5));
        std::move(done)(absl::OkStatus());
      });
  v1::RegisterClientResponse response;
  EXPECT_TRUE(stub_->RegisterClient(Context().get(),
                                    WithId(Register("https://a.portal.example/cb")), &response)
                  .ok());
  grpc::Status lost = stub_->RegisterClient(
      Context().get(), WithId(Register("https://a.portal.example/cb"),
                              "11111111-2222-3333-4444-555555555555"),
      &response);
  EXPECT_EQ(lost.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

// Redis lost just as the reply came: the caller has its client at once, and
// the record is tried again until it lands (here the third try), so that a
// retry after Redis is back finds it. A record another call took (ABORTED)
// is not tried again.
TEST_F(MockStoreServiceTest, ARecordTheStoreFailedToTakeIsTriedAgainInTheBackground) {
  state::Reservation held{"k", "f", "t1"};
  ExpectTwoReservedCallsCreatedThenTimedOut(held);
  absl::Notification kept;
  std::atomic<int> completes{0};
  std::vector<absl::Time> tries;
  absl::Mutex mu;
  EXPECT_CALL(*mock_store_, Complete(_, _, _, _))
      .Times(3)
      .WillRepeatedly([&](const state::Reservation& r, absl::string_view record, absl::Duration,
                          auto done) {
        EXPECT_EQ(r.token, "t1");
        EXPECT_FALSE(record.empty());
        {
          absl::MutexLock lock(&mu);
          tries.push_back(absl::Now());
        }
        if (++completes < 3) return std::move(done)(absl::UnavailableError("connection lost"));
        std::move(done)(absl::OkStatus());
        kept.Notify();
      });
  absl::Notification aborted;
  EXPECT_CALL(*mock_store_, MarkUnknown(_, _, _))
      .WillOnce([&](const state::Reservation&, absl::Duration, auto done) {
        std::move(done)(absl::AbortedError("another call took the key"));
        aborted.Notify();
      });
  v1::RegisterClientResponse response;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(stub_->RegisterClient(Context().get(),
                                    WithId(Register("https://a.portal.example/cb")), &response)
                  .ok());
  EXPECT_EQ(response.client().client_id(), "5");
  // Answered before the retries (100 ms, then 200 ms) were done.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(250));
  ASSERT_TRUE(kept.WaitForNotificationWithTimeout(absl::Seconds(5)));
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(tries.size(), 3u);
    EXPECT_GE(tries[1] - tries[0], absl::Milliseconds(90));
    EXPECT_GE(tries[2] - tries[1], absl::Milliseconds(190));
  }
  grpc::Status lost = stub_->RegisterClient(
      Context().get(), WithId(Register("https://a.portal.example/cb"),
                              "11111111-2222-3333-4444-555555555555"),
      &response);
  EXPECT_EQ(lost.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(aborted.WaitForNotificationWithTimeout(absl::Seconds(5)));
  const std::string page = registry_.Render();
  EXPECT_THAT(page, HasSubstr(R"(dcr_gateway_idempotency_total{outcome="recorded_late"} 1)"));
  // Rendered once the stage has counted it: the log line comes first.
  const absl::Time give_up = absl::Now() + absl::Seconds(2);
  while (registry_.Render().find(R"(outcome="record_lost"} 1)") == std::string::npos &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT(registry_.Render(),
              HasSubstr(R"(dcr_gateway_idempotency_total{outcome="record_lost"} 1)"));
}

}  // namespace
}  // namespace dcr::registration
