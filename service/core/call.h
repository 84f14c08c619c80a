// One DCR call as the gateway makes it, and Authlete's successful answer:
// what the registration pipeline hands to the upstream connection and gets
// back. Knows neither gRPC, HTTP nor Authlete's wire format.
#ifndef DCR_SERVICE_CORE_CALL_H_
#define DCR_SERVICE_CORE_CALL_H_

#include <cstdint>
#include <string>

#include "absl/types/optional.h"
#include "dcr/v1/action.pb.h"
#include "proto/api/operation.h"
#include "service/core/error.h"

namespace dcr::core {

struct DcrCall {
  api::Operation operation = api::Operation::kRegister;
  // The Authlete service's numeric API key.
  std::string service_id;
  // get/update/delete: the client identifier.
  std::string client_id;
  // get/update/delete: the registration access token; IntrospectToken: the
  // access token to verify. A secret.
  std::string token;
  // register/update: the RFC 7591 metadata, a JSON object as text.
  std::string json;
  // ListClients: Authlete's `start` (inclusive) and `end` (exclusive), and
  // the developer filter (empty: none).
  int64_t list_start = 0;
  int64_t list_end = 0;
  std::string developer;
  // RotateClientSecret: the secret to set; unset, Authlete generates one.
  // A secret.
  absl::optional<std::string> new_client_secret;
  // IntrospectToken: the scope the token must carry (contract §10
  // `scopes`); the token itself is `token`.
  std::string required_scope;
  // SetClientLocked: the flag to set.
  bool locked = false;
  // register: RegisterClientRequest.request_id, validated and lowercased;
  // empty when the caller sent none. The gateway's own: never sent to
  // Authlete.
  std::string request_id;
  // W3C trace context passed on to Authlete when non-empty (validated: no CR
  // or LF can reach a header line).
  std::string traceparent;
  std::string tracestate;
};

// Authlete's answer whose action is the operation's success (CREATED, OK,
// UPDATED or DELETED); for an administrative operation, its HTTP 200 answer
// (action UNSPECIFIED, `response_content` the whole body, which may hold a
// secret: it is never logged).
struct DcrResponse {
  v1::Action action = v1::ACTION_UNSPECIFIED;
  std::string result_code;
  std::string result_message;
  // Verbatim; empty for DELETED.
  std::string response_content;
};

using DcrResult = ErrorOr<DcrResponse>;

// The HTTP status the end client should get for `action` (contract §4).
int HttpStatusForAction(v1::Action action);

}  // namespace dcr::core

#endif  // DCR_SERVICE_CORE_CALL_H_
