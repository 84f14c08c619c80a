#include "service/metadata/client_record_json.h"

#include <cstdint>
#include <string>

namespace dcr::metadata {
namespace {

using nlohmann::json;

// google.protobuf.Timestamp's valid range, in milliseconds.
constexpr int64_t kMinTimestampMillis = -62135596800LL * 1000;
constexpr int64_t kMaxTimestampMillis = 253402300799LL * 1000;

std::string String(const json& record, const char* name) {
  auto it = record.find(name);
  return it != record.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Bool(const json& record, const char* name) {
  auto it = record.find(name);
  return it != record.end() && it->is_boolean() && it->get<bool>();
}

template <typename Repeated>
void Strings(const json& record, const char* name, Repeated* out) {
  auto it = record.find(name);
  if (it == record.end() || !it->is_array()) return;
  for (const json& item : *it) {
    if (item.is_string()) out->Add(item.get<std::string>());
  }
}

// Epoch milliseconds; left unset when absent or out of Timestamp's range.
template <typename SetMutable>
void Millis(const json& record, const char* name, SetMutable mutable_field) {
  auto it = record.find(name);
  if (it == record.end() || !it->is_number_integer()) return;
  const int64_t ms = it->get<int64_t>();
  if (ms < kMinTimestampMillis || ms > kMaxTimestampMillis) return;
  google::protobuf::Timestamp* out = mutable_field();
  // Floor division, so that negative instants stay within the same second.
  int64_t seconds = ms / 1000;
  int64_t rest = ms % 1000;
  if (rest < 0) {
    seconds -= 1;
    rest += 1000;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rest * 1000000));
}

// Authlete's clientId is an int64; tolerate it as text too.
std::string ClientId(const json& record) {
  auto it = record.find("clientId");
  if (it == record.end()) return "";
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_string()) return it->get<std::string>();
  return "";
}

}  // namespace

v1::ClientRecord ClientRecordFromJson(const json& record) {
  v1::ClientRecord out;
  if (!record.is_object()) {
    out.set_record_json(record.dump(-1, ' ', false, json::error_handler_t::replace));
    return out;
  }
  out.set_client_id(ClientId(record));
  out.set_client_id_alias(String(record, "clientIdAlias"));
  out.set_client_id_alias_enabled(Bool(record, "clientIdAliasEnabled"));
  out.set_client_name(String(record, "clientName"));
  const std::string type = String(record, "clientType");
  out.set_client_type(type == "PUBLIC"         ? v1::CLIENT_TYPE_PUBLIC
                      : type == "CONFIDENTIAL" ? v1::CLIENT_TYPE_CONFIDENTIAL
                                               : v1::CLIENT_TYPE_UNSPECIFIED);
  Strings(record, "redirectUris", out.mutable_redirect_uris());
  Strings(record, "grantTypes", out.mutable_grant_types());
  Strings(record, "responseTypes", out.mutable_response_types());
  out.set_developer(String(record, "developer"));
  out.set_software_id(String(record, "softwareId"));
  out.set_software_version(String(record, "softwareVersion"));
  out.set_dynamically_registered(Bool(record, "dynamicallyRegistered"));
  Millis(record, "createdAt", [&] { return out.mutable_created_at(); });
  Millis(record, "modifiedAt", [&] { return out.mutable_modified_at(); });
  out.set_token_auth_method(String(record, "tokenAuthMethod"));
  out.set_application_type(String(record, "applicationType"));
  Strings(record, "contacts", out.mutable_contacts());
  out.set_locked(Bool(record, "clientLocked"));
  out.set_has_client_secret(!String(record, "clientSecret").empty());
  // Verbatim but for the secret, which these RPCs never return.
  json copy = record;
  copy.erase("clientSecret");
  out.set_record_json(copy.dump(-1, ' ', false, json::error_handler_t::replace));
  return out;
}

}  // namespace dcr::metadata
