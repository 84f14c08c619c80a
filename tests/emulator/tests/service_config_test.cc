// Service configuration: the default service and the config file format.
#include "tests/emulator/service_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dcr::emulator {
namespace {

TEST(ServiceConfigTest, DefaultService) {
  ServiceConfig s = DefaultServiceConfig();
  EXPECT_EQ(s.service_id, "21653835348762");
  EXPECT_EQ(s.service_token, "emulator-service-token");
  EXPECT_EQ(s.api_secret, "emulator-api-secret");
  EXPECT_EQ(s.registration_management_endpoint, "http://127.0.0.1:8787/dcr/register");
  EXPECT_TRUE(s.dynamic_registration_supported);
  EXPECT_TRUE(s.unauthorized_on_client_config_supported);
  EXPECT_FALSE(s.dcr_duplicate_software_id_blocked);
  EXPECT_FALSE(s.rotate_registration_access_token_on_update);
  EXPECT_TRUE(ValidateServiceConfig(s).ok());
}

// The example of README.md "Config file".
TEST(ServiceConfigTest, ParsesTheReadmeExample) {
  auto config = ParseEmulatorConfig(R"({
    "organizationToken": "org-token",
    "services": [
      {
        "serviceId": "21653835348762",
        "serviceAccessToken": "emulator-service-token",
        "apiSecret": "emulator-api-secret",
        "registrationManagementEndpoint": "https://gateway.example.com/dcr/register",
        "dynamicRegistrationSupported": true,
        "unauthorizedOnClientConfigSupported": true,
        "dcrDuplicateSoftwareIdBlocked": false,
        "dcrScopeUsedAsRequestable": false,
        "supportedCustomClientMetadata": ["tenant_id"],
        "rotateRegistrationAccessTokenOnUpdate": false
      },
      {
        "serviceId": 715948317,
        "serviceAccessToken": "legacy-token",
        "registrationEndpoint": "https://legacy.example.com/register"
      }
    ]
  })");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->organization_token, "org-token");
  ASSERT_EQ(config->services.size(), 2u);
  EXPECT_EQ(config->services[0].supported_custom_client_metadata,
            std::vector<std::string>{"tenant_id"});
  EXPECT_TRUE(config->services[0].unauthorized_on_client_config_supported);
  const ServiceConfig& legacy = config->services[1];
  EXPECT_EQ(legacy.service_id, "715948317");
  EXPECT_FALSE(legacy.unauthorized_on_client_config_supported) << "Authlete's default";
  EXPECT_EQ(legacy.registration_management_endpoint, "https://legacy.example.com/register");
  EXPECT_TRUE(legacy.api_secret.empty());
}

TEST(ServiceConfigTest, RejectsBadConfigs) {
  const char* endpoint = R"("registrationManagementEndpoint": "https://g.example/r")";
  for (std::string bad : {
           std::string("not json"),
           std::string("[]"),
           std::string(R"({"services": []})"),
           std::string(R"({"services": {}})"),
           std::string(R"({"servics": []})"),
           R"({"services": [{"serviceId": "abc", "serviceAccessToken": "t", )" +
               std::string(endpoint) + "}]}",
           R"({"services": [{"serviceId": "1", )" + std::string(endpoint) + "}]}",
           std::string(R"({"services": [{"serviceId": "1", "serviceAccessToken": "t"}]})"),
           R"({"services": [{"serviceId": "1", "serviceAccessToken": "t", "typo": 1, )" +
               std::string(endpoint) + "}]}",
           R"({"services": [{"serviceId": "1", "serviceAccessToken": 5, )" +
               std::string(endpoint) + "}]}",
           R"({"services": [{"serviceId": "1", "serviceAccessToken": "t", )" +
               std::string(endpoint) + R"(, "dynamicRegistrationSupported": "yes"}]})",
           R"({"services": [{"serviceId": "1", "serviceAccessToken": "t", )" +
               std::string(endpoint) + R"(, "supportedCustomClientMetadata": [1]}]})",
           R"({"services": [{"serviceId": "1", "serviceAccessToken": "t", )" +
               std::string(endpoint) + R"(}, {"serviceId": "1", "serviceAccessToken": "u", )" +
               std::string(endpoint) + "}]}",
           std::string(R"({"services": [{"serviceId": "1", "serviceAccessToken": "t", )"
                       R"("registrationManagementEndpoint": "relative/path"}]})"),
       }) {
    EXPECT_FALSE(ParseEmulatorConfig(bad).ok()) << bad;
  }
}

TEST(ServiceConfigTest, LoadFileErrorsNameTheFile) {
  auto c = LoadEmulatorConfigFile("/nonexistent/emulator.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), ::testing::HasSubstr("/nonexistent/emulator.json"));
}

}  // namespace
}  // namespace dcr::emulator
