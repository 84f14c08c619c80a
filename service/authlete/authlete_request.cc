#include "service/authlete/authlete_request.h"

#include <utility>

#include "absl/strings/ascii.h"
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
    case Operation::kListClients:
      return "/client/get/list";
    case Operation::kGetClientRecord:
      return "/client/get/";
    case Operation::kRotateClientSecret:
      return "/client/secret/";  // refresh/ or update/, by the call
    case Operation::kSetClientLocked:
      return "/client/lock_flag/update/";
    case Operation::kIntrospectToken:
      return "/auth/introspection";
  }
  return "/client/registration";
}

// RFC 3986 percent-encoding of everything but the unreserved characters, for
// a path segment or a query value taken from the caller.
std::string PercentEncode(absl::string_view text) {
  // Upper-case hex digits, as RFC 3986 recommends.
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// The path after /api[/{serviceId}] and its query, from the call.
std::string PathAndQuery(const core::DcrCall& call) {
  std::string path(PathSuffix(call.operation));
  switch (call.operation) {
    case Operation::kListClients:
      absl::StrAppend(&path, "?");
      if (!call.developer.empty()) {
        absl::StrAppend(&path, "developer=", PercentEncode(call.developer), "&");
      }
      absl::StrAppend(&path, "start=", call.list_start, "&end=", call.list_end);
      break;
    case Operation::kRotateClientSecret:
      absl::StrAppend(&path, call.new_client_secret.has_value() ? "update/" : "refresh/",
                      PercentEncode(call.client_id));
      break;
    case Operation::kGetClientRecord:
    case Operation::kSetClientLocked:
      absl::StrAppend(&path, PercentEncode(call.client_id));
      break;
    default:
      break;
  }
  return path;
}

// Contract §9: a GET carries no body; the rest are POSTs with a JSON body.
bool IsGet(const core::DcrCall& call) {
  return call.operation == Operation::kListClients ||
         call.operation == Operation::kGetClientRecord ||
         (call.operation == Operation::kRotateClientSecret &&
          !call.new_client_secret.has_value());
}

// The JSON body of a POST, written with service/json as nlohmann's dump()
// of the same object wrote it (names sorted), so the bytes on the wire stay
// the contract's.
std::string Body(const core::DcrCall& call) {
  std::string body;
  switch (call.operation) {
    case Operation::kRotateClientSecret:
      body = "{\"clientSecret\":";
      json::AppendString(call.new_client_secret.value_or(""), &body);
      body.push_back('}');
      return body;
    case Operation::kSetClientLocked:
      body = "{\"clientLocked\":";
      json::AppendBool(call.locked, &body);
      body.push_back('}');
      return body;
    case Operation::kIntrospectToken:
      // Contract §10: the token and the scopes it must carry.
      body = "{\"scopes\":[";
      if (!call.required_scope.empty()) json::AppendString(call.required_scope, &body);
      body.append("],\"token\":");
      json::AppendString(call.token, &body);
      body.push_back('}');
      return body;
    default:
      break;
  }
  // Every field is a string; `json` holds the metadata document as text.
  const bool names_client = call.operation != Operation::kRegister;
  const bool carries_json =
      call.operation == Operation::kRegister || call.operation == Operation::kUpdate;
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
  return body;
}

}  // namespace

http::HttpRequest BuildHttpRequest(const AuthleteOptions& options, const core::DcrCall& call,
                                   absl::Duration timeout) {
  http::HttpRequest request;
  request.timeout = timeout;
  if (options.api_version == ApiVersion::kV3) {
    request.url = absl::StrCat(options.base_url, "/api/", call.service_id, PathAndQuery(call));
    request.headers.push_back(absl::StrCat("Authorization: Bearer ", options.credential));
  } else {
    request.url = absl::StrCat(options.base_url, "/api", PathAndQuery(call));
    request.headers.push_back(absl::StrCat(
        "Authorization: Basic ",
        absl::Base64Escape(absl::StrCat(call.service_id, ":", options.credential))));
  }
  const bool get = IsGet(call);
  if (get) {
    request.method = http::HttpRequest::Method::kGet;
    // A refresh must never be sent twice (libcurl resends a GET whose reused
    // connection died).
    request.fresh_connection = !api::Traits(call.operation).idempotent;
  } else {
    request.headers.emplace_back("Content-Type: application/json");
  }
  request.headers.emplace_back("Accept: application/json");
  if (!call.traceparent.empty()) {
    request.headers.push_back(absl::StrCat("traceparent: ", call.traceparent));
    if (!call.tracestate.empty()) {
      request.headers.push_back(absl::StrCat("tracestate: ", call.tracestate));
    }
  }
  if (get) return request;
  request.body = Body(call);
  return request;
}

}  // namespace dcr::authlete
