// Each RPC sends exactly the contract's request (§1-2): POST, the v3 or v2
// path, Authorization, Content-Type/Accept, and a body whose fields are all
// JSON strings with `json` holding the metadata document as text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway_test_env.h"
#include "nlohmann/json.hpp"

namespace dcr::testing {
namespace {

using ::testing::ElementsAreArray;

std::string Header(const emulator::RecordedRequest& request, absl::string_view name) {
  std::string found;
  int count = 0;
  for (const auto& [key, value] : request.headers) {
    if (absl::EqualsIgnoreCase(key, name)) {
      found = value;
      ++count;
    }
  }
  EXPECT_LE(count, 1) << "header " << name << " sent " << count << " times";
  return found;
}

// Keys of a JSON body, each checked to be a string.
std::vector<std::string> StringFields(const std::string& body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  EXPECT_TRUE(json.is_object()) << body;
  std::vector<std::string> keys;
  if (!json.is_object()) return keys;
  for (const auto& [key, value] : json.items()) {
    EXPECT_TRUE(value.is_string()) << key << " is not a JSON string in " << body;
    keys.push_back(key);
  }
  return keys;
}

class WireContractTest : public ::testing::TestWithParam<authlete::ApiVersion> {};

TEST_P(WireContractTest, EachRpcSendsTheContractRequest) {
  const authlete::ApiVersion version = GetParam();
  EnvOptions options;
  options.api_version = version;
  auto env = GatewayTestEnv::Start(options);
  ASSERT_TRUE(env.ok()) << env.status();
  auto& stub = (*env)->stub();
  const std::string metadata_json =
      R"({"redirect_uris":["https://app.example.com/cb"],"client_name":"Wire","default_max_age":0})";

  v1::RegisterClientRequest register_request;
  register_request.set_metadata_json(metadata_json);
  v1::RegisterClientResponse registered;
  ASSERT_TRUE(stub.RegisterClient(Context().get(), register_request, &registered).ok());
  const std::string client_id = registered.client().client_id();
  const std::string token = registered.client().registration_access_token();
  ASSERT_FALSE(client_id.empty());

  v1::GetClientRequest get_request;
  get_request.set_client_id(client_id);
  get_request.set_registration_access_token(token);
  v1::GetClientResponse got;
  ASSERT_TRUE(stub.GetClient(Context().get(), get_request, &got).ok());

  v1::UpdateClientRequest update_request;
  update_request.set_client_id(client_id);
  update_request.set_registration_access_token(token);
  update_request.mutable_metadata()->add_redirect_uris("https://app.example.com/cb");
  update_request.mutable_metadata()->set_client_name("Wire 2");
  v1::UpdateClientResponse updated;
  ASSERT_TRUE(stub.UpdateClient(Context().get(), update_request, &updated).ok());

  v1::DeleteClientRequest delete_request;
  delete_request.set_client_id(client_id);
  delete_request.set_registration_access_token(token);
  v1::DeleteClientResponse deleted;
  ASSERT_TRUE(stub.DeleteClient(Context().get(), delete_request, &deleted).ok());

  const std::vector<emulator::RecordedRequest> requests =
      (*env)->emulator().recorded_requests();
  ASSERT_EQ(requests.size(), 4u);
  const std::string prefix =
      version == authlete::ApiVersion::kV3
          ? std::string("/api/") + emulator::kDefaultServiceId + "/client/registration"
          : std::string("/api/client/registration");
  const std::string authorization =
      version == authlete::ApiVersion::kV3
          ? std::string("Bearer ") + emulator::kDefaultServiceToken
          : "Basic " + absl::Base64Escape(std::string(emulator::kDefaultServiceId) + ":" +
                                          emulator::kDefaultApiSecret);
  const std::string paths[] = {prefix, prefix + "/get", prefix + "/update",
                               prefix + "/delete"};
  const std::vector<std::vector<std::string>> fields = {
      {"json"}, {"clientId", "token"}, {"clientId", "json", "token"}, {"clientId", "token"}};
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(paths[i]);
    EXPECT_EQ(requests[i].method, "POST");
    EXPECT_EQ(requests[i].target, paths[i]);
    EXPECT_EQ(Header(requests[i], "Authorization"), authorization);
    EXPECT_EQ(Header(requests[i], "Content-Type"), "application/json");
    EXPECT_EQ(Header(requests[i], "Accept"), "application/json");
    EXPECT_THAT(StringFields(requests[i].body), ElementsAreArray(fields[i]));
  }
  // Raw JSON goes through unchanged; typed metadata becomes RFC 7591 JSON with
  // the client_id RFC 7592 §2.2 requires in an update.
  const auto register_body = nlohmann::json::parse(requests[0].body);
  EXPECT_EQ(register_body["json"].get<std::string>(), metadata_json);
  const auto update_body = nlohmann::json::parse(requests[2].body);
  EXPECT_EQ(update_body["clientId"], client_id);
  EXPECT_EQ(update_body["token"], token);
  EXPECT_EQ(nlohmann::json::parse(update_body["json"].get<std::string>()),
            nlohmann::json::parse(R"({"redirect_uris":["https://app.example.com/cb"],)"
                                  R"("client_name":"Wire 2","client_id":")" +
                                  client_id + "\"}"));
}

INSTANTIATE_TEST_SUITE_P(V3AndV2, WireContractTest,
                         ::testing::Values(authlete::ApiVersion::kV3,
                                           authlete::ApiVersion::kV2),
                         [](const auto& info) {
                           return info.param == authlete::ApiVersion::kV3 ? "v3" : "v2";
                         });

}  // namespace
}  // namespace dcr::testing

namespace dcr::testing {
namespace {

// W3C Trace Context crosses the gateway: Authlete sees the caller's trace id
// under the gateway's own span; without a usable traceparent, a new trace.
TEST(TraceContextWireTest, AuthleteReceivesTheCallersTrace) {
  auto env = GatewayTestEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  const std::string caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string caller_span = "00f067aa0ba902b7";
  struct Case {
    std::string traceparent;  // empty: none sent
    bool continued;
  } cases[] = {{absl::StrCat("00-", caller_trace, "-", caller_span, "-01"), true},
               {"", false},
               {"00-not-a-trace", false}};
  for (const Case& c : cases) {
    (*env)->emulator().ResetStats();
    auto context = Context();
    if (!c.traceparent.empty()) {
      context->AddMetadata("traceparent", c.traceparent);
      context->AddMetadata("tracestate", "vendor=opaque");
    }
    v1::RegisterClientRequest request;
    request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
    v1::RegisterClientResponse response;
    ASSERT_TRUE((*env)->stub().RegisterClient(context.get(), request, &response).ok());
    const std::vector<emulator::RecordedRequest> recorded = (*env)->emulator().recorded_requests();
    ASSERT_EQ(recorded.size(), 1u);
    const std::string sent = Header(recorded[0], "traceparent");
    std::vector<std::string> parts = absl::StrSplit(sent, '-');
    ASSERT_EQ(parts.size(), 4u) << sent;
    EXPECT_EQ(parts[0], "00");
    EXPECT_EQ(parts[1].size(), 32u);
    EXPECT_EQ(parts[2].size(), 16u);
    EXPECT_NE(parts[2], caller_span);  // the gateway's span, not the caller's
    if (c.continued) {
      EXPECT_EQ(parts[1], caller_trace);
      EXPECT_EQ(parts[3], "01");
      EXPECT_EQ(Header(recorded[0], "tracestate"), "vendor=opaque");
    } else {
      EXPECT_NE(parts[1], caller_trace);
      EXPECT_EQ(Header(recorded[0], "tracestate"), "");
      EXPECT_EQ(sent.find("not-a-trace"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace dcr::testing
