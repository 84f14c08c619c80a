// Token introspection (contract §10) over HTTP, v2 and v3, and the
// test-only ways to issue access tokens (POST /emulator/tokens,
// Emulator::IssueAccessToken).
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "tests/emulator/access_token_store.h"
#include "tests/emulator/tests/test_util.h"

namespace dcr::emulator {
namespace {

using ::dcr::emulator::testing::Basic;
using ::dcr::emulator::testing::Bearer;
using ::dcr::emulator::testing::HttpResult;
using ::dcr::emulator::testing::Request;
using ::nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kOtherId[] = "44444444444444";
constexpr char kOtherToken[] = "other-token";
constexpr int64_t kClientId = 26837717140341;

std::string Challenge(const std::string& error, const std::string& code,
                      const std::string& description, const std::string& scope = "") {
  std::string value = "Bearer error=\"" + error + "\",error_description=\"[" + code + "] " +
                      description + "\",error_uri=\"https://docs.authlete.com/#" + code + "\"";
  if (!scope.empty()) value += ",scope=\"" + scope + "\"";
  return value;
}

class IntrospectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    ServiceConfig other = DefaultServiceConfig();
    other.service_id = kOtherId;
    other.service_token = kOtherToken;
    options.services.push_back(other);
    options.max_access_tokens = 50;
    auto emulator = Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
  }

  Emulator& e() { return *emulator_; }

  std::string Issue(std::vector<std::string> scopes, int64_t expires_in_s = 3600,
                    std::string subject = "", std::string service_id = "") {
    AccessTokenSpec spec;
    spec.scopes = std::move(scopes);
    spec.expires_in = absl::Seconds(expires_in_s);
    spec.subject = std::move(subject);
    spec.client_id = kClientId;
    spec.service_id = std::move(service_id);
    absl::StatusOr<std::string> token = e().IssueAccessToken(spec);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }

  std::string V3Url(const std::string& service_id = kDefaultServiceId) {
    return e().base_url() + "/api/" + service_id + "/auth/introspection";
  }
  std::string V2Url() { return e().base_url() + "/api/auth/introspection"; }

  HttpResult RawV3(const std::string& body, const std::string& token = kDefaultServiceToken) {
    return Request("POST", V3Url(), {Bearer(token), "Content-Type: application/json"}, body);
  }

  json V3(const json& params) {
    HttpResult r = RawV3(params.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }

  json V2(const json& params) {
    HttpResult r = Request("POST", V2Url(),
                           {Basic(kDefaultServiceId, kDefaultApiSecret),
                            "Content-Type: application/json"},
                           params.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }

  std::string Admin() { return e().base_url() + "/emulator/tokens"; }

  std::unique_ptr<Emulator> emulator_;
};

void ExpectAction(const json& body, const std::string& action, const std::string& code) {
  EXPECT_EQ(body.value("action", ""), action) << body.dump();
  EXPECT_EQ(body.value("resultCode", ""), code) << body.dump();
  EXPECT_EQ(body.value("resultMessage", "").rfind("[" + code + "] ", 0), 0u) << body.dump();
  EXPECT_TRUE(body["responseContent"].is_string()) << body.dump();
}

TEST_F(IntrospectionTest, OkV3CarriesTheTokensFacts) {
  const int64_t before_ms = absl::ToUnixMillis(absl::Now());
  std::string token = Issue({"register", "read"}, 3600, "alice");
  json body = V3({{"token", token}, {"scopes", {"register"}}});
  ExpectAction(body, "OK", "A056001");
  EXPECT_EQ(body["resultMessage"], "[A056001] The access token is valid.");
  EXPECT_EQ(body["responseContent"], "Bearer error=\"invalid_request\"");
  EXPECT_EQ(body["clientId"], kClientId);
  EXPECT_TRUE(body["clientId"].is_number_integer());
  EXPECT_EQ(body["subject"], "alice");
  EXPECT_THAT(body["scopes"].get<std::vector<std::string>>(), ElementsAre("register", "read"));
  const int64_t expires_at = body["expiresAt"].get<int64_t>();
  EXPECT_GE(expires_at, before_ms + 3600 * 1000);
  EXPECT_LE(expires_at, absl::ToUnixMillis(absl::Now()) + 3600 * 1000);
  EXPECT_EQ(body["existent"], true);
  EXPECT_EQ(body["usable"], true);
  EXPECT_EQ(body["sufficient"], true);
  EXPECT_EQ(body["refreshable"], false);
}

TEST_F(IntrospectionTest, OkV2WithBasicAuthentication) {
  std::string token = Issue({"register"});
  json body = V2({{"token", token}, {"scopes", {"register"}}});
  ExpectAction(body, "OK", "A056001");
  EXPECT_EQ(body["clientId"], kClientId);
  EXPECT_FALSE(body.contains("subject")) << "a token without subject (client credentials)";
}

TEST_F(IntrospectionTest, NoScopesRequiredIsOk) {
  std::string token = Issue({});
  ExpectAction(V3({{"token", token}}), "OK", "A056001");
  ExpectAction(V3({{"token", token}, {"scopes", json::array()}}), "OK", "A056001");
  ExpectAction(V3({{"token", token}, {"scopes", nullptr}, {"subject", nullptr}}), "OK",
               "A056001");
}

TEST_F(IntrospectionTest, NeverIssuedTokenIsUnauthorized) {
  json body = V3({{"token", "never-issued"}, {"scopes", {"register"}}});
  ExpectAction(body, "UNAUTHORIZED", "A056301");
  EXPECT_EQ(body["responseContent"],
            Challenge("invalid_token", "A056301", "The access token does not exist."));
  EXPECT_EQ(body["existent"], false);
  EXPECT_EQ(body["usable"], false);
  EXPECT_EQ(body["sufficient"], false);
  EXPECT_FALSE(body.contains("clientId"));
  ExpectAction(V2({{"token", "never-issued"}}), "UNAUTHORIZED", "A056301");
}

TEST_F(IntrospectionTest, TokenOfAnotherServiceIsUnknownHere) {
  std::string other = Issue({"register"}, 3600, "", kOtherId);
  ExpectAction(V3({{"token", other}}), "UNAUTHORIZED", "A056301");
  HttpResult r = Request("POST", V3Url(kOtherId),
                         {Bearer(kOtherToken), "Content-Type: application/json"},
                         json{{"token", other}}.dump());
  ExpectAction(r.Json(), "OK", "A056001");
}

TEST_F(IntrospectionTest, ExpiredTokenIsUnauthorized) {
  for (int64_t expires_in : {0, -1, -86400}) {
    std::string token = Issue({"register"}, expires_in, "alice");
    json body = V3({{"token", token}, {"scopes", {"register"}}});
    ExpectAction(body, "UNAUTHORIZED", "A056302");
    EXPECT_EQ(body["responseContent"],
              "Bearer error=\"invalid_token\",error_description=\"[A056302] The access token has "
              "expired.\",error_uri=\"https://docs.authlete.com/#A056302\"");
    EXPECT_EQ(body["existent"], true);
    EXPECT_EQ(body["usable"], false);
    EXPECT_EQ(body["clientId"], kClientId);
    EXPECT_LE(body["expiresAt"].get<int64_t>(), absl::ToUnixMillis(absl::Now()));
    ExpectAction(V2({{"token", token}}), "UNAUTHORIZED", "A056302");
  }
}

TEST_F(IntrospectionTest, TokenExpiresWithTime) {
  // Two seconds: room for a busy machine between issuing and the first call.
  std::string token = Issue({"register"}, 2);
  ExpectAction(V3({{"token", token}}), "OK", "A056001");
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  ExpectAction(V3({{"token", token}}), "UNAUTHORIZED", "A056302");
}

TEST_F(IntrospectionTest, EveryRequiredScopeMustBeGranted) {
  std::string token = Issue({"register", "read"});
  ExpectAction(V3({{"token", token}, {"scopes", {"read", "register"}}}), "OK", "A056001");
  ExpectAction(V3({{"token", token}, {"scopes", {"register", "register"}}}), "OK", "A056001");

  json body = V3({{"token", token}, {"scopes", {"register", "write"}}});
  ExpectAction(body, "FORBIDDEN", "A056401");
  EXPECT_EQ(body["responseContent"],
            Challenge("insufficient_scope", "A056401",
                      "The access token does not cover the required scopes.", "register write"));
  EXPECT_EQ(body["existent"], true);
  EXPECT_EQ(body["usable"], true);
  EXPECT_EQ(body["sufficient"], false);

  std::string unscoped = Issue({});
  body = V2({{"token", unscoped}, {"scopes", {"register"}}});
  ExpectAction(body, "FORBIDDEN", "A056401");
  EXPECT_EQ(body["responseContent"],
            "Bearer error=\"insufficient_scope\",error_description=\"[A056401] The access token "
            "does not cover the required scopes.\","
            "error_uri=\"https://docs.authlete.com/#A056401\",scope=\"register\"");
  // Scope names are compared exactly.
  ExpectAction(V3({{"token", token}, {"scopes", {"Register"}}}), "FORBIDDEN", "A056401");
}

TEST_F(IntrospectionTest, SubjectMustMatchWhenGiven) {
  std::string token = Issue({"register"}, 3600, "alice");
  ExpectAction(V3({{"token", token}, {"subject", "alice"}}), "OK", "A056001");
  ExpectAction(V3({{"token", token}, {"subject", ""}}), "OK", "A056001");
  json body = V3({{"token", token}, {"scopes", {"register"}}, {"subject", "bob"}});
  ExpectAction(body, "FORBIDDEN", "A056402");
  EXPECT_EQ(body["responseContent"],
            Challenge("insufficient_scope", "A056402",
                      "The subject associated with the access token is different from the "
                      "subject in the request."));
  EXPECT_EQ(body["sufficient"], true) << "the scopes are covered";
  EXPECT_EQ(body["subject"], "alice");
  // A token without subject never matches one.
  std::string client_token = Issue({"register"});
  ExpectAction(V2({{"token", client_token}, {"subject", "alice"}}), "FORBIDDEN", "A056402");
}

TEST_F(IntrospectionTest, ScopesAreCheckedBeforeTheSubject) {
  std::string token = Issue({"read"}, 3600, "alice");
  ExpectAction(V3({{"token", token}, {"scopes", {"register"}}, {"subject", "bob"}}), "FORBIDDEN",
               "A056401");
}

TEST_F(IntrospectionTest, BadRequests) {
  struct Case {
    std::string body;
    std::string code;
    std::string description;
  };
  const std::vector<Case> cases = {
      {"{", "A056201", "The request body is not a JSON object."},
      {"", "A056201", "The request body is not a JSON object."},
      {"[]", "A056201", "The request body is not a JSON object."},
      {R"("token")", "A056201", "The request body is not a JSON object."},
      {std::string(200, '[') + std::string(200, ']'), "A056201",
       "The request body is not a JSON object."},
      {"{}", "A056202", "The request does not contain 'token' parameter."},
      {R"({"token":""})", "A056202", "The request does not contain 'token' parameter."},
      {R"({"token":null})", "A056202", "The request does not contain 'token' parameter."},
      {R"({"token":42})", "A056203", "The request parameter 'token' must be a string."},
      {R"({"token":["x"]})", "A056203", "The request parameter 'token' must be a string."},
      {R"({"token":"x","scopes":"register"})", "A056204",
       "The request parameter 'scopes' must be an array of scope names."},
      {R"({"token":"x","scopes":[1]})", "A056204",
       "The request parameter 'scopes' must be an array of scope names."},
      {R"({"token":"x","scopes":["a b"]})", "A056204",
       "The request parameter 'scopes' must be an array of scope names."},
      {R"({"token":"x","scopes":["a\"b"]})", "A056204",
       "The request parameter 'scopes' must be an array of scope names."},
      {R"({"token":"x","scopes":[""]})", "A056204",
       "The request parameter 'scopes' must be an array of scope names."},
      {R"({"token":"x","subject":7})", "A056205",
       "The request parameter 'subject' must be a string."},
  };
  for (const Case& c : cases) {
    HttpResult r = RawV3(c.body);
    ASSERT_EQ(r.status, 200) << c.body << " -> " << r.body;
    json body = r.Json();
    ExpectAction(body, "BAD_REQUEST", c.code);
    EXPECT_EQ(body["responseContent"], Challenge("invalid_request", c.code, c.description))
        << c.body;
    EXPECT_EQ(body["existent"], false);
  }
  // v2 likewise, JSON only.
  HttpResult form = Request("POST", V2Url(),
                            {Basic(kDefaultServiceId, kDefaultApiSecret),
                             "Content-Type: application/x-www-form-urlencoded"},
                            "token=abc");
  ASSERT_EQ(form.status, 200) << form.body;
  ExpectAction(form.Json(), "BAD_REQUEST", "A056201");
}

TEST_F(IntrospectionTest, HostileBodiesAreBadRequestsNotCrashes) {
  const std::string token = Issue({"register"});
  for (const std::string& body : {
           std::string("{\"token\":\"\xff\xfe\"}"), std::string("{\"token\":\"a\0b\"}", 16),
           std::string(100000, '{'), std::string("{\"token\":1e999}"),
           std::string("{\"token\":\"x\",\"scopes\":[") + std::string(5000, '[') + "]}",
           std::string("{\"token\":\"x\",\"scopes\":[\"\\u0000\"]}"),
           std::string("{\"token\":\"x\",\"scopes\":[\"\xc3\xa9\"]}")}) {
    HttpResult r = RawV3(body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Json().value("action", ""), "BAD_REQUEST") << r.body;
  }
  // Duplicate members: the parser keeps the last one, as Jackson does.
  HttpResult dup = RawV3(R"({"token":"nope","token":")" + token + R"("})");
  EXPECT_EQ(dup.Json().value("action", ""), "OK") << dup.body;
  ExpectAction(V3({{"token", token}}), "OK", "A056001");
}

TEST_F(IntrospectionTest, AuthenticatedAsTheOtherApis) {
  auto code = [](const HttpResult& r) { return r.Json().value("resultCode", ""); };
  std::string body = json{{"token", Issue({"register"})}}.dump();
  HttpResult missing = Request("POST", V3Url(), {"Content-Type: application/json"}, body);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(code(missing), "A001202");
  HttpResult wrong = RawV3(body, "wrong-token");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(code(wrong), "A001204");
  HttpResult other = RawV3(body, kOtherToken);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(code(other), "A001205");
  HttpResult unknown_service =
      Request("POST", V3Url("99999999999999"),
              {Bearer(kDefaultServiceToken), "Content-Type: application/json"}, body);
  EXPECT_EQ(unknown_service.status, 404);
  EXPECT_EQ(code(unknown_service), "A001206");
  HttpResult basic_on_v3 = Request(
      "POST", V3Url(), {Basic(kDefaultServiceId, kDefaultApiSecret)}, body);
  EXPECT_EQ(basic_on_v3.status, 401);
  EXPECT_EQ(code(basic_on_v3), "A001203");
  HttpResult bad_secret =
      Request("POST", V2Url(), {Basic(kDefaultServiceId, "wrong")}, body);
  EXPECT_EQ(bad_secret.status, 401);
  EXPECT_EQ(code(bad_secret), "A001204");
  HttpResult get = Request("GET", V3Url(), {Bearer(kDefaultServiceToken)}, "");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.Header("Allow"), "POST");
  // Refusals carry no action: they are failures of the caller's own call.
  EXPECT_FALSE(wrong.Json().contains("action"));
}

TEST_F(IntrospectionTest, StatsCountIntrospectionRequests) {
  std::string token = Issue({"register"});
  V3({{"token", token}});
  V2({{"token", "nope"}});
  RawV3("{", "wrong-token");
  Stats s = e().stats();
  EXPECT_EQ(s.introspection_requests, 3);
  EXPECT_EQ(s.total, 3);
  EXPECT_EQ(s.refused, 1);
  EXPECT_EQ(s.other_requests, 0);
  EXPECT_EQ(s.register_requests, 0);
  EXPECT_EQ(s.access_tokens_stored, 1);
  json stats = Request("GET", e().base_url() + "/emulator/stats", {}, "").Json();
  EXPECT_EQ(stats["introspection"], 3);
  EXPECT_EQ(stats["accessTokensStored"], 1);
  e().ResetStats();
  EXPECT_EQ(e().stats().introspection_requests, 0);
  EXPECT_EQ(e().stats().access_tokens_stored, 1) << "reset keeps the tokens";
}

TEST_F(IntrospectionTest, FaultsCanTargetIntrospection) {
  absl::StatusOr<FaultSpec> spec =
      ParseFaultSpec(R"({"kind":"rate_limit","operation":"introspection","count":1})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  e().SetFaults(*spec);
  std::string token = Issue({"register"});
  // A DCR call is not touched by the rule.
  EXPECT_EQ(Request("POST", e().base_url() + "/api/" + kDefaultServiceId + "/client/registration",
                    {Bearer(kDefaultServiceToken)}, R"({"json":"{}"})")
                .status,
            200);
  EXPECT_EQ(RawV3(json{{"token", token}}.dump()).status, 429);
  ExpectAction(V3({{"token", token}}), "OK", "A056001");
}

TEST_F(IntrospectionTest, InternalServerErrorFault) {
  std::string token = Issue({"register"});
  e().SetFaults(*ParseFaultSpec(R"({"kind":"internal_server_error","operation":"introspection"})"));
  for (const json& body : {V3({{"token", token}}), V2({{"token", token}})}) {
    ExpectAction(body, "INTERNAL_SERVER_ERROR", "A056101");
    EXPECT_EQ(body["responseContent"],
              Challenge("server_error", "A056101", "Authlete Server error."));
    EXPECT_EQ(body["existent"], false);
    EXPECT_FALSE(body.contains("clientId"));
  }
  e().ClearFaults();
  ExpectAction(V3({{"token", token}}), "OK", "A056001");
}

// --- Issuing tokens ------------------------------------------------------

TEST_F(IntrospectionTest, AdminEndpointIssuesTokens) {
  const int64_t before_ms = absl::ToUnixMillis(absl::Now());
  HttpResult r = Request("POST", Admin(), {"Content-Type: application/json"},
                         R"({"scopes":["register"],"expires_in":600,"subject":"svc",)"
                         R"("client_id":123})");
  ASSERT_EQ(r.status, 200) << r.body;
  json issued = r.Json();
  const std::string token = issued.value("access_token", "");
  EXPECT_EQ(token.size(), 43u) << "256 random bits, base64url";
  EXPECT_EQ(issued["token_type"], "Bearer");
  EXPECT_EQ(issued["expires_in"], 600);
  EXPECT_EQ(issued["scope"], "register");
  EXPECT_GE(issued["expires_at"].get<int64_t>(), before_ms + 600 * 1000);

  json body = V3({{"token", token}, {"scopes", {"register"}}, {"subject", "svc"}});
  ExpectAction(body, "OK", "A056001");
  EXPECT_EQ(body["clientId"], 123);
  EXPECT_EQ(body["expiresAt"], issued["expires_at"]);

  // Defaults: the first service, no scope, no subject, client 0, one hour.
  json plain = Request("POST", Admin(), {}, "").Json();
  EXPECT_EQ(plain["expires_in"], 3600);
  EXPECT_EQ(plain["scope"], "");
  body = V3({{"token", plain["access_token"]}});
  ExpectAction(body, "OK", "A056001");
  EXPECT_EQ(body["clientId"], 0);

  // Already expired, on request.
  json expired = Request("POST", Admin(), {}, R"({"expires_in":-5})").Json();
  ExpectAction(V3({{"token", expired["access_token"]}}), "UNAUTHORIZED", "A056302");

  // Another service's token.
  json other = Request("POST", Admin(), {}, R"({"service_id":"44444444444444"})").Json();
  ExpectAction(V3({{"token", other["access_token"]}}), "UNAUTHORIZED", "A056301");

  EXPECT_NE(plain["access_token"], issued["access_token"]);
  json count = Request("GET", Admin(), {}, "").Json();
  EXPECT_EQ(count["count"], 4);
  EXPECT_EQ(count["max"], 50);
  EXPECT_EQ(Request("DELETE", Admin(), {}, "").status, 200);
  EXPECT_EQ(e().stats().access_tokens_stored, 0);
  ExpectAction(V3({{"token", token}}), "UNAUTHORIZED", "A056301");
  EXPECT_EQ(Request("PUT", Admin(), {}, "").status, 405);
}

TEST_F(IntrospectionTest, AdminEndpointRefusesBadSpecs) {
  for (const char* bad : {
           "[]", "{", R"({"scopes":"register"})", R"({"scopes":["a b"]})",
           R"({"scopes":["x\\y"]})", R"({"scopes":[""]})", R"({"expires_in":"60"})",
           R"({"expires_in":1.5})", R"({"expires_in":400000000})",
           R"({"expires_in":-400000000})", R"({"expires_in":18446744073709551615})",
           R"({"subject":1})", R"({"client_id":-1})", R"({"client_id":"1"})",
           R"({"client_id":18446744073709551615})", R"({"service_id":"99"})",
           R"({"service_id":1})", R"({"scope":"register"})"}) {
    HttpResult r = Request("POST", Admin(), {}, bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_TRUE(r.Json().contains("error")) << bad;
  }
  EXPECT_EQ(e().stats().access_tokens_stored, 0);
}

TEST_F(IntrospectionTest, IssueAccessTokenRefusesBadSpecs) {
  AccessTokenSpec spec;
  spec.service_id = "99";
  EXPECT_TRUE(absl::IsInvalidArgument(e().IssueAccessToken(spec).status()));
  spec = AccessTokenSpec();
  spec.scopes = {"has space"};
  EXPECT_TRUE(absl::IsInvalidArgument(e().IssueAccessToken(spec).status()));
}

TEST_F(IntrospectionTest, ControlPathsAreNotAuthleteApis) {
  // Admin requests are neither counted nor recorded, and the token endpoint
  // exists only under /emulator/.
  Request("POST", Admin(), {}, R"({"scopes":["register"]})");
  EXPECT_EQ(e().stats().total, 0);
  EXPECT_TRUE(e().recorded_requests().empty());
  for (const std::string path : {"/api/emulator/tokens", "/api/21653835348762/emulator/tokens",
                                 "/api/tokens", "/test/tokens", "/emulator/tokens/x"}) {
    HttpResult r = Request("POST", e().base_url() + path, {Bearer(kDefaultServiceToken)},
                           R"({"scopes":["register"]})");
    EXPECT_EQ(r.status, 404) << path << " -> " << r.body;
    EXPECT_FALSE(r.Json().contains("access_token")) << path;
  }
  EXPECT_EQ(e().stats().other_requests, 4) << "/emulator/tokens/x is an admin 404";
}

TEST(IntrospectionAdminTokenTest, IssuingNeedsTheAdminToken) {
  EmulatorOptions options;
  options.admin_token = "admin-secret";
  auto e = Emulator::Start(options);
  ASSERT_TRUE(e.ok()) << e.status();
  std::string url = (*e)->base_url() + "/emulator/tokens";
  EXPECT_EQ(Request("POST", url, {}, "{}").status, 401);
  EXPECT_EQ(Request("POST", url, {Bearer(kDefaultServiceToken)}, "{}").status, 401);
  EXPECT_EQ(Request("POST", url, {Bearer("admin-secret")}, "{}").status, 200);
  EXPECT_EQ((*e)->stats().access_tokens_stored, 1);
}

TEST(IntrospectionBoundTest, LiveTokensAreBoundedAndExpiredOnesMakeRoom) {
  EmulatorOptions options;
  options.max_access_tokens = 3;
  auto e = Emulator::Start(options);
  ASSERT_TRUE(e.ok()) << e.status();
  AccessTokenSpec live;
  AccessTokenSpec expired;
  expired.expires_in = absl::ZeroDuration();
  ASSERT_TRUE((*e)->IssueAccessToken(live).ok());
  ASSERT_TRUE((*e)->IssueAccessToken(live).ok());
  absl::StatusOr<std::string> dead = (*e)->IssueAccessToken(expired);
  ASSERT_TRUE(dead.ok());
  // Full: the expired token makes room, and is gone.
  absl::StatusOr<std::string> third = (*e)->IssueAccessToken(live);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ((*e)->stats().access_tokens_stored, 3);
  HttpResult r = Request("POST", (*e)->base_url() + "/api/" + kDefaultServiceId +
                                     "/auth/introspection",
                         {Bearer(kDefaultServiceToken)}, json{{"token", *dead}}.dump());
  EXPECT_EQ(r.Json().value("resultCode", ""), "A056301");
  // Full of live tokens: refused, nothing evicted.
  EXPECT_TRUE(absl::IsResourceExhausted((*e)->IssueAccessToken(live).status()));
  HttpResult full = Request("POST", (*e)->base_url() + "/emulator/tokens", {}, "{}");
  EXPECT_EQ(full.status, 503) << full.body;
  EXPECT_THAT(full.Json().value("error", ""), HasSubstr("maximum"));
  r = Request("POST", (*e)->base_url() + "/api/" + kDefaultServiceId + "/auth/introspection",
              {Bearer(kDefaultServiceToken)}, json{{"token", *third}}.dump());
  EXPECT_EQ(r.Json().value("action", ""), "OK");
  (*e)->ClearAccessTokens();
  EXPECT_TRUE((*e)->IssueAccessToken(live).ok());
}

TEST(IntrospectionBoundTest, ZeroBoundIsRefusedAtStart) {
  EmulatorOptions options;
  options.max_access_tokens = 0;
  EXPECT_FALSE(Emulator::Start(options).ok());
}

TEST(IntrospectionConcurrencyTest, IssuingAndIntrospectingFromManyThreads) {
  EmulatorOptions options;
  options.threads = 4;
  auto e = Emulator::Start(options);
  ASSERT_TRUE(e.ok()) << e.status();
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::vector<std::string>> tokens(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> not_ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      testing::TestClient client;  // one connection per thread, kept alive
      for (int i = 0; i < kEach; ++i) {
        AccessTokenSpec spec;
        spec.scopes = {"register"};
        absl::StatusOr<std::string> token = (*e)->IssueAccessToken(spec);
        if (!token.ok()) {
          ++not_ok;
          continue;
        }
        tokens[t].push_back(*token);
        HttpResult r = client.Request(
            "POST", (*e)->base_url() + "/api/" + kDefaultServiceId + "/auth/introspection",
            {Bearer(kDefaultServiceToken)},
            json{{"token", *token}, {"scopes", {"register"}}}.dump());
        if (r.Json().value("action", "") != "OK") ++not_ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(not_ok.load(), 0);
  std::set<std::string> unique;
  for (const auto& list : tokens) unique.insert(list.begin(), list.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ((*e)->stats().introspection_requests, kThreads * kEach);
}

// --- The store itself ----------------------------------------------------

TEST(AccessTokenStoreTest, KeepsRecordsByTokenNotTheTokens) {
  AccessTokenStore store(10);
  AccessTokenSpec spec;
  spec.service_id = "1";
  spec.scopes = {"a", "b"};
  spec.subject = "s";
  spec.client_id = 7;
  spec.expires_in = absl::Seconds(10);
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<IssuedAccessToken> issued = store.Issue(spec, now);
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(issued->expires_at_ms, 1700000010000);
  absl::optional<AccessTokenRecord> found = store.Find(issued->access_token);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->service_id, "1");
  EXPECT_THAT(found->scopes, ElementsAre("a", "b"));
  EXPECT_EQ(found->subject, "s");
  EXPECT_EQ(found->client_id, 7);
  EXPECT_EQ(found->expires_at_ms, 1700000010000);
  EXPECT_FALSE(store.Find(issued->access_token + "x").has_value());
  EXPECT_FALSE(store.Find("").has_value());
  EXPECT_EQ(store.size(), 1u);
}

TEST(AccessTokenStoreTest, TokensAreUnique) {
  AccessTokenStore store(1000);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<IssuedAccessToken> t = store.Issue(AccessTokenSpec(), absl::Now());
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(seen.insert(t->access_token).second);
  }
  EXPECT_TRUE(absl::IsResourceExhausted(store.Issue(AccessTokenSpec(), absl::Now()).status()));
}

TEST(AccessTokenStoreTest, ExpiredTokensAreDroppedOnlyWhenFull) {
  AccessTokenStore store(2);
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  AccessTokenSpec short_lived;
  short_lived.expires_in = absl::Seconds(5);
  absl::StatusOr<IssuedAccessToken> a = store.Issue(short_lived, now);
  absl::StatusOr<IssuedAccessToken> b = store.Issue(short_lived, now);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(store.Issue(short_lived, now).status()));
  // Later, both have expired: still found until room is needed.
  const absl::Time later = now + absl::Seconds(5);
  EXPECT_TRUE(store.Find(a->access_token).has_value());
  absl::StatusOr<IssuedAccessToken> c = store.Issue(short_lived, later);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(store.Find(a->access_token).has_value());
  EXPECT_FALSE(store.Find(b->access_token).has_value());
  EXPECT_EQ(store.size(), 1u);
}

}  // namespace
}  // namespace dcr::emulator
