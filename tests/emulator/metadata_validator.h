// Validation and normalization of RFC 7591 / OpenID Connect Dynamic
// Registration client metadata, as Authlete's register and update do it.
#ifndef DCR_TESTS_EMULATOR_METADATA_VALIDATOR_H_
#define DCR_TESTS_EMULATOR_METADATA_VALIDATOR_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"

namespace dcr::emulator {

// Result-code suffixes (three digits). The handler prefixes the operation:
// register "A202", update "A213", so kWrongType is A202202 on register.
enum ValidationCode : int {
  kJsonNotObject = 201,
  kWrongType = 202,
  kRedirectUriMissing = 203,
  kRedirectUriMalformed = 204,
  kRedirectUriFragment = 205,
  kUnsupportedGrantType = 206,
  kUnsupportedResponseType = 207,
  kResponseTypeNeedsGrantType = 208,
  kGrantTypeNeedsResponseType = 209,
  kUnsupportedAuthMethod = 210,
  kJwksAndJwksUri = 211,
  kKeyMaterialMissing = 212,
  kBadApplicationType = 213,
  kBadSubjectType = 214,
  kMalformedUri = 215,
  kInitiateLoginUriNotHttps = 216,
  kBadDefaultMaxAge = 217,
  kTlsClientAuthSubject = 218,
  kBadBackchannelDeliveryMode = 219,
  kBackchannelEndpointMissing = 220,
  kBadJwks = 221,
  // Raised by the handler, not the validator:
  kClientIdMismatch = 222,
  kClientSecretMismatch = 223,
  kDuplicateSoftwareId = 224,
  kDynamicRegistrationDisabled = 225,
};

struct ValidationError {
  std::string error;        // "invalid_redirect_uri" or "invalid_client_metadata"
  int code = 0;             // a ValidationCode
  std::string description;  // without the "[Annnnnn] " prefix
};

struct ValidationResult {
  bool ok = false;
  // On success: every known name with its value and JSON type intact,
  // language-tagged names kept, listed custom names kept verbatim, unknown and
  // response-only names dropped, Authlete's defaults filled in.
  nlohmann::json metadata;
  ValidationError error;  // on failure
};

// `input` is whatever the `json` request parameter parsed to.
ValidationResult ValidateClientMetadata(const nlohmann::json& input,
                                        const std::vector<std::string>& custom_metadata_names);

// Language-tagged metadata: "client_name#ja" -> base "client_name". Returns
// the empty string for names that are not a valid tagged form.
std::string TaggedBaseName(absl::string_view name);

// Names that appear only in responses and are dropped from requests.
bool IsResponseOnlyName(absl::string_view name);

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_METADATA_VALIDATOR_H_
