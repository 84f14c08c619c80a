// The request of contract §1-2, built for every operation and both API
// versions: method-independent URL, headers, and a body whose fields are all
// JSON strings.
#include "service/authlete/authlete_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "nlohmann/json.hpp"

namespace dcr::authlete {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

using api::Operation;
using core::DcrCall;

AuthleteOptions V3() {
  return AuthleteOptions{"https://us.authlete.com", ApiVersion::kV3, "service-token"};
}
AuthleteOptions V2() {
  return AuthleteOptions{"https://api.authlete.com", ApiVersion::kV2, "api-secret"};
}

DcrCall Call(Operation operation) {
  DcrCall call;
  call.operation = operation;
  call.service_id = "21653835348762";
  if (operation != Operation::kRegister) {
    call.client_id = "26837717140341";
    call.token = "qs4Tu5TV7qqDYT93bFs6ISyhTByMF9o";
  }
  if (operation == Operation::kRegister || operation == Operation::kUpdate) {
    call.json = R"({"client_name":"My \"Client\"","default_max_age":0})";
  }
  return call;
}

struct PathCase {
  Operation operation;
  const char* v3_url;
  const char* v2_url;
};

class PathTest : public ::testing::TestWithParam<PathCase> {};

TEST_P(PathTest, V3AndV2Paths) {
  const PathCase& c = GetParam();
  EXPECT_EQ(BuildHttpRequest(V3(), Call(c.operation), absl::Seconds(1)).url, c.v3_url);
  EXPECT_EQ(BuildHttpRequest(V2(), Call(c.operation), absl::Seconds(1)).url, c.v2_url);
}

INSTANTIATE_TEST_SUITE_P(
    AllOperations, PathTest,
    ::testing::Values(
        PathCase{Operation::kRegister,
                 "https://us.authlete.com/api/21653835348762/client/registration",
                 "https://api.authlete.com/api/client/registration"},
        PathCase{Operation::kGet,
                 "https://us.authlete.com/api/21653835348762/client/registration/get",
                 "https://api.authlete.com/api/client/registration/get"},
        PathCase{Operation::kUpdate,
                 "https://us.authlete.com/api/21653835348762/client/registration/update",
                 "https://api.authlete.com/api/client/registration/update"},
        PathCase{Operation::kDelete,
                 "https://us.authlete.com/api/21653835348762/client/registration/delete",
                 "https://api.authlete.com/api/client/registration/delete"}));

TEST(AuthleteRequestTest, V3UsesBearerAndJsonHeaders) {
  const http::HttpRequest request =
      BuildHttpRequest(V3(), Call(Operation::kGet), absl::Seconds(3));
  EXPECT_THAT(request.headers, UnorderedElementsAre("Authorization: Bearer service-token",
                                                    "Content-Type: application/json",
                                                    "Accept: application/json"));
  EXPECT_EQ(request.timeout, absl::Seconds(3));
}

TEST(AuthleteRequestTest, V2UsesBasicWithServiceIdAndSecret) {
  const http::HttpRequest request =
      BuildHttpRequest(V2(), Call(Operation::kGet), absl::Seconds(3));
  const std::string expected =
      "Authorization: Basic " + absl::Base64Escape("21653835348762:api-secret");
  EXPECT_THAT(request.headers,
              UnorderedElementsAre(expected, "Content-Type: application/json",
                                   "Accept: application/json"));
}

// Contract §10: POST .../auth/introspection {"scopes":[scope],"token":...}.
TEST(AuthleteRequestTest, IntrospectionPostsTheTokenAndTheRequiredScope) {
  DcrCall call;
  call.operation = Operation::kIntrospectToken;
  call.service_id = "21653835348762";
  call.token = "access-token-1";
  call.required_scope = "register";
  const http::HttpRequest v3 = BuildHttpRequest(V3(), call, absl::Seconds(2));
  EXPECT_EQ(v3.url, "https://us.authlete.com/api/21653835348762/auth/introspection");
  EXPECT_EQ(v3.method, http::HttpRequest::Method::kPost);
  EXPECT_EQ(v3.body, R"({"scopes":["register"],"token":"access-token-1"})");
  EXPECT_THAT(v3.headers, ::testing::Contains("Content-Type: application/json"));
  EXPECT_EQ(BuildHttpRequest(V2(), call, absl::Seconds(2)).url,
            "https://api.authlete.com/api/auth/introspection");
  call.required_scope.clear();
  EXPECT_EQ(BuildHttpRequest(V3(), call, absl::Seconds(2)).body,
            R"({"scopes":[],"token":"access-token-1"})");
}

TEST(AuthleteRequestTest, RegisterBodyHoldsMetadataAsAJsonString) {
  const DcrCall call = Call(Operation::kRegister);
  const nlohmann::json body =
      nlohmann::json::parse(BuildHttpRequest(V3(), call, absl::Seconds(1)).body);
  ASSERT_TRUE(body.is_object());
  EXPECT_EQ(body.size(), 1u);
  ASSERT_TRUE(body["json"].is_string());  // A string that holds JSON.
  EXPECT_EQ(body["json"].get<std::string>(), call.json);
}

TEST(AuthleteRequestTest, GetAndDeleteBodiesHoldClientIdAndTokenStrings) {
  for (Operation op : {Operation::kGet, Operation::kDelete}) {
    const nlohmann::json body =
        nlohmann::json::parse(BuildHttpRequest(V3(), Call(op), absl::Seconds(1)).body);
    std::vector<std::string> keys;
    for (const auto& [key, value] : body.items()) {
      keys.push_back(key);
      EXPECT_TRUE(value.is_string()) << key;
    }
    EXPECT_THAT(keys, UnorderedElementsAre("clientId", "token"));
    EXPECT_EQ(body["clientId"], "26837717140341");
    EXPECT_EQ(body["token"], "qs4Tu5TV7qqDYT93bFs6ISyhTByMF9o");
  }
}

TEST(AuthleteRequestTest, UpdateBodyHoldsAllThreeStrings) {
  const DcrCall call = Call(Operation::kUpdate);
  const nlohmann::json body =
      nlohmann::json::parse(BuildHttpRequest(V2(), call, absl::Seconds(1)).body);
  std::vector<std::string> keys;
  for (const auto& [key, value] : body.items()) {
    keys.push_back(key);
    EXPECT_TRUE(value.is_string()) << key;
  }
  EXPECT_THAT(keys, ElementsAre("clientId", "json", "token"));
  EXPECT_EQ(body["json"].get<std::string>(), call.json);
}

TEST(AuthleteOptionsTest, ResolvesClustersAndUrls) {
  EXPECT_EQ(*ResolveBaseUrl("us"), "https://us.authlete.com");
  EXPECT_EQ(*ResolveBaseUrl("JP"), "https://jp.authlete.com");
  EXPECT_EQ(*ResolveBaseUrl("eu"), "https://eu.authlete.com");
  EXPECT_EQ(*ResolveBaseUrl("br"), "https://br.authlete.com");
  EXPECT_EQ(*ResolveBaseUrl("v2"), "https://api.authlete.com");
  EXPECT_EQ(*ResolveBaseUrl("http://127.0.0.1:8787/"), "http://127.0.0.1:8787");
  EXPECT_EQ(*ResolveBaseUrl("https://authlete.internal/prefix"),
            "https://authlete.internal/prefix");
  EXPECT_FALSE(ResolveBaseUrl("mars").ok());
  EXPECT_FALSE(ResolveBaseUrl("ftp://x").ok());
  EXPECT_FALSE(ResolveBaseUrl("https://user:pw@host").ok());
  EXPECT_EQ(*ParseApiVersion("v2"), ApiVersion::kV2);
  EXPECT_EQ(*ParseApiVersion("3"), ApiVersion::kV3);
  EXPECT_FALSE(ParseApiVersion("4").ok());
}

}  // namespace
}  // namespace dcr::authlete
