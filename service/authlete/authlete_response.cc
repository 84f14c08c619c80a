#include "service/authlete/authlete_response.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/duration.pb.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"
#include "service/errors/registration_error_status.h"

namespace dcr::authlete {
namespace {

using v1::RegistrationError;

v1::Action SuccessAction(Operation operation) {
  switch (operation) {
    case Operation::kRegister:
      return v1::ACTION_CREATED;
    case Operation::kGet:
      return v1::ACTION_OK;
    case Operation::kUpdate:
      return v1::ACTION_UPDATED;
    case Operation::kDelete:
      return v1::ACTION_DELETED;
  }
  return v1::ACTION_UNSPECIFIED;
}

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

absl::Status Failure(absl::StatusCode code, v1::ErrorReason reason, int http_status,
                     std::string message, const http::HttpResult& result,
                     bool may_have_been_processed) {
  RegistrationError detail;
  detail.set_reason(reason);
  detail.set_http_status(http_status);
  detail.set_upstream_http_status(result.status);
  detail.set_may_have_been_processed(may_have_been_processed);
  if (result.retry_after.has_value()) errors::SetRetryAfter(*result.retry_after, detail);
  return errors::MakeStatus(code, message, detail);
}

// Authlete refused the gateway's call (contract §3): 400/401/403/404/500 with
// {"resultCode","resultMessage"}, or any other status with any body.
absl::Status Refusal(const http::HttpResult& result) {
  const nlohmann::json body = nlohmann::json::parse(result.body, nullptr, false);
  std::string result_code, result_message;
  if (body.is_object()) {
    result_code = StringMember(body, "resultCode");
    result_message = StringMember(body, "resultMessage");
  }
  const std::string what =
      result_message.empty() ? std::string("no Authlete result message") : result_message;
  absl::Status status;
  const int s = result.status;
  if (s == 401 || s == 403) {
    status = Failure(absl::StatusCode::kFailedPrecondition,
                     v1::ERROR_REASON_GATEWAY_CREDENTIALS_REJECTED, 500,
                     absl::StrCat("Authlete refused the gateway's credentials (HTTP ", s,
                                  "): ", what),
                     result, false);
  } else if (s == 404) {
    status = Failure(absl::StatusCode::kFailedPrecondition,
                     v1::ERROR_REASON_SERVICE_NOT_FOUND, 500,
                     absl::StrCat("Authlete does not know the service or path (HTTP 404): ",
                                  what),
                     result, false);
  } else if (s == 429) {
    status = Failure(absl::StatusCode::kUnavailable,
                     v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, 503,
                     "Authlete is rate limiting the gateway (HTTP 429)", result, false);
  } else if (s >= 500) {
    // A 5xx does not prove the request was left unprocessed.
    status = Failure(absl::StatusCode::kUnavailable, v1::ERROR_REASON_UPSTREAM_FAILED,
                     503, absl::StrCat("Authlete failed (HTTP ", s, "): ", what), result,
                     true);
  } else {
    status = Failure(absl::StatusCode::kInternal,
                     v1::ERROR_REASON_UPSTREAM_REQUEST_REFUSED, 500,
                     absl::StrCat("Authlete refused the gateway's request (HTTP ", s,
                                  "): ", what),
                     result, s >= 200 && s < 300);
  }
  if (!result_code.empty()) {
    // Re-attach with the result code and message filled in.
    RegistrationError detail = *errors::GetRegistrationError(status);
    detail.set_result_code(result_code);
    detail.set_result_message(result_message);
    status = errors::MakeStatus(status.code(), status.message(), detail);
  }
  return status;
}

absl::Status TransportFailure(Operation operation, const http::HttpResult& result) {
  const absl::Status& t = result.transport;
  switch (t.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return Failure(absl::StatusCode::kDeadlineExceeded,
                     v1::ERROR_REASON_UPSTREAM_TIMEOUT, 504,
                     absl::StrCat("no answer from Authlete in time: ", t.message()),
                     result, result.request_sent);
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kOutOfRange:
      return Failure(absl::StatusCode::kInternal, v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE,
                     500, absl::StrCat("unusable answer from Authlete: ", t.message()),
                     result, true);
    case absl::StatusCode::kCancelled:
      return Failure(absl::StatusCode::kUnavailable,
                     v1::ERROR_REASON_GATEWAY_UNAVAILABLE, 503,
                     absl::StrCat("call to Authlete abandoned: ", t.message()), result,
                     result.request_sent);
    default:
      if (!result.request_sent) {
        return Failure(absl::StatusCode::kUnavailable,
                       v1::ERROR_REASON_UPSTREAM_UNREACHABLE, 503,
                       absl::StrCat("cannot reach Authlete: ", t.message()), result, false);
      }
      return Failure(absl::StatusCode::kUnavailable, v1::ERROR_REASON_UPSTREAM_FAILED, 503,
                     absl::StrCat("connection to Authlete failed during ",
                                  OperationName(operation), ": ", t.message()),
                     result, true);
  }
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

int HttpStatusForAction(v1::Action action) {
  switch (action) {
    case v1::ACTION_CREATED:
      return 201;
    case v1::ACTION_OK:
    case v1::ACTION_UPDATED:
      return 200;
    case v1::ACTION_DELETED:
      return 204;
    case v1::ACTION_BAD_REQUEST:
      return 400;
    case v1::ACTION_UNAUTHORIZED:
      return 401;
    default:
      return 500;
  }
}

absl::StatusOr<DcrResponse> InterpretHttpResult(Operation operation,
                                                http::HttpResult result) {
  if (!result.transport.ok()) return TransportFailure(operation, result);
  if (result.status != 200) return Refusal(result);

  absl::optional<Envelope> envelope = ParseEnvelope(result.body);
  if (!envelope.has_value()) {
    return Failure(absl::StatusCode::kInternal, v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE,
                   500, "Authlete's answer is not a JSON object", result, true);
  }
  DcrResponse response;
  response.result_code = std::move(envelope->result_code);
  response.result_message = std::move(envelope->result_message);
  response.response_content = std::move(envelope->response_content);
  const std::string action_text = std::move(envelope->action);
  response.action = ParseAction(action_text);

  if (response.action == SuccessAction(operation)) return response;

  RegistrationError detail;
  detail.set_action(response.action);
  detail.set_http_status(HttpStatusForAction(response.action));
  detail.set_upstream_http_status(result.status);
  detail.set_result_code(response.result_code);
  detail.set_result_message(response.result_message);
  detail.set_response_content(response.response_content);
  // RFC 7591 §3.2.2 error fields, for callers that only want those.
  const nlohmann::json content =
      nlohmann::json::parse(response.response_content, nullptr, false);
  if (content.is_object()) {
    detail.set_error(StringMember(content, "error"));
    detail.set_error_description(StringMember(content, "error_description"));
    detail.set_error_uri(StringMember(content, "error_uri"));
  }
  const std::string summary =
      !detail.error().empty()
          ? absl::StrCat(detail.error(), ": ", detail.error_description())
          : response.result_message;
  switch (response.action) {
    case v1::ACTION_BAD_REQUEST:
      detail.set_reason(v1::ERROR_REASON_REGISTRATION_REJECTED);
      return errors::MakeStatus(absl::StatusCode::kInvalidArgument,
                                absl::StrCat("Authlete rejected the ", OperationName(operation),
                                             " request: ", summary),
                                detail);
    case v1::ACTION_UNAUTHORIZED:
      detail.set_reason(v1::ERROR_REASON_REGISTRATION_REJECTED);
      return errors::MakeStatus(
          absl::StatusCode::kUnauthenticated,
          absl::StrCat("Authlete rejected the registration access token: ", summary),
          detail);
    case v1::ACTION_INTERNAL_SERVER_ERROR:
      detail.set_reason(v1::ERROR_REASON_AUTHLETE_ERROR);
      return errors::MakeStatus(absl::StatusCode::kInternal,
                                absl::StrCat("Authlete failed: ", summary), detail);
    default:
      // An unknown action, or a success action of another operation: Authlete
      // processed something we cannot interpret, so treat it as its failure.
      detail.set_reason(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE);
      detail.set_http_status(500);
      detail.set_may_have_been_processed(true);
      return errors::MakeStatus(
          absl::StatusCode::kInternal,
          absl::StrCat("Authlete answered the ", OperationName(operation),
                       " request with unexpected action \"", action_text.substr(0, 64), "\""),
          detail);
  }
}

}  // namespace dcr::authlete
