#include "service/authlete/authlete_request.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/json/json_text.h"

namespace dcr::authlete {
namespace {

using api::Operation;

absl::string_view PathSuffix(Operation operation) {
  switch (operation) {
    case Operation::kRegister:
      return "/client/registration";
    case Operation::kGet:
      return "/client/registration/get";
    case Operation::kUpdate:
      return "/client/registration/update";
    case Operation::kDelete:
      return "/client/registration/delete";
  }
  return "/client/registration";
}

}  // namespace

http::HttpRequest BuildHttpRequest(const AuthleteOptions& options, const core::DcrCall& call,
                                   absl::Duration timeout) {
  http::HttpRequest request;
  request.timeout = timeout;
  if (options.api_version == ApiVersion::kV3) {
    request.url = absl::StrCat(options.base_url, "/api/", call.service_id,
                               PathSuffix(call.operation));
    request.headers.push_back(absl::StrCat("Authorization: Bearer ", options.credential));
  } else {
    request.url = absl::StrCat(options.base_url, "/api", PathSuffix(call.operation));
    request.headers.push_back(absl::StrCat(
        "Authorization: Basic ",
        absl::Base64Escape(absl::StrCat(call.service_id, ":", options.credential))));
  }
  request.headers.emplace_back("Content-Type: application/json");
  request.headers.emplace_back("Accept: application/json");
  if (!call.traceparent.empty()) {
    request.headers.push_back(absl::StrCat("traceparent: ", call.traceparent));
    if (!call.tracestate.empty()) {
      request.headers.push_back(absl::StrCat("tracestate: ", call.tracestate));
    }
  }

  // Every field is a string; `json` holds the metadata document as text. The
  // names in alphabetical order, as the envelope has always been written.
  const bool names_client = call.operation != Operation::kRegister;
  const bool carries_json =
      call.operation == Operation::kRegister || call.operation == Operation::kUpdate;
  std::string& body = request.body;
  body.reserve(call.json.size() + call.client_id.size() + call.token.size() + 64);
  body.push_back('{');
  if (names_client) {
    body.append("\"clientId\":");
    json::AppendString(call.client_id, &body);
  }
  if (carries_json) {
    if (names_client) body.push_back(',');
    body.append("\"json\":");
    json::AppendString(call.json, &body);
  }
  if (names_client) {
    body.append(",\"token\":");
    json::AppendString(call.token, &body);
  }
  body.push_back('}');
  return request;
}

}  // namespace dcr::authlete
