#include "service/registration/reply.h"

#include "service/metadata/metadata_json.h"
#include "service/telemetry/logging.h"

namespace dcr::registration {
namespace {

// The fields every reply has.
template <typename Response>
void FillCommon(const core::DcrResponse& result, Response& response) {
  response.set_action(result.action);
  response.set_http_status(core::HttpStatusForAction(result.action));
  response.set_result_code(result.result_code);
  response.set_result_message(result.result_message);
}

template <typename Response>
void FillClientReply(const core::DcrResponse& result, Response& response) {
  FillCommon(result, response);
  response.set_response_content(result.response_content);
  absl::StatusOr<v1::ClientInformation> client =
      metadata::ClientInformationFromJson(result.response_content);
  if (client.ok()) {
    *response.mutable_client() = *std::move(client);
  } else {
    telemetry::Log(telemetry::LogLevel::kWarning, "cannot parse Authlete's responseContent",
                   {{"result_code", result.result_code},
                    {"error", std::string(client.status().message())}});
  }
}

}  // namespace

void FillReply(const core::DcrResponse& result, v1::RegisterClientResponse& response) {
  FillClientReply(result, response);
}
void FillReply(const core::DcrResponse& result, v1::GetClientResponse& response) {
  FillClientReply(result, response);
}
void FillReply(const core::DcrResponse& result, v1::UpdateClientResponse& response) {
  FillClientReply(result, response);
}
void FillReply(const core::DcrResponse& result, v1::DeleteClientResponse& response) {
  FillCommon(result, response);
}

std::string ClientIdOf(const v1::RegisterClientResponse& r) { return r.client().client_id(); }
std::string ClientIdOf(const v1::GetClientResponse& r) { return r.client().client_id(); }
std::string ClientIdOf(const v1::UpdateClientResponse& r) { return r.client().client_id(); }
std::string ClientIdOf(const v1::DeleteClientResponse&) { return ""; }

}  // namespace dcr::registration
