#include "service/authlete/authlete_response.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/duration.pb.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace dcr::authlete {
namespace {

using api::Operation;

// A string member, leniently: an integer is printed (one published example
// has a numeric resultCode); anything else reads as empty.
std::string StringMember(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return "";
}

// The members of Authlete's answer that the gateway reads.
struct Envelope {
  std::string result_code, result_message, action, response_content;
};

// The same leniency as StringMember, for a simdjson value.
std::string StringValue(simdjson::dom::element value) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) return std::string(text);
  uint64_t u;
  if (value.is_uint64() && value.get_uint64().get(u) == simdjson::SUCCESS) {
    return std::to_string(u);
  }
  int64_t i;
  if (value.is_int64() && value.get_int64().get(i) == simdjson::SUCCESS) {
    return std::to_string(i);
  }
  return "";
}

// Parses the answer's envelope; nullopt when it is not a JSON object. The
// envelope is the largest JSON the gateway reads on every call (the whole
// client document sits escaped in responseContent), so simdjson reads it;
// nlohmann, the project's JSON library elsewhere, decides whatever simdjson
// refuses (e.g. integers beyond 64 bits), so both agree on every input.
absl::optional<Envelope> ParseEnvelope(const std::string& body) {
  // One parser per thread: it keeps its buffers between calls.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(body.data(), body.size()).get(document) == simdjson::SUCCESS) {
    simdjson::dom::object object;
    if (document.get_object().get(object) != simdjson::SUCCESS) return absl::nullopt;
    Envelope envelope;
    // Field by field, so that a repeated name keeps its last value as with
    // nlohmann.
    for (simdjson::dom::key_value_pair field : object) {
      std::string* slot = field.key == "resultCode"        ? &envelope.result_code
                          : field.key == "resultMessage"   ? &envelope.result_message
                          : field.key == "action"          ? &envelope.action
                          : field.key == "responseContent" ? &envelope.response_content
                                                           : nullptr;
      if (slot != nullptr) *slot = StringValue(field.value);
    }
    return envelope;
  }
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object()) return absl::nullopt;
  return Envelope{StringMember(parsed, "resultCode"), StringMember(parsed, "resultMessage"),
                  StringMember(parsed, "action"), StringMember(parsed, "responseContent")};
}

// An error of `reason` about `result`: its HTTP status and Retry-After kept.
core::Error Failure(v1::ErrorReason reason, std::string message, const http::HttpResult& result) {
  core::Error error(reason, std::move(message),
                    result.request_sent ? core::Sent::kMaybe : core::Sent::kNo);
  error.set_upstream_http_status(result.status);
  if (result.retry_after.has_value()) error.set_retry_after(*result.retry_after);
  return error;
}

// Authlete refused the gateway's call (contract §3): 400/401/403/404/500 with
// {"resultCode","resultMessage"}, or any other status with any body.
core::Error Refusal(const http::HttpResult& result) {
  const nlohmann::json body = nlohmann::json::parse(result.body, nullptr, false);
  std::string result_code, result_message;
  if (body.is_object()) {
    result_code = StringMember(body, "resultCode");
    result_message = StringMember(body, "resultMessage");
  }
  const std::string what =
      result_message.empty() ? std::string("no Authlete result message") : result_message;
  const int s = result.status;
  core::Error error = [&] {
    if (s == 401 || s == 403) {
      return Failure(v1::ERROR_REASON_GATEWAY_CREDENTIALS_REJECTED,
                     absl::StrCat("Authlete refused the gateway's credentials (HTTP ", s,
                                  "): ", what),
                     result);
    }
    if (s == 404) {
      return Failure(v1::ERROR_REASON_SERVICE_NOT_FOUND,
                     absl::StrCat("Authlete does not know the service or path (HTTP 404): ",
                                  what),
                     result);
    }
    if (s == 429) {
      return Failure(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED,
                     "Authlete is rate limiting the gateway (HTTP 429)", result);
    }
    if (s >= 500) {
      // A 5xx does not prove the request was left unprocessed.
      return Failure(v1::ERROR_REASON_UPSTREAM_FAILED,
                     absl::StrCat("Authlete failed (HTTP ", s, "): ", what), result);
    }
    core::Error refused = Failure(
        v1::ERROR_REASON_UPSTREAM_REQUEST_REFUSED,
        absl::StrCat("Authlete refused the gateway's request (HTTP ", s, "): ", what), result);
    if (s >= 200 && s < 300) refused.mark_maybe_processed();
    return refused;
  }();
  if (!result_code.empty()) error.set_result(std::move(result_code), std::move(result_message));
  return error;
}

core::Error TransportFailure(Operation operation, const http::HttpResult& result) {
  const absl::Status& t = result.transport;
  switch (t.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return Failure(v1::ERROR_REASON_UPSTREAM_TIMEOUT,
                     absl::StrCat("no answer from Authlete in time: ", t.message()), result);
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kOutOfRange:
      return Failure(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE,
                     absl::StrCat("unusable answer from Authlete: ", t.message()), result);
    case absl::StatusCode::kCancelled:
      return Failure(v1::ERROR_REASON_GATEWAY_UNAVAILABLE,
                     absl::StrCat("call to Authlete abandoned: ", t.message()), result);
    default:
      if (!result.request_sent) {
        return Failure(v1::ERROR_REASON_UPSTREAM_UNREACHABLE,
                       absl::StrCat("cannot reach Authlete: ", t.message()), result);
      }
      return Failure(v1::ERROR_REASON_UPSTREAM_FAILED,
                     absl::StrCat("connection to Authlete failed during ",
                                  api::Name(operation), ": ", t.message()),
                     result);
  }
}

// Authlete processed the request and answered an action other than the
// operation's success.
core::Error ActionFailure(Operation operation, const std::string& action_text,
                          core::DcrResponse response, int http_status) {
  // RFC 7591 §3.2.2 error fields, for callers that only want those.
  std::string error, description, uri;
  const nlohmann::json content =
      nlohmann::json::parse(response.response_content, nullptr, false);
  if (content.is_object()) {
    error = StringMember(content, "error");
    description = StringMember(content, "error_description");
    uri = StringMember(content, "error_uri");
  }
  const std::string summary =
      !error.empty() ? absl::StrCat(error, ": ", description) : response.result_message;
  const v1::Action action = response.action;
  auto make = [&](v1::ErrorReason reason, std::string message) {
    core::Error e(reason, std::move(message));
    e.set_action(action);
    return e;
  };
  core::Error failure = [&] {
    switch (action) {
      case v1::ACTION_BAD_REQUEST:
        return make(v1::ERROR_REASON_REGISTRATION_REJECTED,
                    absl::StrCat("Authlete rejected the ", api::Name(operation),
                                 " request: ", summary));
      case v1::ACTION_UNAUTHORIZED:
        return make(v1::ERROR_REASON_REGISTRATION_REJECTED,
                    absl::StrCat("Authlete rejected the registration access token: ", summary));
      case v1::ACTION_INTERNAL_SERVER_ERROR:
        return make(v1::ERROR_REASON_AUTHLETE_ERROR, absl::StrCat("Authlete failed: ", summary));
      default:
        // An unknown action, or a success action of another operation:
        // Authlete processed something we cannot interpret, so treat it as
        // its failure.
        return make(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE,
                    absl::StrCat("Authlete answered the ", api::Name(operation),
                                 " request with unexpected action \"", action_text.substr(0, 64),
                                 "\""));
    }
  }();
  failure.set_upstream_http_status(http_status);
  failure.set_result(std::move(response.result_code), std::move(response.result_message));
  failure.set_end_client_error(std::move(error), std::move(description), std::move(uri));
  failure.set_response_content(std::move(response.response_content));
  return failure;
}

// Contract §9: an administrative call's HTTP 200 answer is its result (no
// action). Kept whole for the reply, which reads what it needs; it may hold
// a secret (a rotation's), so no message here quotes it.
core::DcrResult AdministrativeAnswer(http::HttpResult result) {
  const nlohmann::json body = nlohmann::json::parse(result.body, nullptr, false);
  if (!body.is_object()) {
    return Failure(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE,
                   "Authlete's answer is not a JSON object", result);
  }
  core::DcrResponse response;
  response.result_code = StringMember(body, "resultCode");
  response.result_message = StringMember(body, "resultMessage");
  response.response_content = std::move(result.body);
  return response;
}

}  // namespace

v1::Action ParseAction(absl::string_view action) {
  v1::Action parsed = v1::ACTION_UNSPECIFIED;
  if (action.empty() ||
      !v1::Action_Parse(absl::StrCat("ACTION_", action), &parsed)) {
    return v1::ACTION_UNSPECIFIED;
  }
  return parsed;
}

core::DcrResult InterpretHttpResult(Operation operation, http::HttpResult result) {
  if (!result.transport.ok()) return TransportFailure(operation, result);
  if (result.status != 200) return Refusal(result);
  if (api::Traits(operation).administrative) return AdministrativeAnswer(std::move(result));

  absl::optional<Envelope> envelope = ParseEnvelope(result.body);
  if (!envelope.has_value()) {
    return Failure(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE,
                   "Authlete's answer is not a JSON object", result);
  }
  core::DcrResponse response;
  response.result_code = std::move(envelope->result_code);
  response.result_message = std::move(envelope->result_message);
  response.response_content = std::move(envelope->response_content);
  response.action = ParseAction(envelope->action);
  if (response.action == api::Traits(operation).success_action) return response;
  return ActionFailure(operation, envelope->action, std::move(response), result.status);
}

}  // namespace dcr::authlete
