// Stage "check the call" of the public endpoint: the metadata of a POST or
// PUT against the public registration policy (callers::PublicRegistrationPolicy),
// refused as RFC 7591 §3.2.2 errors before anything is sent to Authlete.
//   - redirect_uris: at most max_redirect_uris, each at most
//     max_redirect_uri_length bytes; a web client (application_type absent
//     or "web") only https:// URIs matching the patterns; a native client
//     also the RFC 8252 §7.3 loopback URIs http://127.0.0.1[:port]/... and
//     http://[::1][:port]/... (any port), and private-use schemes with a dot
//     (RFC 8252 §7.1, "com.example.app:/cb") matching the patterns.
//     "localhost" is not a loopback URI here (RFC 8252 §8.3).
//   - grant_types (default ["authorization_code"]) and
//     token_endpoint_auth_method (default "client_secret_basic") allowed.
#ifndef DCR_SERVICE_PUBLIC_REGISTRATION_METADATA_CHECK_H_
#define DCR_SERVICE_PUBLIC_REGISTRATION_METADATA_CHECK_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "service/callers/caller_policy.h"

namespace dcr::public_registration {

struct MetadataRefusal {
  std::string error;  // "invalid_redirect_uri" or "invalid_client_metadata"
  std::string description;
};

// RFC 8252 §7.3: http, the IPv4 or IPv6 loopback literal, any port or none,
// then nothing or a path; no userinfo, fragment or backslash.
bool IsLoopbackRedirectUri(absl::string_view uri);

absl::optional<MetadataRefusal> CheckMetadata(const callers::PublicRegistrationPolicy& policy,
                                              absl::string_view json);

}  // namespace dcr::public_registration

#endif  // DCR_SERVICE_PUBLIC_REGISTRATION_METADATA_CHECK_H_
