#include "service/public_registration/answers.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/api/error_rules.h"
#include "service/json/json_text.h"

namespace dcr::public_registration {
namespace {

void NoStore(PublicResponse& response) {
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("Pragma", "no-cache");
}

PublicResponse Json(int status, std::string body) {
  PublicResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  NoStore(response);
  response.body = std::move(body);
  return response;
}

std::string RetryAfterSeconds(absl::Duration wait) {
  const double seconds = std::ceil(absl::ToDoubleSeconds(wait));
  return absl::StrCat(static_cast<int64_t>(std::max(1.0, std::min(seconds, 3600.0))));
}

// A 401 to a registration access token: RFC 6750 §3.1's invalid_token.
constexpr char kInvalidTokenChallenge[] = "Bearer error=\"invalid_token\"";

}  // namespace

PublicResponse JsonError(int status, absl::string_view error, absl::string_view description) {
  std::string body = "{\"error\":";
  json::AppendString(error, &body);
  if (!description.empty()) {
    body.append(",\"error_description\":");
    json::AppendString(description, &body);
  }
  body.push_back('}');
  return Json(status, std::move(body));
}

PublicResponse Unavailable(absl::Duration retry_after) {
  PublicResponse response = JsonError(503, "temporarily_unavailable",
                                      "the registration service is unavailable; try again later");
  response.headers.emplace_back("Retry-After", RetryAfterSeconds(retry_after));
  return response;
}

PublicResponse TooManyRequests(absl::Duration retry_after) {
  PublicResponse response =
      JsonError(429, "too_many_requests", "too many registration requests; try again later");
  response.headers.emplace_back("Retry-After", RetryAfterSeconds(retry_after));
  return response;
}

PublicResponse BearerRefusal(int status, absl::string_view www_authenticate,
                             absl::string_view error, absl::string_view description) {
  PublicResponse response = JsonError(status, error, description);
  response.headers.emplace_back("WWW-Authenticate", std::string(www_authenticate));
  return response;
}

PublicResponse AnswerOf(const core::DcrResult& result) {
  if (result.ok()) {
    if (result->action == v1::ACTION_DELETED) {
      PublicResponse response;
      response.status = 204;
      NoStore(response);
      return response;
    }
    return Json(core::HttpStatusForAction(result->action), result->response_content);
  }
  const core::Error& error = result.error();
  const v1::RegistrationError& detail = error.detail();
  switch (detail.action()) {
    case v1::ACTION_BAD_REQUEST:
      // Authlete's RFC 7591 §3.2.2 error for the end client, verbatim.
      if (!detail.response_content().empty()) return Json(400, detail.response_content());
      return JsonError(400, "invalid_client_metadata", "the request was refused");
    case v1::ACTION_UNAUTHORIZED: {
      PublicResponse response =
          detail.response_content().empty()
              ? JsonError(401, "invalid_token", "the registration access token is not valid")
              : Json(401, detail.response_content());
      response.headers.emplace_back("WWW-Authenticate", kInvalidTokenChallenge);
      return response;
    }
    case v1::ACTION_INTERNAL_SERVER_ERROR:
      // Authlete's own text may describe its internals: not passed on.
      return JsonError(500, "server_error", "the authorization server failed");
    default:
      break;
  }
  switch (error.reason()) {
    case v1::ERROR_REASON_INVALID_REQUEST:
      // The gateway's own message (a size or a missing field), safe to say.
      return JsonError(400, "invalid_client_metadata", error.message());
    default:
      break;
  }
  const int status = api::HttpStatusOf(error.reason(), detail.action());
  if (status == 503 || status == 504 || status == 429) {
    return Unavailable(error.retry_after().value_or(absl::Seconds(1)));
  }
  return JsonError(500, "server_error", "the registration could not be processed");
}

}  // namespace dcr::public_registration
