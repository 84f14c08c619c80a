#include "tests/emulator/introspection.h"

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/emulator/json_util.h"

namespace dcr::emulator {

namespace {

using nlohmann::json;

// An RFC 6750 §3 challenge, in Authlete's form: the error description starts
// with the result code, and error_uri points at its documentation. The
// descriptions are constants without '"' or '\', so they need no escaping.
std::string Challenge(const char* error, const char* code, const char* description,
                      const std::string& scope = "") {
  std::string value =
      absl::StrCat("Bearer error=\"", error, "\",error_description=\"[", code, "] ", description,
                   "\",error_uri=\"https://docs.authlete.com/#", code, "\"");
  if (!scope.empty()) absl::StrAppend(&value, ",scope=\"", scope, "\"");
  return value;
}

// What the answer says about the token itself.
struct TokenFacts {
  bool existent = false;
  bool usable = false;
  bool sufficient = false;
  const AccessTokenRecord* record = nullptr;  // set when existent
};

ApiResponse Answer(const char* code, const char* message, const char* action,
                   const std::string& response_content, const TokenFacts& facts) {
  json body = {{"resultCode", code},
               {"resultMessage", absl::StrCat("[", code, "] ", message)},
               {"action", action},
               {"responseContent", response_content},
               {"existent", facts.existent},
               {"usable", facts.usable},
               {"sufficient", facts.sufficient},
               {"refreshable", false}};  // the emulator issues no refresh tokens
  if (const AccessTokenRecord* r = facts.record; r != nullptr) {
    body["clientId"] = r->client_id;
    if (!r->subject.empty()) body["subject"] = r->subject;
    body["scopes"] = r->scopes;
    body["expiresAt"] = r->expires_at_ms;
  }
  ApiResponse out;
  out.http_status = 200;
  out.body = DumpJson(body);
  out.action = action;
  out.result_code = code;
  return out;
}

ApiResponse BadRequest(const char* code, const char* description) {
  return Answer(code, description, "BAD_REQUEST",
                Challenge("invalid_request", code, description), TokenFacts{});
}

// The request's parameters, checked; fills `error` on failure.
struct Parameters {
  std::string token;
  std::vector<std::string> scopes;
  std::string subject;  // empty = not asked
};

bool ReadParameters(const std::string& body_text, Parameters* out, ApiResponse* error) {
  absl::StatusOr<json> body = ParseJson(body_text);
  if (!body.ok() || !body->is_object()) {
    *error = BadRequest(kCodeIntrospectionNotJson, "The request body is not a JSON object.");
    return false;
  }
  auto token = body->find("token");
  if (token != body->end() && !token->is_null() && !token->is_string()) {
    *error = BadRequest(kCodeTokenNotString, "The request parameter 'token' must be a string.");
    return false;
  }
  if (token == body->end() || token->is_null() || token->get<std::string>().empty()) {
    *error = BadRequest(kCodeTokenMissing, "The request does not contain 'token' parameter.");
    return false;
  }
  out->token = token->get<std::string>();
  if (auto scopes = body->find("scopes"); scopes != body->end() && !scopes->is_null()) {
    bool ok = scopes->is_array();
    if (ok) {
      for (const json& s : *scopes) {
        ok = ok && s.is_string() && IsValidScopeName(s.get<std::string>());
      }
    }
    if (!ok) {
      *error = BadRequest(kCodeScopesMalformed,
                          "The request parameter 'scopes' must be an array of scope names.");
      return false;
    }
    for (const json& s : *scopes) out->scopes.push_back(s.get<std::string>());
  }
  if (auto subject = body->find("subject"); subject != body->end() && !subject->is_null()) {
    if (!subject->is_string()) {
      *error = BadRequest(kCodeSubjectNotString,
                          "The request parameter 'subject' must be a string.");
      return false;
    }
    out->subject = subject->get<std::string>();
  }
  return true;
}

}  // namespace

bool IsValidScopeName(absl::string_view scope) {
  if (scope.empty()) return false;
  for (char c : scope) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

ApiResponse Introspect(const ServiceConfig& service, const ApiRequest& request,
                       const AccessTokenStore& tokens, absl::Time now) {
  Parameters params;
  ApiResponse error;
  if (!ReadParameters(request.body, &params, &error)) return error;

  absl::optional<AccessTokenRecord> record = tokens.Find(params.token);
  // A token of another service is as unknown here as one never issued.
  if (!record || record->service_id != service.service_id) {
    const char* description = "The access token does not exist.";
    return Answer(kCodeTokenUnknown, description, "UNAUTHORIZED",
                  Challenge("invalid_token", kCodeTokenUnknown, description), TokenFacts{});
  }
  TokenFacts facts;
  facts.existent = true;
  facts.record = &*record;
  if (record->expires_at_ms <= absl::ToUnixMillis(now)) {
    const char* description = "The access token has expired.";
    return Answer(kCodeTokenExpired, description, "UNAUTHORIZED",
                  Challenge("invalid_token", kCodeTokenExpired, description), facts);
  }
  facts.usable = true;
  // Every required scope must be granted (Authlete's "sufficient").
  facts.sufficient = std::all_of(params.scopes.begin(), params.scopes.end(),
                                 [&](const std::string& s) {
                                   return std::find(record->scopes.begin(), record->scopes.end(),
                                                    s) != record->scopes.end();
                                 });
  if (!facts.sufficient) {
    const char* description = "The access token does not cover the required scopes.";
    return Answer(kCodeScopeInsufficient, description, "FORBIDDEN",
                  Challenge("insufficient_scope", kCodeScopeInsufficient, description,
                            absl::StrJoin(params.scopes, " ")),
                  facts);
  }
  if (!params.subject.empty() && params.subject != record->subject) {
    // RFC 6750 has no error for this; insufficient_scope (403) is the nearest.
    const char* description =
        "The subject associated with the access token is different from the subject in the "
        "request.";
    return Answer(kCodeSubjectMismatch, description, "FORBIDDEN",
                  Challenge("insufficient_scope", kCodeSubjectMismatch, description), facts);
  }
  // Authlete's responseContent on OK: the simplest challenge, for the
  // resource server's own 400 answers.
  return Answer(kCodeTokenValid, "The access token is valid.", "OK",
                "Bearer error=\"invalid_request\"", facts);
}

ApiResponse IntrospectionServerError() {
  const char* description = "Authlete Server error.";
  return Answer(kCodeIntrospectionError, description, "INTERNAL_SERVER_ERROR",
                Challenge("server_error", kCodeIntrospectionError, description), TokenFacts{});
}

}  // namespace dcr::emulator
