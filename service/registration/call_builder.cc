#include "service/registration/call_builder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/config/gateway_config.h"
#include "service/metadata/metadata_json.h"

namespace dcr::registration {
namespace {

using api::Operation;
using core::DcrCall;
using core::Error;
using core::ErrorOr;

// Longest client id and registration access token passed on: far above what
// Authlete issues, low enough to refuse abuse before any upstream call.
constexpr std::size_t kMaxClientIdBytes = 256;
constexpr std::size_t kMaxTokenBytes = 4096;
// A developer name and a client secret to set: bounded likewise.
constexpr std::size_t kMaxDeveloperBytes = 256;
constexpr std::size_t kMaxClientSecretBytes = 1024;

core::Refusal CheckClientId(const std::string& client_id) {
  if (client_id.empty()) return Error::InvalidRequest("client_id is required");
  if (client_id.size() > kMaxClientIdBytes) {
    return Error::InvalidRequest(
        absl::StrCat("client_id is longer than ", kMaxClientIdBytes, " bytes"));
  }
  return absl::nullopt;
}

core::Refusal CheckClientCredentials(const std::string& client_id, const std::string& token) {
  if (core::Refusal bad = CheckClientId(client_id)) return bad;
  if (token.empty()) return Error::InvalidRequest("registration_access_token is required");
  if (token.size() > kMaxTokenBytes) {
    return Error::InvalidRequest(
        absl::StrCat("registration_access_token is longer than ", kMaxTokenBytes, " bytes"));
  }
  return absl::nullopt;
}

// The request's metadata as the RFC 7591 document sent to Authlete.
template <typename Request>
ErrorOr<std::string> MetadataDocument(const Request& request, absl::string_view client_id,
                                      std::size_t max_bytes) {
  std::string document;
  switch (request.metadata_source_case()) {
    case Request::kMetadataJson:
      // Passed on unchanged: Authlete judges the metadata, not the gateway.
      document = request.metadata_json();
      break;
    case Request::kMetadata: {
      absl::StatusOr<std::string> json =
          metadata::MetadataToJsonString(request.metadata(), client_id);
      if (!json.ok()) return Error::InvalidRequest(std::string(json.status().message()));
      document = *std::move(json);
      break;
    }
    default:
      return Error::InvalidRequest(
          "metadata or metadata_json is required (metadata_json \"{}\" sends an empty "
          "document)");
  }
  if (document.size() > max_bytes) {
    return Error::InvalidRequest(absl::StrCat("client metadata is ", document.size(),
                                              " bytes; the limit is ", max_bytes));
  }
  return document;
}

}  // namespace

absl::optional<std::string> NormalizedRequestId(absl::string_view id) {
  // 8-4-4-4-12 hex digits: any UUID version (AIP-155 asks for a UUID, not
  // which one), lowercased so that a retry that changed only the case is
  // the same request.
  if (id.size() != 36) return absl::nullopt;
  std::string out(id);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = out[i];
    if (dash) {
      if (c != '-') return absl::nullopt;
      continue;
    }
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return absl::nullopt;
    out[i] = absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  return out;
}

ErrorOr<DcrCall> CallBuilder::NewCall(Operation operation, const std::string& service_id) const {
  DcrCall call;
  call.operation = operation;
  if (service_id.empty() || service_id == options_.default_service_id) {
    call.service_id = options_.default_service_id;
    return call;
  }
  if (!config::IsValidServiceId(service_id)) {
    return Error::InvalidRequest("service_id must be a numeric Authlete API key");
  }
  if (!options_.allowed_service_ids.contains(service_id)) {
    return Error(v1::ERROR_REASON_SERVICE_NOT_ALLOWED,
                 absl::StrCat("service_id ", service_id, " is not allowed on this gateway"));
  }
  call.service_id = service_id;
  return call;
}

ErrorOr<DcrCall> CallBuilder::NewClientCall(Operation operation, const std::string& service_id,
                                            const std::string& client_id,
                                            const std::string& token) const {
  ErrorOr<DcrCall> call = NewCall(operation, service_id);
  if (!call.ok()) return call;
  if (core::Refusal bad = CheckClientCredentials(client_id, token)) return *std::move(bad);
  call->client_id = client_id;
  call->token = token;
  return call;
}

template <typename Request>
ErrorOr<DcrCall> CallBuilder::WithMetadata(ErrorOr<DcrCall> call, const Request& request) const {
  if (!call.ok()) return call;
  // RFC 7592 §2.2: an update body carries the client_id (empty for register).
  ErrorOr<std::string> json =
      MetadataDocument(request, call->client_id, options_.max_metadata_bytes);
  if (!json.ok()) return std::move(json).error();
  call->json = *std::move(json);
  return call;
}

ErrorOr<DcrCall> CallBuilder::Build(const v1::RegisterClientRequest& request) const {
  ErrorOr<DcrCall> call =
      WithMetadata(NewCall(Operation::kRegister, request.service_id()), request);
  if (!call.ok() || request.request_id().empty()) return call;
  absl::optional<std::string> id = NormalizedRequestId(request.request_id());
  if (!id.has_value()) {
    return Error(v1::ERROR_REASON_INVALID_REQUEST_ID,
                 "request_id must be a UUID (8-4-4-4-12 hexadecimal digits)");
  }
  call->request_id = *std::move(id);
  return call;
}

ErrorOr<DcrCall> CallBuilder::Build(const v1::GetClientRequest& request) const {
  return NewClientCall(Operation::kGet, request.service_id(), request.client_id(),
                       request.registration_access_token());
}

ErrorOr<DcrCall> CallBuilder::Build(const v1::UpdateClientRequest& request) const {
  return WithMetadata(NewClientCall(Operation::kUpdate, request.service_id(),
                                    request.client_id(), request.registration_access_token()),
                      request);
}

ErrorOr<DcrCall> CallBuilder::Build(const v1::DeleteClientRequest& request) const {
  return NewClientCall(Operation::kDelete, request.service_id(), request.client_id(),
                       request.registration_access_token());
}

ErrorOr<DcrCall> CallBuilder::NewAdminCall(Operation operation, const std::string& service_id,
                                           const std::string& client_id) const {
  ErrorOr<DcrCall> call = NewCall(operation, service_id);
  if (!call.ok()) return call;
  if (core::Refusal bad = CheckClientId(client_id)) return *std::move(bad);
  call->client_id = client_id;
  return call;
}

ErrorOr<DcrCall> CallBuilder::Build(const v1::ListClientsRequest& request) const {
  if (request.page_size() < 0) return Error::InvalidRequest("page_size must not be negative");
  if (request.developer().size() > kMaxDeveloperBytes) {
    return Error::InvalidRequest(
        absl::StrCat("developer is longer than ", kMaxDeveloperBytes, " bytes"));
  }
  ErrorOr<DcrCall> call = NewCall(Operation::kListClients, request.service_id());
  if (!call.ok()) return call;
  int64_t start = 0;
  if (!request.page_token().empty()) {
    // Bound to the resolved service id, so "" and the default id agree.
    ErrorOr<int64_t> opened =
        page_tokens_.Open(request.page_token(), call->service_id, request.developer());
    if (!opened.ok()) return std::move(opened).error();
    start = *opened;
  }
  const int size = request.page_size() == 0 ? kDefaultPageSize
                                            : std::min(request.page_size(), kMaxPageSize);
  call->developer = request.developer();
  call->list_start = start;
  call->list_end = start + size;
  return call;
}

ErrorOr<DcrCall> CallBuilder::Build(const v1::GetClientRecordRequest& request) const {
  return NewAdminCall(Operation::kGetClientRecord, request.service_id(), request.client_id());
}

ErrorOr<DcrCall> CallBuilder::Build(const v1::RotateClientSecretRequest& request) const {
  ErrorOr<DcrCall> call =
      NewAdminCall(Operation::kRotateClientSecret, request.service_id(), request.client_id());
  if (!call.ok() || !request.has_new_client_secret()) return call;
  // Authlete judges the secret itself; the gateway only refuses the absurd.
  if (request.new_client_secret().empty()) {
    return Error::InvalidRequest("new_client_secret, when set, must not be empty");
  }
  if (request.new_client_secret().size() > kMaxClientSecretBytes) {
    return Error::InvalidRequest(
        absl::StrCat("new_client_secret is longer than ", kMaxClientSecretBytes, " bytes"));
  }
  call->new_client_secret = request.new_client_secret();
  return call;
}

ErrorOr<DcrCall> CallBuilder::Build(const v1::SetClientLockedRequest& request) const {
  ErrorOr<DcrCall> call =
      NewAdminCall(Operation::kSetClientLocked, request.service_id(), request.client_id());
  if (call.ok()) call->locked = request.locked();
  return call;
}

std::string CallBuilder::NextPageToken(const DcrCall& call, int64_t total_count) const {
  if (call.list_end >= total_count) return "";
  return page_tokens_.Issue(call.service_id, call.developer, call.list_end);
}

}  // namespace dcr::registration
