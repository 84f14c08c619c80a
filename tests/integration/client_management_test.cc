// The administrative RPCs end to end (contract §9): the exact requests they
// send (v3 and v2), paging through many clients, a rotated secret taking
// effect for RFC 7592, locking, page tokens that cannot be forged, and the
// callers' policy refusing them before Authlete is called.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "gateway_test_env.h"
#include "nlohmann/json.hpp"
#include "service/callers/caller_policy.h"
#include "tests/testing/test_pki.h"

namespace dcr::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Header(const emulator::RecordedRequest& request, absl::string_view name) {
  std::string found;
  for (const auto& [key, value] : request.headers) {
    if (absl::EqualsIgnoreCase(key, name)) found = value;
  }
  return found;
}

bool HasHeader(const emulator::RecordedRequest& request, absl::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (absl::EqualsIgnoreCase(key, name)) return true;
  }
  return false;
}

v1::RegisterClientResponse Register(v1::ClientRegistrationService::Stub& stub,
                                    const std::string& developer = "") {
  v1::RegisterClientRequest request;
  std::string json = R"({"redirect_uris":["https://app.example.com/cb"],"client_name":"M")";
  if (!developer.empty()) absl::StrAppend(&json, R"(,"developer":")", developer, R"(")");
  request.set_metadata_json(json + "}");
  v1::RegisterClientResponse response;
  grpc::Status status = stub.RegisterClient(Context().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

void ExpectReason(const grpc::Status& status, grpc::StatusCode code, v1::ErrorReason reason) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  absl::optional<v1::RegistrationError> detail = DetailOf(status);
  ASSERT_TRUE(detail.has_value()) << status.error_message();
  EXPECT_EQ(detail->reason(), reason) << v1::ErrorReason_Name(detail->reason());
}

class ManagementWireTest : public ::testing::TestWithParam<authlete::ApiVersion> {};

TEST_P(ManagementWireTest, EachRpcSendsTheContractRequest) {
  const authlete::ApiVersion version = GetParam();
  EnvOptions options;
  options.api_version = version;
  auto env = GatewayTestEnv::Start(options);
  ASSERT_TRUE(env.ok()) << env.status();
  auto& stub = (*env)->stub();
  const std::string id = Register(stub).client().client_id();
  ASSERT_FALSE(id.empty());

  v1::ListClientsRequest list;
  list.set_page_size(7);
  list.set_developer("team a&b");
  v1::ListClientsResponse listed;
  ASSERT_TRUE(stub.ListClients(Context().get(), list, &listed).ok());
  v1::GetClientRecordRequest get;
  get.set_client_id(id);
  v1::GetClientRecordResponse record;
  ASSERT_TRUE(stub.GetClientRecord(Context().get(), get, &record).ok());
  v1::RotateClientSecretRequest refresh;
  refresh.set_client_id(id);
  v1::RotateClientSecretResponse refreshed;
  ASSERT_TRUE(stub.RotateClientSecret(Context().get(), refresh, &refreshed).ok());
  v1::RotateClientSecretRequest set = refresh;
  set.set_new_client_secret("a-secret-chosen-by-the-caller-0123456789");
  v1::RotateClientSecretResponse was_set;
  ASSERT_TRUE(stub.RotateClientSecret(Context().get(), set, &was_set).ok());
  v1::SetClientLockedRequest lock;
  lock.set_client_id(id);
  lock.set_locked(true);
  v1::SetClientLockedResponse locked;
  ASSERT_TRUE(stub.SetClientLocked(Context().get(), lock, &locked).ok());

  const std::vector<emulator::RecordedRequest> requests =
      (*env)->emulator().recorded_requests();
  ASSERT_EQ(requests.size(), 6u);  // the Register, then the five
  const std::string api =
      version == authlete::ApiVersion::kV3
          ? absl::StrCat("/api/", emulator::kDefaultServiceId)
          : std::string("/api");
  const std::string authorization =
      version == authlete::ApiVersion::kV3
          ? std::string("Bearer ") + emulator::kDefaultServiceToken
          : "Basic " + absl::Base64Escape(std::string(emulator::kDefaultServiceId) + ":" +
                                          emulator::kDefaultApiSecret);
  struct Expected {
    std::string method, target, body;
  } expected[] = {
      {"GET", api + "/client/get/list?developer=team%20a%26b&start=0&end=7", ""},
      {"GET", api + "/client/get/" + id, ""},
      {"GET", api + "/client/secret/refresh/" + id, ""},
      {"POST", api + "/client/secret/update/" + id,
       R"({"clientSecret":"a-secret-chosen-by-the-caller-0123456789"})"},
      {"POST", api + "/client/lock_flag/update/" + id, R"({"clientLocked":true})"},
  };
  for (int i = 0; i < 5; ++i) {
    const emulator::RecordedRequest& r = requests[i + 1];
    SCOPED_TRACE(expected[i].target);
    EXPECT_EQ(r.method, expected[i].method);
    EXPECT_EQ(r.target, expected[i].target);
    EXPECT_EQ(Header(r, "Authorization"), authorization);
    EXPECT_EQ(Header(r, "Accept"), "application/json");
    EXPECT_EQ(r.body, expected[i].body);
    if (expected[i].method == "GET") {
      EXPECT_FALSE(HasHeader(r, "Content-Type"));
      EXPECT_FALSE(HasHeader(r, "Content-Length") && Header(r, "Content-Length") != "0");
      EXPECT_FALSE(HasHeader(r, "Transfer-Encoding"));
    } else {
      EXPECT_EQ(Header(r, "Content-Type"), "application/json");
    }
  }
  EXPECT_FALSE(refreshed.new_client_secret().empty());
  EXPECT_EQ(was_set.new_client_secret(), "a-secret-chosen-by-the-caller-0123456789");
  EXPECT_EQ(record.client().client_id(), id);
}

INSTANTIATE_TEST_SUITE_P(Versions, ManagementWireTest,
                         ::testing::Values(authlete::ApiVersion::kV3, authlete::ApiVersion::kV2),
                         [](const auto& info) {
                           return info.param == authlete::ApiVersion::kV3 ? "v3" : "v2";
                         });

class ClientManagementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = GatewayTestEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
  }
  v1::ClientRegistrationService::Stub& stub() { return env_->stub(); }
  std::unique_ptr<GatewayTestEnv> env_;
};

TEST_F(ClientManagementTest, ListingPagesThroughEveryClientOnceInOrder) {
  std::set<std::string> registered;
  for (int i = 0; i < 250; ++i) {
    const std::string id = Register(stub(), i % 5 == 0 ? "team-a" : "").client().client_id();
    ASSERT_FALSE(id.empty());
    registered.insert(id);
  }
  std::vector<std::string> seen;
  std::vector<int> page_sizes;
  v1::ListClientsRequest request;
  request.set_page_size(100);
  for (int page = 0; page < 10; ++page) {  // bounded: three are expected
    v1::ListClientsResponse response;
    grpc::Status status = stub().ListClients(Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.total_count(), 250);
    page_sizes.push_back(response.clients_size());
    for (const v1::ClientRecord& c : response.clients()) {
      seen.push_back(c.client_id());
      EXPECT_TRUE(c.dynamically_registered());
      EXPECT_EQ(c.client_type(), v1::CLIENT_TYPE_CONFIDENTIAL);
      EXPECT_TRUE(c.has_created_at());
      EXPECT_TRUE(c.has_client_secret());
      EXPECT_THAT(c.record_json(), Not(HasSubstr("clientSecret")));
      EXPECT_THAT(c.grant_types(), ::testing::ElementsAre("AUTHORIZATION_CODE"));
      EXPECT_THAT(c.response_types(), ::testing::ElementsAre("CODE"));
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(page_sizes, ::testing::ElementsAre(100, 100, 50));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), registered);
  EXPECT_EQ(seen.size(), 250u);
  // Ordered by client id (14 digits each, so text order is numeric order).
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

  // The developer filter, and its own total.
  v1::ListClientsRequest team;
  team.set_developer("team-a");
  v1::ListClientsResponse team_page;
  ASSERT_TRUE(stub().ListClients(Context().get(), team, &team_page).ok());
  EXPECT_EQ(team_page.total_count(), 50);
  EXPECT_EQ(team_page.clients_size(), 50);
  EXPECT_TRUE(team_page.next_page_token().empty());
  for (const v1::ClientRecord& c : team_page.clients()) EXPECT_EQ(c.developer(), "team-a");

  // Larger pages are clamped; negative ones refused before Authlete.
  v1::ListClientsRequest big;
  big.set_page_size(100000);
  v1::ListClientsResponse big_page;
  ASSERT_TRUE(stub().ListClients(Context().get(), big, &big_page).ok());
  EXPECT_EQ(big_page.clients_size(), 100);
  const int64_t before = env_->emulator().stats().total;
  v1::ListClientsRequest negative;
  negative.set_page_size(-1);
  ExpectReason(stub().ListClients(Context().get(), negative, &big_page),
               grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);
  EXPECT_EQ(env_->emulator().stats().total, before);
}

TEST_F(ClientManagementTest, TamperedOrMisappliedPageTokensAreRefusedBeforeAuthlete) {
  for (int i = 0; i < 3; ++i) Register(stub(), "team-a");
  v1::ListClientsRequest request;
  request.set_page_size(1);
  request.set_developer("team-a");
  v1::ListClientsResponse first;
  ASSERT_TRUE(stub().ListClients(Context().get(), request, &first).ok());
  const std::string token = first.next_page_token();
  ASSERT_FALSE(token.empty());
  const int64_t before = env_->emulator().stats().total;

  std::vector<std::string> bad = {"garbage", "", std::string(300, 'A'), token.substr(1)};
  std::string flipped = token;
  flipped[flipped.size() / 2] = flipped[flipped.size() / 2] == 'A' ? 'B' : 'A';
  bad.push_back(flipped);
  // A forged position: "1.<start>." with someone's guess at a signature.
  bad.push_back(absl::WebSafeBase64Escape("1.2." + std::string(32, 'x')));
  for (const std::string& t : bad) {
    if (t.empty()) continue;
    SCOPED_TRACE(t);
    v1::ListClientsRequest tampered = request;
    tampered.set_page_token(t);
    v1::ListClientsResponse response;
    ExpectReason(stub().ListClients(Context().get(), tampered, &response),
                 grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_PAGE_TOKEN);
  }
  // A good token for another developer filter is no good here.
  v1::ListClientsRequest other = request;
  other.set_developer("team-b");
  other.set_page_token(token);
  v1::ListClientsResponse response;
  ExpectReason(stub().ListClients(Context().get(), other, &response),
               grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_PAGE_TOKEN);
  EXPECT_EQ(env_->emulator().stats().total, before);

  request.set_page_token(token);
  ASSERT_TRUE(stub().ListClients(Context().get(), request, &response).ok());
  ASSERT_EQ(response.clients_size(), 1);
  EXPECT_NE(response.clients(0).client_id(), first.clients(0).client_id());
}

TEST_F(ClientManagementTest, RotatedSecretTakesEffectAndLockingStopsRfc7592) {
  const v1::ClientInformation client = Register(stub()).client();
  const std::string old_secret = client.client_secret();
  ASSERT_FALSE(old_secret.empty());
  v1::GetClientRequest get;
  get.set_client_id(client.client_id());
  get.set_registration_access_token(client.registration_access_token());
  v1::GetClientRecordRequest record_request;
  record_request.set_client_id(client.client_id());
  v1::GetClientRecordResponse before;
  ASSERT_TRUE(stub().GetClientRecord(Context().get(), record_request, &before).ok());

  v1::RotateClientSecretRequest rotate;
  rotate.set_client_id(client.client_id());
  v1::RotateClientSecretResponse rotated;
  ASSERT_TRUE(stub().RotateClientSecret(Context().get(), rotate, &rotated).ok());
  const std::string new_secret = rotated.new_client_secret();
  EXPECT_FALSE(new_secret.empty());
  EXPECT_NE(new_secret, old_secret);
  v1::GetClientResponse got;
  ASSERT_TRUE(stub().GetClient(Context().get(), get, &got).ok());
  EXPECT_EQ(got.client().client_secret(), new_secret);
  EXPECT_THAT(got.response_content(), Not(HasSubstr(old_secret)));
  // The administrative read returns it too (in client_secret, never in the
  // record itself).
  EXPECT_EQ(before.client_secret(), old_secret);
  v1::GetClientRecordResponse after;
  ASSERT_TRUE(stub().GetClientRecord(Context().get(), record_request, &after).ok());
  EXPECT_TRUE(after.client().has_client_secret());
  EXPECT_EQ(after.client_secret(), new_secret);
  EXPECT_GE(after.client().modified_at().seconds() * 1000 + after.client().modified_at().nanos() / 1000000,
            before.client().modified_at().seconds() * 1000 + before.client().modified_at().nanos() / 1000000);
  EXPECT_THAT(after.client().record_json(), Not(HasSubstr(new_secret)));
  EXPECT_THAT(after.client().record_json(), Not(HasSubstr(old_secret)));
  EXPECT_TRUE(nlohmann::json::parse(after.client().record_json()).contains("modifiedAt"));

  rotate.set_new_client_secret("chosen-secret-6d1f7a3b9c2e4d5f");
  ASSERT_TRUE(stub().RotateClientSecret(Context().get(), rotate, &rotated).ok());
  ASSERT_TRUE(stub().GetClient(Context().get(), get, &got).ok());
  EXPECT_EQ(got.client().client_secret(), "chosen-secret-6d1f7a3b9c2e4d5f");
  ASSERT_TRUE(stub().GetClientRecord(Context().get(), record_request, &after).ok());
  EXPECT_EQ(after.client_secret(), "chosen-secret-6d1f7a3b9c2e4d5f");

  v1::SetClientLockedRequest lock;
  lock.set_client_id(client.client_id());
  lock.set_locked(true);
  v1::SetClientLockedResponse locked;
  ASSERT_TRUE(stub().SetClientLocked(Context().get(), lock, &locked).ok());
  ASSERT_TRUE(stub().GetClientRecord(Context().get(), record_request, &after).ok());
  EXPECT_TRUE(after.client().locked());
  // A locked client is refused by RFC 7592 as an unknown one is.
  ExpectReason(stub().GetClient(Context().get(), get, &got), grpc::StatusCode::UNAUTHENTICATED,
               v1::ERROR_REASON_REGISTRATION_REJECTED);
  lock.set_locked(false);
  ASSERT_TRUE(stub().SetClientLocked(Context().get(), lock, &locked).ok());
  EXPECT_TRUE(stub().GetClient(Context().get(), get, &got).ok());

  // An unknown client: Authlete's refusal, not a crash nor a success.
  record_request.set_client_id("99999999999999");
  EXPECT_FALSE(stub().GetClientRecord(Context().get(), record_request, &after).ok());
  rotate.set_client_id("");
  ExpectReason(stub().RotateClientSecret(Context().get(), rotate, &rotated),
               grpc::StatusCode::INVALID_ARGUMENT, v1::ERROR_REASON_INVALID_REQUEST);
}

TEST_F(ClientManagementTest, ARefreshIsNeverResentButReadsAre) {
  const v1::ClientInformation client = Register(stub()).client();
  // The connection drops after Authlete refreshed the secret. On a reused
  // connection libcurl would resend the GET by itself (this test then sees a
  // success after two refreshes); the refresh's fresh connection prevents it.
  emulator::FaultRule reset;
  reset.kind = emulator::FaultKind::kResetAfterProcessing;
  reset.operation = emulator::Operation::kRefreshSecret;
  reset.count = 1;
  env_->emulator().SetFaults(emulator::FaultSpec{{reset}});
  env_->emulator().ResetStats();
  v1::RotateClientSecretRequest rotate;
  rotate.set_client_id(client.client_id());
  v1::RotateClientSecretResponse rotated;
  grpc::Status lost = stub().RotateClientSecret(Context().get(), rotate, &rotated);
  ExpectReason(lost, grpc::StatusCode::UNAVAILABLE, v1::ERROR_REASON_UPSTREAM_FAILED);
  EXPECT_TRUE(DetailOf(lost)->may_have_been_processed());
  EXPECT_EQ(DetailOf(lost)->upstream_attempts(), 1);
  EXPECT_EQ(env_->emulator().stats().management_requests, 1);

  // The same fault on a read: resent, and answered.
  reset.operation = emulator::Operation::kListClients;
  env_->emulator().SetFaults(emulator::FaultSpec{{reset}});
  env_->emulator().ResetStats();
  v1::ListClientsResponse listed;
  grpc::Status status = stub().ListClients(Context().get(), v1::ListClientsRequest(), &listed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(listed.total_count(), 1);
  EXPECT_EQ(env_->emulator().stats().management_requests, 2);
}

// ---- the callers' policy ----

constexpr char kPortalKey[] = "portal-api-key-1f2e3d4c";
constexpr char kAdminKey[] = "admin-api-key-9a8b7c6d";

TEST(ClientManagementPolicyTest, OnlyACallerThatNamesTheRpcsMayCallThem) {
  TempDir dir("client_management");
  ASSERT_FALSE(dir.path().empty());
  const std::string callers = absl::StrCat(dir.path(), "/callers.json");
  ASSERT_TRUE(WriteFileAtomically(
                  callers,
                  absl::StrCat(R"({"callers": [
    {"name": "portal", "api_key_sha256": [")", callers::HashApiKeyHex(kPortalKey), R"("],
     "rpcs": ["*"], "service_ids": ["*"], "redirect_uri_patterns": ["*"], "grant_types": ["*"]},
    {"name": "admin", "api_key_sha256": [")", callers::HashApiKeyHex(kAdminKey), R"("],
     "rpcs": ["ListClients", "GetClientRecord", "RotateClientSecret", "SetClientLocked"],
     "service_ids": ["*"]}]})"))
                  .ok());
  auto env = GatewayTestEnv::Start(
      TweakGateway([&](config::GatewayConfig& c) { c.callers_file = callers; }));
  ASSERT_TRUE(env.ok()) << env.status();
  auto stub_for = [&](const std::string& key) {
    client::ChannelOptions options;
    options.api_key = key;
    auto channel =
        client::MakeChannel(absl::StrCat("127.0.0.1:", (*env)->gateway().port()), options);
    EXPECT_TRUE(channel.ok());
    return v1::ClientRegistrationService::NewStub(*channel);
  };
  auto portal = stub_for(kPortalKey);
  auto admin = stub_for(kAdminKey);
  const std::string id = Register(*portal).client().client_id();
  ASSERT_FALSE(id.empty());
  (*env)->emulator().ResetStats();

  // "*" is not enough.
  v1::ListClientsRequest list;
  v1::ListClientsResponse listed;
  ExpectReason(portal->ListClients(Context().get(), list, &listed),
               grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  v1::GetClientRecordRequest get;
  get.set_client_id(id);
  v1::GetClientRecordResponse record;
  ExpectReason(portal->GetClientRecord(Context().get(), get, &record),
               grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  v1::RotateClientSecretRequest rotate;
  rotate.set_client_id(id);
  v1::RotateClientSecretResponse rotated;
  ExpectReason(portal->RotateClientSecret(Context().get(), rotate, &rotated),
               grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  v1::SetClientLockedRequest lock;
  lock.set_client_id(id);
  lock.set_locked(true);
  v1::SetClientLockedResponse locked;
  ExpectReason(portal->SetClientLocked(Context().get(), lock, &locked),
               grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  EXPECT_EQ((*env)->emulator().stats().total, 0);

  // The caller that names them gets through, and only to them.
  EXPECT_TRUE(admin->ListClients(Context().get(), list, &listed).ok());
  EXPECT_EQ(listed.total_count(), 1);
  EXPECT_TRUE(admin->GetClientRecord(Context().get(), get, &record).ok());
  EXPECT_TRUE(admin->RotateClientSecret(Context().get(), rotate, &rotated).ok());
  EXPECT_TRUE(admin->SetClientLocked(Context().get(), lock, &locked).ok());
  EXPECT_EQ((*env)->emulator().stats().management_requests, 4);
  v1::RegisterClientRequest reg;
  reg.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
  v1::RegisterClientResponse registered;
  ExpectReason(admin->RegisterClient(Context().get(), reg, &registered),
               grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
}

}  // namespace
}  // namespace dcr::testing
