#include "tests/emulator/metadata_validator.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/emulator/uri_util.h"

namespace dcr::emulator {

namespace {

using nlohmann::json;

enum class Type { kString, kStringArray, kBool, kNumber, kObject };

// Contract §6, with the JSON type each name must have.
const std::map<std::string, Type>& KnownNames() {
  static const auto* const kNames = new std::map<std::string, Type>{
      // OpenID Connect Dynamic Registration
      {"redirect_uris", Type::kStringArray},
      {"response_types", Type::kStringArray},
      {"grant_types", Type::kStringArray},
      {"application_type", Type::kString},
      {"contacts", Type::kStringArray},
      {"client_name", Type::kString},
      {"logo_uri", Type::kString},
      {"client_uri", Type::kString},
      {"policy_uri", Type::kString},
      {"tos_uri", Type::kString},
      {"jwks_uri", Type::kString},
      {"jwks", Type::kObject},
      {"sector_identifier_uri", Type::kString},
      {"subject_type", Type::kString},
      {"id_token_signed_response_alg", Type::kString},
      {"id_token_encrypted_response_alg", Type::kString},
      {"id_token_encrypted_response_enc", Type::kString},
      {"userinfo_signed_response_alg", Type::kString},
      {"userinfo_encrypted_response_alg", Type::kString},
      {"userinfo_encrypted_response_enc", Type::kString},
      {"request_object_signing_alg", Type::kString},
      {"request_object_encryption_alg", Type::kString},
      {"request_object_encryption_enc", Type::kString},
      {"token_endpoint_auth_method", Type::kString},
      {"token_endpoint_auth_signing_alg", Type::kString},
      {"default_max_age", Type::kNumber},
      {"require_auth_time", Type::kBool},
      {"default_acr_values", Type::kStringArray},
      {"initiate_login_uri", Type::kString},
      {"request_uris", Type::kStringArray},
      // RFC 7591
      {"scope", Type::kString},
      {"software_id", Type::kString},
      {"software_version", Type::kString},
      {"software_statement", Type::kString},
      // RFC 8705
      {"tls_client_auth_subject_dn", Type::kString},
      {"tls_client_auth_san_dns", Type::kString},
      {"tls_client_auth_san_uri", Type::kString},
      {"tls_client_auth_san_ip", Type::kString},
      {"tls_client_auth_san_email", Type::kString},
      {"tls_client_certificate_bound_access_tokens", Type::kBool},
      // PAR / JAR
      {"require_pushed_authorization_requests", Type::kBool},
      {"require_signed_request_object", Type::kBool},
      // JARM
      {"authorization_signed_response_alg", Type::kString},
      {"authorization_encrypted_response_alg", Type::kString},
      {"authorization_encrypted_response_enc", Type::kString},
      // CIBA
      {"backchannel_token_delivery_mode", Type::kString},
      {"backchannel_client_notification_endpoint", Type::kString},
      {"backchannel_authentication_request_signing_alg", Type::kString},
      {"backchannel_user_code_parameter", Type::kBool},
      // Others
      {"authorization_details_types", Type::kStringArray},
      {"digest_algorithm", Type::kString},
      {"organization_name", Type::kString},
      {"signed_jwks_uri", Type::kString},
      {"client_registration_types", Type::kStringArray},
      {"credential_offer_endpoint", Type::kString},
      {"use_mtls_endpoint_aliases", Type::kBool},
      {"response_modes", Type::kStringArray},
      {"spiffe_id", Type::kString},
      {"spiffe_bundle_endpoint", Type::kString},
      {"backchannel_logout_uri", Type::kString},
      {"backchannel_logout_session_required", Type::kBool},
  };
  return *kNames;
}

const char* TypeDescription(Type t) {
  switch (t) {
    case Type::kString: return "a string";
    case Type::kStringArray: return "an array of strings";
    case Type::kBool: return "a boolean";
    case Type::kNumber: return "a number";
    case Type::kObject: return "a JSON object";
  }
  return "?";
}

bool HasType(const json& v, Type t) {
  switch (t) {
    case Type::kString: return v.is_string();
    case Type::kBool: return v.is_boolean();
    case Type::kNumber: return v.is_number();
    case Type::kObject: return v.is_object();
    case Type::kStringArray:
      return v.is_array() &&
             std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); });
  }
  return false;
}

const std::set<std::string>& SupportedGrantTypes() {
  static const auto* const kGrants = new std::set<std::string>{
      "authorization_code",
      "implicit",
      "password",
      "client_credentials",
      "refresh_token",
      "urn:ietf:params:oauth:grant-type:device_code",
      "urn:openid:params:grant-type:ciba",
      "urn:ietf:params:oauth:grant-type:token-exchange",
      "urn:ietf:params:oauth:grant-type:jwt-bearer",
      "urn:ietf:params:oauth:grant-type:pre-authorized_code",
  };
  return *kGrants;
}

const std::set<std::string>& SupportedAuthMethods() {
  static const auto* const kMethods = new std::set<std::string>{
      "none",
      "client_secret_basic",
      "client_secret_post",
      "client_secret_jwt",
      "private_key_jwt",
      "tls_client_auth",
      "self_signed_tls_client_auth",
  };
  return *kMethods;
}

class Validator {
 public:
  explicit Validator(const json& md) : md_(md) {}

  ValidationResult Fail(std::string error, int code, std::string description) {
    ValidationResult r;
    r.ok = false;
    r.error = ValidationError{std::move(error), code, std::move(description)};
    return r;
  }

  std::vector<std::string> Strings(const char* name) const {
    std::vector<std::string> out;
    auto it = md_.find(name);
    if (it == md_.end()) return out;
    for (const json& e : *it) out.push_back(e.get<std::string>());
    return out;
  }

  absl::optional<std::string> String(const std::string& name) const {
    auto it = md_.find(name);
    if (it == md_.end()) return absl::nullopt;
    return it->get<std::string>();
  }

  bool Has(const char* name) const { return md_.contains(name); }

 private:
  const json& md_;
};

// Checks a URI-valued metadata value. `scheme_rule`: 0 any absolute URI,
// 1 http or https, 2 https only.
bool UriOk(absl::string_view value, int scheme_rule) {
  absl::optional<UriParts> uri = ParseAbsoluteUri(value);
  if (!uri.has_value()) return false;
  if (scheme_rule == 1) return uri->scheme == "http" || uri->scheme == "https";
  if (scheme_rule == 2) return uri->scheme == "https";
  return true;
}

}  // namespace

std::string TaggedBaseName(absl::string_view name) {
  static const char* const kTaggable[] = {"client_name", "logo_uri", "client_uri", "policy_uri",
                                          "tos_uri"};
  size_t hash = name.find('#');
  if (hash == absl::string_view::npos) return "";
  absl::string_view base = name.substr(0, hash);
  absl::string_view tag = name.substr(hash + 1);
  // BCP 47 tags are alphanumerics and hyphens.
  if (tag.empty() || tag.size() > 35) return "";
  for (char c : tag) {
    if (!absl::ascii_isalnum(c) && c != '-') return "";
  }
  for (const char* t : kTaggable) {
    if (base == t) return std::string(base);
  }
  return "";
}

bool IsResponseOnlyName(absl::string_view name) {
  return name == "client_id" || name == "client_secret" || name == "client_id_issued_at" ||
         name == "client_secret_expires_at" || name == "registration_access_token" ||
         name == "registration_client_uri";
}

ValidationResult ValidateClientMetadata(const json& input,
                                        const std::vector<std::string>& custom_metadata_names) {
  json md = json::object();
  Validator v(md);
  if (!input.is_object()) {
    return v.Fail("invalid_client_metadata", kJsonNotObject,
                  "The value of the 'json' request parameter is not a JSON object.");
  }

  // 1. Keep what is known (type-checked) or a listed custom name; drop the rest.
  const auto& known = KnownNames();
  const std::set<std::string> custom(custom_metadata_names.begin(), custom_metadata_names.end());
  for (auto it = input.begin(); it != input.end(); ++it) {
    const std::string& name = it.key();
    if (IsResponseOnlyName(name)) continue;
    std::string base = TaggedBaseName(name);
    auto k = known.find(base.empty() ? name : base);
    if (k != known.end()) {
      // A null is treated as "not specified", as most JSON serializers emit it.
      if (it->is_null()) continue;
      if (!HasType(*it, k->second)) {
        return v.Fail("invalid_client_metadata", kWrongType,
                      absl::StrCat("The value of '", name, "' must be ",
                                   TypeDescription(k->second), "."));
      }
      md[name] = *it;
    } else if (custom.count(name)) {
      md[name] = *it;  // verbatim, whatever its JSON type
    }
  }

  // 2. Scalars with enumerated values.
  if (auto at = v.String("application_type"); at && *at != "web" && *at != "native") {
    return v.Fail("invalid_client_metadata", kBadApplicationType,
                  absl::StrCat("The application type '", *at,
                               "' is not supported. It must be 'web' or 'native'."));
  }
  if (auto st = v.String("subject_type"); st && *st != "public" && *st != "pairwise") {
    return v.Fail("invalid_client_metadata", kBadSubjectType,
                  absl::StrCat("The subject type '", *st,
                               "' is not supported. It must be 'public' or 'pairwise'."));
  }
  if (md.contains("default_max_age")) {
    const json& age = md["default_max_age"];
    bool ok = age.is_number_unsigned() || (age.is_number_integer() && age.get<int64_t>() >= 0);
    if (!ok) {
      return v.Fail("invalid_client_metadata", kBadDefaultMaxAge,
                    "The value of 'default_max_age' must be a non-negative integer.");
    }
  }
  if (md.contains("jwks")) {
    const json& jwks = md["jwks"];
    auto keys = jwks.find("keys");
    if (keys == jwks.end() || !keys->is_array() ||
        !std::all_of(keys->begin(), keys->end(), [](const json& k) { return k.is_object(); })) {
      return v.Fail("invalid_client_metadata", kBadJwks,
                    "The value of 'jwks' must be a JWK Set: an object with a 'keys' array of "
                    "objects.");
    }
  }

  // 3. URIs. Redirect URIs first: they have their own error code.
  for (const std::string& uri : v.Strings("redirect_uris")) {
    absl::optional<UriParts> parts = ParseAbsoluteUri(uri);
    if (!parts.has_value()) {
      return v.Fail("invalid_redirect_uri", kRedirectUriMalformed,
                    absl::StrCat("The redirect URI '", uri, "' is not a valid absolute URI."));
    }
    if (parts->has_fragment) {
      return v.Fail("invalid_redirect_uri", kRedirectUriFragment,
                    absl::StrCat("The redirect URI '", uri, "' has a fragment component."));
    }
  }
  for (auto it = md.begin(); it != md.end(); ++it) {
    const std::string& name = it.key();
    std::string base = TaggedBaseName(name);
    const std::string& key = base.empty() ? name : base;
    int rule = -1;
    if (key == "logo_uri" || key == "client_uri" || key == "policy_uri" || key == "tos_uri" ||
        key == "jwks_uri" || key == "signed_jwks_uri" || key == "backchannel_logout_uri" ||
        key == "spiffe_bundle_endpoint" || key == "request_uris") {
      rule = 1;
    } else if (key == "sector_identifier_uri" ||
               key == "backchannel_client_notification_endpoint") {
      rule = 2;
    } else if (key == "credential_offer_endpoint" || key == "tls_client_auth_san_uri" ||
               key == "spiffe_id") {
      rule = 0;
    } else if (key == "initiate_login_uri") {
      if (!UriOk(it->get<std::string>(), 0)) {
        return v.Fail("invalid_client_metadata", kMalformedUri,
                      absl::StrCat("The value of '", name, "' is not a valid absolute URI."));
      }
      if (!UriOk(it->get<std::string>(), 2)) {
        return v.Fail("invalid_client_metadata", kInitiateLoginUriNotHttps,
                      "The value of 'initiate_login_uri' must use the https scheme.");
      }
      continue;
    }
    if (rule < 0) continue;
    std::vector<std::string> values;
    if (it->is_array()) {
      for (const json& e : *it) values.push_back(e.get<std::string>());
    } else {
      values.push_back(it->get<std::string>());
    }
    for (const std::string& value : values) {
      if (!UriOk(value, rule)) {
        return v.Fail("invalid_client_metadata", kMalformedUri,
                      absl::StrCat("The value '", value, "' of '", name, "' is not a valid ",
                                   rule == 2 ? "https" : rule == 1 ? "http or https" : "absolute",
                                   " URI."));
      }
    }
  }

  // 4. Grant types and response types (RFC 7591 §2.1), with the defaults.
  std::vector<std::string> grants = v.Strings("grant_types");
  std::vector<std::string> responses = v.Strings("response_types");
  for (const std::string& g : grants) {
    if (!SupportedGrantTypes().count(g)) {
      return v.Fail("invalid_client_metadata", kUnsupportedGrantType,
                    absl::StrCat("The grant type '", g, "' is not supported."));
    }
  }
  // Each response type is a space-separated set of code/token/id_token, or "none".
  bool any_code = false, any_implicit = false;
  for (const std::string& r : responses) {
    std::vector<std::string> parts = absl::StrSplit(r, ' ');
    std::set<std::string> seen;
    bool ok = !parts.empty();
    for (const std::string& p : parts) {
      bool valid = p == "code" || p == "token" || p == "id_token" || (p == "none" && parts.size() == 1);
      ok = ok && valid && seen.insert(p).second;
    }
    if (!ok) {
      return v.Fail("invalid_client_metadata", kUnsupportedResponseType,
                    absl::StrCat("The response type '", r, "' is not supported."));
    }
    bool code = seen.count("code") > 0;
    bool implicit = seen.count("token") > 0 || seen.count("id_token") > 0;
    any_code = any_code || code || seen.count("none");
    any_implicit = any_implicit || implicit;
  }
  if (!md.contains("grant_types")) {
    // Derived from the response types; "authorization_code" when both are absent.
    json derived = json::array();
    bool need_code = responses.empty() || any_code;
    if (need_code) derived.push_back("authorization_code");
    if (any_implicit) derived.push_back("implicit");
    md["grant_types"] = derived;
    grants = v.Strings("grant_types");
  }
  auto has_grant = [&](const char* g) {
    return std::find(grants.begin(), grants.end(), g) != grants.end();
  };
  if (!md.contains("response_types")) {
    json derived = json::array();
    if (has_grant("authorization_code")) {
      derived.push_back("code");
      any_code = true;
    }
    md["response_types"] = derived;
    responses = v.Strings("response_types");
  }
  for (const std::string& r : responses) {
    std::vector<std::string> parts = absl::StrSplit(r, ' ');
    for (const std::string& p : parts) {
      const char* needed = p == "code" ? "authorization_code"
                           : (p == "token" || p == "id_token") ? "implicit"
                                                               : nullptr;
      if (needed != nullptr && !has_grant(needed)) {
        return v.Fail("invalid_client_metadata", kResponseTypeNeedsGrantType,
                      absl::StrCat("The response type '", r, "' requires the grant type '",
                                   needed, "'."));
      }
    }
  }
  if (has_grant("authorization_code") && !any_code) {
    return v.Fail("invalid_client_metadata", kGrantTypeNeedsResponseType,
                  "The grant type 'authorization_code' requires a response type containing "
                  "'code'.");
  }
  if (has_grant("implicit") && !any_implicit) {
    return v.Fail("invalid_client_metadata", kGrantTypeNeedsResponseType,
                  "The grant type 'implicit' requires a response type containing 'token' or "
                  "'id_token'.");
  }
  if ((has_grant("authorization_code") || has_grant("implicit")) &&
      v.Strings("redirect_uris").empty()) {
    return v.Fail("invalid_redirect_uri", kRedirectUriMissing,
                  "'redirect_uris' is required when the grant types include "
                  "'authorization_code' or 'implicit'.");
  }

  // 5. Client authentication and key material.
  std::string method = v.String("token_endpoint_auth_method").value_or("client_secret_basic");
  if (!SupportedAuthMethods().count(method)) {
    return v.Fail("invalid_client_metadata", kUnsupportedAuthMethod,
                  absl::StrCat("The token endpoint authentication method '", method,
                               "' is not supported."));
  }
  if (v.Has("jwks") && v.Has("jwks_uri")) {
    return v.Fail("invalid_client_metadata", kJwksAndJwksUri,
                  "'jwks' and 'jwks_uri' must not be used together.");
  }
  if ((method == "private_key_jwt" || method == "self_signed_tls_client_auth") &&
      !v.Has("jwks") && !v.Has("jwks_uri")) {
    return v.Fail("invalid_client_metadata", kKeyMaterialMissing,
                  absl::StrCat("The token endpoint authentication method '", method,
                               "' requires 'jwks' or 'jwks_uri'."));
  }
  if (method == "tls_client_auth") {
    int subjects = 0;
    for (const char* n : {"tls_client_auth_subject_dn", "tls_client_auth_san_dns",
                          "tls_client_auth_san_uri", "tls_client_auth_san_ip",
                          "tls_client_auth_san_email"}) {
      subjects += v.Has(n) ? 1 : 0;
    }
    if (subjects != 1) {
      return v.Fail("invalid_client_metadata", kTlsClientAuthSubject,
                    "The token endpoint authentication method 'tls_client_auth' requires "
                    "exactly one of the tls_client_auth_subject_dn / tls_client_auth_san_* "
                    "metadata.");
    }
  }

  // 6. CIBA.
  if (auto mode = v.String("backchannel_token_delivery_mode")) {
    if (*mode != "poll" && *mode != "ping" && *mode != "push") {
      return v.Fail("invalid_client_metadata", kBadBackchannelDeliveryMode,
                    absl::StrCat("The backchannel token delivery mode '", *mode,
                                 "' is not supported. It must be 'poll', 'ping' or 'push'."));
    }
    if (*mode != "poll" && !v.Has("backchannel_client_notification_endpoint")) {
      return v.Fail("invalid_client_metadata", kBackchannelEndpointMissing,
                    absl::StrCat("The backchannel token delivery mode '", *mode,
                                 "' requires 'backchannel_client_notification_endpoint'."));
    }
  }

  // 7. Authlete's defaults (contract §5).
  const std::pair<const char*, json> kDefaults[] = {
      {"token_endpoint_auth_method", "client_secret_basic"},
      {"subject_type", "public"},
      {"id_token_signed_response_alg", "RS256"},
      {"default_max_age", 0},
      {"require_pushed_authorization_requests", false},
      {"require_signed_request_object", false},
      {"tls_client_certificate_bound_access_tokens", false},
      {"backchannel_user_code_parameter", false},
      {"application_type", "web"},
  };
  for (const auto& [name, value] : kDefaults) {
    if (!md.contains(name)) md[name] = value;
  }

  ValidationResult result;
  result.ok = true;
  result.metadata = std::move(md);
  return result;
}

}  // namespace dcr::emulator
