// End-to-end tests of the eight DCR paths over HTTP (libcurl), v2 and v3.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "tests/emulator/tests/test_util.h"

namespace dcr::emulator {
namespace {

using ::dcr::emulator::testing::Basic;
using ::dcr::emulator::testing::Bearer;
using ::dcr::emulator::testing::CallV2;
using ::dcr::emulator::testing::CallV3;
using ::dcr::emulator::testing::ClientIdOf;
using ::dcr::emulator::testing::DcrCall;
using ::dcr::emulator::testing::HttpResult;
using ::dcr::emulator::testing::ManageParams;
using ::dcr::emulator::testing::MinimalMetadata;
using ::dcr::emulator::testing::RegisterParams;
using ::dcr::emulator::testing::Request;
using ::dcr::emulator::testing::TestClient;
using ::dcr::emulator::testing::TokenOf;
using ::dcr::emulator::testing::V2Url;
using ::dcr::emulator::testing::V3Url;
using ::nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kLegacyId[] = "11111111111111";
constexpr char kLegacyToken[] = "legacy-token";
constexpr char kLegacySecret[] = "legacy-secret";
constexpr char kDisabledId[] = "22222222222222";
constexpr char kDisabledToken[] = "disabled-token";
constexpr char kRotatingId[] = "33333333333333";
constexpr char kRotatingToken[] = "rotating-token";
constexpr char kOrgToken[] = "org-token";

class DcrApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    ServiceConfig legacy;
    legacy.service_id = kLegacyId;
    legacy.service_token = kLegacyToken;
    legacy.api_secret = kLegacySecret;
    legacy.registration_management_endpoint = "https://legacy.example.com/dcr/";
    legacy.unauthorized_on_client_config_supported = false;  // Authlete's default
    legacy.dcr_duplicate_software_id_blocked = true;
    legacy.dcr_scope_used_as_requestable = true;
    legacy.supported_custom_client_metadata = {"custom_a", "custom_obj", "custom_num"};
    ServiceConfig disabled = DefaultServiceConfig();
    disabled.service_id = kDisabledId;
    disabled.service_token = kDisabledToken;
    disabled.dynamic_registration_supported = false;
    ServiceConfig rotating = DefaultServiceConfig();
    rotating.service_id = kRotatingId;
    rotating.service_token = kRotatingToken;
    rotating.rotate_registration_access_token_on_update = true;
    options.services.push_back(legacy);
    options.services.push_back(disabled);
    options.services.push_back(rotating);
    options.organization_token = kOrgToken;
    auto emulator = Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
  }

  const Emulator& e() const { return *emulator_; }

  DcrCall Register(const json& metadata = MinimalMetadata()) {
    return CallV3(e(), Operation::kRegister, RegisterParams(metadata));
  }

  std::unique_ptr<Emulator> emulator_;
};

void ExpectRefusal(const HttpResult& r, long status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  json body = r.Json();
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body.value("resultCode", ""), code) << r.body;
  EXPECT_THAT(body.value("resultMessage", ""), HasSubstr("[" + code + "]"));
  EXPECT_FALSE(body.contains("action")) << "a refusal is not a DCR action: " << r.body;
  EXPECT_THAT(r.Header("Content-Type"), HasSubstr("application/json"));
}

// A processed call whose responseContent is an RFC 7591 error object.
void ExpectDcrError(const DcrCall& c, const std::string& action, const std::string& code,
                    const std::string& error) {
  EXPECT_EQ(c.http.status, 200) << c.http.body;
  EXPECT_EQ(c.action(), action) << c.http.body;
  EXPECT_EQ(c.result_code(), code) << c.http.body;
  EXPECT_EQ(c.body.value("resultMessage", "").rfind("[" + code + "] ", 0), 0u);
  EXPECT_EQ(c.error(), error) << c.http.body;
  EXPECT_EQ(c.content.value("error_description", "").rfind("[" + code + "] ", 0), 0u);
  EXPECT_EQ(c.content.value("error_uri", ""), "https://docs.authlete.com/#" + code);
  EXPECT_FALSE(c.body.contains("client"));
}

TEST_F(DcrApiTest, FreshEmulatorSawNoRequest) {
  Stats s = e().stats();
  EXPECT_EQ(s.total, 0);
  EXPECT_EQ(s.clients_stored, 0);
}

TEST_F(DcrApiTest, RegisterV3Created) {
  int64_t before = absl::ToUnixSeconds(absl::Now());
  DcrCall c = Register();
  ASSERT_EQ(c.http.status, 200) << c.http.body;
  EXPECT_EQ(c.action(), "CREATED");
  EXPECT_EQ(c.result_code(), "A202001");
  std::string id = ClientIdOf(c);
  EXPECT_THAT(id, MatchesRegex("[1-9][0-9]{13}"));
  EXPECT_EQ(c.body["resultMessage"], "[A202001] The client was created with id " + id + ".");
  const json& info = c.content;
  ASSERT_TRUE(info.is_object()) << c.http.body;
  EXPECT_TRUE(info["client_id"].is_string());
  // >= 256 bits of base64url.
  EXPECT_THAT(info.value("client_secret", ""), MatchesRegex("[A-Za-z0-9_-]{43,}"));
  EXPECT_THAT(TokenOf(c), MatchesRegex("[A-Za-z0-9_-]{43,}"));
  EXPECT_NE(info["client_secret"], info["registration_access_token"]);
  EXPECT_EQ(info["client_secret_expires_at"], 0);
  EXPECT_GE(info["client_id_issued_at"].get<int64_t>(), before);
  EXPECT_LE(info["client_id_issued_at"].get<int64_t>(), before + 5);
  EXPECT_EQ(info["registration_client_uri"], std::string(kDefaultRegistrationManagementEndpoint) + "/" + id);
  // Authlete's defaults (contract §5).
  EXPECT_EQ(info["token_endpoint_auth_method"], "client_secret_basic");
  EXPECT_EQ(info["subject_type"], "public");
  EXPECT_EQ(info["id_token_signed_response_alg"], "RS256");
  EXPECT_EQ(info["default_max_age"], 0);
  EXPECT_EQ(info["require_pushed_authorization_requests"], false);
  EXPECT_EQ(info["require_signed_request_object"], false);
  EXPECT_EQ(info["tls_client_certificate_bound_access_tokens"], false);
  EXPECT_EQ(info["backchannel_user_code_parameter"], false);
  EXPECT_EQ(info["grant_types"], json({"authorization_code"}));
  EXPECT_EQ(info["response_types"], json({"code"}));
  EXPECT_EQ(info["application_type"], "web");
  EXPECT_EQ(info["client_name"], "My Dynamic Client");
  EXPECT_EQ(info["redirect_uris"], json({"https://client.example.org/cb"}));

  const json& client = c.body["client"];
  ASSERT_TRUE(client.is_object());
  EXPECT_TRUE(client["clientId"].is_number_integer());
  EXPECT_EQ(std::to_string(client["clientId"].get<int64_t>()), id);
  EXPECT_EQ(client["clientName"], "My Dynamic Client");
  EXPECT_EQ(client["clientType"], "CONFIDENTIAL");
  EXPECT_EQ(client["applicationType"], "WEB");
  EXPECT_EQ(client["tokenAuthMethod"], "CLIENT_SECRET_BASIC");
  EXPECT_EQ(client["grantTypes"], json({"AUTHORIZATION_CODE"}));
  EXPECT_EQ(client["responseTypes"], json({"CODE"}));
  EXPECT_EQ(client["redirectUris"], json({"https://client.example.org/cb"}));
  EXPECT_EQ(client["dynamicallyRegistered"], true);
  EXPECT_EQ(client["clientSecret"], info["client_secret"]);
  int64_t created = client["createdAt"].get<int64_t>();
  EXPECT_EQ(created / 1000, info["client_id_issued_at"].get<int64_t>());  // ms vs s
  EXPECT_EQ(client["modifiedAt"], created);
  EXPECT_EQ(e().stats().clients_stored, 1);
  EXPECT_EQ(e().stats().register_requests, 1);
}

TEST_F(DcrApiTest, ClientIdsAndSecretsAreUnique) {
  std::set<std::string> ids, secrets, tokens;
  for (int i = 0; i < 20; ++i) {
    DcrCall c = Register();
    ASSERT_EQ(c.action(), "CREATED");
    ids.insert(ClientIdOf(c));
    secrets.insert(c.content["client_secret"].get<std::string>());
    tokens.insert(TokenOf(c));
  }
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(secrets.size(), 20u);
  EXPECT_EQ(tokens.size(), 20u);
}

TEST_F(DcrApiTest, RegisterV2Created) {
  DcrCall c = CallV2(e(), Operation::kRegister, RegisterParams(MinimalMetadata()));
  ASSERT_EQ(c.action(), "CREATED") << c.http.body;
  EXPECT_EQ(c.result_code(), "A202001");
  // The same client is reachable through v3.
  DcrCall got = CallV3(e(), Operation::kGet, ManageParams(c));
  EXPECT_EQ(got.action(), "OK");
}

TEST_F(DcrApiTest, RegisterV2AcceptsFormEncoding) {
  char* escaped = curl_easy_escape(nullptr, MinimalMetadata().dump().c_str(), 0);
  std::string form = std::string("json=") + escaped;
  curl_free(escaped);
  HttpResult r = Request("POST", V2Url(e(), Operation::kRegister),
                         {Basic(kDefaultServiceId, kDefaultApiSecret),
                          "Content-Type: application/x-www-form-urlencoded"},
                         form);
  DcrCall c = testing::ToDcrCall(r);
  EXPECT_EQ(c.action(), "CREATED") << r.body;
}

TEST_F(DcrApiTest, PublicClientHasNoSecret) {
  json md = MinimalMetadata();
  md["token_endpoint_auth_method"] = "none";
  DcrCall c = Register(md);
  ASSERT_EQ(c.action(), "CREATED") << c.http.body;
  EXPECT_FALSE(c.content.contains("client_secret"));
  EXPECT_FALSE(c.content.contains("client_secret_expires_at"));
  EXPECT_EQ(c.body["client"]["clientType"], "PUBLIC");
  EXPECT_FALSE(c.body["client"].contains("clientSecret"));
  EXPECT_FALSE(TokenOf(c).empty());
}

TEST_F(DcrApiTest, GetV3AndV2ReturnTheClient) {
  DcrCall reg = Register();
  for (int version : {3, 2}) {
    DcrCall c = version == 3 ? CallV3(e(), Operation::kGet, ManageParams(reg))
                             : CallV2(e(), Operation::kGet, ManageParams(reg));
    ASSERT_EQ(c.action(), "OK") << c.http.body;
    EXPECT_EQ(c.result_code(), "A217001");
    EXPECT_EQ(c.content, reg.content) << "v" << version;
    EXPECT_EQ(c.body["client"], reg.body["client"]);
  }
}

TEST_F(DcrApiTest, UpdateIsAFullReplacement) {
  json md = MinimalMetadata();
  md["contacts"] = {"ops@example.org"};
  md["logo_uri"] = "https://client.example.org/logo.png";
  DcrCall reg = Register(md);
  ASSERT_EQ(reg.action(), "CREATED");
  json replacement = {{"redirect_uris", {"https://client.example.org/new"}},
                      {"client_name", "Renamed"},
                      {"client_id", ClientIdOf(reg)}};  // allowed when it matches
  json params = ManageParams(reg);
  params["json"] = replacement.dump();
  for (int version : {3, 2}) {
    DcrCall up = version == 3 ? CallV3(e(), Operation::kUpdate, params)
                              : CallV2(e(), Operation::kUpdate, params);
    ASSERT_EQ(up.action(), "UPDATED") << up.http.body;
    EXPECT_EQ(up.result_code(), "A213001");
    EXPECT_EQ(up.content["client_name"], "Renamed");
    EXPECT_EQ(up.content["redirect_uris"], json({"https://client.example.org/new"}));
    EXPECT_FALSE(up.content.contains("contacts"));
    EXPECT_FALSE(up.content.contains("logo_uri"));
    EXPECT_EQ(up.content["client_id"], reg.content["client_id"]);
    EXPECT_EQ(up.content["client_secret"], reg.content["client_secret"]);
    EXPECT_EQ(TokenOf(up), TokenOf(reg));  // no rotation by default
    EXPECT_EQ(up.content["client_id_issued_at"], reg.content["client_id_issued_at"]);
    EXPECT_GE(up.body["client"]["modifiedAt"].get<int64_t>(),
              up.body["client"]["createdAt"].get<int64_t>());
  }
  DcrCall got = CallV3(e(), Operation::kGet, ManageParams(reg));
  EXPECT_EQ(got.content["client_name"], "Renamed");
  EXPECT_FALSE(got.content.contains("contacts"));
}

TEST_F(DcrApiTest, UpdateValidatesLikeRegister) {
  DcrCall reg = Register();
  json params = ManageParams(reg);
  params["json"] = json{{"redirect_uris", {"relative/cb"}}}.dump();
  ExpectDcrError(CallV3(e(), Operation::kUpdate, params), "BAD_REQUEST", "A213204",
                 "invalid_redirect_uri");
  params["json"] = "[1,2]";
  ExpectDcrError(CallV3(e(), Operation::kUpdate, params), "BAD_REQUEST", "A213201",
                 "invalid_client_metadata");
  // Unchanged.
  EXPECT_EQ(CallV3(e(), Operation::kGet, ManageParams(reg)).content, reg.content);
}

TEST_F(DcrApiTest, UpdateRejectsAnotherClientId) {
  DcrCall reg = Register();
  json md = MinimalMetadata();
  md["client_id"] = "12345678901234";
  json params = ManageParams(reg);
  params["json"] = md.dump();
  ExpectDcrError(CallV3(e(), Operation::kUpdate, params), "BAD_REQUEST", "A213222",
                 "invalid_client_metadata");
  md["client_id"] = reg.content["client_id"];
  md["client_secret"] = "not-the-secret";
  params["json"] = md.dump();
  ExpectDcrError(CallV3(e(), Operation::kUpdate, params), "BAD_REQUEST", "A213223",
                 "invalid_client_metadata");
  md["client_secret"] = reg.content["client_secret"];
  params["json"] = md.dump();
  EXPECT_EQ(CallV3(e(), Operation::kUpdate, params).action(), "UPDATED");
}

TEST_F(DcrApiTest, UpdateToConfidentialIssuesASecret) {
  json md = MinimalMetadata();
  md["token_endpoint_auth_method"] = "none";
  DcrCall reg = Register(md);
  json params = ManageParams(reg);
  params["json"] = MinimalMetadata().dump();
  DcrCall up = CallV3(e(), Operation::kUpdate, params);
  ASSERT_EQ(up.action(), "UPDATED");
  EXPECT_THAT(up.content.value("client_secret", ""), MatchesRegex("[A-Za-z0-9_-]{43,}"));
  EXPECT_EQ(up.body["client"]["clientType"], "CONFIDENTIAL");
}

TEST_F(DcrApiTest, RotationOptionIssuesANewToken) {
  DcrCall reg = CallV3(e(), Operation::kRegister, RegisterParams(MinimalMetadata()),
                       kRotatingToken, kRotatingId);
  ASSERT_EQ(reg.action(), "CREATED");
  json params = ManageParams(reg);
  params["json"] = MinimalMetadata().dump();
  DcrCall up = CallV3(e(), Operation::kUpdate, params, kRotatingToken, kRotatingId);
  ASSERT_EQ(up.action(), "UPDATED");
  std::string new_token = TokenOf(up);
  EXPECT_NE(new_token, TokenOf(reg));
  EXPECT_THAT(new_token, MatchesRegex("[A-Za-z0-9_-]{43,}"));
  EXPECT_EQ(up.content["client_secret"], reg.content["client_secret"]);
  // The old token is dead, the new one works.
  EXPECT_EQ(CallV3(e(), Operation::kGet, ManageParams(reg), kRotatingToken, kRotatingId).action(),
            "UNAUTHORIZED");
  DcrCall got = CallV3(e(), Operation::kGet, {{"clientId", ClientIdOf(reg)}, {"token", new_token}},
                       kRotatingToken, kRotatingId);
  EXPECT_EQ(got.action(), "OK");
  EXPECT_EQ(TokenOf(got), new_token);
}

TEST_F(DcrApiTest, DeleteV3ThenTheClientIsGone) {
  DcrCall reg = Register();
  DcrCall del = CallV3(e(), Operation::kDelete, ManageParams(reg));
  ASSERT_EQ(del.action(), "DELETED") << del.http.body;
  EXPECT_EQ(del.result_code(), "A216001");
  EXPECT_FALSE(del.body.contains("responseContent"));
  EXPECT_EQ(e().stats().clients_stored, 0);
  ExpectDcrError(CallV3(e(), Operation::kDelete, ManageParams(reg)), "UNAUTHORIZED", "A216301",
                 "invalid_token");
  ExpectDcrError(CallV3(e(), Operation::kGet, ManageParams(reg)), "UNAUTHORIZED", "A217301",
                 "invalid_token");
  json params = ManageParams(reg);
  params["json"] = MinimalMetadata().dump();
  ExpectDcrError(CallV3(e(), Operation::kUpdate, params), "UNAUTHORIZED", "A213301",
                 "invalid_token");
}

TEST_F(DcrApiTest, DeleteV2) {
  DcrCall reg = CallV2(e(), Operation::kRegister, RegisterParams(MinimalMetadata()));
  EXPECT_EQ(CallV2(e(), Operation::kDelete, ManageParams(reg)).action(), "DELETED");
  EXPECT_EQ(CallV2(e(), Operation::kDelete, ManageParams(reg)).action(), "UNAUTHORIZED");
}

TEST_F(DcrApiTest, BadRegistrationAccessTokenIsUnauthorized) {
  DcrCall reg = Register();
  std::string id = ClientIdOf(reg);
  const json cases[] = {
      {{"clientId", id}, {"token", TokenOf(reg) + "x"}},
      {{"clientId", id}, {"token", ""}},
      {{"clientId", "12345678901234"}, {"token", TokenOf(reg)}},
      {{"clientId", "not-a-number"}, {"token", TokenOf(reg)}},
      {{"clientId", "-5"}, {"token", TokenOf(reg)}},
      {{"clientId", "99999999999999999999999"}, {"token", TokenOf(reg)}},
  };
  for (const json& params : cases) {
    ExpectDcrError(CallV3(e(), Operation::kGet, params), "UNAUTHORIZED", "A217301",
                   "invalid_token");
    ExpectDcrError(CallV2(e(), Operation::kDelete, params), "UNAUTHORIZED", "A216301",
                   "invalid_token");
  }
  // A client of another service is unknown there, even with its own token.
  ExpectDcrError(CallV3(e(), Operation::kGet, ManageParams(reg), kRotatingToken, kRotatingId),
                 "UNAUTHORIZED", "A217301", "invalid_token");
  EXPECT_EQ(e().stats().clients_stored, 1);
}

TEST_F(DcrApiTest, LegacyServiceAnswersBadRequestForBadToken) {
  DcrCall reg = CallV3(e(), Operation::kRegister, RegisterParams(MinimalMetadata()), kLegacyToken,
                       kLegacyId);
  ASSERT_EQ(reg.action(), "CREATED");
  json bad = {{"clientId", ClientIdOf(reg)}, {"token", "wrong"}};
  ExpectDcrError(CallV3(e(), Operation::kGet, bad, kLegacyToken, kLegacyId), "BAD_REQUEST",
                 "A217301", "invalid_token");
  ExpectDcrError(CallV2(e(), Operation::kDelete, bad, kLegacyId, kLegacySecret), "BAD_REQUEST",
                 "A216301", "invalid_token");
  EXPECT_EQ(CallV3(e(), Operation::kGet, ManageParams(reg), kLegacyToken, kLegacyId).action(), "OK");
  EXPECT_EQ(reg.content["registration_client_uri"],
            "https://legacy.example.com/dcr/" + ClientIdOf(reg));
}

TEST_F(DcrApiTest, DuplicateSoftwareIdBlockedOnlyWhenConfigured) {
  json md = MinimalMetadata();
  md["software_id"] = "4NRB1-0XZABZI9E6-5SM3R";
  md["software_version"] = "2.1";
  auto reg_legacy = [&](const json& m) {
    return CallV3(e(), Operation::kRegister, RegisterParams(m), kLegacyToken, kLegacyId);
  };
  DcrCall first = reg_legacy(md);
  ASSERT_EQ(first.action(), "CREATED");
  EXPECT_EQ(first.body["client"]["softwareId"], "4NRB1-0XZABZI9E6-5SM3R");
  EXPECT_EQ(first.body["client"]["softwareVersion"], "2.1");
  ExpectDcrError(reg_legacy(md), "BAD_REQUEST", "A202224", "invalid_client_metadata");
  // Another software id is fine; updating it to the taken one is not.
  json other = MinimalMetadata();
  other["software_id"] = "other";
  DcrCall second = reg_legacy(other);
  ASSERT_EQ(second.action(), "CREATED");
  json params = ManageParams(second);
  params["json"] = md.dump();
  ExpectDcrError(CallV3(e(), Operation::kUpdate, params, kLegacyToken, kLegacyId), "BAD_REQUEST",
                 "A213224", "invalid_client_metadata");
  // Re-sending its own software id on update is fine.
  params = ManageParams(first);
  params["json"] = md.dump();
  EXPECT_EQ(CallV3(e(), Operation::kUpdate, params, kLegacyToken, kLegacyId).action(), "UPDATED");
  // The default service does not block.
  EXPECT_EQ(Register(md).action(), "CREATED");
  EXPECT_EQ(Register(md).action(), "CREATED");
}

TEST_F(DcrApiTest, DisabledDcrAnswersBadRequest) {
  DcrCall c = CallV3(e(), Operation::kRegister, RegisterParams(MinimalMetadata()), kDisabledToken,
                     kDisabledId);
  ExpectDcrError(c, "BAD_REQUEST", "A202225", "invalid_client_metadata");
  ExpectDcrError(CallV3(e(), Operation::kGet, {{"clientId", "12345678901234"}, {"token", "t"}},
                        kDisabledToken, kDisabledId),
                 "BAD_REQUEST", "A217225", "invalid_client_metadata");
  EXPECT_EQ(e().stats().clients_stored, 0);
}

TEST_F(DcrApiTest, CustomMetadataKeptOnlyWhenListed) {
  json md = MinimalMetadata();
  md["custom_a"] = "text";
  md["custom_obj"] = {{"nested", {1, 2, 3}}, {"flag", true}};
  md["custom_num"] = 42.5;
  md["unlisted"] = "dropped";
  DcrCall kept = CallV3(e(), Operation::kRegister, RegisterParams(md), kLegacyToken, kLegacyId);
  ASSERT_EQ(kept.action(), "CREATED");
  EXPECT_EQ(kept.content["custom_a"], "text");
  EXPECT_EQ(kept.content["custom_obj"], md["custom_obj"]);
  EXPECT_EQ(kept.content["custom_num"], 42.5);
  EXPECT_FALSE(kept.content.contains("unlisted"));
  json custom = json::parse(kept.body["client"]["customMetadata"].get<std::string>());
  EXPECT_EQ(custom, json({{"custom_a", "text"}, {"custom_obj", md["custom_obj"]}, {"custom_num", 42.5}}));

  DcrCall dropped = Register(md);
  ASSERT_EQ(dropped.action(), "CREATED");
  for (const char* name : {"custom_a", "custom_obj", "custom_num", "unlisted"}) {
    EXPECT_FALSE(dropped.content.contains(name)) << name;
  }
  EXPECT_FALSE(dropped.body["client"].contains("customMetadata"));
}

TEST_F(DcrApiTest, LanguageTaggedNamesEchoed) {
  json md = MinimalMetadata();
  md["client_name#ja"] = "クライアント";
  md["client_name#en-US"] = "Client";
  md["logo_uri#fr"] = "https://client.example.org/logo-fr.png";
  md["tos_uri#de"] = "https://client.example.org/agb";
  md["policy_uri#ja-Jpan-JP"] = "https://client.example.org/privacy-ja";
  md["client_uri#it"] = "https://client.example.org/it";
  md["contacts#ja"] = {"not taggable"};  // not a taggable name: dropped
  md["client_name#"] = "empty tag";       // invalid tag: dropped
  DcrCall c = Register(md);
  ASSERT_EQ(c.action(), "CREATED") << c.http.body;
  for (const char* name : {"client_name#ja", "client_name#en-US", "logo_uri#fr", "tos_uri#de",
                           "policy_uri#ja-Jpan-JP", "client_uri#it"}) {
    EXPECT_EQ(c.content[name], md[name]) << name;
  }
  EXPECT_FALSE(c.content.contains("contacts#ja"));
  EXPECT_FALSE(c.content.contains("client_name#"));
  EXPECT_THAT(c.body["client"]["clientNames"],
              ::testing::Contains(json({{"tag", "ja"}, {"value", "クライアント"}})));
  EXPECT_EQ(c.body["client"]["logoUris"][0]["tag"], "fr");
  // A badly typed tagged value is a type error like its base name.
  json bad = MinimalMetadata();
  bad["client_name#ja"] = 7;
  ExpectDcrError(Register(bad), "BAD_REQUEST", "A202202", "invalid_client_metadata");
}

TEST_F(DcrApiTest, EveryKnownNameEchoedWithItsType) {
  json md = {
      {"redirect_uris", {"https://client.example.org/cb", "com.example.app:/cb"}},
      {"response_types", {"code", "code id_token"}},
      {"grant_types", {"authorization_code", "implicit", "refresh_token", "client_credentials",
                       "urn:openid:params:grant-type:ciba"}},
      {"application_type", "native"},
      {"contacts", {"a@example.org", "b@example.org"}},
      {"client_name", "Everything"},
      {"logo_uri", "https://client.example.org/logo.png"},
      {"client_uri", "https://client.example.org/"},
      {"policy_uri", "https://client.example.org/policy"},
      {"tos_uri", "https://client.example.org/tos"},
      {"jwks", {{"keys", {{{"kty", "EC"}, {"crv", "P-256"}, {"x", "f83"}, {"y", "x_F"}}}}}},
      {"sector_identifier_uri", "https://client.example.org/sector.json"},
      {"subject_type", "pairwise"},
      {"id_token_signed_response_alg", "ES256"},
      {"id_token_encrypted_response_alg", "RSA-OAEP"},
      {"id_token_encrypted_response_enc", "A128GCM"},
      {"userinfo_signed_response_alg", "PS256"},
      {"userinfo_encrypted_response_alg", "RSA-OAEP-256"},
      {"userinfo_encrypted_response_enc", "A256GCM"},
      {"request_object_signing_alg", "ES256"},
      {"request_object_encryption_alg", "RSA-OAEP"},
      {"request_object_encryption_enc", "A128CBC-HS256"},
      {"token_endpoint_auth_method", "private_key_jwt"},
      {"token_endpoint_auth_signing_alg", "ES256"},
      {"default_max_age", 3600},
      {"require_auth_time", true},
      {"default_acr_values", {"urn:mace:incommon:iap:silver"}},
      {"initiate_login_uri", "https://client.example.org/login"},
      {"request_uris", {"https://client.example.org/rf.txt#qpXaRLh"}},
      {"scope", "openid profile email"},
      {"software_id", "sw-1"},
      {"software_version", "1.0.0"},
      {"software_statement", "eyJhbGciOiJub25lIn0.eyJzb2Z0d2FyZV9pZCI6InN3LTEifQ."},
      {"tls_client_auth_subject_dn", "CN=client"},
      {"tls_client_auth_san_dns", "client.example.org"},
      {"tls_client_auth_san_uri", "https://client.example.org/id"},
      {"tls_client_auth_san_ip", "192.0.2.1"},
      {"tls_client_auth_san_email", "client@example.org"},
      {"tls_client_certificate_bound_access_tokens", true},
      {"require_pushed_authorization_requests", true},
      {"require_signed_request_object", true},
      {"authorization_signed_response_alg", "ES256"},
      {"authorization_encrypted_response_alg", "RSA-OAEP"},
      {"authorization_encrypted_response_enc", "A128GCM"},
      {"backchannel_token_delivery_mode", "ping"},
      {"backchannel_client_notification_endpoint", "https://client.example.org/ciba"},
      {"backchannel_authentication_request_signing_alg", "ES256"},
      {"backchannel_user_code_parameter", true},
      {"authorization_details_types", {"payment_initiation"}},
      {"digest_algorithm", "SHA-256"},
      {"organization_name", "Example Org"},
      {"signed_jwks_uri", "https://client.example.org/signed-jwks"},
      {"client_registration_types", {"explicit"}},
      {"credential_offer_endpoint", "openid-credential-offer://"},
      {"use_mtls_endpoint_aliases", true},
      {"response_modes", {"query", "form_post"}},
      {"spiffe_id", "spiffe://example.org/client"},
      {"spiffe_bundle_endpoint", "https://client.example.org/bundle"},
      {"backchannel_logout_uri", "https://client.example.org/logout"},
      {"backchannel_logout_session_required", true},
  };
  DcrCall c = Register(md);
  ASSERT_EQ(c.action(), "CREATED") << c.http.body;
  for (auto it = md.begin(); it != md.end(); ++it) {
    ASSERT_TRUE(c.content.contains(it.key())) << it.key();
    EXPECT_EQ(c.content[it.key()], it.value()) << it.key();
    // (nlohmann parses 3600 as unsigned where the literal is signed: same JSON type.)
    auto kind = [](const json& v) { return v.is_number() ? json::value_t::number_float : v.type(); };
    EXPECT_EQ(kind(c.content[it.key()]), kind(it.value())) << it.key();
  }
  const json& client = c.body["client"];
  EXPECT_EQ(client["applicationType"], "NATIVE");
  EXPECT_EQ(client["subjectType"], "PAIRWISE");
  EXPECT_EQ(client["tokenAuthMethod"], "PRIVATE_KEY_JWT");
  EXPECT_EQ(client["responseTypes"], json({"CODE", "CODE_ID_TOKEN"}));
  EXPECT_EQ(client["grantTypes"], json({"AUTHORIZATION_CODE", "IMPLICIT", "REFRESH_TOKEN",
                                        "CLIENT_CREDENTIALS", "CIBA"}));
  EXPECT_EQ(client["bcDeliveryMode"], "PING");
  EXPECT_EQ(client["defaultMaxAge"], 3600);
  EXPECT_EQ(json::parse(client["jwks"].get<std::string>()), md["jwks"]);
}

TEST_F(DcrApiTest, ResponseOnlyAndNullNamesIgnoredOnRegister) {
  json md = MinimalMetadata();
  md["client_id"] = "chosen-by-client";
  md["client_secret"] = "chosen-by-client";
  md["registration_access_token"] = "chosen";
  md["client_id_issued_at"] = 1;
  md["logo_uri"] = nullptr;
  DcrCall c = Register(md);
  ASSERT_EQ(c.action(), "CREATED") << c.http.body;
  EXPECT_NE(c.content["client_id"], "chosen-by-client");
  EXPECT_NE(c.content["client_secret"], "chosen-by-client");
  EXPECT_NE(TokenOf(c), "chosen");
  EXPECT_NE(c.content["client_id_issued_at"], 1);
  EXPECT_FALSE(c.content.contains("logo_uri"));
}

TEST_F(DcrApiTest, ScopeUsedAsRequestable) {
  json md = MinimalMetadata();
  md["scope"] = "openid  payments";
  DcrCall c = CallV3(e(), Operation::kRegister, RegisterParams(md), kLegacyToken, kLegacyId);
  ASSERT_EQ(c.action(), "CREATED");
  EXPECT_EQ(c.content["scope"], "openid  payments");
  EXPECT_EQ(c.body["client"]["extension"]["requestableScopesEnabled"], true);
  EXPECT_EQ(c.body["client"]["extension"]["requestableScopes"], json({"openid", "payments"}));
  EXPECT_FALSE(Register(md).body["client"].contains("extension"));
}

// --- Authentication refusals -------------------------------------------

TEST_F(DcrApiTest, V3AuthenticationRefusals) {
  std::string body = RegisterParams(MinimalMetadata()).dump();
  std::string url = V3Url(e(), Operation::kRegister);
  const std::string ct = "Content-Type: application/json";
  ExpectRefusal(Request("POST", url, {ct}, body), 401, "A001202");
  ExpectRefusal(Request("POST", url, {ct, "Authorization: Bearer"}, body), 401, "A001203");
  ExpectRefusal(Request("POST", url, {ct, Basic(kDefaultServiceId, kDefaultApiSecret)}, body), 401,
                "A001203");
  ExpectRefusal(Request("POST", url, {ct, Bearer("wrong-token")}, body), 401, "A001204");
  ExpectRefusal(Request("POST", url, {ct, Bearer(std::string(kDefaultServiceToken) + "x")}, body),
                401, "A001204");
  // A valid token of another service.
  ExpectRefusal(Request("POST", url, {ct, Bearer(kLegacyToken)}, body), 403, "A001205");
  // Unknown service id, with a valid service token or the organization token.
  std::string unknown = V3Url(e(), Operation::kRegister, "99999999999999");
  ExpectRefusal(Request("POST", unknown, {ct, Bearer(kDefaultServiceToken)}, body), 404, "A001206");
  ExpectRefusal(Request("POST", unknown, {ct, Bearer(kOrgToken)}, body), 404, "A001206");
  // But an unknown service with a bad token is a credential failure.
  ExpectRefusal(Request("POST", unknown, {ct, Bearer("nope")}, body), 401, "A001204");
  EXPECT_EQ(e().stats().clients_stored, 0);
  EXPECT_EQ(e().stats().refused, 9);
  // Scheme is case-insensitive.
  EXPECT_EQ(testing::ToDcrCall(Request("POST", url,
                                       {ct, std::string("Authorization: bearer ") +
                                                kDefaultServiceToken},
                                       body))
                .action(),
            "CREATED");
}

TEST_F(DcrApiTest, OrganizationTokenWorksForEveryService) {
  for (const char* id : {kDefaultServiceId, kLegacyId, kRotatingId}) {
    DcrCall c = CallV3(e(), Operation::kRegister, RegisterParams(MinimalMetadata()), kOrgToken, id);
    EXPECT_EQ(c.action(), "CREATED") << id << c.http.body;
  }
}

TEST_F(DcrApiTest, V2AuthenticationRefusals) {
  std::string body = RegisterParams(MinimalMetadata()).dump();
  std::string url = V2Url(e(), Operation::kRegister);
  const std::string ct = "Content-Type: application/json";
  ExpectRefusal(Request("POST", url, {ct}, body), 401, "A001202");
  ExpectRefusal(Request("POST", url, {ct, Bearer(kDefaultServiceToken)}, body), 401, "A001203");
  ExpectRefusal(Request("POST", url, {ct, "Authorization: Basic !!!notbase64"}, body), 401,
                "A001203");
  ExpectRefusal(Request("POST", url, {ct, "Authorization: Basic bm9jb2xvbg=="}, body), 401,
                "A001203");  // "nocolon"
  ExpectRefusal(Request("POST", url, {ct, Basic(kDefaultServiceId, "wrong")}, body), 401,
                "A001204");
  ExpectRefusal(Request("POST", url, {ct, Basic("99999999999999", kDefaultApiSecret)}, body), 401,
                "A001204");
  ExpectRefusal(Request("POST", url, {ct, Basic(kLegacyId, kDefaultApiSecret)}, body), 401,
                "A001204");
  EXPECT_EQ(CallV2(e(), Operation::kRegister, RegisterParams(MinimalMetadata()), kLegacyId,
                   kLegacySecret)
                .action(),
            "CREATED");
}

// --- Request-body refusals ---------------------------------------------

TEST_F(DcrApiTest, BodyRefusals) {
  const std::vector<std::string> h = {Bearer(kDefaultServiceToken), "Content-Type: application/json"};
  struct Case {
    Operation op;
    std::string body;
    std::string code;
  };
  const Case cases[] = {
      {Operation::kRegister, "", "A001301"},
      {Operation::kRegister, "not json", "A001301"},
      {Operation::kRegister, "[1]", "A001301"},
      {Operation::kRegister, "{\"json\": 5}", "A001303"},
      {Operation::kRegister, "{\"json\": {\"redirect_uris\": []}}", "A001303"},
      {Operation::kRegister, "{}", "A001302"},
      {Operation::kGet, "{\"token\": \"t\"}", "A001302"},
      {Operation::kGet, "{\"clientId\": \"1\"}", "A001302"},
      {Operation::kGet, "{\"clientId\": 12345678901234, \"token\": \"t\"}", "A001303"},
      {Operation::kDelete, "{\"clientId\": \"1\", \"token\": null}", "A001303"},
      {Operation::kUpdate, "{\"clientId\": \"1\", \"token\": \"t\"}", "A001302"},
      {Operation::kRegister, std::string(100, '[') + std::string(100, ']'), "A001301"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    ExpectRefusal(Request("POST", V3Url(e(), c.op), h, c.body), 400, c.code);
  }
}

TEST_F(DcrApiTest, MethodAndPathRefusals) {
  HttpResult get = Request("GET", V3Url(e(), Operation::kRegister), {Bearer(kDefaultServiceToken)}, "");
  ExpectRefusal(get, 405, "A001103");
  EXPECT_EQ(get.Header("Allow"), "POST");
  ExpectRefusal(Request("POST", e().base_url() + "/api/21653835348762/client/registration/list",
                        {Bearer(kDefaultServiceToken)}, "{}"),
                404, "A001104");
  ExpectRefusal(Request("POST", e().base_url() + "/", {}, ""), 404, "A001104");
  Stats s = e().stats();
  EXPECT_EQ(s.other_requests, 2);
  EXPECT_EQ(s.register_requests, 1);
  EXPECT_EQ(s.total, 3);
}

TEST_F(DcrApiTest, OversizedBodyGets413) {
  std::string big = RegisterParams({{"client_name", std::string(2 << 20, 'x')}}).dump();
  const std::string auth = Bearer(kDefaultServiceToken);
  // With curl's default "Expect: 100-continue" and without it.
  ExpectRefusal(Request("POST", V3Url(e(), Operation::kRegister), {auth}, big), 413, "A001105");
  ExpectRefusal(Request("POST", V3Url(e(), Operation::kRegister), {auth, "Expect:"}, big), 413,
                "A001105");
  // Just under the limit is processed (and rejected on content, not size).
  json md = MinimalMetadata();
  md["client_name"] = std::string(900 * 1024, 'x');
  DcrCall ok = Register(md);
  EXPECT_EQ(ok.action(), "CREATED");
  Stats s = e().stats();
  EXPECT_EQ(s.total, 3) << "refused-by-size requests are seen too";
  EXPECT_EQ(s.register_requests, 3);
  EXPECT_EQ(s.refused, 2);
}

TEST_F(DcrApiTest, MalformedHttpGets400) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(e().port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char garbage[] = "THIS IS NOT HTTP\r\n\r\n";
  ASSERT_EQ(write(fd, garbage, sizeof(garbage) - 1), static_cast<ssize_t>(sizeof(garbage) - 1));
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(answer, HasSubstr("A001106"));
}

TEST_F(DcrApiTest, KeepAliveReusesOneConnection) {
  TestClient client;
  for (int i = 0; i < 5; ++i) {
    HttpResult r = client.Request("POST", V3Url(e(), Operation::kRegister),
                                  {Bearer(kDefaultServiceToken), "Content-Type: application/json"},
                                  RegisterParams(MinimalMetadata()).dump());
    ASSERT_EQ(r.status, 200);
  }
  // Refusals keep the connection too.
  client.Request("POST", V3Url(e(), Operation::kRegister), {}, "{}");
  client.Request("POST", V3Url(e(), Operation::kRegister), {Bearer(kDefaultServiceToken)}, "{}");
  EXPECT_EQ(e().stats().connections_accepted, 1);
  EXPECT_EQ(e().stats().clients_stored, 5);
}

TEST_F(DcrApiTest, RecordsRequestsVerbatim) {
  DcrCall reg = Register();
  CallV2(e(), Operation::kGet, ManageParams(reg));
  std::vector<RecordedRequest> recorded = e().recorded_requests();
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0].method, "POST");
  EXPECT_EQ(recorded[0].target, "/api/21653835348762/client/registration");
  EXPECT_EQ(json::parse(recorded[0].body), RegisterParams(MinimalMetadata()));
  auto header = [](const RecordedRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return std::string();
  };
  EXPECT_EQ(header(recorded[0], "Authorization"), std::string("Bearer ") + kDefaultServiceToken);
  EXPECT_EQ(header(recorded[0], "Content-Type"), "application/json");
  EXPECT_EQ(header(recorded[0], "Accept"), "application/json");
  EXPECT_EQ(recorded[1].target, "/api/client/registration/get");
  EXPECT_EQ(json::parse(recorded[1].body)["clientId"], ClientIdOf(reg));
  e().recorded_requests();
  emulator_->ResetStats();
  EXPECT_TRUE(e().recorded_requests().empty());
  EXPECT_EQ(e().stats().total, 0);
}

// --- Admin endpoints ----------------------------------------------------

TEST_F(DcrApiTest, AdminEndpoints) {
  std::string admin = e().base_url() + "/emulator";
  EXPECT_EQ(Request("GET", admin + "/health", {}, "").status, 200);
  HttpResult set = Request("POST", admin + "/faults", {"Content-Type: application/json"},
                           R"({"rules":[{"kind":"http_error","status":502,"operation":"get","count":2}]})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.Json()["rules"][0]["status"], 502);
  EXPECT_EQ(e().faults().rules.size(), 1u);
  HttpResult got = Request("GET", admin + "/faults", {}, "");
  EXPECT_EQ(got.Json()["rules"][0]["kind"], "http_error");
  EXPECT_EQ(got.Json()["rules"][0]["count"], 2);
  EXPECT_EQ(Request("POST", admin + "/faults", {}, R"({"kind":"nope"})").status, 400);
  EXPECT_EQ(Request("DELETE", admin + "/faults", {}, "").status, 200);
  EXPECT_TRUE(e().faults().rules.empty());

  Register();
  json stats = Request("GET", admin + "/stats", {}, "").Json();
  EXPECT_EQ(stats["total"], 1);
  EXPECT_EQ(stats["register"], 1);
  EXPECT_EQ(stats["clientsStored"], 1);
  EXPECT_EQ(Request("POST", admin + "/reset", {}, "").status, 200);
  stats = Request("GET", admin + "/stats", {}, "").Json();
  EXPECT_EQ(stats["total"], 0) << "admin requests are not counted";
  EXPECT_EQ(stats["clientsStored"], 1) << "reset keeps clients";
  EXPECT_EQ(Request("GET", admin + "/nope", {}, "").status, 404);
  EXPECT_EQ(Request("PUT", admin + "/stats", {}, "").status, 405);
}

TEST(DcrApiAdminTokenTest, AdminTokenRequiredWhenSet) {
  EmulatorOptions options;
  options.admin_token = "admin-secret";
  auto e = Emulator::Start(options);
  ASSERT_TRUE(e.ok()) << e.status();
  std::string url = (*e)->base_url() + "/emulator/stats";
  EXPECT_EQ(Request("GET", url, {}, "").status, 401);
  EXPECT_EQ(Request("GET", url, {Bearer("wrong")}, "").status, 401);
  EXPECT_EQ(Request("GET", url, {Bearer("admin-secret")}, "").status, 200);
}

TEST(DcrApiStartTest, RejectsBadOptions) {
  EmulatorOptions options;
  options.services.clear();
  EXPECT_FALSE(Emulator::Start(options).ok());
  options = EmulatorOptions();
  options.services.push_back(DefaultServiceConfig());  // duplicate id
  EXPECT_FALSE(Emulator::Start(options).ok());
  options = EmulatorOptions();
  options.listen_address = "not-an-address";
  EXPECT_FALSE(Emulator::Start(options).ok());
  options = EmulatorOptions();
  options.threads = 0;
  EXPECT_FALSE(Emulator::Start(options).ok());
}

TEST(DcrApiStartTest, TwoEmulatorsCoexistAndShutdownIsIdempotent) {
  auto a = Emulator::Start(EmulatorOptions());
  auto b = Emulator::Start(EmulatorOptions());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->port(), (*b)->port());
  EXPECT_EQ((*a)->base_url(), "http://127.0.0.1:" + std::to_string((*a)->port()));
  (*a)->Shutdown();
  (*a)->Shutdown();
  HttpResult r = Request("POST", V3Url(**a, Operation::kRegister), {}, "{}", 2000);
  EXPECT_NE(r.curl_code, CURLE_OK);
  EXPECT_EQ(CallV3(**b, Operation::kRegister, RegisterParams(MinimalMetadata())).action(),
            "CREATED");
}

}  // namespace
}  // namespace dcr::emulator
