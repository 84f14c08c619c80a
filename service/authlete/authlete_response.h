// Interprets what came back from Authlete (contract §3-4): the one success
// action of the operation becomes a DcrResponse; every other outcome becomes
// an error status with a dcr.v1.RegistrationError detail. The table of these
// outcomes is README "Error mapping".
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_RESPONSE_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_RESPONSE_H_

#include <string>

#include "absl/status/statusor.h"
#include "dcr/v1/action.pb.h"
#include "service/authlete/authlete_options.h"
#include "service/http/http_client.h"

namespace dcr::authlete {

// A ClientRegistrationResponse whose action is the operation's success:
// CREATED (register), OK (get), UPDATED (update) or DELETED (delete).
struct DcrResponse {
  v1::Action action = v1::ACTION_UNSPECIFIED;
  std::string result_code;
  std::string result_message;
  // Verbatim; empty for DELETED.
  std::string response_content;
};

// The action named by Authlete's `action` string; UNSPECIFIED when unknown.
v1::Action ParseAction(absl::string_view action);

// The HTTP status the end client should get for `action` (contract §4).
int HttpStatusForAction(v1::Action action);

absl::StatusOr<DcrResponse> InterpretHttpResult(Operation operation,
                                                http::HttpResult result);

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_RESPONSE_H_
