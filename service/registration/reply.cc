#include "service/registration/reply.h"

#include "nlohmann/json.hpp"
#include "service/metadata/client_record_json.h"
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
core::Refusal FillClientReply(const core::DcrResponse& result, Response& response) {
  FillCommon(result, response);
  response.set_response_content(result.response_content);
  if (absl::Status parsed =
          metadata::FillClientInformationFromJson(result.response_content, *response.mutable_client());
      !parsed.ok()) {
    response.clear_client();
    telemetry::Log(telemetry::LogLevel::kWarning, "cannot parse Authlete's responseContent",
                   {{"result_code", result.result_code}, {"error", std::string(parsed.message())}});
  }
  return absl::nullopt;
}

// Authlete's body of an administrative answer (an object: checked when it
// was interpreted).
nlohmann::json Body(const core::DcrResponse& result) {
  return nlohmann::json::parse(result.response_content, nullptr, false);
}

// Authlete acted (HTTP 200) but its answer lacks what the reply needs.
core::Error Unusable(std::string what) {
  core::Error error(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, std::move(what));
  error.mark_maybe_processed();
  return error;
}

}  // namespace

core::Refusal FillReply(const core::DcrResponse& result, v1::RegisterClientResponse& response) {
  return FillClientReply(result, response);
}
core::Refusal FillReply(const core::DcrResponse& result, v1::GetClientResponse& response) {
  return FillClientReply(result, response);
}
core::Refusal FillReply(const core::DcrResponse& result, v1::UpdateClientResponse& response) {
  return FillClientReply(result, response);
}
core::Refusal FillReply(const core::DcrResponse& result, v1::DeleteClientResponse& response) {
  FillCommon(result, response);
  return absl::nullopt;
}

core::Refusal FillReply(const core::DcrResponse& result, v1::ListClientsResponse& response) {
  const nlohmann::json body = Body(result);
  auto clients = body.find("clients");
  auto total = body.find("totalCount");
  if (clients == body.end() || !clients->is_array() || total == body.end() ||
      !total->is_number_integer() || total->get<int64_t>() < 0) {
    return Unusable("Authlete's client list lacks clients or totalCount");
  }
  for (const nlohmann::json& record : *clients) {
    *response.add_clients() = metadata::ClientRecordFromJson(record);
  }
  response.set_total_count(total->get<int64_t>());
  return absl::nullopt;
}

core::Refusal FillReply(const core::DcrResponse& result, v1::GetClientRecordResponse& response) {
  const nlohmann::json body = Body(result);
  if (!body.contains("clientId")) return Unusable("Authlete's client record lacks clientId");
  *response.mutable_client() = metadata::ClientRecordFromJson(body);
  // The record's own copy of the secret is never in `client`; the
  // administrative read gives it here, once.
  if (auto secret = body.find("clientSecret"); secret != body.end() && secret->is_string()) {
    response.set_client_secret(secret->get<std::string>());
  }
  return absl::nullopt;
}

core::Refusal FillReply(const core::DcrResponse& result,
                        v1::RotateClientSecretResponse& response) {
  const nlohmann::json body = Body(result);
  auto secret = body.find("newClientSecret");
  if (secret == body.end() || !secret->is_string() || secret->get_ref<const std::string&>().empty()) {
    return Unusable("Authlete's answer to the secret rotation has no newClientSecret");
  }
  response.set_new_client_secret(secret->get<std::string>());
  response.set_result_code(result.result_code);
  response.set_result_message(result.result_message);
  return absl::nullopt;
}

core::Refusal FillReply(const core::DcrResponse& result, v1::SetClientLockedResponse& response) {
  response.set_result_code(result.result_code);
  response.set_result_message(result.result_message);
  return absl::nullopt;
}

std::string ClientIdOf(const v1::RegisterClientResponse& r) { return r.client().client_id(); }
std::string ClientIdOf(const v1::GetClientResponse& r) { return r.client().client_id(); }
std::string ClientIdOf(const v1::UpdateClientResponse& r) { return r.client().client_id(); }
std::string ClientIdOf(const v1::DeleteClientResponse&) { return ""; }
std::string ClientIdOf(const v1::ListClientsResponse&) { return ""; }
std::string ClientIdOf(const v1::GetClientRecordResponse& r) { return r.client().client_id(); }
std::string ClientIdOf(const v1::RotateClientSecretResponse&) { return ""; }
std::string ClientIdOf(const v1::SetClientLockedResponse&) { return ""; }

}  // namespace dcr::registration
