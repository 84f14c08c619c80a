#include "tests/emulator/dcr_handler.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/emulator/crypto_util.h"
#include "tests/emulator/introspection.h"
#include "tests/emulator/json_util.h"
#include "tests/emulator/metadata_validator.h"

namespace dcr::emulator {

namespace {

using nlohmann::json;

// Entropy of issued credentials: 512-bit client secrets (86 characters, like
// Authlete's), 256-bit registration access tokens (43 characters).
constexpr int kClientSecretBytes = 64;
constexpr int kRegistrationTokenBytes = 32;

// First three digits of an operation's result codes.
const char* CodePrefix(Operation op) {
  switch (op) {
    case Operation::kRegister: return "A202";
    case Operation::kGet: return "A217";
    case Operation::kUpdate: return "A213";
    case Operation::kDelete: return "A216";
    default: return "A000";
  }
  return "A000";
}

std::string Code(Operation op, int suffix) {
  return absl::StrCat(CodePrefix(op), absl::Dec(suffix, absl::kZeroPad3));
}

// A processed call: HTTP 200 with a ClientRegistrationResponse. `client`,
// if any, is moved into the answer.
ApiResponse Processed(const std::string& code, const std::string& message,
                      const std::string& action, const json* response_content,
                      json* client) {
  json body = {{"resultCode", code},
               {"resultMessage", absl::StrCat("[", code, "] ", message)},
               {"action", action}};
  if (response_content != nullptr) body["responseContent"] = DumpJson(*response_content);
  if (client != nullptr) body["client"] = std::move(*client);
  ApiResponse r;
  r.http_status = 200;
  r.body = DumpJson(body);
  r.action = action;
  r.result_code = code;
  return r;
}

// A processed call whose responseContent is an RFC 7591 §3.2.2 error object.
ApiResponse DcrError(const std::string& action, Operation op, int suffix,
                     const std::string& error, const std::string& description) {
  std::string code = Code(op, suffix);
  json content = {{"error", error},
                  {"error_description", absl::StrCat("[", code, "] ", description)},
                  {"error_uri", absl::StrCat("https://docs.authlete.com/#", code)}};
  return Processed(code, description, action, &content, nullptr);
}

ApiResponse Unauthorized(const ServiceConfig& service, Operation op) {
  // Authlete's legacy behaviour (flag off) reports the same error as BAD_REQUEST.
  return DcrError(service.unauthorized_on_client_config_supported ? "UNAUTHORIZED" : "BAD_REQUEST",
                  op, 301, "invalid_token",
                  "The registration access token is invalid, or the client does not exist.");
}

ApiResponse ServerError(Operation op, const absl::Status& status) {
  return DcrError("INTERNAL_SERVER_ERROR", op, 101, "server_error",
                  absl::StrCat("Authlete Server error: ", status.message()));
}

int64_t NowMillis() { return absl::ToUnixMillis(absl::Now()); }

// application/x-www-form-urlencoded (accepted by API v2 only).
absl::optional<json> ParseForm(absl::string_view body) {
  json out = json::object();
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    auto decode = [](const std::string& in) -> absl::optional<std::string> {
      std::string out;
      for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '+') {
          out.push_back(' ');
        } else if (in[i] == '%') {
          if (i + 2 >= in.size() || !absl::ascii_isxdigit(in[i + 1]) ||
              !absl::ascii_isxdigit(in[i + 2])) {
            return absl::nullopt;
          }
          out += absl::HexStringToBytes(in.substr(i + 1, 2));
          i += 2;
        } else {
          out.push_back(in[i]);
        }
      }
      return out;
    };
    absl::optional<std::string> k = decode(kv.first), v = decode(kv.second);
    if (!k || !v) return absl::nullopt;
    out[*k] = *v;
  }
  return out;
}

// Parses a client id parameter; nullopt for anything that is not a positive int64.
absl::optional<int64_t> ParseClientId(const std::string& s) {
  if (s.empty() || s.size() > 19) return absl::nullopt;
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return absl::nullopt;
  }
  int64_t id = 0;
  if (!absl::SimpleAtoi(s, &id) || id <= 0) return absl::nullopt;
  return id;
}

std::string GrantTypeEnum(const std::string& g) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"urn:ietf:params:oauth:grant-type:device_code", "DEVICE_CODE"},
      {"urn:openid:params:grant-type:ciba", "CIBA"},
      {"urn:ietf:params:oauth:grant-type:token-exchange", "TOKEN_EXCHANGE"},
      {"urn:ietf:params:oauth:grant-type:jwt-bearer", "JWT_BEARER"},
      {"urn:ietf:params:oauth:grant-type:pre-authorized_code", "PRE_AUTHORIZED_CODE"},
  };
  for (const auto& [from, to] : kMap) {
    if (g == from) return to;
  }
  return absl::AsciiStrToUpper(g);
}

std::string ResponseTypeEnum(const std::string& r) {
  std::set<std::string> parts = absl::StrSplit(r, ' ');
  if (parts.count("none")) return "NONE";
  std::vector<std::string> names;
  // Authlete's enum order: CODE, ID_TOKEN, TOKEN.
  for (const char* p : {"code", "id_token", "token"}) {
    if (parts.count(p)) names.push_back(absl::AsciiStrToUpper(p));
  }
  return absl::StrJoin(names, "_");
}

std::string AuthMethod(const StoredClient& c) {
  auto it = c.metadata.find("token_endpoint_auth_method");
  return it != c.metadata.end() && it->is_string() ? it->get<std::string>()
                                                   : "client_secret_basic";
}

absl::StatusOr<std::string> NewRegistrationAccessToken() {
  return RandomBase64Url(kRegistrationTokenBytes);
}

}  // namespace

namespace {

// A management path after /api[/{serviceId}]: the operation and the client
// identifier it names.
absl::optional<std::pair<Operation, std::string>> ParseManagementSuffix(absl::string_view rest) {
  if (rest == "/client/get/list") return std::make_pair(Operation::kListClients, std::string());
  static const std::pair<const char*, Operation> kPrefixes[] = {
      {"/client/get/", Operation::kGetClientRecord},
      {"/client/secret/refresh/", Operation::kRefreshSecret},
      {"/client/secret/update/", Operation::kUpdateSecret},
      {"/client/lock_flag/update/", Operation::kUpdateLockFlag},
  };
  for (const auto& [prefix, op] : kPrefixes) {
    absl::string_view id = rest;
    if (absl::ConsumePrefix(&id, prefix) && !id.empty() &&
        id.find('/') == absl::string_view::npos) {
      return std::make_pair(op, std::string(id));
    }
  }
  return absl::nullopt;
}

}  // namespace

absl::optional<ApiRoute> ParseApiRoute(absl::string_view path) {
  static const std::pair<const char*, Operation> kSuffixes[] = {
      {"/client/registration", Operation::kRegister},
      {"/client/registration/get", Operation::kGet},
      {"/client/registration/update", Operation::kUpdate},
      {"/client/registration/delete", Operation::kDelete},
      {"/auth/introspection", Operation::kIntrospection},
  };
  if (!absl::ConsumePrefix(&path, "/api")) return absl::nullopt;
  ApiRoute route;
  for (const auto& [suffix, op] : kSuffixes) {
    if (path == suffix) {
      route.api_version = 2;
      route.operation = op;
      return route;
    }
  }
  if (auto managed = ParseManagementSuffix(path)) {
    route.api_version = 2;
    route.operation = managed->first;
    route.client_identifier = std::move(managed->second);
    return route;
  }
  // v3: /api/{serviceId}/client/registration...
  if (!absl::ConsumePrefix(&path, "/")) return absl::nullopt;
  size_t slash = path.find('/');
  if (slash == absl::string_view::npos || slash == 0) return absl::nullopt;
  absl::string_view service_id = path.substr(0, slash);
  absl::string_view rest = path.substr(slash);
  for (const auto& [suffix, op] : kSuffixes) {
    if (rest == suffix) {
      route.api_version = 3;
      route.operation = op;
      route.service_id = std::string(service_id);
      return route;
    }
  }
  if (auto managed = ParseManagementSuffix(rest)) {
    route.api_version = 3;
    route.operation = managed->first;
    route.service_id = std::string(service_id);
    route.client_identifier = std::move(managed->second);
    return route;
  }
  return absl::nullopt;
}

ApiResponse InternalServerErrorAnswer(Operation op) {
  switch (op) {
    case Operation::kRegister:
    case Operation::kGet:
    case Operation::kUpdate:
    case Operation::kDelete:
      return DcrError("INTERNAL_SERVER_ERROR", op, 101, "server_error", "Authlete Server error.");
    case Operation::kIntrospection:
      return IntrospectionServerError();
    default:
      break;
  }
  return MakeRefusal(500, kCodeServerError, "Authlete Server error.");
}

ApiResponse MakeRefusal(int status, absl::string_view code, absl::string_view message) {
  ApiResponse r;
  r.http_status = status;
  r.result_code = std::string(code);
  r.body = DumpJson(json{{"resultCode", std::string(code)},
                         {"resultMessage", absl::StrCat("[", code, "] ", message)}});
  return r;
}

json BuildClientInformation(const StoredClient& c, const ServiceConfig& service,
                            const std::string& registration_access_token) {
  json info = c.metadata;
  std::string id = std::to_string(c.client_id);
  info["client_id"] = id;
  info["client_id_issued_at"] = c.created_at_ms / 1000;
  if (AuthMethod(c) != "none" && !c.client_secret.empty()) {
    info["client_secret"] = c.client_secret;
    info["client_secret_expires_at"] = 0;
  }
  info["registration_access_token"] = registration_access_token;
  std::string base = service.registration_management_endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  info["registration_client_uri"] = absl::StrCat(base, "/", id);
  return info;
}

namespace {

// Metadata names stored under a camelCase name with the same value.
void CopyRenamedFields(const json& md, json* r) {
  static const std::pair<const char*, const char*> kCopied[] = {
      {"client_name", "clientName"},
      {"logo_uri", "logoUri"},
      {"client_uri", "clientUri"},
      {"policy_uri", "policyUri"},
      {"tos_uri", "tosUri"},
      {"redirect_uris", "redirectUris"},
      {"contacts", "contacts"},
      {"jwks_uri", "jwksUri"},
      {"sector_identifier_uri", "sectorIdentifierUri"},
      {"id_token_signed_response_alg", "idTokenSignAlg"},
      {"id_token_encrypted_response_alg", "idTokenEncryptionAlg"},
      {"id_token_encrypted_response_enc", "idTokenEncryptionEnc"},
      {"userinfo_signed_response_alg", "userInfoSignAlg"},
      {"userinfo_encrypted_response_alg", "userInfoEncryptionAlg"},
      {"userinfo_encrypted_response_enc", "userInfoEncryptionEnc"},
      {"request_object_signing_alg", "requestSignAlg"},
      {"request_object_encryption_alg", "requestEncryptionAlg"},
      {"request_object_encryption_enc", "requestEncryptionEnc"},
      {"token_endpoint_auth_signing_alg", "tokenAuthSignAlg"},
      {"default_max_age", "defaultMaxAge"},
      {"require_auth_time", "authTimeRequired"},
      {"default_acr_values", "defaultAcrs"},
      {"initiate_login_uri", "loginUri"},
      {"request_uris", "requestUris"},
      {"software_id", "softwareId"},
      {"software_version", "softwareVersion"},
      {"tls_client_auth_subject_dn", "tlsClientAuthSubjectDn"},
      {"tls_client_auth_san_dns", "tlsClientAuthSanDns"},
      {"tls_client_auth_san_uri", "tlsClientAuthSanUri"},
      {"tls_client_auth_san_ip", "tlsClientAuthSanIp"},
      {"tls_client_auth_san_email", "tlsClientAuthSanEmail"},
      {"tls_client_certificate_bound_access_tokens", "tlsClientCertificateBoundAccessTokens"},
      {"require_pushed_authorization_requests", "parRequired"},
      {"require_signed_request_object", "requestObjectRequired"},
      {"authorization_signed_response_alg", "authorizationSignAlg"},
      {"authorization_encrypted_response_alg", "authorizationEncryptionAlg"},
      {"authorization_encrypted_response_enc", "authorizationEncryptionEnc"},
      {"backchannel_client_notification_endpoint", "bcNotificationEndpoint"},
      {"backchannel_authentication_request_signing_alg", "bcRequestSignAlg"},
      {"backchannel_user_code_parameter", "bcUserCodeRequired"},
      {"authorization_details_types", "authorizationDetailsTypes"},
      {"digest_algorithm", "digestAlgorithm"},
      {"organization_name", "organizationName"},
      {"signed_jwks_uri", "signedJwksUri"},
      {"client_registration_types", "clientRegistrationTypes"},
      {"credential_offer_endpoint", "credentialOfferEndpoint"},
      {"use_mtls_endpoint_aliases", "mtlsEndpointAliasesUsed"},
      {"response_modes", "responseModes"},
      {"spiffe_id", "spiffeId"},
      {"spiffe_bundle_endpoint", "spiffeBundleEndpoint"},
      {"backchannel_logout_uri", "backchannelLogoutUri"},
      {"backchannel_logout_session_required", "backchannelLogoutSessionRequired"},
  };
  for (const auto& [from, to] : kCopied) {
    if (auto it = md.find(from); it != md.end()) (*r)[to] = *it;
  }
}

// Authlete keeps enum names in upper case, grant and response types as enum
// names, and jwks as JSON text.
void AddEnumFields(const json& md, json* r) {
  if (auto it = md.find("application_type"); it != md.end()) {
    (*r)["applicationType"] = absl::AsciiStrToUpper(it->get<std::string>());
  }
  if (auto it = md.find("subject_type"); it != md.end()) {
    (*r)["subjectType"] = absl::AsciiStrToUpper(it->get<std::string>());
  }
  if (auto it = md.find("backchannel_token_delivery_mode"); it != md.end()) {
    (*r)["bcDeliveryMode"] = absl::AsciiStrToUpper(it->get<std::string>());
  }
  if (auto it = md.find("jwks"); it != md.end()) (*r)["jwks"] = DumpJson(*it);
  json grants = json::array();
  for (const json& g : md.value("grant_types", json::array())) {
    grants.push_back(GrantTypeEnum(g.get<std::string>()));
  }
  (*r)["grantTypes"] = grants;
  json responses = json::array();
  for (const json& t : md.value("response_types", json::array())) {
    responses.push_back(ResponseTypeEnum(t.get<std::string>()));
  }
  (*r)["responseTypes"] = responses;
}

// Language-tagged values (clientNames, logoUris, ... as [{tag, value}]) and
// the service's custom metadata (customMetadata, as JSON text).
void AddTaggedAndCustomFields(const json& md, const ServiceConfig& service, json* r) {
  static const std::pair<const char*, const char*> kTagged[] = {
      {"client_name", "clientNames"}, {"logo_uri", "logoUris"},  {"client_uri", "clientUris"},
      {"policy_uri", "policyUris"},   {"tos_uri", "tosUris"},
  };
  json custom = json::object();
  std::set<std::string> custom_names(service.supported_custom_client_metadata.begin(),
                                     service.supported_custom_client_metadata.end());
  for (auto it = md.begin(); it != md.end(); ++it) {
    std::string base = TaggedBaseName(it.key());
    if (!base.empty()) {
      for (const auto& [name, plural] : kTagged) {
        if (base == name) {
          (*r)[plural].push_back(
              json{{"tag", it.key().substr(base.size() + 1)}, {"value", *it}});
        }
      }
    } else if (custom_names.count(it.key())) {
      custom[it.key()] = *it;
    }
  }
  if (!custom.empty()) (*r)["customMetadata"] = DumpJson(custom);
}

// dcrScopeUsedAsRequestable: `scope` becomes the client's requestable scopes.
void AddRequestableScopes(const json& md, const ServiceConfig& service, json* r) {
  if (!service.dcr_scope_used_as_requestable) return;
  json ext = {{"requestableScopesEnabled", false}};
  if (auto it = md.find("scope"); it != md.end()) {
    json scopes = json::array();
    for (absl::string_view s : absl::StrSplit(it->get<std::string>(), ' ', absl::SkipEmpty())) {
      scopes.push_back(std::string(s));
    }
    ext = {{"requestableScopesEnabled", true}, {"requestableScopes", scopes}};
  }
  (*r)["extension"] = ext;
}

}  // namespace

json BuildClientRecord(const StoredClient& c, const ServiceConfig& service) {
  const json& md = c.metadata;
  std::string method = AuthMethod(c);
  json r = {{"clientId", c.client_id},
            {"clientType", method == "none" ? "PUBLIC" : "CONFIDENTIAL"},
            {"tokenAuthMethod", absl::AsciiStrToUpper(method)},
            {"dynamicallyRegistered", true},
            {"createdAt", c.created_at_ms},
            {"modifiedAt", c.modified_at_ms},
            {"registrationAccessTokenHash", c.registration_access_token_hash},
            {"clientLocked", c.locked}};
  if (!c.client_secret.empty()) r["clientSecret"] = c.client_secret;
  if (!c.developer.empty()) r["developer"] = c.developer;
  CopyRenamedFields(md, &r);
  AddEnumFields(md, &r);
  AddTaggedAndCustomFields(md, service, &r);
  AddRequestableScopes(md, service, &r);
  return r;
}

DcrHandler::DcrHandler(EmulatorConfig config, ClientStore* store,
                       const AccessTokenStore* tokens)
    : config_(std::move(config)), store_(store), tokens_(tokens) {}

namespace {

ApiResponse BadCredentials() {
  return MakeRefusal(401, kCodeBadCredentials, "The presented credentials are invalid.");
}

// API v2: HTTP Basic, base64(apiKey:apiSecret), the key being the service id.
const ServiceConfig* AuthenticateBasic(const EmulatorConfig& config, absl::string_view credential,
                                       ApiResponse* refusal) {
  std::string decoded;
  if (!absl::Base64Unescape(credential, &decoded) || decoded.find(':') == std::string::npos) {
    *refusal = MakeRefusal(401, kCodeAuthMalformed,
                           "The Authorization header is malformed; Basic credentials must "
                           "be base64(apiKey:apiSecret).");
    return nullptr;
  }
  std::string key = decoded.substr(0, decoded.find(':'));
  std::string secret = decoded.substr(decoded.find(':') + 1);
  const ServiceConfig* found = nullptr;
  for (const ServiceConfig& s : config.services) {
    if (s.service_id == key) found = &s;
  }
  // Compare even for unknown keys, so an unknown key costs the same time.
  bool ok = SecretEquals(found ? found->api_secret : std::string("\x01unknown"), secret);
  if (found == nullptr || found->api_secret.empty() || !ok) {
    *refusal = BadCredentials();
    return nullptr;
  }
  return found;
}

// API v3: a service access token or the organization token, for the service in the path.
const ServiceConfig* AuthenticateBearer(const EmulatorConfig& config, const ApiRoute& route,
                                        absl::string_view credential, ApiResponse* refusal) {
  std::string token(credential);
  bool org_ok = !config.organization_token.empty() &&
                SecretEquals(config.organization_token, token);
  const ServiceConfig* token_service = nullptr;
  const ServiceConfig* path_service = nullptr;
  for (const ServiceConfig& s : config.services) {  // no early exit: constant work
    if (!s.service_token.empty() && SecretEquals(s.service_token, token)) token_service = &s;
    if (s.service_id == route.service_id) path_service = &s;
  }
  if (!org_ok && token_service == nullptr) {
    *refusal = BadCredentials();
    return nullptr;
  }
  if (path_service == nullptr) {
    *refusal = MakeRefusal(404, kCodeNoSuchService,
                           absl::StrCat("The service '", route.service_id, "' was not found."));
    return nullptr;
  }
  if (!org_ok && token_service != path_service) {
    *refusal = MakeRefusal(403, kCodeServiceForbidden,
                           "The access token does not grant access to the service.");
    return nullptr;
  }
  return path_service;
}

}  // namespace

const ServiceConfig* DcrHandler::Authenticate(const ApiRoute& route, const ApiRequest& request,
                                              ApiResponse* refusal) const {
  if (!request.authorization.has_value()) {
    *refusal = MakeRefusal(401, kCodeAuthMissing, "Authorization header is missing.");
    return nullptr;
  }
  absl::string_view header = absl::StripAsciiWhitespace(*request.authorization);
  size_t space = header.find(' ');
  absl::string_view scheme = header.substr(0, space);
  absl::string_view credential =
      space == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(header.substr(space));
  const char* expected_scheme = route.api_version == 3 ? "Bearer" : "Basic";
  if (!absl::EqualsIgnoreCase(scheme, expected_scheme) || credential.empty()) {
    *refusal = MakeRefusal(
        401, kCodeAuthMalformed,
        absl::StrCat("The Authorization header is malformed; API v", route.api_version,
                     " expects '", expected_scheme, "' credentials."));
    return nullptr;
  }
  if (route.api_version == 2) return AuthenticateBasic(config_, credential, refusal);
  return AuthenticateBearer(config_, route, credential, refusal);
}

namespace {

// Contract §9: list, get and refresh are GETs; the rest are POSTs.
const char* MethodOf(Operation op) {
  switch (op) {
    case Operation::kListClients:
    case Operation::kGetClientRecord:
    case Operation::kRefreshSecret:
      return "GET";
    default:
      return "POST";
  }
}

bool IsManagement(Operation op) {
  return op != Operation::kRegister && op != Operation::kGet && op != Operation::kUpdate &&
         op != Operation::kDelete && op != Operation::kIntrospection;
}

}  // namespace

ApiResponse DcrHandler::Handle(const ApiRoute& route, const ApiRequest& request) const {
  const char* method = MethodOf(route.operation);
  if (request.method != method) {
    ApiResponse r = MakeRefusal(405, kCodeMethodNotAllowed,
                                absl::StrCat("The HTTP method '", request.method,
                                             "' is not allowed; use ", method, "."));
    r.headers.emplace_back("Allow", method);
    return r;
  }
  ApiResponse refusal;
  const ServiceConfig* service = Authenticate(route, request, &refusal);
  if (service == nullptr) return refusal;
  if (IsManagement(route.operation)) return Manage(*service, route, request);
  // Its own body checks: every problem with the body is an action (BAD_REQUEST).
  if (route.operation == Operation::kIntrospection) {
    return Introspect(*service, request, *tokens_, absl::Now());
  }

  // Request body: a JSON object (v2 also accepts a form).
  json params;
  bool is_form = absl::StartsWithIgnoreCase(request.content_type,
                                            "application/x-www-form-urlencoded");
  if (route.api_version == 2 && is_form) {
    absl::optional<json> form = ParseForm(request.body);
    if (!form) return MakeRefusal(400, kCodeBodyNotJson, "The request body is malformed.");
    params = *std::move(form);
  } else {
    absl::StatusOr<json> parsed = ParseJson(request.body);
    if (!parsed.ok() || !parsed->is_object()) {
      return MakeRefusal(400, kCodeBodyNotJson, "The request body is not a JSON object.");
    }
    params = *std::move(parsed);
  }
  for (const char* name : {"json", "token", "clientId"}) {
    if (auto it = params.find(name); it != params.end() && !it->is_string()) {
      return MakeRefusal(400, kCodeParamNotString,
                         absl::StrCat("The request parameter '", name, "' must be a string."));
    }
  }
  std::vector<const char*> required;
  if (route.operation != Operation::kRegister) required = {"clientId", "token"};
  if (route.operation == Operation::kRegister || route.operation == Operation::kUpdate) {
    required.push_back("json");
  }
  for (const char* name : required) {
    if (!params.contains(name)) {
      return MakeRefusal(400, kCodeParamMissing,
                         absl::StrCat("The request parameter '", name, "' is missing."));
    }
  }

  if (!service->dynamic_registration_supported) {
    return DcrError("BAD_REQUEST", route.operation, kDynamicRegistrationDisabled,
                    "invalid_client_metadata",
                    "Dynamic client registration is not supported by the service.");
  }
  switch (route.operation) {
    case Operation::kRegister: return Register(*service, params);
    case Operation::kGet: return Get(*service, params);
    case Operation::kUpdate: return Update(*service, params);
    case Operation::kDelete: return Delete(*service, params);
    default: break;
  }
  return MakeRefusal(500, kCodeServerError, "Authlete Server error.");
}

namespace {

// The `json` parameter as it was sent, and as validated.
struct Metadata {
  json input;
  json validated;
};

// Parses and validates the `json` parameter; fills `error` on failure.
absl::optional<Metadata> ValidatedMetadata(const ServiceConfig& service, const json& params,
                                           Operation op, ApiResponse* error) {
  absl::StatusOr<json> input = ParseJson(params["json"].get<std::string>());
  ValidationResult v = ValidateClientMetadata(input.ok() ? *input : json(nullptr),
                                              service.supported_custom_client_metadata);
  if (!v.ok) {
    *error = DcrError("BAD_REQUEST", op, v.error.code, v.error.error, v.error.description);
    return absl::nullopt;
  }
  return Metadata{input.ok() ? *std::move(input) : json(nullptr), std::move(v.metadata)};
}

}  // namespace

ApiResponse DcrHandler::Register(const ServiceConfig& service, const json& params) const {
  constexpr Operation op = Operation::kRegister;
  ApiResponse error;
  absl::optional<Metadata> metadata = ValidatedMetadata(service, params, op, &error);
  if (!metadata) return error;

  StoredClient draft;
  draft.service_id = service.service_id;
  draft.metadata = std::move(metadata->validated);
  // README "Client management": a `developer` member names the developer.
  if (auto it = metadata->input.find("developer");
      it != metadata->input.end() && it->is_string()) {
    draft.developer = it->get<std::string>();
  }
  draft.created_at_ms = draft.modified_at_ms = NowMillis();
  if (AuthMethod(draft) != "none") {
    absl::StatusOr<std::string> secret = RandomBase64Url(kClientSecretBytes);
    if (!secret.ok()) return ServerError(op, secret.status());
    draft.client_secret = *secret;
  }
  absl::StatusOr<std::string> token = NewRegistrationAccessToken();
  if (!token.ok()) return ServerError(op, token.status());
  draft.registration_access_token_hash = Sha256Hex(*token);

  absl::StatusOr<StoredClient> created =
      store_->Create(std::move(draft), service.dcr_duplicate_software_id_blocked);
  if (absl::IsAlreadyExists(created.status())) {
    return DcrError("BAD_REQUEST", op, kDuplicateSoftwareId, "invalid_client_metadata",
                    "A client with the same 'software_id' is already registered.");
  }
  if (!created.ok()) return ServerError(op, created.status());
  json content = BuildClientInformation(*created, service, *token);
  json client = BuildClientRecord(*created, service);
  return Processed(Code(op, 1),
                   absl::StrCat("The client was created with id ", created->client_id, "."),
                   "CREATED", &content, &client);
}

ApiResponse DcrHandler::Get(const ServiceConfig& service, const json& params) const {
  constexpr Operation op = Operation::kGet;
  const std::string token = params["token"].get<std::string>();
  absl::optional<int64_t> id = ParseClientId(params["clientId"].get<std::string>());
  if (!id) return Unauthorized(service, op);
  absl::StatusOr<StoredClient> c = store_->Get(service.service_id, *id, Sha256Hex(token));
  if (absl::IsUnauthenticated(c.status())) return Unauthorized(service, op);
  if (!c.ok()) return ServerError(op, c.status());
  json content = BuildClientInformation(*c, service, token);
  json client = BuildClientRecord(*c, service);
  return Processed(Code(op, 1), absl::StrCat("The client (id = ", *id, ") was found."), "OK",
                   &content, &client);
}

namespace {

// A client_id in an update's metadata must name the client being updated.
bool PresentedClientIdMatches(const json& input, int64_t id) {
  auto it = input.find("client_id");
  if (it == input.end() || it->is_null()) return true;
  return (it->is_string() && it->get<std::string>() == std::to_string(id)) ||
         (it->is_number_integer() && it->get<int64_t>() == id);
}

// The client_secret an update presents, if any; a non-string never matches.
absl::optional<std::string> PresentedClientSecret(const json& input) {
  auto it = input.find("client_secret");
  if (it == input.end() || it->is_null()) return absl::nullopt;
  return it->is_string() ? it->get<std::string>() : std::string("\x01");
}

// The registration access token after an update, and a secret in case the
// client becomes confidential; generated before the store is locked.
struct UpdateCredentials {
  std::string token;
  std::string secret;
};

absl::StatusOr<UpdateCredentials> NewUpdateCredentials(const ServiceConfig& service,
                                                       const std::string& token) {
  UpdateCredentials out;
  out.token = token;
  if (service.rotate_registration_access_token_on_update) {
    absl::StatusOr<std::string> t = NewRegistrationAccessToken();
    if (!t.ok()) return t.status();
    out.token = *t;
  }
  absl::StatusOr<std::string> s = RandomBase64Url(kClientSecretBytes);
  if (!s.ok()) return s.status();
  out.secret = *s;
  return out;
}

}  // namespace

ApiResponse DcrHandler::Update(const ServiceConfig& service, const json& params) const {
  constexpr Operation op = Operation::kUpdate;
  std::string token = params["token"].get<std::string>();
  absl::optional<int64_t> id = ParseClientId(params["clientId"].get<std::string>());
  if (!id) return Unauthorized(service, op);
  const std::string token_hash = Sha256Hex(token);
  // Authenticate before validating, so a stranger learns nothing about the client.
  absl::StatusOr<StoredClient> current = store_->Get(service.service_id, *id, token_hash);
  if (absl::IsUnauthenticated(current.status())) return Unauthorized(service, op);
  if (!current.ok()) return ServerError(op, current.status());

  ApiResponse error;
  absl::optional<Metadata> metadata = ValidatedMetadata(service, params, op, &error);
  if (!metadata) return error;
  // RFC 7592 §2.2: client_id (and client_secret, if sent) must match the client.
  const json& input = metadata->input;
  if (!PresentedClientIdMatches(input, *id)) {
    return DcrError("BAD_REQUEST", op, kClientIdMismatch, "invalid_client_metadata",
                    "The value of 'client_id' does not match the client being updated.");
  }
  absl::optional<std::string> presented_secret = PresentedClientSecret(input);

  absl::StatusOr<UpdateCredentials> fresh = NewUpdateCredentials(service, token);
  if (!fresh.ok()) return ServerError(op, fresh.status());
  const std::string& new_token = fresh->token;
  const std::string& new_secret = fresh->secret;
  bool secret_mismatch = false;
  absl::StatusOr<StoredClient> updated = store_->Update(
      service.service_id, *id, token_hash,
      [&](StoredClient& c) {
        if (presented_secret && !SecretEquals(*presented_secret, c.client_secret)) {
          secret_mismatch = true;
          return absl::InvalidArgumentError("client_secret mismatch");
        }
        c.metadata = metadata->validated;  // full replacement
        c.modified_at_ms = NowMillis();
        c.registration_access_token_hash = Sha256Hex(new_token);
        if (AuthMethod(c) != "none" && c.client_secret.empty()) c.client_secret = new_secret;
        return absl::OkStatus();
      },
      service.dcr_duplicate_software_id_blocked);
  if (secret_mismatch) {
    return DcrError("BAD_REQUEST", op, kClientSecretMismatch, "invalid_client_metadata",
                    "The value of 'client_secret' does not match the client's secret.");
  }
  if (absl::IsUnauthenticated(updated.status())) return Unauthorized(service, op);  // raced a delete
  if (absl::IsAlreadyExists(updated.status())) {
    return DcrError("BAD_REQUEST", op, kDuplicateSoftwareId, "invalid_client_metadata",
                    "A client with the same 'software_id' is already registered.");
  }
  if (!updated.ok()) return ServerError(op, updated.status());
  json content = BuildClientInformation(*updated, service, new_token);
  json client = BuildClientRecord(*updated, service);
  return Processed(Code(op, 1), absl::StrCat("The client (id = ", *id, ") was updated."),
                   "UPDATED", &content, &client);
}

ApiResponse DcrHandler::Delete(const ServiceConfig& service, const json& params) const {
  constexpr Operation op = Operation::kDelete;
  absl::optional<int64_t> id = ParseClientId(params["clientId"].get<std::string>());
  if (!id) return Unauthorized(service, op);
  absl::StatusOr<StoredClient> removed =
      store_->Delete(service.service_id, *id, Sha256Hex(params["token"].get<std::string>()));
  if (absl::IsUnauthenticated(removed.status())) return Unauthorized(service, op);
  if (!removed.ok()) return ServerError(op, removed.status());
  json client = BuildClientRecord(*removed, service);
  return Processed(Code(op, 1), absl::StrCat("The client (id = ", *id, ") was deleted."),
                   "DELETED", nullptr, &client);
}

namespace {

// A management answer with a result: HTTP 200, resultCode and resultMessage.
ApiResponse Result(const char* code, const std::string& message, json extra = json::object()) {
  extra["resultCode"] = code;
  extra["resultMessage"] = absl::StrCat("[", code, "] ", message);
  ApiResponse r;
  r.http_status = 200;
  r.body = DumpJson(extra);
  r.result_code = code;
  return r;
}

ApiResponse NoSuchClient(const std::string& identifier) {
  return MakeRefusal(404, kCodeNoSuchClient,
                     absl::StrCat("No client has the identifier '", identifier, "'."));
}

// A query parameter that must be a non-negative integer, or `fallback`.
absl::optional<int64_t> Index(const json& query, const char* name, int64_t fallback) {
  auto it = query.find(name);
  if (it == query.end()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->get<std::string>(), &value) || value < 0) return absl::nullopt;
  return value;
}

// Authlete's default page when `end` is absent (the SDK's documented default).
constexpr int64_t kDefaultListEnd = 5;

}  // namespace

ApiResponse DcrHandler::ListClients(const ServiceConfig& service,
                                    const ApiRequest& request) const {
  absl::optional<json> query = ParseForm(request.query);
  if (!query) return MakeRefusal(400, kCodeBadRange, "The query string is malformed.");
  absl::optional<int64_t> start = Index(*query, "start", 0);
  absl::optional<int64_t> end = Index(*query, "end", kDefaultListEnd);
  if (!start || !end || *end < *start) {
    return MakeRefusal(400, kCodeBadRange,
                       "'start' and 'end' must be integers with 0 <= start <= end.");
  }
  const std::string developer = query->value("developer", "");
  ClientPage page = store_->List(service.service_id, developer, *start, *end);
  json clients = json::array();
  for (const StoredClient& c : page.clients) clients.push_back(BuildClientRecord(c, service));
  ApiResponse r;
  r.http_status = 200;
  r.body = DumpJson(json{{"start", *start},
                         {"end", *end},
                         {"developer", developer},
                         {"totalCount", page.total_count},
                         {"clients", clients}});
  return r;
}

ApiResponse DcrHandler::Manage(const ServiceConfig& service, const ApiRoute& route,
                               const ApiRequest& request) const {
  if (route.operation == Operation::kListClients) return ListClients(service, request);
  const std::string& identifier = route.client_identifier;
  // No aliases here: an identifier is a client id or names no client.
  absl::optional<int64_t> id = ParseClientId(identifier);
  if (!id) return NoSuchClient(identifier);
  switch (route.operation) {
    case Operation::kGetClientRecord: {
      absl::StatusOr<StoredClient> c = store_->Find(service.service_id, *id);
      if (absl::IsNotFound(c.status())) return NoSuchClient(identifier);
      if (!c.ok()) return MakeRefusal(500, kCodeServerError, "Authlete Server error.");
      ApiResponse r;
      r.http_status = 200;
      r.body = DumpJson(BuildClientRecord(*c, service));
      return r;
    }
    case Operation::kRefreshSecret:
    case Operation::kUpdateSecret: {
      std::string secret;
      if (route.operation == Operation::kUpdateSecret) {
        absl::StatusOr<json> body = ParseJson(request.body);
        if (!body.ok() || !body->is_object()) {
          return MakeRefusal(400, kCodeBodyNotJson, "The request body is not a JSON object.");
        }
        auto it = body->find("clientSecret");
        if (it == body->end() || !it->is_string() || it->get<std::string>().empty()) {
          return MakeRefusal(400, kCodeParamMissing,
                             "The request parameter 'clientSecret' is missing.");
        }
        secret = it->get<std::string>();
      } else {
        absl::StatusOr<std::string> fresh = RandomBase64Url(kClientSecretBytes);
        if (!fresh.ok()) return MakeRefusal(500, kCodeServerError, "Authlete Server error.");
        secret = *fresh;
      }
      std::string old_secret;
      absl::StatusOr<StoredClient> c =
          store_->Modify(service.service_id, *id, [&](StoredClient& client) {
            old_secret = client.client_secret;
            client.client_secret = secret;
            client.modified_at_ms = NowMillis();
            return absl::OkStatus();
          });
      if (absl::IsNotFound(c.status())) return NoSuchClient(identifier);
      if (!c.ok()) return MakeRefusal(500, kCodeServerError, "Authlete Server error.");
      const bool refreshed = route.operation == Operation::kRefreshSecret;
      return Result(refreshed ? kCodeSecretRefreshed : kCodeSecretUpdated,
                    absl::StrCat("The client secret of the client (id = ", *id, ") was ",
                                 refreshed ? "refreshed." : "updated."),
                    json{{"newClientSecret", secret}, {"oldClientSecret", old_secret}});
    }
    case Operation::kUpdateLockFlag: {
      absl::StatusOr<json> body = ParseJson(request.body);
      if (!body.ok() || !body->is_object()) {
        return MakeRefusal(400, kCodeBodyNotJson, "The request body is not a JSON object.");
      }
      auto it = body->find("clientLocked");
      if (it == body->end() || !it->is_boolean()) {
        return MakeRefusal(400, kCodeParamMissing,
                           "The request parameter 'clientLocked' (a boolean) is missing.");
      }
      const bool locked = it->get<bool>();
      absl::StatusOr<StoredClient> c =
          store_->Modify(service.service_id, *id, [&](StoredClient& client) {
            client.locked = locked;
            client.modified_at_ms = NowMillis();
            return absl::OkStatus();
          });
      if (absl::IsNotFound(c.status())) return NoSuchClient(identifier);
      if (!c.ok()) return MakeRefusal(500, kCodeServerError, "Authlete Server error.");
      return Result(kCodeLockFlagUpdated,
                    absl::StrCat("The lock flag of the client (id = ", *id, ") was set to ",
                                 locked ? "true." : "false."));
    }
    default:
      return MakeRefusal(500, kCodeServerError, "Authlete Server error.");
  }
}

}  // namespace dcr::emulator
