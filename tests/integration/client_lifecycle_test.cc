// Register, read, update and delete through real gRPC and real HTTP, and every
// metadata name of contract §6 surviving register -> get intact.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include "gateway_test_env.h"
#include "nlohmann/json.hpp"
#include "service/metadata/metadata_json.h"

namespace dcr::testing {
namespace {

// Every metadata name of contract §6 with a realistic value, plus custom and
// language-tagged names. `jwks` and `jwks_uri` exclude each other, so the
// document comes in two flavours.
nlohmann::json EveryNameDocument(bool with_jwks) {
  nlohmann::json doc = nlohmann::json::parse(R"({
    "redirect_uris": ["https://client.example.com/cb", "https://client.example.com/cb2"],
    "response_types": ["code"],
    "grant_types": ["authorization_code", "refresh_token", "urn:openid:params:grant-type:ciba"],
    "application_type": "web",
    "contacts": ["ops@example.com", "security@example.com"],
    "client_name": "Every Name Client",
    "logo_uri": "https://client.example.com/logo.png",
    "client_uri": "https://client.example.com/",
    "policy_uri": "https://client.example.com/policy",
    "tos_uri": "https://client.example.com/tos",
    "sector_identifier_uri": "https://client.example.com/sector.json",
    "subject_type": "pairwise",
    "id_token_signed_response_alg": "ES256",
    "id_token_encrypted_response_alg": "RSA-OAEP-256",
    "id_token_encrypted_response_enc": "A128GCM",
    "userinfo_signed_response_alg": "PS256",
    "userinfo_encrypted_response_alg": "RSA-OAEP-256",
    "userinfo_encrypted_response_enc": "A256GCM",
    "request_object_signing_alg": "ES256",
    "request_object_encryption_alg": "RSA-OAEP-256",
    "request_object_encryption_enc": "A128CBC-HS256",
    "token_endpoint_auth_signing_alg": "ES256",
    "default_max_age": 0,
    "require_auth_time": false,
    "default_acr_values": ["urn:mace:incommon:iap:silver"],
    "initiate_login_uri": "https://client.example.com/login",
    "request_uris": ["https://client.example.com/request.jwt"],
    "scope": "openid profile email",
    "software_id": "4NRB1-0XZABZI9E6-5SM3R",
    "software_version": "2.1.0",
    "software_statement": "eyJhbGciOiJSUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6IjROUkIxIn0.c2ln",
    "tls_client_auth_subject_dn": "CN=client,O=Example",
    "tls_client_auth_san_dns": "client.example.com",
    "tls_client_auth_san_uri": "https://client.example.com/id",
    "tls_client_auth_san_ip": "192.0.2.10",
    "tls_client_auth_san_email": "client@example.com",
    "tls_client_certificate_bound_access_tokens": true,
    "require_pushed_authorization_requests": true,
    "require_signed_request_object": false,
    "authorization_signed_response_alg": "ES256",
    "authorization_encrypted_response_alg": "RSA-OAEP-256",
    "authorization_encrypted_response_enc": "A128GCM",
    "backchannel_token_delivery_mode": "ping",
    "backchannel_client_notification_endpoint": "https://client.example.com/ciba",
    "backchannel_authentication_request_signing_alg": "ES256",
    "backchannel_user_code_parameter": true,
    "authorization_details_types": ["payment_initiation", "account_information"],
    "digest_algorithm": "SHA-256",
    "organization_name": "Example Org",
    "signed_jwks_uri": "https://client.example.com/signed-jwks.jwt",
    "client_registration_types": ["explicit"],
    "credential_offer_endpoint": "https://wallet.example.com/offer",
    "use_mtls_endpoint_aliases": true,
    "response_modes": ["query", "jwt"],
    "spiffe_id": "spiffe://example.org/ns/apps/sa/client",
    "spiffe_bundle_endpoint": "https://client.example.com/bundle",
    "backchannel_logout_uri": "https://client.example.com/logout",
    "backchannel_logout_session_required": true,
    "x_tenant": "blue",
    "x_limits": {"rps": 5, "burst": [1, 2.5], "strict": false, "note": null},
    "x_flags": [true, "two", 3],
    "x_ratio": 0.25,
    "x_count": 7,
    "client_name#ja": "すべての名前のクライアント",
    "logo_uri#de": "https://client.example.com/de/logo.png",
    "client_uri#it": "https://client.example.com/it/",
    "policy_uri#es": "https://client.example.com/es/policy",
    "tos_uri#fr": "https://client.example.com/fr/tos"
  })");
  if (with_jwks) {
    doc["token_endpoint_auth_method"] = "private_key_jwt";
    doc["jwks"] = nlohmann::json::parse(
        R"({"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig",)"
        R"("x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
        R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})");
  } else {
    doc["token_endpoint_auth_method"] = "client_secret_basic";
    doc["jwks_uri"] = "https://client.example.com/jwks.json";
  }
  return doc;
}

// Every input name is present in `got` with the same value and JSON type.
void ExpectEveryNameIntact(const nlohmann::json& sent, const std::string& response_content) {
  const nlohmann::json got = nlohmann::json::parse(response_content, nullptr, false);
  ASSERT_TRUE(got.is_object()) << response_content;
  for (const auto& [name, value] : sent.items()) {
    SCOPED_TRACE(name);
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << name << " was dropped";
    EXPECT_EQ(it->type_name(), std::string(value.type_name()));
    EXPECT_EQ(*it, value);
    if (value.is_number()) {
      EXPECT_EQ(it->is_number_integer(), value.is_number_integer()) << "integer became float";
    }
  }
}

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = GatewayTestEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
  }

  v1::GetClientResponse Get(const v1::ClientInformation& client) {
    v1::GetClientRequest request;
    request.set_client_id(client.client_id());
    request.set_registration_access_token(client.registration_access_token());
    v1::GetClientResponse response;
    grpc::Status status = env_->stub().GetClient(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::unique_ptr<GatewayTestEnv> env_;
};

TEST_F(LifecycleTest, RegisterGetUpdateDeleteWithTypedMetadata) {
  v1::RegisterClientRequest request;
  v1::ClientMetadata& metadata = *request.mutable_metadata();
  metadata.add_redirect_uris("https://portal.example.com/callback");
  metadata.set_client_name("Developer Portal");
  metadata.set_application_type(v1::APPLICATION_TYPE_WEB);
  metadata.set_require_auth_time(false);
  v1::RegisterClientResponse registered;
  grpc::Status status = env_->stub().RegisterClient(Context().get(), request, &registered);
  ASSERT_TRUE(status.ok()) << status.error_message();

  EXPECT_EQ(registered.action(), v1::ACTION_CREATED);
  EXPECT_EQ(registered.http_status(), 201);
  EXPECT_EQ(registered.result_code(), "A202001");
  const v1::ClientInformation& client = registered.client();
  EXPECT_FALSE(client.client_id().empty());
  EXPECT_GE(client.client_secret().size(), 32u);
  EXPECT_GE(client.registration_access_token().size(), 32u);
  EXPECT_EQ(client.registration_client_uri(),
            std::string(emulator::kDefaultRegistrationManagementEndpoint) + "/" +
                client.client_id());
  EXPECT_NEAR(client.client_id_issued_at().seconds(), absl::ToUnixSeconds(absl::Now()), 60);
  EXPECT_FALSE(client.has_client_secret_expires_at());  // 0: never expires.
  EXPECT_EQ(client.metadata().client_name(), "Developer Portal");
  EXPECT_TRUE(client.metadata().has_require_auth_time());
  EXPECT_FALSE(client.metadata().require_auth_time());
  // Authlete's defaults come back typed.
  EXPECT_EQ(client.metadata().token_endpoint_auth_method(), "client_secret_basic");
  EXPECT_EQ(client.metadata().subject_type(), v1::SUBJECT_TYPE_PUBLIC);
  // The verbatim responseContent holds the same client.
  const auto content = nlohmann::json::parse(registered.response_content());
  EXPECT_EQ(content["client_id"], client.client_id());

  const v1::GetClientResponse got = Get(client);
  EXPECT_EQ(got.action(), v1::ACTION_OK);
  EXPECT_EQ(got.http_status(), 200);
  EXPECT_EQ(got.result_code(), "A217001");
  EXPECT_EQ(got.client().client_id(), client.client_id());
  EXPECT_EQ(got.client().metadata().client_name(), "Developer Portal");

  v1::UpdateClientRequest update;
  update.set_client_id(client.client_id());
  update.set_registration_access_token(client.registration_access_token());
  update.mutable_metadata()->add_redirect_uris("https://portal.example.com/callback2");
  update.mutable_metadata()->set_client_name("Developer Portal v2");
  v1::UpdateClientResponse updated;
  status = env_->stub().UpdateClient(Context().get(), update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.action(), v1::ACTION_UPDATED);
  EXPECT_EQ(updated.http_status(), 200);
  EXPECT_EQ(updated.result_code(), "A213001");
  EXPECT_EQ(updated.client().metadata().client_name(), "Developer Portal v2");
  EXPECT_THAT(updated.client().metadata().redirect_uris(),
              ::testing::ElementsAre("https://portal.example.com/callback2"));
  EXPECT_EQ(Get(client).client().metadata().client_name(), "Developer Portal v2");

  v1::DeleteClientRequest remove;
  remove.set_client_id(client.client_id());
  remove.set_registration_access_token(client.registration_access_token());
  v1::DeleteClientResponse deleted;
  status = env_->stub().DeleteClient(Context().get(), remove, &deleted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(deleted.action(), v1::ACTION_DELETED);
  EXPECT_EQ(deleted.http_status(), 204);
  EXPECT_EQ(deleted.result_code(), "A216001");

  // Gone: reading it again is the end client's UNAUTHORIZED.
  v1::GetClientRequest again;
  again.set_client_id(client.client_id());
  again.set_registration_access_token(client.registration_access_token());
  v1::GetClientResponse ignored;
  status = env_->stub().GetClient(Context().get(), again, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

class EveryNameTest : public LifecycleTest, public ::testing::WithParamInterface<bool> {};

TEST_P(EveryNameTest, SurvivesRegisterAndGetThroughRawJson) {
  const nlohmann::json doc = EveryNameDocument(GetParam());
  v1::RegisterClientRequest request;
  request.set_metadata_json(doc.dump());
  v1::RegisterClientResponse registered;
  grpc::Status status = env_->stub().RegisterClient(Context().get(), request, &registered);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectEveryNameIntact(doc, registered.response_content());
  ExpectEveryNameIntact(doc, Get(registered.client()).response_content());
}

TEST_P(EveryNameTest, SurvivesRegisterAndGetThroughTypedMetadata) {
  const nlohmann::json doc = EveryNameDocument(GetParam());
  absl::StatusOr<v1::ClientMetadata> typed = metadata::MetadataFromJson(doc);
  ASSERT_TRUE(typed.ok()) << typed.status();
  // Only the custom and language-tagged names need the open map; every name
  // of §6 has its typed field.
  std::vector<std::string> extra;
  for (const auto& [name, value] : typed->additional_metadata()) extra.push_back(name);
  EXPECT_THAT(extra, ::testing::UnorderedElementsAre(
                         "x_tenant", "x_limits", "x_flags", "x_ratio", "x_count",
                         "client_name#ja", "logo_uri#de", "client_uri#it", "policy_uri#es",
                         "tos_uri#fr"));

  v1::RegisterClientRequest request;
  *request.mutable_metadata() = *typed;
  v1::RegisterClientResponse registered;
  grpc::Status status = env_->stub().RegisterClient(Context().get(), request, &registered);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The wire document Authlete stored equals the original, name by name.
  ExpectEveryNameIntact(doc, registered.response_content());
  const v1::GetClientResponse got = Get(registered.client());
  ExpectEveryNameIntact(doc, got.response_content());
  // And the typed metadata read back equals what was sent.
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got.client().metadata(),
                                                                 *typed))
      << "sent:\n"
      << typed->DebugString() << "\nread back:\n"
      << got.client().metadata().DebugString();
}

INSTANTIATE_TEST_SUITE_P(JwksAndJwksUri, EveryNameTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "jwks" : "jwks_uri"; });

TEST_F(LifecycleTest, ServiceOverrideReachesTheAllowedService) {
  auto env = GatewayTestEnv::Start(TweakGateway([](config::GatewayConfig& config) {
    config.authlete.credential = kOrganizationToken;
    config.allowed_service_ids = {kSecondServiceId};
  }));
  ASSERT_TRUE(env.ok()) << env.status();
  v1::RegisterClientRequest request;
  request.set_service_id(kSecondServiceId);
  request.set_metadata_json(R"({"redirect_uris":["https://second.example.com/cb"]})");
  v1::RegisterClientResponse registered;
  grpc::Status status = (*env)->stub().RegisterClient(Context().get(), request, &registered);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const auto requests = (*env)->emulator().recorded_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target,
            std::string("/api/") + kSecondServiceId + "/client/registration");
}

}  // namespace
}  // namespace dcr::testing
