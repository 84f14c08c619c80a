// The administrative RPCs stage by stage: page tokens (tamper-evident),
// building the calls, the §9 HTTP requests, reading Authlete's answers into
// replies (never a secret in a record), and ClientRegistrationService's four
// handlers against a StrictMock connection.
#include <memory>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "proto/api/status_detail.h"
#include "service/authlete/authlete_request.h"
#include "service/authlete/authlete_response.h"
#include "service/callers/caller_guard.h"
#include "service/metrics/metrics.h"
#include "service/registration/call_builder.h"
#include "service/registration/client_registration_service.h"
#include "service/registration/page_token.h"
#include "service/registration/reply.h"
#include "tests/testing/mock_authlete_connection.h"

namespace dcr::registration {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StrictMock;
using api::Operation;
using core::DcrCall;
using core::DcrResponse;

// --- page tokens ------------------------------------------------------------

TEST(PageTokensTest, ATokenOpensOnlyForItsListingAndKey) {
  const PageTokens tokens("key-one");
  const std::string token = tokens.Issue("111", "team-a", 200);
  core::ErrorOr<int64_t> start = tokens.Open(token, "111", "team-a");
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(*start, 200);
  for (auto [service, developer] : {std::pair<const char*, const char*>{"222", "team-a"},
                                    {"111", "team-b"}, {"111", ""}, {"11", "1team-a"}}) {
    EXPECT_EQ(tokens.Open(token, service, developer).error().reason(),
              v1::ERROR_REASON_INVALID_PAGE_TOKEN)
        << service << " " << developer;
  }
  EXPECT_FALSE(PageTokens("key-two").Open(token, "111", "team-a").ok());
  EXPECT_EQ(tokens.Open(token, "111", "team-a").ok(), true);
}

TEST(PageTokensTest, EveryAlteredCharacterIsRefused) {
  const PageTokens tokens("key");
  const std::string token = tokens.Issue("111", "", 100);
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string altered = token;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    core::ErrorOr<int64_t> opened = tokens.Open(altered, "111", "");
    EXPECT_FALSE(opened.ok()) << "position " << i;
    if (!opened.ok()) {
      EXPECT_EQ(opened.error().reason(), v1::ERROR_REASON_INVALID_PAGE_TOKEN);
      EXPECT_EQ(opened.error().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  // Truncated, extended, garbage, huge, a forged position: refused, no crash.
  for (const std::string& bad :
       {token.substr(0, token.size() - 1), token + "A", std::string("%%%"), std::string(""),
        std::string(100000, 'A'), absl::WebSafeBase64Escape("1.-5." + std::string(32, 'x')),
        absl::WebSafeBase64Escape("1.999999999999999999999." + std::string(32, 'x')),
        absl::WebSafeBase64Escape(absl::StrCat("1.300.", std::string(32, '\0')))}) {
    EXPECT_FALSE(tokens.Open(bad, "111", "").ok()) << bad.substr(0, 40);
  }
}

TEST(PageTokensTest, WithoutAKeyTheProcessMakesOneAndDerivedKeysAgree) {
  const PageTokens a(""), b("");
  const std::string token = a.Issue("111", "", 5);
  EXPECT_TRUE(a.Open(token, "111", "").ok());
  EXPECT_FALSE(b.Open(token, "111", "").ok());  // another process's key
  const PageTokens replica1(PageTokens::DeriveKey("credential"));
  const PageTokens replica2(PageTokens::DeriveKey("credential"));
  EXPECT_TRUE(replica2.Open(replica1.Issue("111", "", 5), "111", "").ok());
  EXPECT_THAT(PageTokens::DeriveKey("credential"), Not(HasSubstr("credential")));
}

// --- building the calls -------------------------------------------------------

CallBuilder Builder() {
  CallBuilder::Options options;
  options.default_service_id = "111";
  options.allowed_service_ids = {"222"};
  options.page_token_key = "k";
  return CallBuilder(options);
}

TEST(ManagementCallBuilderTest, ListPagesAreBoundedAndContinueFromTheToken) {
  v1::ListClientsRequest list;
  core::ErrorOr<DcrCall> call = Builder().Build(list);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->operation, Operation::kListClients);
  EXPECT_EQ(call->list_start, 0);
  EXPECT_EQ(call->list_end, CallBuilder::kDefaultPageSize);
  list.set_page_size(5000);
  EXPECT_EQ(Builder().Build(list)->list_end, CallBuilder::kMaxPageSize);
  list.set_page_size(-1);
  EXPECT_EQ(Builder().Build(list).error().reason(), v1::ERROR_REASON_INVALID_REQUEST);

  list.set_page_size(10);
  list.set_developer("d");
  call = Builder().Build(list);
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(Builder().NextPageToken(*call, 10), "");  // the last page
  const std::string next = Builder().NextPageToken(*call, 25);
  ASSERT_FALSE(next.empty());
  list.set_page_token(next);
  call = Builder().Build(list);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->list_start, 10);
  EXPECT_EQ(call->list_end, 20);
  EXPECT_EQ(call->developer, "d");
  // The default service's token also holds when the request names it.
  list.set_service_id("111");
  EXPECT_TRUE(Builder().Build(list).ok());
  list.set_service_id("222");
  EXPECT_EQ(Builder().Build(list).error().reason(), v1::ERROR_REASON_INVALID_PAGE_TOKEN);
  list.set_service_id("");
  list.set_developer(std::string(300, 'd'));
  EXPECT_EQ(Builder().Build(list).error().reason(), v1::ERROR_REASON_INVALID_REQUEST);
}

TEST(ManagementCallBuilderTest, ClientCallsNeedABoundedIdAndNoToken) {
  v1::GetClientRecordRequest get;
  EXPECT_EQ(Builder().Build(get).error().reason(), v1::ERROR_REASON_INVALID_REQUEST);
  get.set_client_id(std::string(257, '1'));
  EXPECT_EQ(Builder().Build(get).error().reason(), v1::ERROR_REASON_INVALID_REQUEST);
  get.set_client_id("42");
  EXPECT_EQ(Builder().Build(get)->client_id, "42");
  get.set_service_id("333");
  EXPECT_EQ(Builder().Build(get).error().reason(), v1::ERROR_REASON_SERVICE_NOT_ALLOWED);

  v1::RotateClientSecretRequest rotate;
  rotate.set_client_id("42");
  EXPECT_FALSE(Builder().Build(rotate)->new_client_secret.has_value());
  rotate.set_new_client_secret("");
  EXPECT_EQ(Builder().Build(rotate).error().reason(), v1::ERROR_REASON_INVALID_REQUEST);
  rotate.set_new_client_secret(std::string(1025, 's'));
  core::ErrorOr<DcrCall> too_long = Builder().Build(rotate);
  ASSERT_FALSE(too_long.ok());
  EXPECT_THAT(too_long.error().message(), Not(HasSubstr("sss")));  // never echoed
  rotate.set_new_client_secret("s3cret");
  EXPECT_EQ(Builder().Build(rotate)->new_client_secret, "s3cret");

  v1::SetClientLockedRequest lock;
  lock.set_client_id("42");
  lock.set_locked(true);
  EXPECT_TRUE(Builder().Build(lock)->locked);
}

// --- the HTTP requests -----------------------------------------------------------

authlete::AuthleteOptions Options(authlete::ApiVersion version) {
  authlete::AuthleteOptions options;
  options.base_url = "https://authlete.test";
  options.api_version = version;
  options.credential = "cred";
  return options;
}

bool HasHeaderNamed(const http::HttpRequest& request, absl::string_view name) {
  for (const std::string& h : request.headers) {
    if (absl::StartsWithIgnoreCase(h, absl::StrCat(name, ":"))) return true;
  }
  return false;
}

TEST(ManagementRequestTest, GetsCarryNoBodyAndPostsJson) {
  DcrCall call;
  call.service_id = "111";
  call.operation = Operation::kListClients;
  call.list_start = 100;
  call.list_end = 200;
  call.developer = "a b/é";
  http::HttpRequest r =
      authlete::BuildHttpRequest(Options(authlete::ApiVersion::kV3), call, absl::Seconds(1));
  EXPECT_EQ(r.method, http::HttpRequest::Method::kGet);
  EXPECT_EQ(r.url,
            "https://authlete.test/api/111/client/get/list?developer=a%20b%2F%C3%A9&start=100&end=200");
  EXPECT_TRUE(r.body.empty());
  EXPECT_FALSE(HasHeaderNamed(r, "Content-Type"));
  EXPECT_TRUE(HasHeaderNamed(r, "Accept"));
  EXPECT_FALSE(r.fresh_connection);

  call.operation = Operation::kGetClientRecord;
  call.client_id = "4 2";
  r = authlete::BuildHttpRequest(Options(authlete::ApiVersion::kV2), call, absl::Seconds(1));
  EXPECT_EQ(r.url, "https://authlete.test/api/client/get/4%202");
  EXPECT_EQ(r.method, http::HttpRequest::Method::kGet);

  call.operation = Operation::kRotateClientSecret;
  call.client_id = "42";
  r = authlete::BuildHttpRequest(Options(authlete::ApiVersion::kV3), call, absl::Seconds(1));
  EXPECT_EQ(r.url, "https://authlete.test/api/111/client/secret/refresh/42");
  EXPECT_EQ(r.method, http::HttpRequest::Method::kGet);
  EXPECT_TRUE(r.fresh_connection);  // never resent by libcurl
  call.new_client_secret = "s3cret";
  r = authlete::BuildHttpRequest(Options(authlete::ApiVersion::kV3), call, absl::Seconds(1));
  EXPECT_EQ(r.url, "https://authlete.test/api/111/client/secret/update/42");
  EXPECT_EQ(r.method, http::HttpRequest::Method::kPost);
  EXPECT_EQ(r.body, R"({"clientSecret":"s3cret"})");
  EXPECT_TRUE(HasHeaderNamed(r, "Content-Type"));

  call.operation = Operation::kSetClientLocked;
  call.locked = false;
  r = authlete::BuildHttpRequest(Options(authlete::ApiVersion::kV3), call, absl::Seconds(1));
  EXPECT_EQ(r.url, "https://authlete.test/api/111/client/lock_flag/update/42");
  EXPECT_EQ(r.body, R"({"clientLocked":false})");
}

// --- Authlete's answers and the replies ----------------------------------------

http::HttpResult Answer(int status, std::string body) {
  http::HttpResult r;
  r.request_sent = true;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(ManagementAnswerTest, A200IsTheResultAndAnythingElseAFailure) {
  core::DcrResult ok = authlete::InterpretHttpResult(
      Operation::kSetClientLocked, Answer(200, R"({"resultCode":"A1","resultMessage":"m"})"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->result_code, "A1");
  core::DcrResult garbage =
      authlete::InterpretHttpResult(Operation::kListClients, Answer(200, "[1,"));
  EXPECT_EQ(garbage.error().reason(), v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE);
  core::DcrResult refused = authlete::InterpretHttpResult(
      Operation::kGetClientRecord,
      Answer(400, R"({"resultCode":"A9","resultMessage":"no such client"})"));
  EXPECT_EQ(refused.error().reason(), v1::ERROR_REASON_UPSTREAM_REQUEST_REFUSED);
  EXPECT_EQ(refused.error().detail().result_code(), "A9");
}

DcrResponse Body(std::string body) {
  DcrResponse r;
  r.response_content = std::move(body);
  return r;
}

TEST(ManagementReplyTest, RecordsAreTypedAndNeverCarryTheSecret) {
  v1::GetClientRecordResponse record;
  ASSERT_FALSE(FillReply(Body(R"({"clientId":42,"clientSecret":"TOPSECRET","clientName":"n",
      "clientType":"PUBLIC","grantTypes":["AUTHORIZATION_CODE",7],"createdAt":1700000000123,
      "clientLocked":true,"developer":"d","dynamicallyRegistered":true,"extra":{"a":1}})"),
                         record)
                   .has_value());
  const v1::ClientRecord& c = record.client();
  EXPECT_EQ(c.client_id(), "42");
  EXPECT_EQ(c.client_type(), v1::CLIENT_TYPE_PUBLIC);
  EXPECT_THAT(c.grant_types(), ::testing::ElementsAre("AUTHORIZATION_CODE"));
  EXPECT_EQ(c.created_at().seconds(), 1700000000);
  EXPECT_EQ(c.created_at().nanos(), 123000000);
  EXPECT_FALSE(c.has_modified_at());
  EXPECT_TRUE(c.locked());
  EXPECT_TRUE(c.has_client_secret());
  EXPECT_THAT(c.record_json(), Not(HasSubstr("TOPSECRET")));
  EXPECT_THAT(c.record_json(), HasSubstr(R"("extra":{"a":1})"));
  EXPECT_THAT(c.DebugString(), Not(HasSubstr("TOPSECRET")));

  v1::GetClientRecordResponse empty;
  EXPECT_TRUE(FillReply(Body("{}"), empty).has_value());  // no clientId

  v1::ListClientsResponse list;
  ASSERT_FALSE(FillReply(Body(R"({"totalCount":3,"clients":[{"clientId":1,"clientSecret":"S1"},
      "odd",{"clientId":2}]})"), list)
                   .has_value());
  EXPECT_EQ(list.total_count(), 3);
  ASSERT_EQ(list.clients_size(), 3);
  EXPECT_THAT(list.DebugString(), Not(HasSubstr("S1")));
  v1::ListClientsResponse bad;
  EXPECT_TRUE(FillReply(Body(R"({"clients":[]})"), bad).has_value());
}

TEST(ManagementReplyTest, ARotationRepliesTheNewSecretOnlyOrFails) {
  v1::RotateClientSecretResponse rotated;
  ASSERT_FALSE(FillReply(Body(R"({"resultCode":"A1","newClientSecret":"NEW",
      "oldClientSecret":"OLD"})"), rotated)
                   .has_value());
  EXPECT_EQ(rotated.new_client_secret(), "NEW");
  EXPECT_THAT(rotated.DebugString(), Not(HasSubstr("OLD")));
  v1::RotateClientSecretResponse none;
  core::Refusal missing = FillReply(Body(R"({"oldClientSecret":"OLD"})"), none);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->reason(), v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE);
  EXPECT_TRUE(missing->detail().may_have_been_processed());
  EXPECT_THAT(missing->message(), Not(HasSubstr("OLD")));
}

// --- the handlers -----------------------------------------------------------------

using MockConnection = authlete::MockAuthleteConnection;

class ManagementServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto callers = callers::ParseCallersFile(absl::StrCat(
        R"({"callers": [{"name": "admin", "api_key_sha256": [")",
        callers::HashApiKeyHex("admin-key"),
        R"("], "rpcs": ["ListClients", "GetClientRecord", "RotateClientSecret",)"
        R"( "SetClientLocked"], "service_ids": ["*"]},)"
        R"({"name": "portal", "api_key_sha256": [")", callers::HashApiKeyHex("portal-key"),
        R"("], "rpcs": ["*"], "service_ids": ["*"], "redirect_uri_patterns": ["*"],)"
        R"( "grant_types": ["*"]}]})"));
    ASSERT_TRUE(callers.ok()) << callers.status();
    ClientRegistrationService::Options options;
    options.call.default_service_id = "111";
    options.call.page_token_key = "k";
    options.observe.log_requests = false;
    service_ = std::make_unique<ClientRegistrationService>(
        options, std::make_shared<callers::CallerGuard>(*std::move(callers)), upstream_,
        &registry_);
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
  std::unique_ptr<grpc::ClientContext> Context(const std::string& key = "admin-key") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    context->AddMetadata("authorization", "Bearer " + key);
    return context;
  }
  // The connection answers the next call with `body` after checking it.
  void ExpectCall(Operation operation, std::string body,
                  std::function<void(const DcrCall&)> check = nullptr) {
    EXPECT_CALL(*upstream_, Call(_, _, _))
        .WillOnce([operation, body, check](const DcrCall& call, absl::Duration, auto done) {
          EXPECT_EQ(call.operation, operation);
          EXPECT_EQ(call.service_id, "111");
          if (check) check(call);
          // As the HTTP layer reads an HTTP 200 answer.
          std::move(done)(authlete::InterpretHttpResult(operation, Answer(200, body)));
        });
  }

  std::shared_ptr<StrictMock<MockConnection>> upstream_ =
      std::make_shared<StrictMock<MockConnection>>();
  metrics::Registry registry_;
  std::unique_ptr<ClientRegistrationService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ClientRegistrationService::Stub> stub_;
  int port_ = 0;
};

TEST_F(ManagementServiceTest, ListClientsPagesWithATokenOfItsOwn) {
  ExpectCall(Operation::kListClients, R"({"totalCount":3,"clients":[{"clientId":1},{"clientId":2}]})",
             [](const DcrCall& call) {
               EXPECT_EQ(call.list_start, 0);
               EXPECT_EQ(call.list_end, 2);
             });
  v1::ListClientsRequest request;
  request.set_page_size(2);
  v1::ListClientsResponse response;
  ASSERT_TRUE(stub_->ListClients(Context().get(), request, &response).ok());
  EXPECT_EQ(response.clients_size(), 2);
  EXPECT_EQ(response.total_count(), 3);
  ASSERT_FALSE(response.next_page_token().empty());

  ExpectCall(Operation::kListClients, R"({"totalCount":3,"clients":[{"clientId":3}]})",
             [](const DcrCall& call) {
               EXPECT_EQ(call.list_start, 2);
               EXPECT_EQ(call.list_end, 4);
             });
  request.set_page_token(response.next_page_token());
  ASSERT_TRUE(stub_->ListClients(Context().get(), request, &response).ok());
  EXPECT_TRUE(response.next_page_token().empty());
  EXPECT_THAT(registry_.Render(),
              HasSubstr(R"(dcr_gateway_rpc_calls_total{rpc="ListClients",code="OK",)"));
}

TEST_F(ManagementServiceTest, EachHandlerMakesItsCallAndReply) {
  ExpectCall(Operation::kGetClientRecord, R"({"clientId":42,"clientSecret":"S"})",
             [](const DcrCall& call) { EXPECT_EQ(call.client_id, "42"); });
  v1::GetClientRecordRequest get;
  get.set_client_id("42");
  v1::GetClientRecordResponse record;
  ASSERT_TRUE(stub_->GetClientRecord(Context().get(), get, &record).ok());
  EXPECT_EQ(record.client().client_id(), "42");
  EXPECT_THAT(record.client().record_json(), Not(HasSubstr("\"S\"")));

  ExpectCall(Operation::kRotateClientSecret, R"({"newClientSecret":"NEW","oldClientSecret":"OLD"})",
             [](const DcrCall& call) { EXPECT_EQ(call.new_client_secret, "given"); });
  v1::RotateClientSecretRequest rotate;
  rotate.set_client_id("42");
  rotate.set_new_client_secret("given");
  v1::RotateClientSecretResponse rotated;
  ASSERT_TRUE(stub_->RotateClientSecret(Context().get(), rotate, &rotated).ok());
  EXPECT_EQ(rotated.new_client_secret(), "NEW");

  ExpectCall(Operation::kSetClientLocked, R"({"resultCode":"A3","resultMessage":"m"})",
             [](const DcrCall& call) { EXPECT_TRUE(call.locked); });
  v1::SetClientLockedRequest lock;
  lock.set_client_id("42");
  lock.set_locked(true);
  v1::SetClientLockedResponse locked;
  ASSERT_TRUE(stub_->SetClientLocked(Context().get(), lock, &locked).ok());
  EXPECT_EQ(locked.result_code(), "A3");

  // A rotation answered without a new secret: the caller must hear of it.
  ExpectCall(Operation::kRotateClientSecret, R"({"resultCode":"A1"})");
  rotate.clear_new_client_secret();
  grpc::Status status = stub_->RotateClientSecret(Context().get(), rotate, &rotated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(api::RegistrationErrorOf(status)->reason(), v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE);
  EXPECT_TRUE(api::RegistrationErrorOf(status)->may_have_been_processed());
}

TEST_F(ManagementServiceTest, ACallerWithoutThemNamedNeverReachesTheConnection) {
  // StrictMock: any Call fails the test. "portal" has "*" only.
  v1::ListClientsRequest list;
  v1::ListClientsResponse listed;
  grpc::Status status = stub_->ListClients(Context("portal-key").get(), list, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(api::RegistrationErrorOf(status)->reason(), v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  v1::SetClientLockedRequest lock;
  lock.set_client_id("42");
  v1::SetClientLockedResponse locked;
  EXPECT_EQ(stub_->SetClientLocked(Context("portal-key").get(), lock, &locked).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RotateClientSecretRequest rotate;
  rotate.set_client_id("42");
  v1::RotateClientSecretResponse rotated;
  EXPECT_EQ(stub_->RotateClientSecret(Context("portal-key").get(), rotate, &rotated).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::GetClientRecordRequest get;
  get.set_client_id("42");
  v1::GetClientRecordResponse record;
  EXPECT_EQ(stub_->GetClientRecord(Context("portal-key").get(), get, &record).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A forged page token: refused before the connection too.
  list.set_page_token("Zm9yZ2Vk");
  status = stub_->ListClients(Context().get(), list, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(api::RegistrationErrorOf(status)->reason(), v1::ERROR_REASON_INVALID_PAGE_TOKEN);
}

}  // namespace
}  // namespace dcr::registration
