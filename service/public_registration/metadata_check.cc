#include "service/public_registration/metadata_check.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace dcr::public_registration {
namespace {

using nlohmann::json;

MetadataRefusal BadMetadata(std::string why) { return {"invalid_client_metadata", std::move(why)}; }
MetadataRefusal BadRedirect(std::string why) { return {"invalid_redirect_uri", std::move(why)}; }

// Control characters and spaces never belong in a redirect URI, and are
// where a log line or a comparison could be fooled.
bool HasControlOrSpace(absl::string_view uri) {
  for (unsigned char c : uri) {
    if (c <= 0x20 || c == 0x7f) return true;
  }
  return false;
}

// "com.example.app:/callback": a scheme of RFC 3986 characters with a dot.
bool IsPrivateUseScheme(absl::string_view uri) {
  const std::size_t colon = uri.find(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  const absl::string_view scheme = uri.substr(0, colon);
  if (!absl::ascii_isalpha(static_cast<unsigned char>(scheme[0]))) return false;
  for (unsigned char c : scheme) {
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return absl::StrContains(scheme, '.');
}

// The top level of the document, refusing a repeated member (Authlete might
// read the other copy), as CallerGuard does for the callers file's checks.
absl::optional<json> ParseObject(absl::string_view text, bool* duplicate) {
  absl::flat_hash_set<std::string> keys;
  json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string() &&
        !keys.insert(parsed.get<std::string>()).second) {
      *duplicate = true;
    }
    return true;
  };
  json doc = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return absl::nullopt;
  return doc;
}

absl::optional<MetadataRefusal> CheckRedirectUri(const callers::PublicRegistrationPolicy& policy,
                                                 bool native, const std::string& uri) {
  const std::size_t shown = 128;  // how much of a refused URI the answer repeats
  const std::string quoted = uri.substr(0, shown);
  if (uri.size() > static_cast<std::size_t>(policy.max_redirect_uri_length)) {
    return BadRedirect(absl::StrCat("a redirect URI is longer than ",
                                    policy.max_redirect_uri_length, " bytes"));
  }
  if (uri.empty() || HasControlOrSpace(uri) || absl::StrContains(uri, '#')) {
    return BadRedirect("a redirect URI must be absolute, without spaces or a fragment");
  }
  if (IsLoopbackRedirectUri(uri)) {
    if (native && policy.native_loopback) return absl::nullopt;
    if (!native) {
      return BadRedirect(absl::StrCat("web clients must use https redirect URIs: ", quoted));
    }
    return BadRedirect("loopback redirect URIs are not allowed");
  }
  const bool https = absl::StartsWithIgnoreCase(uri, "https://");
  if (!https) {
    if (!native) {
      return BadRedirect(absl::StrCat("web clients must use https redirect URIs: ", quoted));
    }
    if (!IsPrivateUseScheme(uri)) {
      return BadRedirect(absl::StrCat(
          "native clients use https, a loopback http://127.0.0.1 or http://[::1] URI, or a "
          "private-use scheme with a dot: ",
          quoted));
    }
  }
  if (!policy.rules.MayUseRedirectUri(uri)) {
    return BadRedirect(absl::StrCat("redirect URI not allowed: ", quoted));
  }
  return absl::nullopt;
}

}  // namespace

bool IsLoopbackRedirectUri(absl::string_view uri) {
  absl::string_view rest;
  if (absl::StartsWith(uri, "http://127.0.0.1")) {
    rest = uri.substr(16);
  } else if (absl::StartsWith(uri, "http://[::1]")) {
    rest = uri.substr(12);
  } else {
    return false;
  }
  if (absl::StrContains(uri, '#') || absl::StrContains(uri, '\\') || HasControlOrSpace(uri)) {
    return false;
  }
  if (!rest.empty() && rest.front() == ':') {
    std::size_t digits = 1;
    while (digits < rest.size() && absl::ascii_isdigit(static_cast<unsigned char>(rest[digits]))) {
      ++digits;
    }
    int port = 0;
    if (digits == 1 || digits > 6 || !absl::SimpleAtoi(rest.substr(1, digits - 1), &port) ||
        port < 1 || port > 65535) {
      return false;
    }
    rest = rest.substr(digits);
  }
  // Nothing more, or a path: "http://127.0.0.1.evil.example/" and
  // "http://127.0.0.1@evil.example/" end here.
  if (rest.empty()) return true;
  if (rest.front() != '/') return false;
  return !absl::StrContains(rest, '@');
}

absl::optional<MetadataRefusal> CheckMetadata(const callers::PublicRegistrationPolicy& policy,
                                              absl::string_view text) {
  bool duplicate = false;
  absl::optional<json> doc = ParseObject(text, &duplicate);
  if (!doc.has_value()) return BadMetadata("client metadata must be a JSON object");
  if (duplicate) return BadMetadata("client metadata repeats a member name");

  bool native = false;
  if (auto it = doc->find("application_type"); it != doc->end() && !it->is_null()) {
    if (!it->is_string() || (*it != "web" && *it != "native")) {
      return BadMetadata("application_type must be \"web\" or \"native\"");
    }
    native = *it == "native";
  }
  if (auto it = doc->find("redirect_uris"); it != doc->end() && !it->is_null()) {
    if (!it->is_array()) return BadRedirect("redirect_uris must be an array of strings");
    if (it->size() > static_cast<std::size_t>(policy.max_redirect_uris)) {
      return BadRedirect(
          absl::StrCat("at most ", policy.max_redirect_uris, " redirect URIs may be registered"));
    }
    for (const json& uri : *it) {
      if (!uri.is_string()) return BadRedirect("redirect_uris must be an array of strings");
      if (absl::optional<MetadataRefusal> refused =
              CheckRedirectUri(policy, native, uri.get_ref<const std::string&>())) {
        return refused;
      }
    }
  }
  const callers::Allowed& grants = policy.rules.grant_types;
  if (auto it = doc->find("grant_types"); it != doc->end() && !it->is_null()) {
    if (!it->is_array()) return BadMetadata("grant_types must be an array of strings");
    for (const json& grant : *it) {
      if (!grant.is_string()) return BadMetadata("grant_types must be an array of strings");
      if (!grants.Contains(grant.get<std::string>())) {
        return BadMetadata(absl::StrCat("grant type not allowed: ",
                                        grant.get<std::string>().substr(0, 64)));
      }
    }
  } else if (!grants.Contains("authorization_code")) {
    // RFC 7591 §2: omitted grant_types means ["authorization_code"].
    return BadMetadata("grant type not allowed: authorization_code (the default)");
  }
  std::string method = "client_secret_basic";  // RFC 7591 §2's default
  if (auto it = doc->find("token_endpoint_auth_method"); it != doc->end() && !it->is_null()) {
    if (!it->is_string()) return BadMetadata("token_endpoint_auth_method must be a string");
    method = it->get<std::string>();
  }
  if (!policy.token_endpoint_auth_methods.Contains(method)) {
    return BadMetadata(
        absl::StrCat("token_endpoint_auth_method not allowed: ", method.substr(0, 64)));
  }
  return absl::nullopt;
}

}  // namespace dcr::public_registration
