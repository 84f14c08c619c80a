#include "service/server/client_registration_service.h"

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/rpc/status.pb.h"
#include "grpc/grpc_security_constants.h"
#include "service/errors/registration_error_status.h"
#include "service/metadata/metadata_json.h"
#include "service/server/gateway_config.h"
#include "service/server/logging.h"
#include "service/server/trace_context.h"

namespace dcr::server {
namespace {

using authlete::DcrCall;
using authlete::DcrResponse;
using authlete::Operation;

// Longest client id and registration access token passed on: far above what
// Authlete issues, low enough to refuse abuse before any upstream call.
constexpr std::size_t kMaxClientIdBytes = 256;
constexpr std::size_t kMaxTokenBytes = 4096;

// The time Authlete may take: the caller's remaining deadline, capped.
absl::StatusOr<absl::Duration> UpstreamTimeout(const grpc::CallbackServerContext* context,
                                               absl::Duration max) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return max;
  const absl::Duration left = absl::FromChrono(deadline) - absl::Now();
  if (left <= absl::ZeroDuration()) {
    v1::RegistrationError detail;
    detail.set_reason(v1::ERROR_REASON_UPSTREAM_TIMEOUT);
    detail.set_http_status(504);
    return errors::MakeStatus(absl::StatusCode::kDeadlineExceeded,
                              "the call's deadline passed before Authlete was called",
                              detail);
  }
  return std::min(left, max);
}

// Fills the reply fields common to Register/Get/Update replies.
template <typename Response>
absl::Status FillClientResponse(const DcrResponse& result, Response* response) {
  response->set_action(result.action);
  response->set_http_status(authlete::HttpStatusForAction(result.action));
  response->set_response_content(result.response_content);
  response->set_result_code(result.result_code);
  response->set_result_message(result.result_message);
  absl::StatusOr<v1::ClientInformation> client =
      metadata::ClientInformationFromJson(result.response_content);
  if (client.ok()) {
    *response->mutable_client() = *std::move(client);
  } else {
    // Authlete did act (the client exists); response_content still carries
    // everything verbatim, so the call succeeds with what could be parsed.
    Log(LogLevel::kWarning, "cannot parse Authlete's responseContent",
        {{"result_code", result.result_code},
         {"error", std::string(client.status().message())}});
  }
  return absl::OkStatus();
}

// The client id to log for a call that named none (RegisterClient).
template <typename Response>
std::string ClientIdOf(const Response& response) {
  return response.client().client_id();
}
std::string ClientIdOf(const v1::DeleteClientResponse&) { return ""; }

absl::Status FillDeleteResponse(const DcrResponse& result, v1::DeleteClientResponse* response) {
  response->set_action(result.action);
  response->set_http_status(authlete::HttpStatusForAction(result.action));
  response->set_result_code(result.result_code);
  response->set_result_message(result.result_message);
  return absl::OkStatus();
}

// "ok", or the reason of a failed call to Authlete, for the metrics:
// ERROR_REASON_UPSTREAM_TIMEOUT -> "upstream_timeout".
std::string UpstreamOutcome(const absl::Status& status) {
  if (status.ok()) return "ok";
  absl::optional<v1::RegistrationError> detail = errors::GetRegistrationError(status);
  if (!detail.has_value()) return "error";
  return absl::AsciiStrToLower(
      absl::StripPrefix(v1::ErrorReason_Name(detail->reason()), "ERROR_REASON_"));
}

// A request header's value as the caller sent it (untrusted), if present.
absl::optional<absl::string_view> MetadataValue(const grpc::CallbackServerContext& context,
                                                absl::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return absl::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

// What the call presented to prove who it is: an API key in
// "authorization: Bearer <key>" and the names in a verified client
// certificate.
callers::CallerCredentials CredentialsOf(const grpc::CallbackServerContext& context) {
  callers::CallerCredentials credentials;
  if (absl::optional<absl::string_view> header = MetadataValue(context, "authorization")) {
    absl::string_view value = absl::StripAsciiWhitespace(*header);
    if (value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
      credentials.api_key = std::string(absl::StripAsciiWhitespace(value.substr(7)));
    }
  }
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const char* property : {GRPC_X509_SAN_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
      for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
        credentials.certificate_identities.emplace_back(value.data(), value.size());
      }
    }
  }
  return credentials;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  absl::optional<v1::RegistrationError> detail = errors::GetRegistrationError(status);
  if (!detail.has_value()) return grpc::Status(code, message);
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(status.code()));
  rpc_status.set_message(message);
  rpc_status.add_details()->PackFrom(*detail);
  return grpc::Status(code, std::move(message), rpc_status.SerializeAsString());
}

ClientRegistrationService::ClientRegistrationService(
    Options options, std::shared_ptr<authlete::AuthleteConnection> authlete)
    : options_(std::move(options)), authlete_(std::move(authlete)) {}

absl::StatusOr<std::string> ClientRegistrationService::ResolveServiceId(
    const std::string& requested) const {
  if (requested.empty() || requested == options_.default_service_id) {
    return options_.default_service_id;
  }
  if (!IsValidServiceId(requested)) {
    return errors::InvalidRequest("service_id must be a numeric Authlete API key");
  }
  if (!options_.allowed_service_ids.contains(requested)) {
    v1::RegistrationError detail;
    detail.set_reason(v1::ERROR_REASON_SERVICE_NOT_ALLOWED);
    detail.set_http_status(500);
    return errors::MakeStatus(
        absl::StatusCode::kPermissionDenied,
        absl::StrCat("service_id ", requested, " is not allowed on this gateway"), detail);
  }
  return requested;
}

absl::Status ClientRegistrationService::CheckClientCredentials(
    const std::string& client_id, const std::string& token) const {
  if (client_id.empty()) return errors::InvalidRequest("client_id is required");
  if (client_id.size() > kMaxClientIdBytes) {
    return errors::InvalidRequest(
        absl::StrCat("client_id is longer than ", kMaxClientIdBytes, " bytes"));
  }
  if (token.empty()) return errors::InvalidRequest("registration_access_token is required");
  if (token.size() > kMaxTokenBytes) {
    return errors::InvalidRequest(
        absl::StrCat("registration_access_token is longer than ", kMaxTokenBytes, " bytes"));
  }
  return absl::OkStatus();
}

template <typename Request>
absl::StatusOr<std::string> ClientRegistrationService::MetadataDocument(
    const Request& request, absl::string_view client_id) const {
  std::string document;
  switch (request.metadata_source_case()) {
    case Request::kMetadataJson:
      // Passed on unchanged: Authlete judges the metadata, not the gateway.
      document = request.metadata_json();
      break;
    case Request::kMetadata: {
      absl::StatusOr<std::string> json =
          metadata::MetadataToJsonString(request.metadata(), client_id);
      if (!json.ok()) return errors::InvalidRequest(json.status().message());
      document = *std::move(json);
      break;
    }
    default:
      return errors::InvalidRequest(
          "metadata or metadata_json is required (metadata_json \"{}\" sends an empty "
          "document)");
  }
  if (document.size() > options_.max_metadata_bytes) {
    return errors::InvalidRequest(absl::StrCat("client metadata is ", document.size(),
                                               " bytes; the limit is ",
                                               options_.max_metadata_bytes));
  }
  return document;
}

template <typename Response, typename Fill>
grpc::ServerUnaryReactor* ClientRegistrationService::Dispatch(
    grpc::CallbackServerContext* context, Operation operation,
    absl::StatusOr<DcrCall> call, Response* response, Fill fill) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  // The caller's trace continued (or a new one): in the log line and in the
  // call to Authlete, so both sides of the hop can be joined.
  const TraceContext trace =
      StartSpan(MetadataValue(*context, "traceparent"), MetadataValue(*context, "tracestate"));
  if (call.ok()) {
    call->traceparent = trace.TraceparentHeader();
    call->tracestate = trace.tracestate;
  }
  GatewayMetrics* const metrics = options_.metrics.get();
  if (metrics != nullptr) metrics->RpcStarted(operation);

  // Who is calling, and may it make this call? Decided before anything is
  // sent to Authlete.
  absl::StatusOr<callers::Caller> caller =
      options_.guard != nullptr ? options_.guard->Authenticate(CredentialsOf(*context))
                                : absl::StatusOr<callers::Caller>(callers::Caller{"anonymous"});
  const std::string caller_name = caller.ok() ? caller->name : "unauthenticated";

  // Mutations are audited always, reads when asked; the log line never
  // holds the token, the metadata or Authlete's answer.
  const bool audit = operation != Operation::kGet || options_.audit_reads;
  const bool log = options_.log_requests || audit;
  auto finish = [reactor, start, log, audit, metrics, trace_id = trace.trace_id, caller_name,
                 peer = log ? context->peer() : std::string()](
                    Operation operation, const std::string& service_id,
                    const std::string& client_id, const absl::Status& status,
                    v1::Action action, const std::string& result_code) {
    if (metrics != nullptr) {
      metrics->RpcEnded(operation, status, action, absl::ToDoubleSeconds(absl::Now() - start));
    }
    if (log) {
      absl::optional<v1::RegistrationError> detail = errors::GetRegistrationError(status);
      Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning, audit ? "audit" : "rpc",
          {{"rpc", std::string(authlete::OperationName(operation))},
           {"caller", caller_name},
           {"peer", peer},
           {"trace_id", trace_id},
           {"service_id", service_id},
           {"client_id", client_id},
           {"code", std::string(absl::StatusCodeToString(status.code()))},
           {"reason", detail ? v1::ErrorReason_Name(detail->reason()) : std::string()},
           {"action", v1::Action_Name(action)},
           {"result_code", result_code},
           {"upstream_attempts", int64_t{detail ? detail->upstream_attempts() : 0}},
           {"latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start)},
           {"error", std::string(status.message())}});
    }
    reactor->Finish(ToGrpcStatus(status));
  };

  absl::Status admitted = caller.status();
  if (admitted.ok() && options_.guard != nullptr) {
    admitted = options_.guard->Admit(*caller, operation);
  }
  if (admitted.ok() && call.ok() && options_.guard != nullptr) {
    admitted = options_.guard->CheckCall(*caller, *call);
  }
  if (!admitted.ok()) {
    finish(operation, call.ok() ? call->service_id : "", call.ok() ? call->client_id : "",
           admitted, v1::ACTION_UNSPECIFIED, "");
    return reactor;
  }
  if (!call.ok()) {
    finish(operation, "", "", call.status(), v1::ACTION_UNSPECIFIED, "");
    return reactor;
  }
  absl::StatusOr<absl::Duration> timeout =
      UpstreamTimeout(context, options_.max_upstream_timeout);
  if (!timeout.ok()) {
    finish(call->operation, call->service_id, call->client_id, timeout.status(),
           v1::ACTION_UNSPECIFIED, "");
    return reactor;
  }
  if (metrics != nullptr) metrics->UpstreamStarted();
  const absl::Time upstream_start = absl::Now();
  authlete_->Call(
      *call, *timeout,
      [finish, response, fill, operation, metrics, upstream_start,
       service_id = call->service_id,
       client_id = call->client_id](absl::StatusOr<DcrResponse> result) mutable {
        if (metrics != nullptr) {
          metrics->UpstreamEnded(operation, UpstreamOutcome(result.status()),
                                 absl::ToDoubleSeconds(absl::Now() - upstream_start));
        }
        if (!result.ok()) {
          absl::optional<v1::RegistrationError> detail =
              errors::GetRegistrationError(result.status());
          finish(operation, service_id, client_id, result.status(),
                 detail ? detail->action() : v1::ACTION_UNSPECIFIED,
                 detail ? detail->result_code() : "");
          return;
        }
        const absl::Status filled = fill(*result, response);
        const std::string logged_id = client_id.empty() ? ClientIdOf(*response) : client_id;
        finish(operation, service_id, logged_id, filled, result->action, result->result_code);
      });
  return reactor;
}

absl::StatusOr<DcrCall> ClientRegistrationService::NewCall(
    Operation operation, const std::string& service_id) const {
  absl::StatusOr<std::string> resolved = ResolveServiceId(service_id);
  if (!resolved.ok()) return resolved.status();
  DcrCall call;
  call.operation = operation;
  call.service_id = *std::move(resolved);
  return call;
}

absl::StatusOr<DcrCall> ClientRegistrationService::NewClientCall(
    Operation operation, const std::string& service_id, const std::string& client_id,
    const std::string& token) const {
  absl::StatusOr<DcrCall> call = NewCall(operation, service_id);
  if (!call.ok()) return call;
  if (absl::Status s = CheckClientCredentials(client_id, token); !s.ok()) return s;
  call->client_id = client_id;
  call->token = token;
  return call;
}

template <typename Request>
absl::StatusOr<DcrCall> ClientRegistrationService::WithMetadata(
    absl::StatusOr<DcrCall> call, const Request& request) const {
  if (!call.ok()) return call;
  // RFC 7592 §2.2: an update body carries the client_id (empty for register).
  absl::StatusOr<std::string> json = MetadataDocument(request, call->client_id);
  if (!json.ok()) return json.status();
  call->json = *std::move(json);
  return call;
}

grpc::ServerUnaryReactor* ClientRegistrationService::RegisterClient(
    grpc::CallbackServerContext* context, const v1::RegisterClientRequest* request,
    v1::RegisterClientResponse* response) {
  return Dispatch(context, Operation::kRegister,
                  WithMetadata(NewCall(Operation::kRegister, request->service_id()), *request),
                  response, FillClientResponse<v1::RegisterClientResponse>);
}

grpc::ServerUnaryReactor* ClientRegistrationService::GetClient(
    grpc::CallbackServerContext* context, const v1::GetClientRequest* request,
    v1::GetClientResponse* response) {
  return Dispatch(context, Operation::kGet,
                  NewClientCall(Operation::kGet, request->service_id(), request->client_id(),
                                request->registration_access_token()),
                  response, FillClientResponse<v1::GetClientResponse>);
}

grpc::ServerUnaryReactor* ClientRegistrationService::UpdateClient(
    grpc::CallbackServerContext* context, const v1::UpdateClientRequest* request,
    v1::UpdateClientResponse* response) {
  return Dispatch(context, Operation::kUpdate,
                  WithMetadata(NewClientCall(Operation::kUpdate, request->service_id(),
                                             request->client_id(),
                                             request->registration_access_token()),
                               *request),
                  response, FillClientResponse<v1::UpdateClientResponse>);
}

grpc::ServerUnaryReactor* ClientRegistrationService::DeleteClient(
    grpc::CallbackServerContext* context, const v1::DeleteClientRequest* request,
    v1::DeleteClientResponse* response) {
  return Dispatch(context, Operation::kDelete,
                  NewClientCall(Operation::kDelete, request->service_id(), request->client_id(),
                                request->registration_access_token()),
                  response, FillDeleteResponse);
}

}  // namespace dcr::server
