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

// A step's outcome: nullopt when the metadata passed it.
using StepError = absl::optional<ValidationError>;

StepError Error(std::string error, int code, std::string description) {
  return ValidationError{std::move(error), code, std::move(description)};
}

// The strings of an array-valued name; empty when absent.
std::vector<std::string> Strings(const json& md, const char* name) {
  std::vector<std::string> out;
  auto it = md.find(name);
  if (it == md.end()) return out;
  for (const json& e : *it) out.push_back(e.get<std::string>());
  return out;
}

absl::optional<std::string> String(const json& md, const std::string& name) {
  auto it = md.find(name);
  if (it == md.end()) return absl::nullopt;
  return it->get<std::string>();
}

// Which URIs a URI-valued name accepts.
enum class UriRule { kNotUri, kAbsolute, kHttpOrHttps, kHttps, kInitiateLogin };

UriRule UriRuleFor(const std::string& key) {
  if (key == "logo_uri" || key == "client_uri" || key == "policy_uri" || key == "tos_uri" ||
      key == "jwks_uri" || key == "signed_jwks_uri" || key == "backchannel_logout_uri" ||
      key == "spiffe_bundle_endpoint" || key == "request_uris") {
    return UriRule::kHttpOrHttps;
  }
  if (key == "sector_identifier_uri" || key == "backchannel_client_notification_endpoint") {
    return UriRule::kHttps;
  }
  if (key == "credential_offer_endpoint" || key == "tls_client_auth_san_uri" ||
      key == "spiffe_id") {
    return UriRule::kAbsolute;
  }
  // Its own error codes: malformed, then not https.
  if (key == "initiate_login_uri") return UriRule::kInitiateLogin;
  return UriRule::kNotUri;
}

// Checks a URI-valued metadata value against kAbsolute, kHttpOrHttps or kHttps.
bool UriOk(absl::string_view value, UriRule rule) {
  absl::optional<UriParts> uri = ParseAbsoluteUri(value);
  if (!uri.has_value()) return false;
  if (rule == UriRule::kHttpOrHttps) return uri->scheme == "http" || uri->scheme == "https";
  if (rule == UriRule::kHttps) return uri->scheme == "https";
  return true;
}

const char* UriRuleDescription(UriRule rule) {
  switch (rule) {
    case UriRule::kHttps: return "https";
    case UriRule::kHttpOrHttps: return "http or https";
    default: return "absolute";
  }
}

// Step 1. Keeps what is known (type-checked) or a listed custom name; drops the rest.
StepError KeepKnownNames(const json& input, const std::vector<std::string>& custom_metadata_names,
                         json* md) {
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
        return Error("invalid_client_metadata", kWrongType,
                     absl::StrCat("The value of '", name, "' must be ",
                                  TypeDescription(k->second), "."));
      }
      (*md)[name] = *it;
    } else if (custom.count(name)) {
      (*md)[name] = *it;  // verbatim, whatever its JSON type
    }
  }
  return absl::nullopt;
}

// Step 2. Scalars with enumerated values, and the shape of default_max_age and jwks.
StepError CheckScalars(const json& md) {
  if (auto at = String(md, "application_type"); at && *at != "web" && *at != "native") {
    return Error("invalid_client_metadata", kBadApplicationType,
                 absl::StrCat("The application type '", *at,
                              "' is not supported. It must be 'web' or 'native'."));
  }
  if (auto st = String(md, "subject_type"); st && *st != "public" && *st != "pairwise") {
    return Error("invalid_client_metadata", kBadSubjectType,
                 absl::StrCat("The subject type '", *st,
                              "' is not supported. It must be 'public' or 'pairwise'."));
  }
  if (auto age = md.find("default_max_age"); age != md.end()) {
    bool ok = age->is_number_unsigned() || (age->is_number_integer() && age->get<int64_t>() >= 0);
    if (!ok) {
      return Error("invalid_client_metadata", kBadDefaultMaxAge,
                   "The value of 'default_max_age' must be a non-negative integer.");
    }
  }
  if (auto jwks = md.find("jwks"); jwks != md.end()) {
    auto keys = jwks->find("keys");
    if (keys == jwks->end() || !keys->is_array() ||
        !std::all_of(keys->begin(), keys->end(), [](const json& k) { return k.is_object(); })) {
      return Error("invalid_client_metadata", kBadJwks,
                   "The value of 'jwks' must be a JWK Set: an object with a 'keys' array of "
                   "objects.");
    }
  }
  return absl::nullopt;
}

// Step 3a. Redirect URIs come first: they have their own error code.
StepError CheckRedirectUris(const json& md) {
  for (const std::string& uri : Strings(md, "redirect_uris")) {
    absl::optional<UriParts> parts = ParseAbsoluteUri(uri);
    if (!parts.has_value()) {
      return Error("invalid_redirect_uri", kRedirectUriMalformed,
                   absl::StrCat("The redirect URI '", uri, "' is not a valid absolute URI."));
    }
    if (parts->has_fragment) {
      return Error("invalid_redirect_uri", kRedirectUriFragment,
                   absl::StrCat("The redirect URI '", uri, "' has a fragment component."));
    }
  }
  return absl::nullopt;
}

StepError CheckInitiateLoginUri(const std::string& name, const std::string& value) {
  if (!UriOk(value, UriRule::kAbsolute)) {
    return Error("invalid_client_metadata", kMalformedUri,
                 absl::StrCat("The value of '", name, "' is not a valid absolute URI."));
  }
  if (!UriOk(value, UriRule::kHttps)) {
    return Error("invalid_client_metadata", kInitiateLoginUriNotHttps,
                 "The value of 'initiate_login_uri' must use the https scheme.");
  }
  return absl::nullopt;
}

// Step 3b. Every other URI-valued name (tagged forms included), one value or an array.
StepError CheckOtherUris(const json& md) {
  for (auto it = md.begin(); it != md.end(); ++it) {
    const std::string& name = it.key();
    std::string base = TaggedBaseName(name);
    UriRule rule = UriRuleFor(base.empty() ? name : base);
    if (rule == UriRule::kNotUri) continue;
    if (rule == UriRule::kInitiateLogin) {
      if (StepError e = CheckInitiateLoginUri(name, it->get<std::string>())) return e;
      continue;
    }
    std::vector<std::string> values;
    if (it->is_array()) {
      for (const json& e : *it) values.push_back(e.get<std::string>());
    } else {
      values.push_back(it->get<std::string>());
    }
    for (const std::string& value : values) {
      if (!UriOk(value, rule)) {
        return Error("invalid_client_metadata", kMalformedUri,
                     absl::StrCat("The value '", value, "' of '", name, "' is not a valid ",
                                  UriRuleDescription(rule), " URI."));
      }
    }
  }
  return absl::nullopt;
}

// What the response types ask for, gathered while checking them.
struct ResponseTypeUse {
  bool any_code = false;      // "code" or "none" in some response type
  bool any_implicit = false;  // "token" or "id_token" in some response type
};

StepError CheckGrantTypesSupported(const std::vector<std::string>& grants) {
  for (const std::string& g : grants) {
    if (!SupportedGrantTypes().count(g)) {
      return Error("invalid_client_metadata", kUnsupportedGrantType,
                   absl::StrCat("The grant type '", g, "' is not supported."));
    }
  }
  return absl::nullopt;
}

// Each response type is a space-separated set of code/token/id_token, or "none".
StepError CheckResponseTypesSupported(const std::vector<std::string>& responses,
                                      ResponseTypeUse* use) {
  for (const std::string& r : responses) {
    std::vector<std::string> parts = absl::StrSplit(r, ' ');
    std::set<std::string> seen;
    bool ok = !parts.empty();
    for (const std::string& p : parts) {
      bool valid = p == "code" || p == "token" || p == "id_token" || (p == "none" && parts.size() == 1);
      ok = ok && valid && seen.insert(p).second;
    }
    if (!ok) {
      return Error("invalid_client_metadata", kUnsupportedResponseType,
                   absl::StrCat("The response type '", r, "' is not supported."));
    }
    bool code = seen.count("code") > 0;
    bool implicit = seen.count("token") > 0 || seen.count("id_token") > 0;
    use->any_code = use->any_code || code || seen.count("none");
    use->any_implicit = use->any_implicit || implicit;
  }
  return absl::nullopt;
}

bool HasGrant(const std::vector<std::string>& grants, const char* grant) {
  return std::find(grants.begin(), grants.end(), grant) != grants.end();
}

// RFC 7591 §2.1 defaults: grant types derived from the response types
// ("authorization_code" when both are absent), then response types from the grants.
void DeriveMissingTypes(json* md, ResponseTypeUse* use) {
  if (!md->contains("grant_types")) {
    json derived = json::array();
    bool need_code = Strings(*md, "response_types").empty() || use->any_code;
    if (need_code) derived.push_back("authorization_code");
    if (use->any_implicit) derived.push_back("implicit");
    (*md)["grant_types"] = derived;
  }
  if (!md->contains("response_types")) {
    json derived = json::array();
    if (HasGrant(Strings(*md, "grant_types"), "authorization_code")) {
      derived.push_back("code");
      use->any_code = true;
    }
    (*md)["response_types"] = derived;
  }
}

// Every response type's parts need their grant type.
StepError CheckResponseTypesHaveGrants(const std::vector<std::string>& responses,
                                       const std::vector<std::string>& grants) {
  for (const std::string& r : responses) {
    std::vector<std::string> parts = absl::StrSplit(r, ' ');
    for (const std::string& p : parts) {
      const char* needed = p == "code" ? "authorization_code"
                           : (p == "token" || p == "id_token") ? "implicit"
                                                               : nullptr;
      if (needed != nullptr && !HasGrant(grants, needed)) {
        return Error("invalid_client_metadata", kResponseTypeNeedsGrantType,
                     absl::StrCat("The response type '", r, "' requires the grant type '",
                                  needed, "'."));
      }
    }
  }
  return absl::nullopt;
}

// The grant types that need a response type, and a redirect URI.
StepError CheckGrantsHaveResponseTypes(const json& md, const std::vector<std::string>& grants,
                                       const ResponseTypeUse& use) {
  if (HasGrant(grants, "authorization_code") && !use.any_code) {
    return Error("invalid_client_metadata", kGrantTypeNeedsResponseType,
                 "The grant type 'authorization_code' requires a response type containing "
                 "'code'.");
  }
  if (HasGrant(grants, "implicit") && !use.any_implicit) {
    return Error("invalid_client_metadata", kGrantTypeNeedsResponseType,
                 "The grant type 'implicit' requires a response type containing 'token' or "
                 "'id_token'.");
  }
  if ((HasGrant(grants, "authorization_code") || HasGrant(grants, "implicit")) &&
      Strings(md, "redirect_uris").empty()) {
    return Error("invalid_redirect_uri", kRedirectUriMissing,
                 "'redirect_uris' is required when the grant types include "
                 "'authorization_code' or 'implicit'.");
  }
  return absl::nullopt;
}

// Step 4. Grant types and response types (RFC 7591 §2.1), with the defaults filled in.
StepError CheckGrantAndResponseTypes(json* md) {
  if (StepError e = CheckGrantTypesSupported(Strings(*md, "grant_types"))) return e;
  ResponseTypeUse use;
  if (StepError e = CheckResponseTypesSupported(Strings(*md, "response_types"), &use)) return e;
  DeriveMissingTypes(md, &use);
  const std::vector<std::string> grants = Strings(*md, "grant_types");
  const std::vector<std::string> responses = Strings(*md, "response_types");
  if (StepError e = CheckResponseTypesHaveGrants(responses, grants)) return e;
  return CheckGrantsHaveResponseTypes(*md, grants, use);
}

// tls_client_auth names the certificate's subject by exactly one of these.
StepError CheckTlsClientAuthSubject(const json& md) {
  int subjects = 0;
  for (const char* n : {"tls_client_auth_subject_dn", "tls_client_auth_san_dns",
                        "tls_client_auth_san_uri", "tls_client_auth_san_ip",
                        "tls_client_auth_san_email"}) {
    subjects += md.contains(n) ? 1 : 0;
  }
  if (subjects != 1) {
    return Error("invalid_client_metadata", kTlsClientAuthSubject,
                 "The token endpoint authentication method 'tls_client_auth' requires "
                 "exactly one of the tls_client_auth_subject_dn / tls_client_auth_san_* "
                 "metadata.");
  }
  return absl::nullopt;
}

// Step 5. Client authentication and key material.
StepError CheckClientAuthentication(const json& md) {
  std::string method = String(md, "token_endpoint_auth_method").value_or("client_secret_basic");
  if (!SupportedAuthMethods().count(method)) {
    return Error("invalid_client_metadata", kUnsupportedAuthMethod,
                 absl::StrCat("The token endpoint authentication method '", method,
                              "' is not supported."));
  }
  const bool has_jwks = md.contains("jwks"), has_jwks_uri = md.contains("jwks_uri");
  if (has_jwks && has_jwks_uri) {
    return Error("invalid_client_metadata", kJwksAndJwksUri,
                 "'jwks' and 'jwks_uri' must not be used together.");
  }
  if ((method == "private_key_jwt" || method == "self_signed_tls_client_auth") && !has_jwks &&
      !has_jwks_uri) {
    return Error("invalid_client_metadata", kKeyMaterialMissing,
                 absl::StrCat("The token endpoint authentication method '", method,
                              "' requires 'jwks' or 'jwks_uri'."));
  }
  if (method == "tls_client_auth") return CheckTlsClientAuthSubject(md);
  return absl::nullopt;
}

// Step 6. CIBA: a known delivery mode, and an endpoint unless it is poll.
StepError CheckCiba(const json& md) {
  absl::optional<std::string> mode = String(md, "backchannel_token_delivery_mode");
  if (!mode) return absl::nullopt;
  if (*mode != "poll" && *mode != "ping" && *mode != "push") {
    return Error("invalid_client_metadata", kBadBackchannelDeliveryMode,
                 absl::StrCat("The backchannel token delivery mode '", *mode,
                              "' is not supported. It must be 'poll', 'ping' or 'push'."));
  }
  if (*mode != "poll" && !md.contains("backchannel_client_notification_endpoint")) {
    return Error("invalid_client_metadata", kBackchannelEndpointMissing,
                 absl::StrCat("The backchannel token delivery mode '", *mode,
                              "' requires 'backchannel_client_notification_endpoint'."));
  }
  return absl::nullopt;
}

// Step 7. Authlete's defaults (contract §5) for what the client left out.
void FillDefaults(json* md) {
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
    if (!md->contains(name)) (*md)[name] = value;
  }
}

ValidationResult Failure(ValidationError error) {
  ValidationResult r;
  r.ok = false;
  r.error = std::move(error);
  return r;
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
  if (!input.is_object()) {
    return Failure(*Error("invalid_client_metadata", kJsonNotObject,
                          "The value of the 'json' request parameter is not a JSON object."));
  }
  // The steps run in this order, so that a request with several faults
  // always gets the same (first) error.
  json md = json::object();
  StepError error = KeepKnownNames(input, custom_metadata_names, &md);
  if (!error) error = CheckScalars(md);
  if (!error) error = CheckRedirectUris(md);
  if (!error) error = CheckOtherUris(md);
  if (!error) error = CheckGrantAndResponseTypes(&md);
  if (!error) error = CheckClientAuthentication(md);
  if (!error) error = CheckCiba(md);
  if (error) return Failure(*std::move(error));
  FillDefaults(&md);

  ValidationResult result;
  result.ok = true;
  result.metadata = std::move(md);
  return result;
}

}  // namespace dcr::emulator
