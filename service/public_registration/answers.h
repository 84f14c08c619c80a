// What the public endpoint answers (contract §4 and RFC 7591/7592/6750):
// Authlete's action as the status with its responseContent verbatim, and
// the gateway's own JSON errors, which never carry an upstream URL or an
// Authlete message.
#ifndef DCR_SERVICE_PUBLIC_REGISTRATION_ANSWERS_H_
#define DCR_SERVICE_PUBLIC_REGISTRATION_ANSWERS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/core/call.h"
#include "service/core/error.h"
#include "service/public_registration/http_exchange.h"

namespace dcr::public_registration {

// {"error": error, "error_description": description} with `status`,
// Content-Type application/json and no-store/no-cache.
PublicResponse JsonError(int status, absl::string_view error, absl::string_view description);

// 503 temporarily_unavailable with Retry-After (whole seconds, at least 1).
PublicResponse Unavailable(absl::Duration retry_after);

// 429 with Retry-After: over a rate limit of the public endpoint.
PublicResponse TooManyRequests(absl::Duration retry_after);

// 401 or 403 with `www_authenticate` as the WWW-Authenticate value (RFC
// 6750 §3) and a JSON body naming `error`.
PublicResponse BearerRefusal(int status, absl::string_view www_authenticate,
                             absl::string_view error, absl::string_view description);

// The answer to a DCR call's result: the success action's status and
// responseContent (204 without body for DELETED); BAD_REQUEST and
// UNAUTHORIZED as Authlete wrote them (401 with WWW-Authenticate); any
// failure of Authlete or of the gateway as a JSON error of its own.
PublicResponse AnswerOf(const core::DcrResult& result);

}  // namespace dcr::public_registration

#endif  // DCR_SERVICE_PUBLIC_REGISTRATION_ANSWERS_H_
