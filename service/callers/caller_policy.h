// Who may call the gateway and what each caller may do: the callers file
// (--callers_file, README "Callers and policy"). JSON, strictly checked:
// an unknown key or a malformed entry refuses the whole file, because a
// typo must not silently widen what a caller may do.
//
//   {"callers": [{
//     "name": "developer-portal",
//     "api_key_sha256": ["<64 hex digits>"],          // SHA-256 of each API key
//     "certificate_identities": ["spiffe://corp/portal"],  // client cert SAN or CN
//     "rpcs": ["RegisterClient", "GetClient"],          // or ["*"] (not the administrative RPCs)
//     "service_ids": ["*"],                             // or numeric ids
//     "redirect_uri_patterns": ["https://*.portal.example.com/cb"],  // or ["*"]
//     "grant_types": ["authorization_code", "refresh_token"],         // or ["*"]
//     "rate_limit": {"requests_per_second": 10, "burst": 20},         // optional
//     "max_in_flight": 200                                              // optional
//   }]}
//
// A list that is absent allows nothing; ["*"] allows anything (for "rpcs":
// every RPC but the administrative ones, which must be named).
#ifndef DCR_SERVICE_CALLERS_CALLER_POLICY_H_
#define DCR_SERVICE_CALLERS_CALLER_POLICY_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "proto/api/operation.h"
#include "service/callers/redirect_uri_pattern.h"

namespace dcr::callers {

using Sha256 = std::array<uint8_t, 32>;

struct RateLimit {
  double requests_per_second = 0;
  double burst = 0;
};

// A set of strings, or everything ("*").
struct Allowed {
  bool any = false;
  absl::flat_hash_set<std::string> values;
  bool Contains(const std::string& value) const { return any || values.contains(value); }
};

struct CallerPolicy {
  std::string name;
  std::vector<Sha256> api_key_sha256;
  std::vector<std::string> certificate_identities;
  // Indexed by api::Index(operation).
  api::PerOperation<bool> rpcs{};
  Allowed service_ids;
  bool any_redirect_uri = false;
  std::vector<RedirectUriPattern> redirect_uri_patterns;
  Allowed grant_types;
  absl::optional<RateLimit> rate_limit;
  // Calls of this caller in flight at once, at most (besides its share of
  // the gateway's budget, --caller_budget_share); 0: only the share.
  int64_t max_in_flight = 0;

  bool MayCall(api::Operation operation) const {
    return rpcs[api::Index(operation)];
  }
  bool MayUseRedirectUri(absl::string_view uri) const;
};

// What a registration through the public endpoint may ask for (README
// "Public registration endpoint"), its own JSON file or the "policy" of an
// initial access token. "redirect_uri_patterns" and "grant_types" are a
// callers-file entry's keys with their meaning there; the rest are the
// public endpoint's own:
//
//   {"redirect_uri_patterns": ["https://*.example.com/cb"],   // or ["*"]
//    "grant_types": ["authorization_code", "refresh_token"],  // or ["*"]
//    "token_endpoint_auth_methods": ["none", "private_key_jwt"],  // or ["*"]
//    "native_loopback": true,      // RFC 8252 §7.3 loopback redirects for native apps
//    "max_redirect_uris": 5, "max_redirect_uri_length": 512}
//
// An absent key keeps the default policy's value (DefaultPublicPolicy).
struct PublicRegistrationPolicy {
  // name "public"; redirect_uri_patterns and grant_types as parsed.
  CallerPolicy rules;
  Allowed token_endpoint_auth_methods;
  // http://127.0.0.1:<any port>/... and http://[::1]:<any port>/... for
  // application_type native, whatever the patterns say.
  bool native_loopback = true;
  int max_redirect_uris = 10;
  int max_redirect_uri_length = 1024;
};

// Any HTTPS redirect URI (and native loopback ones), the authorization_code
// and refresh_token grants, the auth methods none, client_secret_basic,
// client_secret_post and private_key_jwt, at most 10 URIs of 1024 bytes.
PublicRegistrationPolicy DefaultPublicPolicy();
absl::StatusOr<PublicRegistrationPolicy> ParsePublicPolicy(absl::string_view json);
absl::StatusOr<PublicRegistrationPolicy> LoadPublicPolicyFile(const std::string& path);

absl::StatusOr<std::vector<CallerPolicy>> ParseCallersFile(absl::string_view json);
absl::StatusOr<std::vector<CallerPolicy>> LoadCallersFile(const std::string& path);

// SHA-256 of `key` (how API keys are stored and compared).
Sha256 HashApiKey(absl::string_view key);
// The same as the callers file writes it: lower-case hex ("api_key_sha256").
std::string HashApiKeyHex(absl::string_view key);

}  // namespace dcr::callers

#endif  // DCR_SERVICE_CALLERS_CALLER_POLICY_H_
