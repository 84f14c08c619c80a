// Table-driven tests of every metadata validation rule, directly and over HTTP.
#include "tests/emulator/metadata_validator.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/emulator/tests/test_util.h"

namespace dcr::emulator {
namespace {

using ::nlohmann::json;

struct RuleCase {
  std::string name;
  json metadata;
  int code;           // 0 = valid
  std::string error;  // expected RFC 7591 error code
};

// Keeps test names readable in gtest and CTest output.
void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.name; }

const json kRedirect = {"https://client.example.org/cb"};

json With(json base, const json& extra) {
  for (auto it = extra.begin(); it != extra.end(); ++it) base[it.key()] = it.value();
  return base;
}

json Md(const json& extra) { return With(json{{"redirect_uris", kRedirect}}, extra); }

std::vector<RuleCase> Cases() {
  const std::string meta = "invalid_client_metadata";
  const std::string redirect = "invalid_redirect_uri";
  return {
      // json not an object
      {"array", json::array(), kJsonNotObject, meta},
      {"string", "text", kJsonNotObject, meta},
      {"null", nullptr, kJsonNotObject, meta},
      // JSON types (every name is covered by KnownNamesHaveTheirTypes below)
      {"redirect_uris_string", {{"redirect_uris", "https://c/cb"}}, kWrongType, meta},
      {"redirect_uris_number_element", {{"redirect_uris", {1}}}, kWrongType, meta},
      {"default_max_age_string", Md({{"default_max_age", "10"}}), kWrongType, meta},
      {"jwks_string", Md({{"jwks", "{}"}}), kWrongType, meta},
      {"require_auth_time_string", Md({{"require_auth_time", "true"}}), kWrongType, meta},
      // redirect URIs
      {"no_redirect_uris", json::object(), kRedirectUriMissing, redirect},
      {"empty_redirect_uris", {{"redirect_uris", json::array()}}, kRedirectUriMissing, redirect},
      {"implicit_needs_redirect", {{"grant_types", {"implicit"}}, {"response_types", {"id_token"}}},
       kRedirectUriMissing, redirect},
      {"client_credentials_needs_none",
       {{"grant_types", {"client_credentials"}}}, 0, ""},
      {"relative_redirect", {{"redirect_uris", {"/cb"}}}, kRedirectUriMalformed, redirect},
      {"no_scheme_redirect", {{"redirect_uris", {"client.example.org/cb"}}}, kRedirectUriMalformed,
       redirect},
      {"empty_redirect", {{"redirect_uris", {""}}}, kRedirectUriMalformed, redirect},
      {"space_in_redirect", {{"redirect_uris", {"https://c.example/a b"}}}, kRedirectUriMalformed,
       redirect},
      {"hostless_https_redirect", {{"redirect_uris", {"https:///cb"}}}, kRedirectUriMalformed,
       redirect},
      {"bad_port_redirect", {{"redirect_uris", {"https://c.example:x/cb"}}}, kRedirectUriMalformed,
       redirect},
      {"bad_escape_redirect", {{"redirect_uris", {"https://c.example/%zz"}}}, kRedirectUriMalformed,
       redirect},
      {"fragment_redirect", {{"redirect_uris", {"https://c.example/cb#frag"}}}, kRedirectUriFragment,
       redirect},
      {"empty_fragment_redirect", {{"redirect_uris", {"https://c.example/cb#"}}},
       kRedirectUriFragment, redirect},
      {"custom_scheme_redirect", {{"redirect_uris", {"com.example.app:/oauth2redirect"}}}, 0, ""},
      {"loopback_redirect", {{"redirect_uris", {"http://127.0.0.1:8080/cb", "http://[::1]/cb"}}}, 0,
       ""},
      // grant and response types
      {"unknown_grant", Md({{"grant_types", {"authorization_code", "magic"}}}),
       kUnsupportedGrantType, meta},
      {"unknown_response", Md({{"response_types", {"code foo"}}}), kUnsupportedResponseType, meta},
      {"none_combined", Md({{"response_types", {"none code"}}}), kUnsupportedResponseType, meta},
      {"duplicate_response_part", Md({{"response_types", {"code code"}}}), kUnsupportedResponseType,
       meta},
      {"empty_response_type", Md({{"response_types", {""}}}), kUnsupportedResponseType, meta},
      {"code_without_authorization_code",
       Md({{"grant_types", {"implicit"}}, {"response_types", {"code", "token"}}}),
       kResponseTypeNeedsGrantType, meta},
      {"token_without_implicit",
       Md({{"grant_types", {"authorization_code"}}, {"response_types", {"code", "token"}}}),
       kResponseTypeNeedsGrantType, meta},
      {"id_token_without_implicit", Md({{"grant_types", {"authorization_code"}},
                                       {"response_types", {"code id_token"}}}),
       kResponseTypeNeedsGrantType, meta},
      {"authorization_code_without_code",
       Md({{"grant_types", {"authorization_code", "implicit"}}, {"response_types", {"token"}}}),
       kGrantTypeNeedsResponseType, meta},
      {"implicit_without_token",
       Md({{"grant_types", {"authorization_code", "implicit"}}, {"response_types", {"code"}}}),
       kGrantTypeNeedsResponseType, meta},
      {"implicit_grant_alone", Md({{"grant_types", {"implicit"}}}), kGrantTypeNeedsResponseType,
       meta},
      {"hybrid_derives_grants", Md({{"response_types", {"code id_token"}}}), 0, ""},
      {"consistent_hybrid", Md({{"grant_types", {"authorization_code", "implicit"}},
                                {"response_types", {"code id_token token"}}}),
       0, ""},
      // token endpoint auth
      {"unknown_auth_method", Md({{"token_endpoint_auth_method", "magic"}}), kUnsupportedAuthMethod,
       meta},
      {"client_secret_jwt", Md({{"token_endpoint_auth_method", "client_secret_jwt"}}), 0, ""},
      {"client_secret_post", Md({{"token_endpoint_auth_method", "client_secret_post"}}), 0, ""},
      {"jwks_and_jwks_uri",
       Md({{"jwks", {{"keys", json::array()}}}, {"jwks_uri", "https://c.example/jwks"}}),
       kJwksAndJwksUri, meta},
      {"private_key_jwt_no_keys", Md({{"token_endpoint_auth_method", "private_key_jwt"}}),
       kKeyMaterialMissing, meta},
      {"private_key_jwt_jwks_uri", Md({{"token_endpoint_auth_method", "private_key_jwt"},
                                       {"jwks_uri", "https://c.example/jwks"}}),
       0, ""},
      {"self_signed_no_keys", Md({{"token_endpoint_auth_method", "self_signed_tls_client_auth"}}),
       kKeyMaterialMissing, meta},
      {"self_signed_jwks", Md({{"token_endpoint_auth_method", "self_signed_tls_client_auth"},
                               {"jwks", {{"keys", {{{"kty", "RSA"}}}}}}}),
       0, ""},
      {"tls_client_auth_no_subject", Md({{"token_endpoint_auth_method", "tls_client_auth"}}),
       kTlsClientAuthSubject, meta},
      {"tls_client_auth_two_subjects",
       Md({{"token_endpoint_auth_method", "tls_client_auth"},
           {"tls_client_auth_subject_dn", "CN=a"},
           {"tls_client_auth_san_dns", "a.example"}}),
       kTlsClientAuthSubject, meta},
      {"tls_client_auth_one_subject", Md({{"token_endpoint_auth_method", "tls_client_auth"},
                                          {"tls_client_auth_subject_dn", "CN=a"}}),
       0, ""},
      {"jwks_without_keys", Md({{"jwks", json::object()}}), kBadJwks, meta},
      {"jwks_keys_not_objects", Md({{"jwks", {{"keys", {1}}}}}), kBadJwks, meta},
      // enumerations
      {"bad_application_type", Md({{"application_type", "desktop"}}), kBadApplicationType, meta},
      {"native_application_type", Md({{"application_type", "native"}}), 0, ""},
      {"bad_subject_type", Md({{"subject_type", "secret"}}), kBadSubjectType, meta},
      {"pairwise", Md({{"subject_type", "pairwise"}}), 0, ""},
      // URIs
      {"logo_uri_relative", Md({{"logo_uri", "logo.png"}}), kMalformedUri, meta},
      {"logo_uri_ftp", Md({{"logo_uri", "ftp://c.example/logo.png"}}), kMalformedUri, meta},
      {"client_uri_tagged_bad", Md({{"client_uri#ja", "not a uri"}}), kMalformedUri, meta},
      {"policy_uri_bad", Md({{"policy_uri", "://x"}}), kMalformedUri, meta},
      {"tos_uri_tagged_bad", Md({{"tos_uri#de", "agb"}}), kMalformedUri, meta},
      {"tos_uri_tagged_ok", Md({{"tos_uri#de", "https://c.example/agb"}}), 0, ""},
      {"jwks_uri_bad", Md({{"jwks_uri", "jwks.json"}}), kMalformedUri, meta},
      {"request_uris_bad", Md({{"request_uris", {"https://c.example/r", "r"}}}), kMalformedUri,
       meta},
      {"sector_identifier_http", Md({{"sector_identifier_uri", "http://c.example/s.json"}}),
       kMalformedUri, meta},
      {"backchannel_logout_bad", Md({{"backchannel_logout_uri", "logout"}}), kMalformedUri, meta},
      {"signed_jwks_uri_bad", Md({{"signed_jwks_uri", "x"}}), kMalformedUri, meta},
      {"initiate_login_uri_http", Md({{"initiate_login_uri", "http://c.example/login"}}),
       kInitiateLoginUriNotHttps, meta},
      {"initiate_login_uri_bad", Md({{"initiate_login_uri", "login"}}), kMalformedUri, meta},
      {"initiate_login_uri_ok", Md({{"initiate_login_uri", "https://c.example/login"}}), 0, ""},
      // default_max_age
      {"negative_max_age", Md({{"default_max_age", -1}}), kBadDefaultMaxAge, meta},
      {"fractional_max_age", Md({{"default_max_age", 1.5}}), kBadDefaultMaxAge, meta},
      {"max_age_ok", Md({{"default_max_age", 86400}}), 0, ""},
      // CIBA
      {"bad_delivery_mode", Md({{"backchannel_token_delivery_mode", "email"}}),
       kBadBackchannelDeliveryMode, meta},
      {"ping_without_endpoint", Md({{"backchannel_token_delivery_mode", "ping"}}),
       kBackchannelEndpointMissing, meta},
      {"push_http_endpoint", Md({{"backchannel_token_delivery_mode", "push"},
                                 {"backchannel_client_notification_endpoint", "http://c.example/n"}}),
       kMalformedUri, meta},
      {"poll_ok", Md({{"backchannel_token_delivery_mode", "poll"}}), 0, ""},
  };
}

class MetadataRuleTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(MetadataRuleTest, Validator) {
  const RuleCase& c = GetParam();
  ValidationResult r = ValidateClientMetadata(c.metadata, {});
  if (c.code == 0) {
    EXPECT_TRUE(r.ok) << r.error.code << " " << r.error.description;
  } else {
    ASSERT_FALSE(r.ok) << r.metadata.dump();
    EXPECT_EQ(r.error.code, c.code) << r.error.description;
    EXPECT_EQ(r.error.error, c.error);
    EXPECT_FALSE(r.error.description.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, MetadataRuleTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

// The same table through the HTTP API: register gets A202nnn, update A213nnn.
class MetadataRuleHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto e = Emulator::Start(EmulatorOptions());
    ASSERT_TRUE(e.ok()) << e.status();
    emulator_ = e->release();
  }
  static void TearDownTestSuite() {
    delete emulator_;
    emulator_ = nullptr;
  }
  static Emulator* emulator_;
};
Emulator* MetadataRuleHttpTest::emulator_ = nullptr;

TEST_F(MetadataRuleHttpTest, RegisterAndUpdateReportEveryRule) {
  using namespace ::dcr::emulator::testing;
  DcrCall base = CallV3(*emulator_, Operation::kRegister, RegisterParams(MinimalMetadata()));
  ASSERT_EQ(base.action(), "CREATED");
  for (const RuleCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    DcrCall reg = CallV3(*emulator_, Operation::kRegister, {{"json", c.metadata.dump()}});
    json update_params = ManageParams(base);
    update_params["json"] = c.metadata.dump();
    DcrCall up = CallV3(*emulator_, Operation::kUpdate, update_params);
    if (c.code == 0) {
      EXPECT_EQ(reg.action(), "CREATED") << reg.http.body;
      EXPECT_EQ(up.action(), "UPDATED") << up.http.body;
      continue;
    }
    for (const auto& [call, prefix] : {std::pair<const DcrCall&, std::string>(reg, "A202"),
                                       std::pair<const DcrCall&, std::string>(up, "A213")}) {
      std::string code = prefix + std::to_string(c.code);
      EXPECT_EQ(call.http.status, 200);
      EXPECT_EQ(call.action(), "BAD_REQUEST") << call.http.body;
      EXPECT_EQ(call.result_code(), code);
      EXPECT_EQ(call.error(), c.error);
      EXPECT_EQ(call.content.value("error_description", "").substr(0, 10), "[" + code + "] ");
      EXPECT_EQ(call.content.value("error_uri", ""), "https://docs.authlete.com/#" + code);
    }
  }
  // The "json" parameter that is not JSON at all.
  DcrCall c = CallV3(*emulator_, Operation::kRegister, {{"json", "{not json"}});
  EXPECT_EQ(c.result_code(), "A202201");
}

// Every known name of contract §6 is type-checked.
TEST(MetadataTypesTest, KnownNamesHaveTheirTypes) {
  const std::vector<std::string> strings = {
      "application_type", "client_name", "logo_uri", "client_uri", "policy_uri", "tos_uri",
      "jwks_uri", "sector_identifier_uri", "subject_type", "id_token_signed_response_alg",
      "id_token_encrypted_response_alg", "id_token_encrypted_response_enc",
      "userinfo_signed_response_alg", "userinfo_encrypted_response_alg",
      "userinfo_encrypted_response_enc", "request_object_signing_alg",
      "request_object_encryption_alg", "request_object_encryption_enc",
      "token_endpoint_auth_method", "token_endpoint_auth_signing_alg", "initiate_login_uri",
      "scope", "software_id", "software_version", "software_statement",
      "tls_client_auth_subject_dn", "tls_client_auth_san_dns", "tls_client_auth_san_uri",
      "tls_client_auth_san_ip", "tls_client_auth_san_email", "authorization_signed_response_alg",
      "authorization_encrypted_response_alg", "authorization_encrypted_response_enc",
      "backchannel_token_delivery_mode", "backchannel_client_notification_endpoint",
      "backchannel_authentication_request_signing_alg", "digest_algorithm", "organization_name",
      "signed_jwks_uri", "credential_offer_endpoint", "spiffe_id", "spiffe_bundle_endpoint",
      "backchannel_logout_uri", "client_name#ja", "logo_uri#ja", "client_uri#ja",
      "policy_uri#ja", "tos_uri#ja"};
  const std::vector<std::string> arrays = {
      "redirect_uris", "response_types", "grant_types", "contacts", "default_acr_values",
      "request_uris", "authorization_details_types", "client_registration_types",
      "response_modes"};
  const std::vector<std::string> bools = {
      "require_auth_time", "tls_client_certificate_bound_access_tokens",
      "require_pushed_authorization_requests", "require_signed_request_object",
      "backchannel_user_code_parameter", "use_mtls_endpoint_aliases",
      "backchannel_logout_session_required"};
  auto expect_type_error = [](const std::string& name, const json& value) {
    json md = Md({});
    md[name] = value;
    ValidationResult r = ValidateClientMetadata(md, {});
    EXPECT_FALSE(r.ok) << name << " = " << value.dump();
    EXPECT_EQ(r.error.code, kWrongType) << name << " = " << value.dump();
    EXPECT_NE(r.error.description.find(name), std::string::npos);
  };
  for (const std::string& n : strings) {
    expect_type_error(n, 5);
    expect_type_error(n, json::array({"x"}));
    expect_type_error(n, true);
  }
  for (const std::string& n : arrays) {
    expect_type_error(n, "x");
    expect_type_error(n, json::array({"x", 1}));
    expect_type_error(n, json::object());
  }
  for (const std::string& n : bools) {
    expect_type_error(n, "true");
    expect_type_error(n, 1);
  }
  expect_type_error("default_max_age", "0");
  expect_type_error("default_max_age", false);
  expect_type_error("jwks", "{\"keys\":[]}");
  expect_type_error("jwks", json::array());
}

TEST(MetadataTypesTest, UnknownNamesDroppedCustomKept) {
  json md = Md({{"foo", 1}, {"bar", {{"x", 1}}}, {"client_id", "x"}, {"client_secret", "y"}});
  ValidationResult r = ValidateClientMetadata(md, {"bar"});
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.metadata.contains("foo"));
  EXPECT_EQ(r.metadata["bar"], json({{"x", 1}}));
  EXPECT_FALSE(r.metadata.contains("client_id"));
  EXPECT_FALSE(r.metadata.contains("client_secret"));
}

TEST(MetadataTypesTest, TaggedBaseName) {
  EXPECT_EQ(TaggedBaseName("client_name#ja"), "client_name");
  EXPECT_EQ(TaggedBaseName("tos_uri#zh-Hant-TW"), "tos_uri");
  EXPECT_EQ(TaggedBaseName("client_name"), "");
  EXPECT_EQ(TaggedBaseName("client_name#"), "");
  EXPECT_EQ(TaggedBaseName("client_name#j a"), "");
  EXPECT_EQ(TaggedBaseName("contacts#ja"), "");
}

}  // namespace
}  // namespace dcr::emulator
