// How the gateway reaches Authlete: base URL, API version and credential.
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_OPTIONS_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_OPTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dcr::authlete {

enum class ApiVersion {
  // /api/client/registration..., HTTP Basic (service API key and secret).
  kV2,
  // /api/{serviceId}/client/registration..., Bearer service/organization token.
  kV3,
};

struct AuthleteOptions {
  // Scheme, host and optional port and path prefix, without a trailing '/'.
  std::string base_url;
  ApiVersion api_version = ApiVersion::kV3;
  // v3: a service access token or an organization token. v2: the service's
  // API secret (the API key is the service id). A secret: never logged.
  std::string credential;
};

// "us", "jp", "eu", "br" (v3 clusters) and "v2" (the shared v2 server) map to
// Authlete's URLs; an http(s) URL is taken as is, minus trailing slashes.
absl::StatusOr<std::string> ResolveBaseUrl(absl::string_view name_or_url);

// "3"/"v3" or "2"/"v2".
absl::StatusOr<ApiVersion> ParseApiVersion(absl::string_view text);

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_OPTIONS_H_
