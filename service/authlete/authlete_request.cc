#include "service/authlete/authlete_request.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

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

  // Every field is a string; `json` holds the metadata document as text.
  nlohmann::json body = nlohmann::json::object();
  if (call.operation != Operation::kRegister) {
    body["clientId"] = call.client_id;
    body["token"] = call.token;
  }
  if (call.operation == Operation::kRegister || call.operation == Operation::kUpdate) {
    body["json"] = call.json;
  }
  // gRPC already guarantees valid UTF-8 in proto3 strings; `replace` keeps
  // dump() from throwing should that ever not hold.
  request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return request;
}

}  // namespace dcr::authlete
