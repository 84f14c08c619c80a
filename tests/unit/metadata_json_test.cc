#include "service/metadata/metadata_json.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"

namespace dcr::metadata {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Value;
using ::nlohmann::json;
using ::testing::HasSubstr;

// Every metadata name of contract §6 (response-only names excluded), with a
// realistic value as JSON text. Written out from the contract on purpose, not
// derived from the descriptor: a name without a typed field fails the tests.
struct NamedValue {
  const char* name;
  const char* value;
};
const std::vector<NamedValue>& ContractMetadata() {
  static const auto* const kList = new std::vector<NamedValue>{
      // OpenID Connect Dynamic Client Registration 1.0
      {"redirect_uris", R"(["https://client.example.org/cb","https://client.example.org/cb2"])"},
      {"response_types", R"(["code","code id_token"])"},
      {"grant_types", R"(["authorization_code","refresh_token"])"},
      {"application_type", R"("native")"},
      {"contacts", R"(["ve7jtb@example.org","mary@example.org"])"},
      {"client_name", R"("My Example Client")"},
      {"logo_uri", R"("https://client.example.org/logo.png")"},
      {"client_uri", R"("https://client.example.org/")"},
      {"policy_uri", R"("https://client.example.org/policy.html")"},
      {"tos_uri", R"("https://client.example.org/tos.html")"},
      {"jwks_uri", R"("https://client.example.org/jwks.json")"},
      {"jwks",
       R"({"keys":[{"kty":"RSA","kid":"k1","use":"sig","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZpt"}]})"},
      {"sector_identifier_uri", R"("https://other.example.net/file_of_redirect_uris.json")"},
      {"subject_type", R"("pairwise")"},
      {"id_token_signed_response_alg", R"("RS256")"},
      {"id_token_encrypted_response_alg", R"("RSA-OAEP-256")"},
      {"id_token_encrypted_response_enc", R"("A128GCM")"},
      {"userinfo_signed_response_alg", R"("ES256")"},
      {"userinfo_encrypted_response_alg", R"("RSA-OAEP")"},
      {"userinfo_encrypted_response_enc", R"("A256GCM")"},
      {"request_object_signing_alg", R"("PS256")"},
      {"request_object_encryption_alg", R"("ECDH-ES")"},
      {"request_object_encryption_enc", R"("A128CBC-HS256")"},
      {"token_endpoint_auth_method", R"("private_key_jwt")"},
      {"token_endpoint_auth_signing_alg", R"("ES256")"},
      {"default_max_age", R"(3600)"},
      {"require_auth_time", R"(true)"},
      {"default_acr_values", R"(["urn:mace:incommon:iap:silver","urn:mace:incommon:iap:bronze"])"},
      {"initiate_login_uri", R"("https://client.example.org/login")"},
      {"request_uris",
       R"(["https://client.example.org/rf.txt#qpXaRLh_n93TTR9F252ValdatUQvQiJi5BDub2BeznA"])"},
      // RFC 7591
      {"scope", R"("openid profile email")"},
      {"software_id", R"("4NRB1-0XZABZI9E6-5SM3R")"},
      {"software_version", R"("2.1")"},
      {"software_statement",
       R"("eyJhbGciOiJSUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6IjROUkIxIn0.c2lnbmF0dXJl")"},
      // RFC 8705
      {"tls_client_auth_subject_dn", R"("CN=client.example.org,O=Example,C=US")"},
      {"tls_client_auth_san_dns", R"("client.example.org")"},
      {"tls_client_auth_san_uri", R"("https://client.example.org/")"},
      {"tls_client_auth_san_ip", R"("192.0.2.10")"},
      {"tls_client_auth_san_email", R"("admin@client.example.org")"},
      {"tls_client_certificate_bound_access_tokens", R"(true)"},
      // PAR / JAR
      {"require_pushed_authorization_requests", R"(true)"},
      {"require_signed_request_object", R"(true)"},
      // JARM
      {"authorization_signed_response_alg", R"("PS256")"},
      {"authorization_encrypted_response_alg", R"("RSA-OAEP-256")"},
      {"authorization_encrypted_response_enc", R"("A128GCM")"},
      // CIBA
      {"backchannel_token_delivery_mode", R"("ping")"},
      {"backchannel_client_notification_endpoint", R"("https://client.example.org/ciba/notify")"},
      {"backchannel_authentication_request_signing_alg", R"("ES256")"},
      {"backchannel_user_code_parameter", R"(true)"},
      // Others
      {"authorization_details_types", R"(["payment_initiation","account_information"])"},
      {"digest_algorithm", R"("SHA-256")"},
      {"organization_name", R"("Example Org")"},
      {"signed_jwks_uri", R"("https://client.example.org/signed_jwks.jwt")"},
      {"client_registration_types", R"(["explicit"])"},
      {"credential_offer_endpoint", R"("openid-credential-offer://")"},
      {"use_mtls_endpoint_aliases", R"(true)"},
      {"response_modes", R"(["query","form_post.jwt"])"},
      {"spiffe_id", R"("spiffe://example.org/ns/prod/sa/client")"},
      {"spiffe_bundle_endpoint", R"("https://example.org/spiffe/bundle")"},
      {"backchannel_logout_uri", R"("https://client.example.org/logout")"},
      {"backchannel_logout_session_required", R"(true)"},
  };
  return *kList;
}

// Canonical text (keys sorted, 42 vs 42.0 distinguished): equality of value
// AND JSON type, unlike nlohmann's operator== which equates 42 and 42.0.
std::string Canon(const json& j) { return j.dump(); }

json ToJsonOrDie(const v1::ClientMetadata& m, absl::string_view client_id = {}) {
  absl::StatusOr<json> j = MetadataToJson(m, client_id);
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *j : json();
}

v1::ClientMetadata FromJsonOrDie(absl::string_view text) {
  absl::StatusOr<v1::ClientMetadata> m = MetadataFromJsonString(text);
  EXPECT_TRUE(m.ok()) << m.status() << " for " << text;
  return m.ok() ? *m : v1::ClientMetadata();
}

// Whether the typed field `name` holds a value (presence, non-empty, non-zero enum).
bool TypedFieldSet(const v1::ClientMetadata& m, const std::string& name) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr) return false;
  const auto* r = m.GetReflection();
  if (f->is_repeated()) return r->FieldSize(m, f) > 0;
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) return r->GetEnumValue(m, f) != 0;
  return r->HasField(m, f);
}

// ---------------------------------------------------------------------------
// (1) Every contract §6 name: typed, and back to the identical JSON.

TEST(MetadataJsonTest, EveryContractNameHasATypedFieldAndRoundTrips) {
  for (const NamedValue& nv : ContractMetadata()) {
    SCOPED_TRACE(nv.name);
    const json doc = {{nv.name, json::parse(nv.value)}};
    ASSERT_NE(v1::ClientMetadata::descriptor()->FindFieldByName(nv.name), nullptr)
        << "no typed field for contract metadata " << nv.name;
    v1::ClientMetadata m = FromJsonOrDie(doc.dump());
    EXPECT_TRUE(TypedFieldSet(m, nv.name));
    EXPECT_EQ(m.additional_metadata_size(), 0);
    EXPECT_EQ(Canon(ToJsonOrDie(m)), Canon(doc));
  }
}

TEST(MetadataJsonTest, AllContractNamesTogetherRoundTrip) {
  json doc = json::object();
  for (const NamedValue& nv : ContractMetadata()) doc[nv.name] = json::parse(nv.value);
  absl::StatusOr<v1::ClientMetadata> m = MetadataFromJson(doc);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->additional_metadata_size(), 0);
  for (const NamedValue& nv : ContractMetadata())
    EXPECT_TRUE(TypedFieldSet(*m, nv.name)) << nv.name;
  EXPECT_EQ(Canon(ToJsonOrDie(*m)), Canon(doc));

  // And typed -> JSON -> typed gives the same message back.
  absl::StatusOr<std::string> text = MetadataToJsonString(*m);
  ASSERT_TRUE(text.ok()) << text.status();
  v1::ClientMetadata again = FromJsonOrDie(*text);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*m, again))
      << m->DebugString() << "\nvs\n"
      << again.DebugString();
}

// MetadataToJsonString writes the text itself; it must be what nlohmann's
// dump() gives for the same document (names sorted, its number and string
// forms), the request body Authlete has always been sent.
TEST(MetadataJsonTest, TheWrittenTextIsNlohmannsCanonicalForm) {
  json doc = json::object();
  for (const NamedValue& nv : ContractMetadata()) doc[nv.name] = json::parse(nv.value);
  doc["client_name#ja"] = "\xe3\x82\xaf\xe3\x83\xa9\xe3\x82\xa4\xe3\x82\xa2\xe3\x83\xb3\xe3\x83\x88";
  doc["custom_nested"] = json::parse(R"({"z":[1,2.5,-3,null,true,"q\"\n"],"a":{"b":{}},"m":1e300})");
  doc["custom_control"] = std::string("tab\tand\x01");
  doc["jwks"] = json::parse(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag","use":"sig"}]})");
  absl::StatusOr<v1::ClientMetadata> m = MetadataFromJson(doc);
  ASSERT_TRUE(m.ok()) << m.status();
  for (absl::string_view client_id : {absl::string_view(), absl::string_view("26837717140341")}) {
    absl::StatusOr<std::string> text = MetadataToJsonString(*m, client_id);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, json::parse(*text).dump());
    json expected = doc;
    if (!client_id.empty()) expected["client_id"] = std::string(client_id);
    EXPECT_EQ(*text, expected.dump());
  }
}

// The reverse direction: a typed field the contract does not list is flagged,
// so the proto and the contract stay in step.
TEST(MetadataJsonTest, EveryTypedFieldIsInTheContract) {
  std::set<std::string> contract;
  for (const NamedValue& nv : ContractMetadata()) contract.insert(nv.name);
  const auto* d = v1::ClientMetadata::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const std::string& name = d->field(i)->name();
    if (name == "additional_metadata") continue;
    EXPECT_EQ(contract.count(name), 1u) << name << " is not a contract §6 name";
  }
}

TEST(MetadataJsonTest, TypedValuesAreReadCorrectly) {
  v1::ClientMetadata m = FromJsonOrDie(R"({
      "redirect_uris": ["https://a.example/cb", "https://b.example/cb"],
      "application_type": "web", "subject_type": "public",
      "backchannel_token_delivery_mode": "push",
      "default_max_age": 86400, "require_auth_time": false, "client_name": "Foo",
      "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83O", "y": "x_FE"}]}})");
  EXPECT_THAT(m.redirect_uris(),
              testing::ElementsAre("https://a.example/cb", "https://b.example/cb"));
  EXPECT_EQ(m.application_type(), v1::APPLICATION_TYPE_WEB);
  EXPECT_EQ(m.subject_type(), v1::SUBJECT_TYPE_PUBLIC);
  EXPECT_EQ(m.backchannel_token_delivery_mode(), v1::BACKCHANNEL_TOKEN_DELIVERY_MODE_PUSH);
  ASSERT_TRUE(m.has_default_max_age());
  EXPECT_EQ(m.default_max_age(), 86400);
  ASSERT_TRUE(m.has_require_auth_time());
  EXPECT_FALSE(m.require_auth_time());
  EXPECT_EQ(m.client_name(), "Foo");
  ASSERT_TRUE(m.has_jwks());
  const auto& keys = m.jwks().fields().at("keys").list_value();
  ASSERT_EQ(keys.values_size(), 1);
  EXPECT_EQ(keys.values(0).struct_value().fields().at("crv").string_value(), "P-256");
  EXPECT_EQ(m.additional_metadata_size(), 0);
}

TEST(MetadataJsonTest, EveryEnumWireStringMapsBothWays) {
  struct Case {
    const char* name;
    const char* wire;
  };
  for (const Case& c : std::vector<Case>{{"application_type", "web"},
                                         {"application_type", "native"},
                                         {"subject_type", "public"},
                                         {"subject_type", "pairwise"},
                                         {"backchannel_token_delivery_mode", "poll"},
                                         {"backchannel_token_delivery_mode", "ping"},
                                         {"backchannel_token_delivery_mode", "push"}}) {
    SCOPED_TRACE(std::string(c.name) + "=" + c.wire);
    const json doc = {{c.name, c.wire}};
    v1::ClientMetadata m = FromJsonOrDie(doc.dump());
    EXPECT_TRUE(TypedFieldSet(m, c.name));
    EXPECT_EQ(m.additional_metadata_size(), 0);
    EXPECT_EQ(Canon(ToJsonOrDie(m)), Canon(doc));
  }
  v1::ClientMetadata m;
  m.set_application_type(v1::APPLICATION_TYPE_NATIVE);
  m.set_subject_type(v1::SUBJECT_TYPE_PAIRWISE);
  m.set_backchannel_token_delivery_mode(v1::BACKCHANNEL_TOKEN_DELIVERY_MODE_POLL);
  EXPECT_EQ(Canon(ToJsonOrDie(m)),
            R"({"application_type":"native","backchannel_token_delivery_mode":"poll",)"
            R"("subject_type":"pairwise"})");
}

// ---------------------------------------------------------------------------
// (2) Everything without a fitting typed field survives verbatim.

TEST(MetadataJsonTest, CustomAndLanguageTaggedNamesSurviveVerbatim) {
  const json doc = json::parse(R"({
      "client_name": "Default name",
      "client_name#ja": "クライアント", "logo_uri#fr": "https://client.example.org/logo-fr.png",
      "tos_uri#de": "https://client.example.org/agb.html",
      "policy_uri#es": "https://client.example.org/privacidad.html",
      "client_uri#it": "https://client.example.org/it/",
      "custom_string": "value", "custom_integer": 42, "custom_negative": -7,
      "custom_float": 1.5, "custom_bool": false, "custom_null": null,
      "custom_object": {"nested": {"list": [1, "two", true, null, {"x": 2.25}]}},
      "custom_array": [1, 2, 3], "custom_empty_object": {}, "custom_empty_array": [],
      "additional_metadata": "a name that is only a proto field name"})");
  absl::StatusOr<v1::ClientMetadata> m = MetadataFromJson(doc);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->client_name(), "Default name");
  EXPECT_EQ(m->additional_metadata_size(), static_cast<int>(doc.size()) - 1);
  EXPECT_EQ(m->additional_metadata().at("client_name#ja").string_value(), "クライアント");
  EXPECT_EQ(m->additional_metadata().at("custom_integer").number_value(), 42);
  EXPECT_EQ(Canon(ToJsonOrDie(*m)), Canon(doc));
}

TEST(MetadataJsonTest, KnownNamesOfAnotherJsonTypeSurviveVerbatim) {
  // Each document: a known name whose value does not fit its typed field.
  for (const char* text : {
           R"({"default_max_age": "3600"})",
           R"({"default_max_age": 3600.5})",
           R"({"default_max_age": 3600.0})",               // a float token, not an integer
           R"({"default_max_age": 9223372036854775808})",  // > int64 max
           R"({"default_max_age": true})",
           R"({"require_auth_time": "true"})",
           R"({"require_auth_time": 1})",
           R"({"client_name": null})",
           R"({"client_name": 42})",
           R"({"client_name": ["a"]})",
           R"({"redirect_uris": "https://client.example.org/cb"})",
           R"({"redirect_uris": ["https://client.example.org/cb", 7]})",
           R"({"redirect_uris": [null]})",
           R"({"redirect_uris": []})",
           R"({"application_type": "desktop"})",
           R"({"application_type": "WEB"})",
           R"({"application_type": "unspecified"})",
           R"({"application_type": ""})",
           R"({"application_type": 1})",
           R"({"subject_type": "Public"})",
           R"({"backchannel_token_delivery_mode": "pull"})",
           R"({"jwks": "{\"keys\":[]}"})",
           R"({"jwks": [{"kty": "RSA"}]})",
           R"({"jwks": null})",
       }) {
    SCOPED_TRACE(text);
    const json doc = json::parse(text);
    v1::ClientMetadata m = FromJsonOrDie(text);
    const std::string name = doc.begin().key();
    EXPECT_FALSE(TypedFieldSet(m, name));
    EXPECT_EQ(m.additional_metadata().count(name), 1u);
    // Verbatim back, except that 3600.0 travels as a double and integral
    // doubles are emitted as integers (see IntegralNumbersAreEmittedAsIntegers).
    if (doc.begin()->is_number_float() &&
        std::trunc(doc.begin()->get<double>()) == doc.begin()->get<double>()) {
      EXPECT_EQ(Canon(ToJsonOrDie(m)), R"({"default_max_age":3600})");
    } else if (doc.begin()->is_number_unsigned() &&
               doc.begin()->get<uint64_t>() > (uint64_t{1} << 53)) {
      EXPECT_EQ(ToJsonOrDie(m).begin()->get<double>(), doc.begin()->get<double>());
    } else {
      EXPECT_EQ(Canon(ToJsonOrDie(m)), Canon(doc));
    }
  }
}

TEST(MetadataJsonTest, ResponseOnlyNamesAreNotMetadata) {
  v1::ClientMetadata m = FromJsonOrDie(R"({
      "client_id": "123", "client_secret": "s3cr3t", "client_id_issued_at": 1,
      "client_secret_expires_at": 0, "registration_access_token": "rat",
      "registration_client_uri": "https://as.example/reg/123", "client_name": "x"})");
  EXPECT_EQ(m.additional_metadata_size(), 0);
  EXPECT_EQ(Canon(ToJsonOrDie(m)), R"({"client_name":"x"})");
}

// ---------------------------------------------------------------------------
// (3) Presence.

TEST(MetadataJsonTest, SetFalseZeroAndEmptyAreEmittedUnsetAreOmitted) {
  v1::ClientMetadata m;
  EXPECT_EQ(Canon(ToJsonOrDie(m)), "{}");
  absl::StatusOr<std::string> empty = MetadataToJsonString(m);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "{}");

  m.set_client_name("");
  m.set_default_max_age(0);
  m.set_require_auth_time(false);
  m.set_require_pushed_authorization_requests(false);
  m.mutable_jwks();                                          // set, empty
  m.set_application_type(v1::APPLICATION_TYPE_UNSPECIFIED);  // = unset
  EXPECT_EQ(Canon(ToJsonOrDie(m)),
            R"({"client_name":"","default_max_age":0,"jwks":{},)"
            R"("require_auth_time":false,"require_pushed_authorization_requests":false})");

  // And those values are read back as set.
  v1::ClientMetadata back = FromJsonOrDie(Canon(ToJsonOrDie(m)));
  EXPECT_TRUE(back.has_client_name());
  EXPECT_TRUE(back.has_default_max_age());
  EXPECT_TRUE(back.has_require_auth_time());
  EXPECT_TRUE(back.has_jwks());
  EXPECT_FALSE(back.has_logo_uri());
  EXPECT_FALSE(back.has_tls_client_certificate_bound_access_tokens());
  EXPECT_EQ(back.additional_metadata_size(), 0);
}

TEST(MetadataJsonTest, ToJsonStringIsCompactJson) {
  v1::ClientMetadata m;
  m.add_redirect_uris("https://client.example.org/cb");
  m.set_client_name("Caf\xC3\xA9 \"quoted\"");
  m.set_default_max_age(-1);
  absl::StatusOr<std::string> s = MetadataToJsonString(m);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, R"({"client_name":"Café \"quoted\"","default_max_age":-1,)"
                R"("redirect_uris":["https://client.example.org/cb"]})");
}

// ---------------------------------------------------------------------------
// (4) A name both typed and in additional_metadata.

TEST(MetadataJsonTest, TypedAndAdditionalConflictIsInvalidArgument) {
  {
    v1::ClientMetadata m;
    m.set_client_name("typed");
    (*m.mutable_additional_metadata())["client_name"].set_string_value("extra");
    absl::StatusOr<std::string> s = MetadataToJsonString(m);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.status().message(), HasSubstr("client_name"));
  }
  {
    v1::ClientMetadata m;
    m.add_grant_types("authorization_code");
    (*m.mutable_additional_metadata())["grant_types"].set_string_value("x");
    EXPECT_EQ(MetadataToJson(m).status().code(), absl::StatusCode::kInvalidArgument);
  }
  {
    v1::ClientMetadata m;
    m.set_subject_type(v1::SUBJECT_TYPE_PUBLIC);
    (*m.mutable_additional_metadata())["subject_type"].set_string_value("public");
    absl::StatusOr<json> j = MetadataToJson(m);
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(j.status().message(), HasSubstr("subject_type"));
  }
  {  // Unset typed field: the additional entry is fine (wrong-typed known name).
    v1::ClientMetadata m;
    (*m.mutable_additional_metadata())["default_max_age"].set_string_value("forever");
    (*m.mutable_additional_metadata())["grant_types"].mutable_list_value();
    EXPECT_EQ(Canon(ToJsonOrDie(m)), R"({"default_max_age":"forever","grant_types":[]})");
  }
}

TEST(MetadataJsonTest, ExtraClientIdIsAddedUnlessPresent) {
  v1::ClientMetadata m;
  m.set_client_name("n");
  EXPECT_EQ(Canon(ToJsonOrDie(m, "26837717140341")),
            R"({"client_id":"26837717140341","client_name":"n"})");
  EXPECT_EQ(Canon(ToJsonOrDie(m, "")), R"({"client_name":"n"})");
  (*m.mutable_additional_metadata())["client_id"].set_string_value("from-caller");
  EXPECT_EQ(Canon(ToJsonOrDie(m, "26837717140341")),
            R"({"client_id":"from-caller","client_name":"n"})");
  // Response-only names in additional_metadata pass through: Authlete judges.
  (*m.mutable_additional_metadata())["client_secret"].set_string_value("s");
  EXPECT_EQ(ToJsonOrDie(m).at("client_secret"), "s");
}

// ---------------------------------------------------------------------------
// (5) Authlete's responseContent.

constexpr char kContractExample[] = R"(
{"client_id":"26837717140341","client_secret":"bMsjvZm2FE1_mqJgxhmYj_Wr8rA0Pia_A_j-V076qQm6-P1edKB055W579GBe7MDUJX1fSWxwSjrcZ1Z3YP9xpw",
 "client_id_issued_at":1641735467,"client_secret_expires_at":0,
 "registration_access_token":"qs4Tu5TV7qqDYT93bFs6ISyhTByMF9o-54GY4JU5vTA",
 "registration_client_uri":"https://my-service.example.com/dcr/register/26837717140341",
 "client_name":"My Dynamic Client","token_endpoint_auth_method":"client_secret_basic",
 "subject_type":"public","id_token_signed_response_alg":"RS256","default_max_age":0,
 "require_pushed_authorization_requests":false,"require_signed_request_object":false,
 "tls_client_certificate_bound_access_tokens":false,"backchannel_user_code_parameter":false})";

TEST(ClientInformationTest, ParsesTheContractExample) {
  absl::StatusOr<v1::ClientInformation> info = ClientInformationFromJson(kContractExample);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->client_id(), "26837717140341");
  EXPECT_EQ(
      info->client_secret(),
      "bMsjvZm2FE1_mqJgxhmYj_Wr8rA0Pia_A_j-V076qQm6-P1edKB055W579GBe7MDUJX1fSWxwSjrcZ1Z3YP9xpw");
  ASSERT_TRUE(info->has_client_id_issued_at());
  EXPECT_EQ(info->client_id_issued_at().seconds(), 1641735467);
  EXPECT_EQ(info->client_id_issued_at().nanos(), 0);
  EXPECT_FALSE(info->has_client_secret_expires_at());  // 0: never expires
  EXPECT_EQ(info->registration_access_token(), "qs4Tu5TV7qqDYT93bFs6ISyhTByMF9o-54GY4JU5vTA");
  EXPECT_EQ(info->registration_client_uri(),
            "https://my-service.example.com/dcr/register/26837717140341");

  const v1::ClientMetadata& m = info->metadata();
  EXPECT_EQ(m.client_name(), "My Dynamic Client");
  EXPECT_EQ(m.token_endpoint_auth_method(), "client_secret_basic");
  EXPECT_EQ(m.subject_type(), v1::SUBJECT_TYPE_PUBLIC);
  EXPECT_EQ(m.id_token_signed_response_alg(), "RS256");
  ASSERT_TRUE(m.has_default_max_age());
  EXPECT_EQ(m.default_max_age(), 0);
  ASSERT_TRUE(m.has_require_pushed_authorization_requests());
  EXPECT_FALSE(m.require_pushed_authorization_requests());
  ASSERT_TRUE(m.has_require_signed_request_object());
  ASSERT_TRUE(m.has_tls_client_certificate_bound_access_tokens());
  ASSERT_TRUE(m.has_backchannel_user_code_parameter());
  EXPECT_EQ(m.additional_metadata_size(), 0);  // response-only names excluded

  // The metadata part re-serializes to exactly the example minus the
  // response-only names.
  json expected = json::parse(kContractExample);
  for (const char* n :
       {"client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at",
        "registration_access_token", "registration_client_uri"}) {
    expected.erase(n);
  }
  EXPECT_EQ(Canon(ToJsonOrDie(m)), Canon(expected));
}

TEST(ClientInformationTest, NumericClientIdAndExpiringSecret) {
  absl::StatusOr<v1::ClientInformation> info = ClientInformationFromJson(
      R"({"client_id":26837717140341,"client_secret_expires_at":1700000000,)"
      R"("client_id_issued_at":1641735467})");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->client_id(), "26837717140341");
  ASSERT_TRUE(info->has_client_secret_expires_at());
  EXPECT_EQ(info->client_secret_expires_at().seconds(), 1700000000);

  info = ClientInformationFromJson(R"({"client_id":-5})");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->client_id(), "-5");
  info = ClientInformationFromJson(R"({"client_id":18446744073709551615})");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->client_id(), "18446744073709551615");
  info = ClientInformationFromJson(R"({"client_id":2.6837717140341e13})");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->client_id(), "26837717140341");
}

TEST(ClientInformationTest, WrongTypedResponseFieldsAreIgnored) {
  absl::StatusOr<v1::ClientInformation> info = ClientInformationFromJson(R"({
      "client_id": {"id": 1}, "client_secret": 12, "client_id_issued_at": "yesterday",
      "client_secret_expires_at": 1e300, "registration_access_token": null,
      "registration_client_uri": ["x"], "client_name": "still parsed"})");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->client_id(), "");
  EXPECT_EQ(info->client_secret(), "");
  EXPECT_FALSE(info->has_client_id_issued_at());
  EXPECT_FALSE(info->has_client_secret_expires_at());
  EXPECT_EQ(info->registration_access_token(), "");
  EXPECT_EQ(info->registration_client_uri(), "");
  EXPECT_EQ(info->metadata().client_name(), "still parsed");
  EXPECT_EQ(info->metadata().additional_metadata_size(), 0);

  info = ClientInformationFromJson(R"({"client_id_issued_at": 1.5, "client_id": 1.5})");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->has_client_id_issued_at());
  EXPECT_EQ(info->client_id(), "");
  info = ClientInformationFromJson(R"({"client_id_issued_at": 99999999999999})");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->has_client_id_issued_at());  // beyond year 9999
}

TEST(ClientInformationTest, UnusableContentIsAnErrorThatQuotesNothing) {
  for (const char* text : {"", "not json", "[1,2]", "\"a string\"", "42", "null",
                           R"({"client_secret":"leak)", "{\"client_secret\":\"leak\"} trailing"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<v1::ClientInformation> info = ClientInformationFromJson(text);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(info.status().message(), testing::Not(HasSubstr("leak")));
  }
  const std::string deep = R"({"x":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
  EXPECT_EQ(ClientInformationFromJson(deep).status().code(), absl::StatusCode::kInternal);
}

// ---------------------------------------------------------------------------
// (6) Malformed and hostile input: errors or additional_metadata, never a crash.

TEST(MetadataJsonTest, NonJsonAndNonObjectsAreInvalidArgument) {
  for (const char* text : {"",
                           "   ",
                           "{",
                           "}",
                           "{\"a\":}",
                           "{\"a\":1,}",
                           "{'a':1}",
                           "{\"a\":1} {}",
                           "[]",
                           "[{\"client_name\":\"x\"}]",
                           "\"str\"",
                           "42",
                           "true",
                           "null",
                           "NaN",
                           "{\"a\":NaN}",
                           "{\"a\":1e400}",
                           "{\"a\":-1e400}",
                           "{\"a\":01}",
                           "/* c */ {}"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<v1::ClientMetadata> m = MetadataFromJsonString(text);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE(m.status().message().empty());
  }
  EXPECT_EQ(MetadataFromJson(json::array()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetadataFromJson(json(nullptr)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MetadataFromJson(json::array()).status().message(), HasSubstr("object"));
}

TEST(MetadataJsonTest, InvalidUtf8IsInvalidArgument) {
  for (const std::string& text :
       {std::string("{\"client_name\":\"\xff\xfe\"}"), std::string("{\"\xc3\x28\":1}"),
        std::string("{\"client_name\":\"\xed\xa0\x80\"}"),  // UTF-16 surrogate
        std::string("{\"client_name\":\"\xc0\xaf\"}"),      // overlong
        std::string("{\"a\":\"\\ud800\"}")}) {              // lone surrogate escape
    absl::StatusOr<v1::ClientMetadata> m = MetadataFromJsonString(text);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // A typed message holding invalid UTF-8 (possible only in-process) cannot
  // be serialized: an error, not an exception.
  v1::ClientMetadata m;
  (*m.mutable_additional_metadata())["custom"].set_string_value("\xff");
  absl::StatusOr<std::string> s = MetadataToJsonString(m);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MetadataJsonTest, DeepNestingIsRejectedNotACrash) {
  const std::string arrays =
      R"({"custom":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
  absl::StatusOr<v1::ClientMetadata> m = MetadataFromJsonString(arrays);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("custom"));

  std::string objects = R"({"jwks":)";
  for (int i = 0; i < 10000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(10001, '}');
  EXPECT_EQ(MetadataFromJsonString(objects).status().code(), absl::StatusCode::kInvalidArgument);

  // Unterminated deep nesting: a parse error.
  EXPECT_EQ(MetadataFromJsonString(std::string(10000, '[')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetadataFromJsonString(std::string(10000, '{')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The limit is exactly kMaxJsonDepth levels, the metadata object being level 1.
TEST(MetadataJsonTest, DepthLimitBoundary) {
  auto nested = [](int levels) {  // an object of `levels` levels in total
    return R"({"custom":)" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
  };
  v1::ClientMetadata ok = FromJsonOrDie(nested(kMaxJsonDepth));
  EXPECT_EQ(Canon(ToJsonOrDie(ok)), nested(kMaxJsonDepth));
  EXPECT_EQ(MetadataFromJsonString(nested(kMaxJsonDepth + 1)).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Typed side: a Value nested deeper than the limit is refused too.
  v1::ClientMetadata m;
  Value* v = &(*m.mutable_additional_metadata())["custom"];
  for (int i = 0; i < 200; ++i) v = v->mutable_list_value()->add_values();
  v->set_bool_value(true);
  EXPECT_EQ(MetadataToJson(m).status().code(), absl::StatusCode::kInvalidArgument);
  v1::ClientMetadata j;
  google::protobuf::Struct* s = j.mutable_jwks();
  for (int i = 0; i < 200; ++i) s = (*s->mutable_fields())["k"].mutable_struct_value();
  EXPECT_EQ(MetadataToJson(j).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MetadataJsonTest, HugeNumbersLandInAdditionalMetadata) {
  v1::ClientMetadata m =
      FromJsonOrDie(R"({"default_max_age": 123456789012345678901234567890, "custom_big": 1e308,)"
                    R"( "custom_tiny": -1e-320, "custom_max_u64": 18446744073709551615})");
  EXPECT_FALSE(m.has_default_max_age());
  EXPECT_DOUBLE_EQ(m.additional_metadata().at("default_max_age").number_value(),
                   1.2345678901234568e29);
  EXPECT_DOUBLE_EQ(m.additional_metadata().at("custom_big").number_value(), 1e308);
  EXPECT_DOUBLE_EQ(m.additional_metadata().at("custom_max_u64").number_value(),
                   18446744073709551615.0);
  json back = ToJsonOrDie(m);
  EXPECT_TRUE(back.at("custom_big").is_number_float());
  EXPECT_EQ(back.at("custom_big").get<double>(), 1e308);

  // int64 bounds fit default_max_age exactly.
  v1::ClientMetadata lo = FromJsonOrDie(R"({"default_max_age": -9223372036854775808})");
  EXPECT_EQ(lo.default_max_age(), std::numeric_limits<int64_t>::min());
  v1::ClientMetadata hi = FromJsonOrDie(R"({"default_max_age": 9223372036854775807})");
  EXPECT_EQ(hi.default_max_age(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Canon(ToJsonOrDie(hi)), R"({"default_max_age":9223372036854775807})");
}

TEST(MetadataJsonTest, UnrepresentableTypedValuesAreInvalidArgument) {
  {
    v1::ClientMetadata m;
    (*m.mutable_additional_metadata())["custom"].set_number_value(std::nan(""));
    EXPECT_EQ(MetadataToJson(m).status().code(), absl::StatusCode::kInvalidArgument);
  }
  {
    v1::ClientMetadata m;
    (*m.mutable_additional_metadata())["custom"].set_number_value(
        std::numeric_limits<double>::infinity());
    EXPECT_EQ(MetadataToJson(m).status().code(), absl::StatusCode::kInvalidArgument);
  }
  {
    v1::ClientMetadata m;
    (*m.mutable_additional_metadata())["custom"];  // Value with no kind
    absl::StatusOr<json> j = MetadataToJson(m);
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(j.status().message(), HasSubstr("custom"));
  }
  {
    v1::ClientMetadata m;
    m.set_application_type(static_cast<v1::ApplicationType>(7));  // open enum
    absl::StatusOr<json> j = MetadataToJson(m);
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(j.status().message(), HasSubstr("application_type"));
  }
}

TEST(MetadataJsonTest, DuplicateKeysAndOddNamesNeverCrash) {
  v1::ClientMetadata m =
      FromJsonOrDie(R"({"client_name":"first","client_name":"second","":"empty name",)"
                    R"("\u0000nul":1,"a\"b":2})");
  EXPECT_EQ(m.client_name(), "second");  // last one wins
  EXPECT_EQ(m.additional_metadata().at("").string_value(), "empty name");
  EXPECT_EQ(m.additional_metadata().count(std::string("\0nul", 4)), 1u);
  absl::StatusOr<std::string> s = MetadataToJsonString(m);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(
      Canon(json::parse(*s)),
      Canon(json::parse(R"({"client_name":"second","":"empty name","\u0000nul":1,"a\"b":2})")));
}

// The string readers go through simdjson and fall back to nlohmann for what
// simdjson refuses or reads differently; MetadataFromJson(json) is nlohmann
// alone. Both must give the same message for every document.
TEST(MetadataJsonTest, SimdjsonAndNlohmannReadEveryDocumentAlike) {
  std::vector<std::string> documents = {
      "{}",
      R"({"client_name":"x","default_max_age":-5,"require_auth_time":true})",
      R"({"default_max_age":4294967296,"custom_u":18446744073709551615,"custom_neg":-1})",
      R"({"default_max_age":1.0,"custom_f":-0.5,"custom_e":1e3,"custom_zero":0})",
      R"({"redirect_uris":[],"contacts":["a",1],"grant_types":["authorization_code"]})",
      R"({"application_type":"native","token_endpoint_auth_method":"NOT_A_METHOD"})",
      R"({"jwks":{"keys":[{"kty":"RSA","e":"AQAB","n":"x","ext":null}]},"custom":{"a":[[],{}]}})",
      R"({"client_name":"first","client_name":"second"})",                 // nlohmann: last wins
      R"({"jwks":{"k":1,"k":2},"x":[{"y":1,"y":[1]}]})",                  // nested repeats
      R"({"contacts":["a"],"contacts":["b"],"x":{"y":[1],"y":[2]}})",
      R"({"big":123456789012345678901234567890,"default_max_age":1e400})",  // simdjson refuses
      R"({"client_name#ja":"\u30af\u30e9\u30a4\u30a2\u30f3\u30c8","esc":"a\"b\\c\/d\n"})",
      R"({"client_id":"1","client_secret":"s","registration_access_token":"t"})",
  };
  // Nested deeper than simdjson's check (kMaxJsonDepth + 2) and than the limit.
  documents.push_back(R"({"custom":)" + std::string(70, '[') + std::string(70, ']') + "}");
  documents.push_back(R"({"custom":)" + std::string(40, '[') + std::string(40, ']') + "}");
  for (const std::string& text : documents) {
    SCOPED_TRACE(text);
    absl::StatusOr<v1::ClientMetadata> fast = MetadataFromJsonString(text);
    absl::StatusOr<v1::ClientMetadata> reference;
    try {
      reference = MetadataFromJson(json::parse(text));
    } catch (const json::exception&) {
      EXPECT_FALSE(fast.ok());
      continue;
    }
    ASSERT_EQ(fast.ok(), reference.ok()) << fast.status() << " / " << reference.status();
    if (!fast.ok()) {
      EXPECT_EQ(fast.status(), reference.status());
      continue;
    }
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*fast, *reference))
        << fast->DebugString() << "\n---\n" << reference->DebugString();
    // And ClientInformationFromJson reads the same metadata.
    absl::StatusOr<v1::ClientInformation> info = ClientInformationFromJson(text);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(info->metadata(), *reference));
  }
}

TEST(ClientInformationTest, ARepeatedResponseNameKeepsItsLastValue) {
  absl::StatusOr<v1::ClientInformation> info = ClientInformationFromJson(
      R"({"client_id":"1","client_secret":"old","client_secret":"new","client_id":2})");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->client_id(), "2");
  EXPECT_EQ(info->client_secret(), "new");
}

// ---------------------------------------------------------------------------
// (7) Value numbers.

TEST(MetadataJsonTest, IntegralNumbersAreEmittedAsIntegers) {
  v1::ClientMetadata m;
  auto& extra = *m.mutable_additional_metadata();
  extra["int"].set_number_value(42.0);
  extra["negative"].set_number_value(-17.0);
  extra["zero"].set_number_value(0.0);
  extra["negative_zero"].set_number_value(-0.0);
  extra["two_pow_53"].set_number_value(9007199254740992.0);
  extra["minus_two_pow_53"].set_number_value(-9007199254740992.0);
  extra["beyond_2_53"].set_number_value(18014398509481984.0);  // 2^54: stays a double
  extra["fraction"].set_number_value(1.5);
  extra["in_list"].mutable_list_value()->add_values()->set_number_value(3.0);
  (*extra["in_struct"].mutable_struct_value()->mutable_fields())["n"].set_number_value(1e3);
  (*m.mutable_jwks()->mutable_fields())["exp"].set_number_value(65537.0);

  absl::StatusOr<std::string> s = MetadataToJsonString(m);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, HasSubstr(R"("int":42,)"));
  EXPECT_THAT(*s, HasSubstr(R"("negative":-17,)"));
  EXPECT_THAT(*s, HasSubstr(R"("zero":0})"));
  EXPECT_THAT(*s, HasSubstr(R"("negative_zero":0,)"));
  EXPECT_THAT(*s, HasSubstr(R"("two_pow_53":9007199254740992)"));
  EXPECT_THAT(*s, HasSubstr(R"("minus_two_pow_53":-9007199254740992,)"));
  EXPECT_THAT(*s, HasSubstr(R"("fraction":1.5,)"));
  EXPECT_THAT(*s, HasSubstr(R"("in_list":[3],)"));
  EXPECT_THAT(*s, HasSubstr(R"("in_struct":{"n":1000},)"));
  EXPECT_THAT(*s, HasSubstr(R"("jwks":{"exp":65537})"));
  const json j = json::parse(*s);
  EXPECT_TRUE(j.at("int").is_number_integer());
  EXPECT_TRUE(j.at("beyond_2_53").is_number_float());
  EXPECT_EQ(j.at("beyond_2_53").get<double>(), 18014398509481984.0);
  EXPECT_TRUE(j.at("fraction").is_number_float());
}

}  // namespace
}  // namespace dcr::metadata
