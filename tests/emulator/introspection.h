// Authlete's token introspection API (contract §10):
// POST /api/{serviceId}/auth/introspection (v3) and /api/auth/introspection (v2).
#ifndef DCR_TESTS_EMULATOR_INTROSPECTION_H_
#define DCR_TESTS_EMULATOR_INTROSPECTION_H_

#include "absl/time/time.h"
#include "tests/emulator/access_token_store.h"
#include "tests/emulator/dcr_handler.h"
#include "tests/emulator/service_config.h"

namespace dcr::emulator {

// Result codes (README "Result codes"). A056001 and its message are
// Authlete's (its OpenAPI document); the others are the emulator's, numbered
// as the DCR ones: 1xx server error, 2xx bad request, 3xx unauthorized, 4xx forbidden.
inline constexpr char kCodeTokenValid[] = "A056001";            // OK
inline constexpr char kCodeIntrospectionError[] = "A056101";    // INTERNAL_SERVER_ERROR
inline constexpr char kCodeIntrospectionNotJson[] = "A056201";  // BAD_REQUEST
inline constexpr char kCodeTokenMissing[] = "A056202";          // BAD_REQUEST
inline constexpr char kCodeTokenNotString[] = "A056203";        // BAD_REQUEST
inline constexpr char kCodeScopesMalformed[] = "A056204";       // BAD_REQUEST
inline constexpr char kCodeSubjectNotString[] = "A056205";      // BAD_REQUEST
inline constexpr char kCodeTokenUnknown[] = "A056301";          // UNAUTHORIZED
inline constexpr char kCodeTokenExpired[] = "A056302";          // UNAUTHORIZED
inline constexpr char kCodeScopeInsufficient[] = "A056401";     // FORBIDDEN
inline constexpr char kCodeSubjectMismatch[] = "A056402";       // FORBIDDEN

// The introspection of `request.body` for `service` (already authenticated):
// always HTTP 200 with an action, whatever the body holds. A token counts
// only in the service it was issued for.
ApiResponse Introspect(const ServiceConfig& service, const ApiRequest& request,
                       const AccessTokenStore& tokens, absl::Time now);

// Authlete failing while introspecting: action INTERNAL_SERVER_ERROR (the
// internal_server_error fault).
ApiResponse IntrospectionServerError();

// A scope name RFC 6749 §3.3 allows (1*NQCHAR: printable ASCII but space,
// '"' and '\'), so that it can be quoted in a WWW-Authenticate value.
bool IsValidScopeName(absl::string_view scope);

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_INTROSPECTION_H_
