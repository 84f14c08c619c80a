// Interprets what came back from Authlete (contract §3-4): the one success
// action of the operation becomes a DcrResponse; every other outcome becomes
// a core::Error whose reason the table of proto/api/error_rules.h describes
// (README "Error mapping").
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_RESPONSE_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_RESPONSE_H_

#include "absl/strings/string_view.h"
#include "dcr/v1/action.pb.h"
#include "proto/api/operation.h"
#include "service/core/call.h"
#include "service/http/http_client.h"

namespace dcr::authlete {

// The action named by Authlete's `action` string; UNSPECIFIED when unknown.
v1::Action ParseAction(absl::string_view action);

core::DcrResult InterpretHttpResult(api::Operation operation, http::HttpResult result);

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_RESPONSE_H_
