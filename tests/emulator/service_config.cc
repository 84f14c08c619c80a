#include "tests/emulator/service_config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tests/emulator/json_util.h"
#include "tests/emulator/uri_util.h"

namespace dcr::emulator {

namespace {

using nlohmann::json;

absl::Status ReadString(const json& obj, const char* name, std::string* out) {
  auto it = obj.find(name);
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be a string"));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadBool(const json& obj, const char* name, bool* out) {
  auto it = obj.find(name);
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be a boolean"));
  }
  *out = it->get<bool>();
  return absl::OkStatus();
}

// Every member of a service must be a known setting.
absl::Status CheckServiceMembers(const json& obj) {
  static const std::set<std::string> kKnown = {
      "serviceId",
      "serviceAccessToken",
      "apiSecret",
      "registrationManagementEndpoint",
      "registrationEndpoint",
      "dynamicRegistrationSupported",
      "unauthorizedOnClientConfigSupported",
      "dcrDuplicateSoftwareIdBlocked",
      "dcrScopeUsedAsRequestable",
      "supportedCustomClientMetadata",
      "rotateRegistrationAccessTokenOnUpdate",
  };
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    // Typos in a test config are silent misbehaviour otherwise.
    if (!kKnown.count(it.key())) {
      return absl::InvalidArgumentError(absl::StrCat("unknown service setting \"", it.key(), "\""));
    }
  }
  return absl::OkStatus();
}

// supportedCustomClientMetadata: an array of strings.
absl::Status ReadCustomMetadataNames(const json& obj, std::vector<std::string>* names) {
  auto it = obj.find("supportedCustomClientMetadata");
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_array()) {
    return absl::InvalidArgumentError("\"supportedCustomClientMetadata\" must be an array of strings");
  }
  for (const json& name : *it) {
    if (!name.is_string()) {
      return absl::InvalidArgumentError("\"supportedCustomClientMetadata\" must be an array of strings");
    }
    names->push_back(name.get<std::string>());
  }
  return absl::OkStatus();
}

absl::StatusOr<ServiceConfig> ParseService(const json& obj) {
  if (!obj.is_object()) return absl::InvalidArgumentError("a service must be a JSON object");
  if (absl::Status st = CheckServiceMembers(obj); !st.ok()) return st;
  ServiceConfig s;
  // serviceId may be written as a number too: it is numeric in Authlete.
  if (auto it = obj.find("serviceId"); it != obj.end() && it->is_number_unsigned()) {
    s.service_id = std::to_string(it->get<uint64_t>());
  } else if (absl::Status st = ReadString(obj, "serviceId", &s.service_id); !st.ok()) {
    return st;
  }
  std::string registration_endpoint;
  for (absl::Status st : {
           ReadString(obj, "serviceAccessToken", &s.service_token),
           ReadString(obj, "apiSecret", &s.api_secret),
           ReadString(obj, "registrationManagementEndpoint", &s.registration_management_endpoint),
           ReadString(obj, "registrationEndpoint", &registration_endpoint),
           ReadBool(obj, "dynamicRegistrationSupported", &s.dynamic_registration_supported),
           ReadBool(obj, "unauthorizedOnClientConfigSupported",
                    &s.unauthorized_on_client_config_supported),
           ReadBool(obj, "dcrDuplicateSoftwareIdBlocked", &s.dcr_duplicate_software_id_blocked),
           ReadBool(obj, "dcrScopeUsedAsRequestable", &s.dcr_scope_used_as_requestable),
           ReadBool(obj, "rotateRegistrationAccessTokenOnUpdate",
                    &s.rotate_registration_access_token_on_update),
       }) {
    if (!st.ok()) return st;
  }
  // Contract §7: the management endpoint falls back to the registration endpoint.
  if (s.registration_management_endpoint.empty()) {
    s.registration_management_endpoint = registration_endpoint;
  }
  if (absl::Status st = ReadCustomMetadataNames(obj, &s.supported_custom_client_metadata);
      !st.ok()) {
    return st;
  }
  return s;
}

}  // namespace

ServiceConfig DefaultServiceConfig() {
  ServiceConfig s;
  s.service_id = kDefaultServiceId;
  s.service_token = kDefaultServiceToken;
  s.api_secret = kDefaultApiSecret;
  s.registration_management_endpoint = kDefaultRegistrationManagementEndpoint;
  s.dynamic_registration_supported = true;
  // RFC 7592 behaviour is what the gateway wants by default; Authlete's own
  // default is off (legacy BAD_REQUEST), see README.
  s.unauthorized_on_client_config_supported = true;
  return s;
}

absl::Status ValidateServiceConfig(const ServiceConfig& s) {
  if (s.service_id.empty() || s.service_id.size() > 18) {
    return absl::InvalidArgumentError("serviceId must be 1 to 18 digits");
  }
  for (char c : s.service_id) {
    if (!absl::ascii_isdigit(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("serviceId \"", s.service_id, "\" must be numeric"));
    }
  }
  if (s.service_token.empty() && s.api_secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "service ", s.service_id, " needs serviceAccessToken (v3) or apiSecret (v2)"));
  }
  absl::optional<UriParts> uri = ParseAbsoluteUri(s.registration_management_endpoint);
  if (!uri.has_value() || uri->has_fragment) {
    return absl::InvalidArgumentError(absl::StrCat(
        "service ", s.service_id,
        ": registrationManagementEndpoint must be an absolute URI without fragment, got \"",
        s.registration_management_endpoint, "\""));
  }
  for (const std::string& name : s.supported_custom_client_metadata) {
    if (name.empty()) {
      return absl::InvalidArgumentError("supportedCustomClientMetadata has an empty name");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateServices(const std::vector<ServiceConfig>& services) {
  if (services.empty()) return absl::InvalidArgumentError("no service is configured");
  std::set<std::string> ids;
  for (const ServiceConfig& s : services) {
    if (absl::Status st = ValidateServiceConfig(s); !st.ok()) return st;
    if (!ids.insert(s.service_id).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate serviceId ", s.service_id));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<EmulatorConfig> ParseEmulatorConfig(absl::string_view json_text) {
  absl::StatusOr<json> root = ParseJson(json_text);
  if (!root.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", root.status().message()));
  }
  if (!root->is_object()) return absl::InvalidArgumentError("config: top level must be an object");
  EmulatorConfig config;
  for (auto it = root->begin(); it != root->end(); ++it) {
    if (it.key() != "services" && it.key() != "organizationToken") {
      return absl::InvalidArgumentError(absl::StrCat("config: unknown member \"", it.key(), "\""));
    }
  }
  if (absl::Status st = ReadString(*root, "organizationToken", &config.organization_token);
      !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", st.message()));
  }
  auto services = root->find("services");
  if (services == root->end() || !services->is_array()) {
    return absl::InvalidArgumentError("config: \"services\" must be an array");
  }
  for (const json& s : *services) {
    absl::StatusOr<ServiceConfig> parsed = ParseService(s);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("config: ", parsed.status().message()));
    }
    config.services.push_back(*std::move(parsed));
  }
  if (absl::Status st = ValidateServices(config.services); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", st.message()));
  }
  return config;
}

absl::StatusOr<EmulatorConfig> LoadEmulatorConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open config file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<EmulatorConfig> config = ParseEmulatorConfig(ss.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace dcr::emulator
