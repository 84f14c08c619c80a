#include "service/registration/incoming_call.h"

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "grpc/grpc_security_constants.h"

namespace dcr::registration {
namespace {

absl::optional<std::string> MetadataValue(const grpc::CallbackServerContext& context,
                                          absl::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return absl::nullopt;
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::optional<std::string> BearerToken(absl::string_view header) {
  absl::string_view value = absl::StripAsciiWhitespace(header);
  if (value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
    return std::string(absl::StripAsciiWhitespace(value.substr(7)));
  }
  return absl::nullopt;
}

IncomingCall ReadIncomingCall(const grpc::CallbackServerContext& context) {
  IncomingCall call;
  if (absl::optional<std::string> header = MetadataValue(context, "authorization")) {
    call.credentials.api_key = BearerToken(*header);
  }
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const char* property : {GRPC_X509_SAN_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
      for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
        call.credentials.certificate_identities.emplace_back(value.data(), value.size());
      }
    }
  }
  call.traceparent = MetadataValue(context, "traceparent");
  call.tracestate = MetadataValue(context, "tracestate");
  call.peer = context.peer();
  if (context.deadline() != std::chrono::system_clock::time_point::max()) {
    call.deadline = absl::FromChrono(context.deadline());
  }
  return call;
}

}  // namespace dcr::registration
