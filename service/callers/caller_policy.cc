#include "service/callers/caller_policy.h"

#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace dcr::callers {
namespace {

using nlohmann::json;
using api::Operation;

absl::Status Bad(const std::string& where, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("callers file: ", where, ": ", why));
}

absl::StatusOr<std::vector<std::string>> StringList(const json& entry, const char* key,
                                                     const std::string& where) {
  std::vector<std::string> out;
  auto it = entry.find(key);
  if (it == entry.end()) return out;
  if (!it->is_array()) return Bad(where, absl::StrCat("\"", key, "\" must be an array of strings"));
  for (const json& item : *it) {
    if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
      return Bad(where, absl::StrCat("\"", key, "\" must hold non-empty strings"));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::StatusOr<Allowed> AllowedSet(const json& entry, const char* key, const std::string& where) {
  absl::StatusOr<std::vector<std::string>> list = StringList(entry, key, where);
  if (!list.ok()) return list.status();
  Allowed allowed;
  for (std::string& value : *list) {
    if (value == "*") {
      allowed.any = true;
    } else {
      allowed.values.insert(std::move(value));
    }
  }
  if (allowed.any && !allowed.values.empty()) {
    return Bad(where, absl::StrCat("\"", key, "\": \"*\" cannot be combined with values"));
  }
  return allowed;
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        !absl::StrContains("-_.:/@", c)) {
      return false;
    }
  }
  return true;
}

// "redirect_uri_patterns" and "grant_types", shared by a caller entry and
// the public registration policy. An absent key leaves `policy` as it was.
absl::Status ParseRegistrationRules(const json& entry, const std::string& where,
                                    CallerPolicy& policy) {
  // A caller entry without the key allows nothing; the public policy keeps
  // its default: both start from `policy` as the caller made it.
  if (entry.contains("redirect_uri_patterns")) {
    absl::StatusOr<std::vector<std::string>> patterns =
        StringList(entry, "redirect_uri_patterns", where);
    if (!patterns.ok()) return patterns.status();
    policy.any_redirect_uri = false;
    policy.redirect_uri_patterns.clear();
    for (const std::string& text : *patterns) {
      if (text == "*") {
        policy.any_redirect_uri = true;
        continue;
      }
      absl::StatusOr<RedirectUriPattern> pattern = RedirectUriPattern::Parse(text);
      if (!pattern.ok()) return Bad(where, pattern.status().message());
      policy.redirect_uri_patterns.push_back(*std::move(pattern));
    }
    if (policy.any_redirect_uri && !policy.redirect_uri_patterns.empty()) {
      return Bad(where, "\"redirect_uri_patterns\": \"*\" cannot be combined with patterns");
    }
  }
  if (entry.contains("grant_types")) {
    absl::StatusOr<Allowed> grants = AllowedSet(entry, "grant_types", where);
    if (!grants.ok()) return grants.status();
    policy.grant_types = *std::move(grants);
  }
  return absl::OkStatus();
}

absl::StatusOr<CallerPolicy> ParseCaller(const json& entry, std::size_t index) {
  std::string where = absl::StrCat("callers[", index, "]");
  if (!entry.is_object()) return Bad(where, "must be an object");
  static const absl::flat_hash_set<std::string> kKeys = {
      "name", "api_key_sha256", "certificate_identities", "rpcs", "service_ids",
      "redirect_uri_patterns", "grant_types", "rate_limit", "max_in_flight"};
  for (const auto& [key, value] : entry.items()) {
    if (!kKeys.contains(key)) return Bad(where, absl::StrCat("unknown key \"", key, "\""));
  }
  CallerPolicy policy;
  auto name = entry.find("name");
  if (name == entry.end() || !name->is_string() || !ValidName(name->get<std::string>())) {
    return Bad(where, "\"name\" must be 1-128 characters of [A-Za-z0-9-_.:/@]");
  }
  policy.name = name->get<std::string>();
  where = absl::StrCat(where, " (", policy.name, ")");

  absl::StatusOr<std::vector<std::string>> hashes = StringList(entry, "api_key_sha256", where);
  if (!hashes.ok()) return hashes.status();
  for (const std::string& hex : *hashes) {
    if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c));
        })) {
      return Bad(where, "\"api_key_sha256\" entries must be 64 hex digits (sha256sum of the key)");
    }
    const std::string bytes = absl::HexStringToBytes(hex);
    Sha256 digest;
    std::copy(bytes.begin(), bytes.end(), digest.begin());
    policy.api_key_sha256.push_back(digest);
  }
  absl::StatusOr<std::vector<std::string>> identities =
      StringList(entry, "certificate_identities", where);
  if (!identities.ok()) return identities.status();
  policy.certificate_identities = *std::move(identities);
  if (policy.api_key_sha256.empty() && policy.certificate_identities.empty()) {
    return Bad(where, "needs \"api_key_sha256\" or \"certificate_identities\" to be recognised");
  }

  absl::StatusOr<std::vector<std::string>> rpcs = StringList(entry, "rpcs", where);
  if (!rpcs.ok()) return rpcs.status();
  for (const std::string& rpc : *rpcs) {
    if (rpc == "*") {
      // Not the administrative RPCs: reaching every client of a service
      // must be granted by name.
      for (Operation op : api::kOperations) {
        if (!api::Traits(op).administrative) policy.rpcs[api::Index(op)] = true;
      }
    } else if (absl::optional<Operation> op = api::OperationNamed(rpc)) {
      policy.rpcs[api::Index(*op)] = true;
    } else {
      std::string names;
      for (Operation known : api::kOperations) {
        if (api::IsRpc(known)) absl::StrAppend(&names, api::Name(known), ", ");
      }
      return Bad(where, absl::StrCat("unknown RPC \"", rpc, "\" (", names, "or *)"));
    }
  }
  absl::StatusOr<Allowed> services = AllowedSet(entry, "service_ids", where);
  if (!services.ok()) return services.status();
  for (const std::string& id : services->values) {
    if (id.empty() || id.size() > 32 || !std::all_of(id.begin(), id.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return Bad(where, absl::StrCat("service id \"", id, "\" is not a numeric API key"));
    }
  }
  policy.service_ids = *std::move(services);
  if (absl::Status rules = ParseRegistrationRules(entry, where, policy); !rules.ok()) {
    return rules;
  }

  if (auto it = entry.find("rate_limit"); it != entry.end()) {
    const json& limit = *it;
    if (!limit.is_object()) return Bad(where, "\"rate_limit\" must be an object");
    for (const auto& [key, value] : limit.items()) {
      if (key != "requests_per_second" && key != "burst") {
        return Bad(where, absl::StrCat("\"rate_limit\": unknown key \"", key, "\""));
      }
    }
    auto rps = limit.find("requests_per_second");
    if (rps == limit.end() || !rps->is_number() || rps->get<double>() <= 0 ||
        rps->get<double>() > 1e6) {
      return Bad(where, "\"rate_limit.requests_per_second\" must be a number in (0, 1e6]");
    }
    RateLimit rate{rps->get<double>(), std::max(1.0, rps->get<double>())};
    if (auto burst = limit.find("burst"); burst != limit.end()) {
      if (!burst->is_number() || burst->get<double>() < 1 || burst->get<double>() > 1e6) {
        return Bad(where, "\"rate_limit.burst\" must be a number in [1, 1e6]");
      }
      rate.burst = burst->get<double>();
    }
    policy.rate_limit = rate;
  }
  if (auto it = entry.find("max_in_flight"); it != entry.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 1000000) {
      return Bad(where, "\"max_in_flight\" must be an integer in [1, 1000000]");
    }
    policy.max_in_flight = it->get<int64_t>();
  }
  return policy;
}

}  // namespace

bool CallerPolicy::MayUseRedirectUri(absl::string_view uri) const {
  if (any_redirect_uri) return true;
  for (const RedirectUriPattern& pattern : redirect_uri_patterns) {
    if (pattern.Matches(uri)) return true;
  }
  return false;
}

PublicRegistrationPolicy DefaultPublicPolicy() {
  PublicRegistrationPolicy policy;
  policy.rules.name = "public";
  for (Operation op : {Operation::kRegister, Operation::kGet, Operation::kUpdate,
                       Operation::kDelete}) {
    policy.rules.rpcs[api::Index(op)] = true;
  }
  policy.rules.any_redirect_uri = true;  // HTTPS still required (or native loopback)
  policy.rules.grant_types.values = {"authorization_code", "refresh_token"};
  policy.token_endpoint_auth_methods.values = {"none", "client_secret_basic",
                                               "client_secret_post", "private_key_jwt"};
  return policy;
}

absl::StatusOr<PublicRegistrationPolicy> ParsePublicPolicy(absl::string_view text) {
  const std::string where = "public registration policy";
  const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": must be a JSON object"));
  }
  static const absl::flat_hash_set<std::string> kKeys = {
      "redirect_uri_patterns", "grant_types", "token_endpoint_auth_methods", "native_loopback",
      "max_redirect_uris", "max_redirect_uri_length"};
  for (const auto& [key, value] : doc.items()) {
    if (!kKeys.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key \"", key, "\""));
    }
  }
  PublicRegistrationPolicy policy = DefaultPublicPolicy();
  // The shared helpers speak of the callers file; this is another file.
  auto retitled = [](const absl::Status& status) {
    return absl::InvalidArgumentError(absl::StripPrefix(status.message(), "callers file: "));
  };
  if (absl::Status rules = ParseRegistrationRules(doc, where, policy.rules); !rules.ok()) {
    return retitled(rules);
  }
  if (doc.contains("token_endpoint_auth_methods")) {
    absl::StatusOr<Allowed> methods = AllowedSet(doc, "token_endpoint_auth_methods", where);
    if (!methods.ok()) return retitled(methods.status());
    policy.token_endpoint_auth_methods = *std::move(methods);
  }
  if (auto it = doc.find("native_loopback"); it != doc.end()) {
    if (!it->is_boolean()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": \"native_loopback\" is a bool"));
    }
    policy.native_loopback = it->get<bool>();
  }
  for (auto [key, slot, most] : {std::make_tuple("max_redirect_uris", &policy.max_redirect_uris, 100),
                                 std::make_tuple("max_redirect_uri_length",
                                                 &policy.max_redirect_uri_length, 8192)}) {
    auto it = doc.find(key);
    if (it == doc.end()) continue;
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > most) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", key, "\" must be an integer in [1, ", most, "]"));
    }
    *slot = static_cast<int>(it->get<int64_t>());
  }
  return policy;
}

absl::StatusOr<PublicRegistrationPolicy> LoadPublicPolicyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read public registration policy ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<PublicRegistrationPolicy> policy = ParsePublicPolicy(text.str());
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        absl::StrCat(path, ": ", policy.status().message()));
  }
  return policy;
}

Sha256 HashApiKey(absl::string_view key) {
  Sha256 digest;
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest.data());
  return digest;
}

std::string HashApiKeyHex(absl::string_view key) {
  const Sha256 digest = HashApiKey(key);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::StatusOr<std::vector<CallerPolicy>> ParseCallersFile(absl::string_view text) {
  const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("callers file: not valid JSON");
  if (!doc.is_object() || doc.size() != 1 || !doc.contains("callers") ||
      !doc["callers"].is_array()) {
    return absl::InvalidArgumentError(
        "callers file: must be an object with one key, \"callers\", an array");
  }
  std::vector<CallerPolicy> callers;
  absl::flat_hash_set<std::string> names, identities;
  absl::flat_hash_set<std::string> hashes;
  for (std::size_t i = 0; i < doc["callers"].size(); ++i) {
    absl::StatusOr<CallerPolicy> caller = ParseCaller(doc["callers"][i], i);
    if (!caller.ok()) return caller.status();
    if (!names.insert(caller->name).second) {
      return Bad(caller->name, "the name is used twice");
    }
    for (const Sha256& h : caller->api_key_sha256) {
      if (!hashes.insert(std::string(h.begin(), h.end())).second) {
        return Bad(caller->name, "an API key hash is used twice");
      }
    }
    for (const std::string& id : caller->certificate_identities) {
      if (!identities.insert(id).second) {
        return Bad(caller->name, absl::StrCat("certificate identity \"", id, "\" is used twice"));
      }
    }
    callers.push_back(*std::move(caller));
  }
  return callers;
}

absl::StatusOr<std::vector<CallerPolicy>> LoadCallersFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read callers file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<CallerPolicy>> callers = ParseCallersFile(text.str());
  if (!callers.ok()) {
    return absl::Status(callers.status().code(),
                        absl::StrCat(path, ": ", callers.status().message()));
  }
  return callers;
}

}  // namespace dcr::callers
