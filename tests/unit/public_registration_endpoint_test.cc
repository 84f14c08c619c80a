// The public registration endpoint's logic against a StrictMock of the
// Authlete connection: routing, every action's status, headers and body,
// the gateway's own errors, the three access modes (the introspection call
// included), the policy with the RFC 8252 loopback rule, trusted proxies
// and the rate limits. No sockets: the HTTP server has its own test.
#include "service/public_registration/registration_endpoint.h"

#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "service/public_registration/answers.h"
#include "service/public_registration/client_address.h"
#include "service/public_registration/initial_access_tokens.h"
#include "service/public_registration/metadata_check.h"
#include "service/public_registration/registration_rate_limiter.h"
#include "service/state/in_process_state_store.h"
#include "service/telemetry/logging.h"
#include "tests/testing/mock_authlete_connection.h"

namespace dcr::public_registration {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::StrictMock;
using api::Operation;
using Access = RegistrationEndpoint::Access;

constexpr char kServiceId[] = "21653835348762";

core::DcrResponse Success(v1::Action action, std::string content) {
  core::DcrResponse response;
  response.action = action;
  response.result_code = "A202001";
  response.response_content = std::move(content);
  return response;
}

// An action other than the operation's success, as authlete_response.cc
// turns it into an error.
core::Error ActionError(v1::Action action, std::string content) {
  core::Error error(action == v1::ACTION_INTERNAL_SERVER_ERROR
                        ? v1::ERROR_REASON_AUTHLETE_ERROR
                        : v1::ERROR_REASON_REGISTRATION_REJECTED,
                    "Authlete said [A1] secret internals at https://internal.example/api");
  error.set_action(action);
  error.set_response_content(std::move(content));
  return error;
}

PublicRequest Request(std::string method, std::string target, std::string body = "",
                      std::string authorization = "") {
  PublicRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.body = std::move(body);
  request.authorization = std::move(authorization);
  request.content_type = "application/json";
  request.peer_address = "192.0.2.10";
  return request;
}

class EndpointTest : public ::testing::Test {
 protected:
  std::shared_ptr<RegistrationEndpoint> Make(
      Access access = Access::kOpen,
      callers::PublicRegistrationPolicy policy = callers::DefaultPublicPolicy(),
      std::vector<std::string> proxies = {}, RegistrationRateLimiter::Options rate = {}) {
    RegistrationEndpoint::Options options;
    options.access = access;
    options.call.default_service_id = kServiceId;
    options.observe.log_requests = false;
    options.rate = rate;
    absl::StatusOr<TrustedProxies> trusted = TrustedProxies::Parse(proxies);
    EXPECT_TRUE(trusted.ok());
    return std::make_shared<RegistrationEndpoint>(std::move(options), std::move(policy), tokens_,
                                                  *trusted, authlete_, nullptr,
                                                  [this] { return now_; });
  }

  // Answers synchronously: the mock runs the callback inline.
  PublicResponse Run(RegistrationEndpoint& endpoint, PublicRequest request) {
    absl::optional<PublicResponse> answer;
    endpoint.Handle(std::move(request), [&](PublicResponse r) { answer = std::move(r); });
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(PublicResponse{});
  }

  // The next Authlete call answers `result`; `seen` gets the call.
  void Expect(core::DcrResult result, core::DcrCall* seen = nullptr) {
    EXPECT_CALL(*authlete_, Call(_, _, _))
        .WillOnce(Invoke([result = std::move(result), seen](const core::DcrCall& call,
                                                            absl::Duration,
                                                            authlete::AuthleteConnection::Callback
                                                                done) mutable {
          if (seen != nullptr) *seen = call;
          std::move(done)(std::move(result));
        }))
        .RetiresOnSaturation();
  }

  std::shared_ptr<StrictMock<authlete::MockAuthleteConnection>> authlete_ =
      std::make_shared<StrictMock<authlete::MockAuthleteConnection>>();
  std::shared_ptr<InitialAccessTokens> tokens_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

void ExpectNoStoreJson(const PublicResponse& r) {
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(r.Header("Pragma"), "no-cache");
}

// ---- routing ----

TEST_F(EndpointTest, RoutesAndRefusesOtherMethodsAndPaths) {
  auto endpoint = Make();
  PublicResponse r = Run(*endpoint, Request("GET", "/register"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "POST");
  r = Run(*endpoint, Request("POST", "/register/123"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET, PUT, DELETE");
  EXPECT_EQ(Run(*endpoint, Request("GET", "/")).status, 404);
  EXPECT_EQ(Run(*endpoint, Request("GET", "/register/1/2")).status, 404);
  EXPECT_EQ(Run(*endpoint, Request("GET", "/registerx")).status, 404);
  EXPECT_EQ(Run(*endpoint, Request("GET", "/register/", "", "Bearer t")).status, 404);
  EXPECT_EQ(Run(*endpoint, Request("GET", "/register/%zz", "", "Bearer t")).status, 400);
}

TEST_F(EndpointTest, RegisterSendsTheBodyAsTheRpcsDo) {
  auto endpoint = Make();
  core::DcrCall call;
  Expect(Success(v1::ACTION_CREATED, R"({"client_id":"42"})"), &call);
  const std::string body = R"({"redirect_uris":["https://app.example.com/cb"]})";
  PublicResponse r = Run(*endpoint, Request("POST", "/register?x=1", body));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"client_id":"42"})");
  ExpectNoStoreJson(r);
  EXPECT_EQ(call.operation, Operation::kRegister);
  EXPECT_EQ(call.service_id, kServiceId);
  EXPECT_EQ(call.json, body);
  EXPECT_TRUE(call.token.empty());
  EXPECT_FALSE(call.traceparent.empty());
}

TEST_F(EndpointTest, ClientPathsCarryIdAndRegistrationAccessToken) {
  auto endpoint = Make();
  core::DcrCall call;
  Expect(Success(v1::ACTION_OK, R"({"client_id":"a b"})"), &call);
  PublicResponse r = Run(*endpoint, Request("GET", "/register/a%20b", "", "bearer  rat-1 "));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(call.operation, Operation::kGet);
  EXPECT_EQ(call.client_id, "a b");
  EXPECT_EQ(call.token, "rat-1");

  Expect(Success(v1::ACTION_UPDATED, R"({"client_id":"7"})"), &call);
  r = Run(*endpoint, Request("PUT", "/register/7", R"({"client_id":"7"})", "Bearer rat-2"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(call.operation, Operation::kUpdate);
  EXPECT_EQ(call.json, R"({"client_id":"7"})");

  Expect(Success(v1::ACTION_DELETED, ""), &call);
  r = Run(*endpoint, Request("DELETE", "/register/7", "", "Bearer rat-3"));
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.Header("Content-Type"), "");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(r.Header("Pragma"), "no-cache");
  EXPECT_EQ(call.operation, Operation::kDelete);
}

TEST_F(EndpointTest, ClientPathsWithoutTokenAre401WithBareChallenge) {
  auto endpoint = Make();  // StrictMock: nothing sent
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    PublicResponse r = Run(*endpoint, Request(method, "/register/7", "{}"));
    EXPECT_EQ(r.status, 401) << method;
    EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer");
    ExpectNoStoreJson(r);
  }
}

// ---- every action and failure ----

TEST_F(EndpointTest, MapsEveryAction) {
  auto endpoint = Make();
  struct Case {
    core::DcrResult result;
    int status;
    std::string body_has;
    std::string challenge;
  };
  std::vector<Case> cases;
  cases.push_back({Success(v1::ACTION_OK, R"({"client_id":"1"})"), 200, R"("client_id":"1")", ""});
  cases.push_back({ActionError(v1::ACTION_BAD_REQUEST, R"({"error":"invalid_client_metadata"})"),
                   400, R"({"error":"invalid_client_metadata"})", ""});
  cases.push_back({ActionError(v1::ACTION_UNAUTHORIZED, R"({"error":"invalid_token"})"), 401,
                   R"({"error":"invalid_token"})", "Bearer error=\"invalid_token\""});
  cases.push_back({ActionError(v1::ACTION_INTERNAL_SERVER_ERROR,
                               R"({"error":"server_error","error_description":"[A001101] db at 10.0.0.7"})"),
                   500, R"("error":"server_error")", ""});
  for (Case& c : cases) {
    Expect(std::move(c.result));
    PublicResponse r = Run(*endpoint, Request("GET", "/register/1", "", "Bearer t"));
    EXPECT_EQ(r.status, c.status);
    EXPECT_THAT(r.body, HasSubstr(c.body_has));
    EXPECT_EQ(r.Header("WWW-Authenticate"), c.challenge);
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("10.0.0.7")));
    ExpectNoStoreJson(r);
  }
}

TEST_F(EndpointTest, GatewayAndUpstreamFailuresNeverCarryInternals) {
  auto endpoint = Make();
  core::Error unreachable(v1::ERROR_REASON_UPSTREAM_UNREACHABLE,
                          "cannot reach Authlete: https://us.authlete.com/api refused");
  unreachable.set_retry_after(absl::Milliseconds(2500));
  Expect(unreachable);
  PublicResponse r = Run(*endpoint, Request("GET", "/register/1", "", "Bearer t"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("Retry-After"), "3");
  EXPECT_THAT(r.body, HasSubstr("temporarily_unavailable"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("authlete.com")));
  ExpectNoStoreJson(r);

  Expect(core::Error(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, "circuit open for GetClient"));
  r = Run(*endpoint, Request("GET", "/register/1", "", "Bearer t"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("Retry-After"), "1");

  Expect(core::Error(v1::ERROR_REASON_GATEWAY_CREDENTIALS_REJECTED,
                     "Authlete refused the gateway's credentials (HTTP 401): A001202"));
  r = Run(*endpoint, Request("GET", "/register/1", "", "Bearer t"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body,
            R"({"error":"server_error","error_description":"the registration could not be processed"})");

  core::Error bad(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, "Authlete's answer is not JSON");
  Expect(bad);
  r = Run(*endpoint, Request("GET", "/register/1", "", "Bearer t"));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("Authlete")));
}

TEST_F(EndpointTest, OversizedMetadataRefusedBeforeAuthlete) {
  auto endpoint = Make();
  std::string body = R"({"client_name":")" + std::string(70 * 1024, 'x') + R"("})";
  PublicResponse r = Run(*endpoint, Request("POST", "/register", body));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("invalid_client_metadata"));
}

TEST_F(EndpointTest, NonJsonBodyRefused) {
  auto endpoint = Make();
  PublicRequest request = Request("POST", "/register", "client_name=x");
  request.content_type = "application/x-www-form-urlencoded";
  EXPECT_EQ(Run(*endpoint, request).status, 400);
  request = Request("POST", "/register", "[1,2]");
  EXPECT_EQ(Run(*endpoint, request).status, 400);
}

// ---- policy ----

TEST(MetadataCheckTest, LoopbackRuleForNativeAppsOnly) {
  EXPECT_TRUE(IsLoopbackRedirectUri("http://127.0.0.1:53123/cb"));
  EXPECT_TRUE(IsLoopbackRedirectUri("http://127.0.0.1/cb"));
  EXPECT_TRUE(IsLoopbackRedirectUri("http://[::1]:8080/oauth/callback?x=1"));
  EXPECT_TRUE(IsLoopbackRedirectUri("http://127.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1:0/cb"));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1:65536/cb"));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1.evil.example/cb"));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1@evil.example/cb"));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1:80@evil.example/cb"));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://localhost:8080/cb"));
  EXPECT_FALSE(IsLoopbackRedirectUri("https://127.0.0.1:8080/cb"));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1:8080/cb#frag"));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1:8080\\@evil/cb"));

  const callers::PublicRegistrationPolicy policy = callers::DefaultPublicPolicy();
  EXPECT_EQ(CheckMetadata(policy, R"({"application_type":"native","token_endpoint_auth_method":"none",
      "redirect_uris":["http://127.0.0.1:49152/cb","http://[::1]:3000/cb"]})"),
            absl::nullopt);
  absl::optional<MetadataRefusal> web =
      CheckMetadata(policy, R"({"redirect_uris":["http://127.0.0.1:49152/cb"]})");
  ASSERT_TRUE(web.has_value());
  EXPECT_EQ(web->error, "invalid_redirect_uri");
  web = CheckMetadata(policy, R"({"application_type":"web","redirect_uris":["http://app.example.com/cb"]})");
  ASSERT_TRUE(web.has_value());
  EXPECT_EQ(web->error, "invalid_redirect_uri");
  // Native: http only on loopback; private-use schemes need a dot.
  EXPECT_EQ(CheckMetadata(policy, R"({"application_type":"native","redirect_uris":["http://app.example.com/cb"]})")
                ->error,
            "invalid_redirect_uri");
  EXPECT_EQ(CheckMetadata(policy, R"({"application_type":"native","redirect_uris":["myapp:/cb"]})")->error,
            "invalid_redirect_uri");
  EXPECT_EQ(CheckMetadata(policy, R"({"application_type":"native","redirect_uris":["com.example.app:/cb"]})"),
            absl::nullopt);
  callers::PublicRegistrationPolicy no_loopback = policy;
  no_loopback.native_loopback = false;
  EXPECT_EQ(CheckMetadata(no_loopback, R"({"application_type":"native","redirect_uris":["http://127.0.0.1:9/cb"]})")
                ->error,
            "invalid_redirect_uri");
}

TEST(MetadataCheckTest, PatternsGrantsMethodsCountAndLength) {
  absl::StatusOr<callers::PublicRegistrationPolicy> policy = callers::ParsePublicPolicy(R"({
      "redirect_uri_patterns": ["https://*.partner.example/cb"],
      "grant_types": ["authorization_code"],
      "token_endpoint_auth_methods": ["none", "private_key_jwt"],
      "max_redirect_uris": 2, "max_redirect_uri_length": 40})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(CheckMetadata(*policy, R"({"token_endpoint_auth_method":"none",
      "redirect_uris":["https://a.partner.example/cb"]})"),
            absl::nullopt);
  EXPECT_EQ(CheckMetadata(*policy, R"({"token_endpoint_auth_method":"none",
      "redirect_uris":["https://evil.example/cb"]})")->error,
            "invalid_redirect_uri");
  EXPECT_EQ(CheckMetadata(*policy, R"({"token_endpoint_auth_method":"none",
      "redirect_uris":["https://a.partner.example/cb","https://b.partner.example/cb","https://c.partner.example/cb"]})")
                ->error,
            "invalid_redirect_uri");
  EXPECT_EQ(CheckMetadata(*policy, R"({"token_endpoint_auth_method":"none",
      "redirect_uris":["https://aaaaaaaaaaaaaaaaaaaaaaaaa.partner.example/cb"]})")->error,
            "invalid_redirect_uri");
  // Default method client_secret_basic is not in the list.
  EXPECT_EQ(CheckMetadata(*policy, R"({"redirect_uris":["https://a.partner.example/cb"]})")->error,
            "invalid_client_metadata");
  EXPECT_EQ(CheckMetadata(*policy, R"({"token_endpoint_auth_method":"none","grant_types":["client_credentials"]})")
                ->error,
            "invalid_client_metadata");
  EXPECT_EQ(CheckMetadata(*policy, R"({"token_endpoint_auth_method":"none","token_endpoint_auth_method":"x"})")
                ->error,
            "invalid_client_metadata");
  EXPECT_EQ(CheckMetadata(*policy, R"({"application_type":"desktop"})")->error,
            "invalid_client_metadata");
  EXPECT_FALSE(callers::ParsePublicPolicy(R"({"max_redirect_uris": 0})").ok());
  EXPECT_FALSE(callers::ParsePublicPolicy(R"({"redirect_uri_pattern": []})").ok());
  EXPECT_FALSE(callers::ParsePublicPolicy(R"({"grant_types": "x"})").ok());
}

TEST_F(EndpointTest, PolicyRefusalsAreRfc7591ErrorsAndNothingIsSent) {
  auto endpoint = Make();
  PublicResponse r = Run(*endpoint, Request("POST", "/register",
                                            R"({"redirect_uris":["http://app.example.com/cb"]})"));
  EXPECT_EQ(r.status, 400);
  const nlohmann::json body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"], "invalid_redirect_uri");
  EXPECT_TRUE(body["error_description"].is_string());
  ExpectNoStoreJson(r);
  // The same policy on PUT.
  r = Run(*endpoint, Request("PUT", "/register/1",
                             R"({"grant_types":["urn:ietf:params:oauth:grant-type:device_code"]})",
                             "Bearer t"));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("invalid_client_metadata"));
}

// ---- trusted proxies and the rate limits ----

TEST(ClientAddressTest, HeadersOnlyFromTrustedProxies) {
  absl::StatusOr<TrustedProxies> proxies = TrustedProxies::Parse({"10.0.0.0/8", "fd00::/8"});
  ASSERT_TRUE(proxies.ok());
  const IpAddress outsider = *IpAddress::Parse("198.51.100.7");
  const IpAddress proxy = *IpAddress::Parse("10.1.2.3");
  // Not a proxy: its headers are anyone's words.
  EXPECT_EQ(proxies->ClientOf(outsider, {}, {"203.0.113.9"}).ToString(), "198.51.100.7");
  // The right-most untrusted hop is the client.
  EXPECT_EQ(proxies->ClientOf(proxy, {}, {"1.1.1.1, 203.0.113.9, 10.9.9.9"}).ToString(),
            "203.0.113.9");
  EXPECT_EQ(proxies->ClientOf(proxy, {}, {"1.1.1.1", "203.0.113.9:5555"}).ToString(),
            "203.0.113.9");
  EXPECT_EQ(proxies->ClientOf(proxy, {R"(for=192.0.2.60;proto=https, for="[2001:db8::17]:4711")"}, {"9.9.9.9"})
                .ToString(),
            "2001:db8::17");
  // Garbage stops at the proxy that reported it; all trusted: the left-most.
  EXPECT_EQ(proxies->ClientOf(proxy, {}, {"unknown"}).ToString(), "10.1.2.3");
  EXPECT_EQ(proxies->ClientOf(proxy, {}, {"10.5.5.5, 10.6.6.6"}).ToString(), "10.5.5.5");
  EXPECT_EQ(proxies->ClientOf(proxy, {}, {}).ToString(), "10.1.2.3");
  // IPv6 buckets by /64; mapped IPv4 is IPv4.
  EXPECT_EQ(IpAddress::Parse("2001:db8:1:2:aaaa::1")->BucketKey(), "2001:db8:1:2::/64");
  EXPECT_EQ(IpAddress::Parse("::ffff:192.0.2.1")->ToString(), "192.0.2.1");
  EXPECT_FALSE(TrustedProxies::Parse({"10.0.0.0/33"}).ok());
  EXPECT_FALSE(TrustedProxies::Parse({"proxy.example"}).ok());
}

TEST(RateLimiterTest, PerAddressGlobalAndBoundedTable) {
  absl::Time now = absl::FromUnixSeconds(1000);
  RegistrationRateLimiter::Options options;
  options.per_address_rate = 1;
  options.per_address_burst = 2;
  options.max_addresses = 3;
  options.global_rate = 1;
  options.global_burst = 5;
  RegistrationRateLimiter limiter(options, [&] { return now; });
  EXPECT_EQ(limiter.Acquire("a"), absl::nullopt);
  EXPECT_EQ(limiter.Acquire("a"), absl::nullopt);
  absl::optional<absl::Duration> wait = limiter.Acquire("a");
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Seconds(1));
  EXPECT_EQ(limiter.Acquire("b"), absl::nullopt);
  EXPECT_EQ(limiter.Acquire("c"), absl::nullopt);
  EXPECT_EQ(limiter.Acquire("d"), absl::nullopt);  // the global burst of 5 used up
  EXPECT_TRUE(limiter.Acquire("e").has_value());   // global
  for (int i = 0; i < 1000; ++i) limiter.Acquire(absl::StrCat("flood-", i));
  EXPECT_EQ(limiter.addresses(), 3u);
  now += absl::Seconds(2);
  EXPECT_EQ(limiter.Acquire("a"), absl::nullopt);
}

TEST_F(EndpointTest, FloodFromOneAddressIs429UnlessBehindTrustedProxy) {
  RegistrationRateLimiter::Options rate;
  rate.per_address_rate = 1;
  rate.per_address_burst = 2;
  auto endpoint = Make(Access::kOpen, callers::DefaultPublicPolicy(), {"192.0.2.10"}, rate);
  PublicRequest request = Request("POST", "/register", R"({"redirect_uris":["http://x/"]})");
  request.peer_address = "198.51.100.1";
  EXPECT_EQ(Run(*endpoint, request).status, 400);
  EXPECT_EQ(Run(*endpoint, request).status, 400);
  PublicResponse r = Run(*endpoint, request);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("Retry-After"), "1");
  // A spoofed header from an untrusted peer changes nothing.
  request.x_forwarded_for = {"203.0.113.1"};
  EXPECT_EQ(Run(*endpoint, request).status, 429);
  // Behind the trusted proxy each client has its own bucket.
  request.peer_address = "192.0.2.10";
  for (int client = 0; client < 5; ++client) {
    request.x_forwarded_for = {absl::StrCat("203.0.113.", client)};
    EXPECT_EQ(Run(*endpoint, request).status, 400);
    EXPECT_EQ(Run(*endpoint, request).status, 400);
    EXPECT_EQ(Run(*endpoint, request).status, 429);
  }
}

// Replicas sharing a state store (Redis in production; the in-process
// store stands in) hold an address to one bucket between them; without it,
// each replica has its own. A store that cannot answer refuses (503).
TEST_F(EndpointTest, ReplicasSharingAStoreHoldAnAddressToOneBucket) {
  RegistrationRateLimiter::Options rate;
  rate.per_address_rate = 0.001;
  rate.per_address_burst = 3;
  auto store = std::make_shared<state::InProcessStateStore>();
  auto a = Make(Access::kOpen, callers::DefaultPublicPolicy(), {}, rate);
  auto b = Make(Access::kOpen, callers::DefaultPublicPolicy(), {}, rate);
  a->ShareRateLimits(store);
  b->ShareRateLimits(store);
  // Refused by the policy after admission: 400 without an Authlete call.
  const PublicRequest request = Request("POST", "/register", R"({"redirect_uris":["http://x/"]})");
  int admitted = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    PublicResponse r = Run(i % 2 == 0 ? *a : *b, request);
    admitted += r.status == 400 ? 1 : 0;
    if (r.status == 429) {
      ++limited;
      EXPECT_FALSE(r.Header("Retry-After").empty());
    }
  }
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(limited, 5);
  // Another address has a bucket of its own in the same store.
  PublicRequest other = request;
  other.peer_address = "198.51.100.7";
  EXPECT_EQ(Run(*a, other).status, 400);

  // The endpoint's own bucket is shared too.
  RegistrationRateLimiter::Options tight;
  tight.global_rate = 0.001;
  tight.global_burst = 2;
  auto shared_global = std::make_shared<state::InProcessStateStore>();
  auto c = Make(Access::kOpen, callers::DefaultPublicPolicy(), {}, tight);
  auto d = Make(Access::kOpen, callers::DefaultPublicPolicy(), {}, tight);
  c->ShareRateLimits(shared_global);
  d->ShareRateLimits(shared_global);
  PublicRequest first = request, second = request, third = request;
  first.peer_address = "203.0.113.1";
  second.peer_address = "203.0.113.2";
  third.peer_address = "203.0.113.3";
  EXPECT_EQ(Run(*c, first).status, 400);
  EXPECT_EQ(Run(*d, second).status, 400);
  EXPECT_EQ(Run(*c, third).status, 429);

  // Unshared, each replica admits its own burst.
  auto e = Make(Access::kOpen, callers::DefaultPublicPolicy(), {}, rate);
  auto f = Make(Access::kOpen, callers::DefaultPublicPolicy(), {}, rate);
  admitted = 0;
  for (int i = 0; i < 8; ++i) admitted += Run(i % 2 == 0 ? *e : *f, request).status == 400;
  EXPECT_EQ(admitted, 6);
}

// A store that cannot answer (Redis lost, --state_store_unavailable=refuse).
class UnreachableStore : public state::StateStore {
 public:
  void Reserve(absl::string_view, absl::string_view, absl::Duration,
               state::ReserveCallback done) override {
    std::move(done)(absl::UnavailableError("not connected"));
  }
  void Complete(const state::Reservation&, absl::string_view, absl::Duration,
                state::DoneCallback done) override {
    std::move(done)(absl::UnavailableError("not connected"));
  }
  void MarkUnknown(const state::Reservation&, absl::Duration, state::DoneCallback done) override {
    std::move(done)(absl::UnavailableError("not connected"));
  }
  void Release(const state::Reservation&, state::DoneCallback done) override {
    std::move(done)(absl::UnavailableError("not connected"));
  }
  void Acquire(absl::string_view, double, double, absl::Time, state::RateCallback done) override {
    std::move(done)(absl::UnavailableError("state store (Redis) is not connected"));
  }
  state::StoreHealth Health() const override { return {"redis", false}; }
};

TEST_F(EndpointTest, ASharedLimitThatCannotBeCheckedIs503AndNothingIsSent) {
  auto endpoint = Make();
  endpoint->ShareRateLimits(std::make_shared<UnreachableStore>());
  PublicResponse r =
      Run(*endpoint, Request("POST", "/register", R"({"redirect_uris":["https://a.example/cb"]})"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"], "temporarily_unavailable");
  EXPECT_FALSE(r.Header("Retry-After").empty());
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("Redis")));
}

// ---- who may register ----

TEST_F(EndpointTest, InitialAccessTokensHashedExpiringCountedWithOwnPolicy) {
  const std::string hex_a = callers::HashApiKeyHex("iat-a");
  const std::string hex_b = callers::HashApiKeyHex("iat-b");
  absl::StatusOr<std::vector<InitialAccessTokens::Entry>> entries = InitialAccessTokens::Parse(
      absl::StrCat(R"({"initial_access_tokens":[
        {"name":"a","token_sha256":")", hex_a, R"(","expires_at":"2030-01-01T00:00:00Z","max_uses":1,
         "policy":{"redirect_uri_patterns":["https://a.example/cb"]}},
        {"name":"b","token_sha256":")", hex_b, R"(","expires_at":"2020-01-01T00:00:00Z","max_uses":5}]})"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  tokens_ = std::make_shared<InitialAccessTokens>(*std::move(entries));
  auto endpoint = Make(Access::kInitialAccessToken);
  const std::string ok_body = R"({"redirect_uris":["https://a.example/cb"]})";

  PublicResponse r = Run(*endpoint, Request("POST", "/register", ok_body));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer");
  r = Run(*endpoint, Request("POST", "/register", ok_body, "Bearer nope"));
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.Header("WWW-Authenticate"), HasSubstr("invalid_token"));
  r = Run(*endpoint, Request("POST", "/register", ok_body, "Bearer iat-b"));  // expired
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("expired"));
  // The token's own policy; a refusal gives its use back.
  r = Run(*endpoint, Request("POST", "/register", R"({"redirect_uris":["https://other.example/cb"]})",
                             "Bearer iat-a"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(tokens_->uses(0), 0);
  Expect(Success(v1::ACTION_CREATED, R"({"client_id":"1"})"));
  EXPECT_EQ(Run(*endpoint, Request("POST", "/register", ok_body, "Bearer iat-a")).status, 201);
  EXPECT_EQ(tokens_->uses(0), 1);
  r = Run(*endpoint, Request("POST", "/register", ok_body, "Bearer iat-a"));
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("used up"));
  EXPECT_FALSE(InitialAccessTokens::Parse(R"({"initial_access_tokens":[{"name":"x"}]})").ok());
  EXPECT_FALSE(InitialAccessTokens::Parse(
                   absl::StrCat(R"({"initial_access_tokens":[{"name":"x","token_sha256":")", hex_a,
                                R"(","expires_at":"tomorrow","max_uses":1}]})"))
                   .ok());
}

// The introspection answer, as Authlete's HTTP 200 body (contract §10).
std::string Introspection(const char* action, const char* challenge) {
  nlohmann::json body = {{"action", action}, {"responseContent", challenge},
                         {"resultCode", "A056001"}, {"clientId", 5550001}};
  return body.dump();
}

TEST_F(EndpointTest, AuthleteTokensIntrospectedWithTheRequiredScope) {
  ::testing::InSequence in_order;  // introspection first, then the registration
  auto endpoint = Make(Access::kAuthleteToken);
  const std::string body = R"({"redirect_uris":["https://app.example.com/cb"]})";
  EXPECT_EQ(Run(*endpoint, Request("POST", "/register", body)).status, 401);

  core::DcrCall introspected, registered;
  Expect(Success(v1::ACTION_UNSPECIFIED, Introspection("OK", "")), &introspected);
  Expect(Success(v1::ACTION_CREATED, R"({"client_id":"9"})"), &registered);
  EXPECT_EQ(Run(*endpoint, Request("POST", "/register", body, "Bearer at-1")).status, 201);
  EXPECT_EQ(introspected.operation, Operation::kIntrospectToken);
  EXPECT_EQ(introspected.token, "at-1");
  EXPECT_EQ(introspected.required_scope, "register");
  EXPECT_EQ(introspected.service_id, kServiceId);
  EXPECT_TRUE(registered.token.empty());  // the access token goes no further

  const char* expired = R"(Bearer error="invalid_token",error_description="[A065304] The access token has expired.")";
  Expect(Success(v1::ACTION_UNSPECIFIED, Introspection("UNAUTHORIZED", expired)));
  PublicResponse r = Run(*endpoint, Request("POST", "/register", body, "Bearer old"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("WWW-Authenticate"), expired);
  ExpectNoStoreJson(r);

  const char* scope = R"(Bearer error="insufficient_scope",scope="register")";
  Expect(Success(v1::ACTION_UNSPECIFIED, Introspection("FORBIDDEN", scope)));
  r = Run(*endpoint, Request("POST", "/register", body, "Bearer weak"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.Header("WWW-Authenticate"), scope);
  EXPECT_THAT(r.body, HasSubstr("insufficient_scope"));

  // A challenge that would split the header line is not written.
  Expect(Success(v1::ACTION_UNSPECIFIED, Introspection("UNAUTHORIZED", "Bearer\r\nSet-Cookie: x")));
  r = Run(*endpoint, Request("POST", "/register", body, "Bearer x"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer error=\"invalid_token\"");

  Expect(Success(v1::ACTION_UNSPECIFIED, Introspection("INTERNAL_SERVER_ERROR", "x")));
  EXPECT_EQ(Run(*endpoint, Request("POST", "/register", body, "Bearer x")).status, 500);
  Expect(core::Error(v1::ERROR_REASON_UPSTREAM_TIMEOUT, "no answer in time"));
  EXPECT_EQ(Run(*endpoint, Request("POST", "/register", body, "Bearer x")).status, 503);
  // RFC 7592 paths still take only the registration access token.
  Expect(Success(v1::ACTION_OK, R"({"client_id":"9"})"));
  EXPECT_EQ(Run(*endpoint, Request("GET", "/register/9", "", "Bearer rat")).status, 200);
}

// Untrusted bytes everywhere a request carries them (target, headers, body,
// peer), mutated from valid seeds by a fixed-seed generator: every request
// is answered once, nothing crashes (and the sanitizer build says so).
TEST_F(EndpointTest, UntrustedBytesNeverCrash) {
  EXPECT_CALL(*authlete_, Call(_, _, _))
      .WillRepeatedly(Invoke([](const core::DcrCall&, absl::Duration,
                                authlete::AuthleteConnection::Callback done) {
        std::move(done)(core::Error(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, "down"));
      }));
  RegistrationRateLimiter::Options rate;
  rate.per_address_burst = 1e6;
  rate.global_burst = 1e6;
  auto endpoint = Make(Access::kOpen, callers::DefaultPublicPolicy(), {"10.0.0.0/8"}, rate);
  telemetry::SetMinLogLevel(telemetry::LogLevel::kError);  // 20,000 audit lines otherwise
  const std::vector<std::string> seeds = {
      "/register", "/register/123", "/register/%41%42", "Bearer abc",
      R"({"application_type":"native","redirect_uris":["http://127.0.0.1:5/cb","https://a.b/c"],"grant_types":["authorization_code"],"token_endpoint_auth_method":"none"})",
      "for=\"[2001:db8::1]:80\";proto=https, for=10.1.1.1", "1.2.3.4, 10.0.0.1, ::1", "10.0.0.7"};
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  auto mutate = [&](std::string text) {
    const int edits = static_cast<int>(next() % 6);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = text.empty() ? 0 : next() % (text.size() + 1);
      switch (next() % 4) {
        case 0: text.insert(at, 1, static_cast<char>(next() & 0xff)); break;
        case 1: if (at < text.size()) text.erase(at, 1 + next() % 4); break;
        case 2: if (at < text.size()) text[at] = "%[]:/@\\\"{},;=\0"[next() % 14]; break;
        default: text.insert(at, seeds[next() % seeds.size()]); break;
      }
    }
    return text;
  };
  const char* methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", ""};
  int answered = 0;
  for (int i = 0; i < 20000; ++i) {
    PublicRequest request;
    request.method = methods[next() % 6];
    request.target = mutate(seeds[next() % 3]);
    request.authorization = mutate(seeds[3]);
    request.content_type = next() % 8 ? "application/json" : mutate("application/json");
    request.body = mutate(seeds[4]);
    request.forwarded = {mutate(seeds[5])};
    request.x_forwarded_for = {mutate(seeds[6])};
    request.peer_address = next() % 2 ? std::string("10.0.0.7") : mutate(seeds[7]);
    endpoint->Handle(std::move(request), [&](PublicResponse r) {
      ++answered;
      EXPECT_GE(r.status, 200);
      EXPECT_LT(r.status, 600);
    });
  }
  telemetry::SetMinLogLevel(telemetry::LogLevel::kInfo);
  // The operator's files too: a typo must be an error, never a crash.
  const std::string policy = R"({"redirect_uri_patterns":["https://*.a.example/cb"],"grant_types":["*"],"token_endpoint_auth_methods":["none"],"native_loopback":false,"max_redirect_uris":3,"max_redirect_uri_length":100})";
  const std::string tokens = absl::StrCat(
      R"({"initial_access_tokens":[{"name":"a","token_sha256":")", std::string(64, 'a'),
      R"(","expires_at":"2030-01-01T00:00:00Z","max_uses":1,"policy":)", policy, "}]}");
  for (int i = 0; i < 5000; ++i) {
    (void)callers::ParsePublicPolicy(mutate(policy));
    (void)InitialAccessTokens::Parse(mutate(tokens));
    (void)TrustedProxies::Parse({mutate("10.0.0.0/8"), mutate("fd00::/8")});
  }
  EXPECT_EQ(answered, 20000);
  EXPECT_EQ(endpoint->in_flight(), 0);
}

}  // namespace
}  // namespace dcr::public_registration
