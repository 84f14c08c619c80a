// Service configuration of the Authlete emulator: which services exist, their
// credentials and the contract §7 settings that change DCR behaviour.
#ifndef DCR_TESTS_EMULATOR_SERVICE_CONFIG_H_
#define DCR_TESTS_EMULATOR_SERVICE_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dcr::emulator {

// The documented default service (README "Default service").
inline constexpr char kDefaultServiceId[] = "21653835348762";
inline constexpr char kDefaultServiceToken[] = "emulator-service-token";
inline constexpr char kDefaultApiSecret[] = "emulator-api-secret";
inline constexpr char kDefaultRegistrationManagementEndpoint[] =
    "http://127.0.0.1:8787/dcr/register";

// One Authlete service. JSON names (config file) are given in the comments.
struct ServiceConfig {
  std::string service_id;       // "serviceId": numeric API key, also the v2 user.
  std::string service_token;    // "serviceAccessToken": v3 Bearer; empty = v3 refused.
  std::string api_secret;       // "apiSecret": v2 Basic password; empty = v2 refused.
  // "registrationManagementEndpoint": base of registration_client_uri.
  std::string registration_management_endpoint;
  bool dynamic_registration_supported = true;            // "dynamicRegistrationSupported"
  bool unauthorized_on_client_config_supported = false;  // Authlete's default is off.
  bool dcr_duplicate_software_id_blocked = false;        // "dcrDuplicateSoftwareIdBlocked"
  bool dcr_scope_used_as_requestable = false;            // "dcrScopeUsedAsRequestable"
  std::vector<std::string> supported_custom_client_metadata;
  // Emulator-only knob (Authlete's behaviour is unknown, contract §7): issue a
  // new registration access token on every successful update.
  bool rotate_registration_access_token_on_update = false;
};

// The whole set of services plus the optional organization token (v3 Bearer
// valid for every configured service).
struct EmulatorConfig {
  std::vector<ServiceConfig> services;
  std::string organization_token;
};

// The documented default service: id 21653835348762, token
// "emulator-service-token", secret "emulator-api-secret",
// unauthorizedOnClientConfigSupported ON (unlike Authlete's default).
ServiceConfig DefaultServiceConfig();

// Checks one service: numeric id, non-empty credentials, absolute endpoint.
absl::Status ValidateServiceConfig(const ServiceConfig& service);

// Checks a service set: at least one, unique ids, each valid.
absl::Status ValidateServices(const std::vector<ServiceConfig>& services);

// Parses the config file format documented in README.md:
// {"organizationToken": "...", "services": [{...}, ...]}. Unknown members are
// errors, so a typo does not silently change behaviour.
absl::StatusOr<EmulatorConfig> ParseEmulatorConfig(absl::string_view json_text);

// Reads and parses a config file.
absl::StatusOr<EmulatorConfig> LoadEmulatorConfigFile(const std::string& path);

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_SERVICE_CONFIG_H_
