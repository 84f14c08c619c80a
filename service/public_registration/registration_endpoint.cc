#include "service/public_registration/registration_endpoint.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dcr/v1/client_registration_service.pb.h"
#include "nlohmann/json.hpp"
#include "service/public_registration/answers.h"
#include "service/public_registration/metadata_check.h"
#include "service/telemetry/trace_context.h"

namespace dcr::public_registration {
namespace {

using api::Operation;
using core::Error;

constexpr absl::string_view kRegisterPath = "/register";
// A bare challenge (RFC 6750 §3: no error code when no token was sent).
constexpr char kBearerChallenge[] = "Bearer";
constexpr char kInvalidTokenChallenge[] = "Bearer error=\"invalid_token\"";

// "%41" -> "A"; nullopt for a malformed escape. A client id never needs
// more, and a decoded '/' is refused by the builder's bounds or Authlete.
absl::optional<std::string> PercentDecode(absl::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return absl::nullopt;
    const char hi = text[i + 1], lo = text[i + 2];
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(hi)) ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(lo))) {
      return absl::nullopt;
    }
    auto digit = [](char c) { return absl::ascii_isdigit(c) ? c - '0' : (absl::ascii_tolower(c) - 'a' + 10); };
    out.push_back(static_cast<char>(digit(hi) * 16 + digit(lo)));
    i += 2;
  }
  return out;
}

// The token of "Bearer <token>" (RFC 6750 §2.1, the scheme in any case);
// empty when there is none.
std::string BearerToken(absl::string_view authorization) {
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.size() <= 7 || !absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    return "";
  }
  return std::string(absl::StripAsciiWhitespace(authorization.substr(7)));
}

// application/json, with parameters or not (RFC 7591 §3.1).
bool IsJson(absl::string_view content_type) {
  const absl::string_view type =
      absl::StripAsciiWhitespace(content_type.substr(0, content_type.find(';')));
  return absl::EqualsIgnoreCase(type, "application/json");
}

// A WWW-Authenticate value from Authlete, written into a header line only
// when it is printable ASCII and of a sane length (no header injection).
std::string SafeChallenge(const std::string& value, const char* fallback) {
  if (value.empty() || value.size() > 1024) return fallback;
  for (unsigned char c : value) {
    if (c < 0x20 || c > 0x7e) return fallback;
  }
  return value;
}

std::string JsonString(const nlohmann::json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return "";
}

// client_id of Authlete's client information response, for the audit line.
std::string ClientIdIn(const std::string& response_content) {
  const nlohmann::json doc = nlohmann::json::parse(response_content, nullptr, false);
  if (!doc.is_object()) return "";
  return JsonString(doc, "client_id").substr(0, 256);
}

}  // namespace

struct RegistrationEndpoint::Pending {
  PublicRequest request;
  Respond respond;
  registration::CallRecord record;
  const char* route = "other";
  bool routed = false;  // observed as an RPC
  std::string client_id;
  std::string token;  // a secret
  telemetry::TraceContext trace;
  InitialAccessTokens* tokens = nullptr;  // with a use taken
  std::size_t token_index = 0;
};

RegistrationEndpoint::RegistrationEndpoint(Options options,
                                           callers::PublicRegistrationPolicy policy,
                                           std::shared_ptr<InitialAccessTokens> tokens,
                                           TrustedProxies proxies,
                                           std::shared_ptr<authlete::AuthleteConnection> authlete,
                                           metrics::Registry* registry,
                                           RegistrationRateLimiter::Clock clock)
    : options_(std::move(options)),
      policy_(std::move(policy)),
      tokens_(std::move(tokens)),
      proxies_(std::move(proxies)),
      authlete_(std::move(authlete)),
      clock_(clock),
      builder_(options_.call),
      observer_(options_.observe, registry),
      limiter_(options_.rate, std::move(clock)) {
  if (registry == nullptr) {
    own_registry_ = std::make_unique<metrics::Registry>();
    registry = own_registry_.get();
  }
  answers_ = &registry->Add("dcr_gateway_public_registration_answers_total",
                            "Answers of the public registration endpoint, by route "
                            "(register, client, other) and HTTP status.",
                            metrics::Type::kCounter, {"route", "status"});
}

void RegistrationEndpoint::Finish(const std::shared_ptr<Pending>& pending,
                                  PublicResponse response, const core::Error* error) {
  if (pending->tokens != nullptr && response.status != 201) {
    pending->tokens->GiveBack(pending->token_index);
  }
  if (pending->routed) observer_.Finished(pending->record, error);
  answers_->With({pending->route, absl::StrCat(response.status)}).Add(1);
  std::move(pending->respond)(std::move(response));
  // Last: once it reads 0 the endpoint may go.
  in_flight_.fetch_sub(1);
}

void RegistrationEndpoint::Handle(PublicRequest request, Respond respond) {
  in_flight_.fetch_add(1);
  auto pending = std::make_shared<Pending>();
  pending->request = std::move(request);
  pending->respond = std::move(respond);
  const PublicRequest& r = pending->request;

  // 1. Route.
  absl::string_view path = r.target;
  path = path.substr(0, path.find('?'));
  absl::optional<Operation> operation;
  if (path == kRegisterPath) {
    pending->route = "register";
    if (r.method != "POST") {
      PublicResponse refused = JsonError(405, "invalid_request", "POST /register only");
      refused.headers.emplace_back("Allow", "POST");
      return Finish(pending, std::move(refused), nullptr);
    }
    operation = Operation::kRegister;
  } else if (absl::StartsWith(path, "/register/") && path.size() > kRegisterPath.size() + 1 &&
             path.find('/', kRegisterPath.size() + 1) == absl::string_view::npos) {
    pending->route = "client";
    if (r.method == "GET") {
      operation = Operation::kGet;
    } else if (r.method == "PUT") {
      operation = Operation::kUpdate;
    } else if (r.method == "DELETE") {
      operation = Operation::kDelete;
    } else {
      PublicResponse refused =
          JsonError(405, "invalid_request", "GET, PUT or DELETE /register/{client_id} only");
      refused.headers.emplace_back("Allow", "GET, PUT, DELETE");
      return Finish(pending, std::move(refused), nullptr);
    }
    absl::optional<std::string> id = PercentDecode(path.substr(kRegisterPath.size() + 1));
    if (!id.has_value()) {
      return Finish(pending, JsonError(400, "invalid_request", "malformed client_id"), nullptr);
    }
    pending->client_id = *std::move(id);
  } else {
    return Finish(pending, JsonError(404, "not_found", "no such resource"), nullptr);
  }

  // The call's record, observed from here on as its RPC's.
  pending->trace = telemetry::StartSpan(r.traceparent, r.tracestate);
  registration::CallRecord& record = pending->record;
  record.operation = *operation;
  record.start = absl::Now();
  record.trace_id = pending->trace.trace_id;
  record.service_id = options_.call.default_service_id;
  record.client_id = pending->client_id.substr(0, 256);
  absl::optional<IpAddress> peer = IpAddress::Parse(r.peer_address);
  const IpAddress client =
      peer.has_value() ? proxies_.ClientOf(*peer, r.forwarded, r.x_forwarded_for) : IpAddress();
  record.peer = peer.has_value() ? client.ToString() : std::string("unknown");
  observer_.Started(*operation);
  pending->routed = true;

  // 2. Admit: the address's and the endpoint's rate limits.
  if (shared_limits_ != nullptr) return AdmitShared(std::move(pending), client.BucketKey());
  if (absl::optional<absl::Duration> wait = limiter_.Acquire(client.BucketKey())) {
    return Finish(pending, TooManyRequests(*wait), RateLimited(record.peer, *wait).get());
  }
  Identify(std::move(pending));
}

// The rate limits in the shared state store (Redis), so that every replica
// counts against the same buckets: the address's first, then the
// endpoint's, each one atomic script on the store's clock. A refusal by
// the address's bucket takes nothing from the endpoint's, so one address
// cannot drain it; a refusal by the endpoint's still cost the address one
// token. A store that cannot answer refuses the request (503), unless
// --state_store_unavailable=local made the store fall back to this
// replica's own buckets.
void RegistrationEndpoint::AdmitShared(std::shared_ptr<Pending> pending, std::string address) {
  const RegistrationRateLimiter::Options& rate = options_.rate;
  shared_limits_->Acquire(
      absl::StrCat("public-registration;address;", address), rate.per_address_rate,
      rate.per_address_burst, clock_(),
      [self = this, pending](absl::StatusOr<state::RateDecision> by_address) mutable {
        if (!self->SharedAdmits(pending, by_address)) return;
        const RegistrationRateLimiter::Options& rate = self->options_.rate;
        self->shared_limits_->Acquire(
            "public-registration;endpoint", rate.global_rate, rate.global_burst, self->clock_(),
            [self, pending](absl::StatusOr<state::RateDecision> overall) mutable {
              if (!self->SharedAdmits(pending, overall)) return;
              self->Identify(std::move(pending));
            });
      });
}

bool RegistrationEndpoint::SharedAdmits(const std::shared_ptr<Pending>& pending,
                                        const absl::StatusOr<state::RateDecision>& decision) {
  if (!decision.ok()) {
    Error unavailable(v1::ERROR_REASON_STATE_STORE_UNAVAILABLE,
                      absl::StrCat("the shared rate limit could not be checked: ",
                                   decision.status().message()));
    Finish(pending, Unavailable(absl::Seconds(1)), &unavailable);
    return false;
  }
  if (!decision->allowed) {
    Finish(pending, TooManyRequests(decision->retry_after),
           RateLimited(pending->record.peer, decision->retry_after).get());
    return false;
  }
  return true;
}

std::unique_ptr<Error> RegistrationEndpoint::RateLimited(const std::string& peer,
                                                        absl::Duration wait) {
  auto limited = std::make_unique<Error>(
      v1::ERROR_REASON_CALLER_RATE_LIMITED,
      absl::StrCat("address ", peer, " over the public registration rate limit"));
  limited->set_retry_after(wait);
  return limited;
}

void RegistrationEndpoint::Identify(std::shared_ptr<Pending> pending) {
  const PublicRequest& r = pending->request;
  registration::CallRecord& record = pending->record;
  const Operation operation = record.operation;

  // 3. Who: GET/PUT/DELETE carry the client's registration access token.
  pending->token = BearerToken(r.authorization);
  if (operation != Operation::kRegister) {
    record.caller = "registration-access-token";
    if (pending->token.empty()) {
      Error missing(v1::ERROR_REASON_CALLER_UNAUTHENTICATED, "no registration access token");
      return Finish(pending,
                    BearerRefusal(401, kBearerChallenge, "invalid_token",
                                  "a registration access token is required"),
                    &missing);
    }
    return Authorized(std::move(pending), policy_);
  }
  switch (options_.access) {
    case Access::kOpen:
      record.caller = "public";
      return Authorized(std::move(pending), policy_);
    case Access::kInitialAccessToken: {
      if (pending->token.empty()) {
        Error missing(v1::ERROR_REASON_CALLER_UNAUTHENTICATED, "no initial access token");
        return Finish(pending,
                      BearerRefusal(401, kBearerChallenge, "invalid_token",
                                    "an initial access token is required"),
                      &missing);
      }
      absl::StatusOr<InitialAccessTokens::Taken> taken =
          tokens_ != nullptr ? tokens_->Take(pending->token, clock_())
                             : absl::UnauthenticatedError("no initial access tokens");
      if (!taken.ok()) {
        const std::string why(taken.status().message());
        Error refused(v1::ERROR_REASON_CALLER_UNAUTHENTICATED, why);
        return Finish(pending,
                      BearerRefusal(401,
                                    absl::StrCat("Bearer error=\"invalid_token\", "
                                                 "error_description=\"", why, "\""),
                                    "invalid_token", why),
                      &refused);
      }
      pending->tokens = tokens_.get();
      pending->token_index = taken->index;
      record.caller = absl::StrCat("initial-access-token:", taken->entry->name);
      const callers::PublicRegistrationPolicy& policy =
          taken->entry->policy.has_value() ? *taken->entry->policy : policy_;
      return Authorized(std::move(pending), policy);
    }
    case Access::kAuthleteToken: {
      if (pending->token.empty()) {
        Error missing(v1::ERROR_REASON_CALLER_UNAUTHENTICATED, "no access token");
        return Finish(pending,
                      BearerRefusal(401, kBearerChallenge, "invalid_token",
                                    "an access token is required"),
                      &missing);
      }
      std::string token = pending->token;
      return Introspect(std::move(pending), std::move(token));
    }
  }
}

void RegistrationEndpoint::Introspect(std::shared_ptr<Pending> pending, std::string token) {
  core::DcrCall call;
  call.operation = Operation::kIntrospectToken;
  call.service_id = options_.call.default_service_id;
  call.token = std::move(token);
  call.required_scope = options_.required_scope;
  call.traceparent = pending->trace.TraceparentHeader();
  call.tracestate = pending->trace.tracestate;
  // The access token is this call's token only: the registration itself
  // carries none.
  pending->token.clear();
  authlete_->Call(call, options_.upstream_timeout,
                  [self = this, pending](core::DcrResult result) mutable {
                    if (!result.ok()) {
                      return self->Finish(pending, AnswerOf(result), &result.error());
                    }
                    const nlohmann::json doc =
                        nlohmann::json::parse(result->response_content, nullptr, false);
                    const std::string action = doc.is_object() ? JsonString(doc, "action") : "";
                    const std::string challenge =
                        doc.is_object() ? JsonString(doc, "responseContent") : "";
                    if (action == "OK") {
                      pending->record.caller =
                          absl::StrCat("authlete-client:", JsonString(doc, "clientId").substr(0, 64));
                      return self->Authorized(std::move(pending), self->policy_);
                    }
                    if (action == "UNAUTHORIZED" || action == "FORBIDDEN" ||
                        action == "BAD_REQUEST") {
                      const int status =
                          action == "UNAUTHORIZED" ? 401 : action == "FORBIDDEN" ? 403 : 400;
                      const char* error = status == 401   ? "invalid_token"
                                          : status == 403 ? "insufficient_scope"
                                                          : "invalid_request";
                      Error refused(status == 403 ? v1::ERROR_REASON_CALLER_NOT_PERMITTED
                                                  : v1::ERROR_REASON_CALLER_UNAUTHENTICATED,
                                    absl::StrCat("access token refused by introspection: ", action));
                      return self->Finish(
                          pending,
                          BearerRefusal(status, SafeChallenge(challenge, kInvalidTokenChallenge),
                                        error,
                                        status == 403 ? "the access token lacks a required scope"
                                                      : "the access token is not valid"),
                          &refused);
                    }
                    Error failed(v1::ERROR_REASON_AUTHLETE_ERROR,
                                 absl::StrCat("introspection answered action ", action.substr(0, 32)));
                    return self->Finish(
                        pending, JsonError(500, "server_error", "the access token could not be checked"),
                        &failed);
                  });
}

void RegistrationEndpoint::Authorized(std::shared_ptr<Pending> pending,
                                      const callers::PublicRegistrationPolicy& policy) {
  const PublicRequest& r = pending->request;
  const Operation operation = pending->record.operation;
  // 4. Check the metadata.
  if (api::Traits(operation).sends_metadata) {
    if (!IsJson(r.content_type)) {
      Error bad = Error::InvalidRequest("Content-Type is not application/json");
      return Finish(pending,
                    JsonError(400, "invalid_client_metadata",
                              "the request body must be application/json"),
                    &bad);
    }
    if (absl::optional<MetadataRefusal> refused = CheckMetadata(policy, r.body)) {
      Error denied(v1::ERROR_REASON_CALLER_NOT_PERMITTED,
                   absl::StrCat(refused->error, ": ", refused->description));
      return Finish(pending, JsonError(400, refused->error, refused->description), &denied);
    }
  }
  // 5. Build the call as the RPCs do.
  core::ErrorOr<core::DcrCall> call = [&]() -> core::ErrorOr<core::DcrCall> {
    switch (operation) {
      case Operation::kRegister: {
        v1::RegisterClientRequest request;
        request.set_metadata_json(r.body);
        return builder_.Build(request);
      }
      case Operation::kGet: {
        v1::GetClientRequest request;
        request.set_client_id(pending->client_id);
        request.set_registration_access_token(pending->token);
        return builder_.Build(request);
      }
      case Operation::kUpdate: {
        v1::UpdateClientRequest request;
        request.set_client_id(pending->client_id);
        request.set_registration_access_token(pending->token);
        request.set_metadata_json(r.body);
        return builder_.Build(request);
      }
      default: {
        v1::DeleteClientRequest request;
        request.set_client_id(pending->client_id);
        request.set_registration_access_token(pending->token);
        return builder_.Build(request);
      }
    }
  }();
  if (!call.ok()) return Finish(pending, AnswerOf(call.error()), &call.error());
  call->traceparent = pending->trace.TraceparentHeader();
  call->tracestate = pending->trace.tracestate;
  // 6. Upstream; 7. answer and observe.
  authlete_->Call(*call, options_.upstream_timeout,
                  [self = this, pending](core::DcrResult result) mutable {
                    registration::CallRecord& record = pending->record;
                    if (!result.ok()) {
                      record.action = result.error().detail().action();
                      return self->Finish(pending, AnswerOf(result), &result.error());
                    }
                    record.action = result->action;
                    record.result_code = result->result_code;
                    if (record.client_id.empty()) {
                      record.client_id = ClientIdIn(result->response_content);
                    }
                    self->Finish(pending, AnswerOf(result), nullptr);
                  });
}

}  // namespace dcr::public_registration
