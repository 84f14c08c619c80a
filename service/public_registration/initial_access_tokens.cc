#include "service/public_registration/initial_access_tokens.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace dcr::public_registration {
namespace {

using nlohmann::json;

absl::Status Bad(std::size_t index, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("initial access tokens file: initial_access_tokens[", index, "]: ", why));
}

}  // namespace

absl::StatusOr<std::vector<InitialAccessTokens::Entry>> InitialAccessTokens::Parse(
    absl::string_view text) {
  const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || doc.size() != 1 ||
      !doc.contains("initial_access_tokens") || !doc["initial_access_tokens"].is_array()) {
    return absl::InvalidArgumentError(
        "initial access tokens file: must be an object with one key, "
        "\"initial_access_tokens\", an array");
  }
  static const absl::flat_hash_set<std::string> kKeys = {"name", "token_sha256", "expires_at",
                                                         "max_uses", "policy"};
  std::vector<Entry> entries;
  absl::flat_hash_set<std::string> names, hashes;
  const json& list = doc["initial_access_tokens"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& item = list[i];
    if (!item.is_object()) return Bad(i, "must be an object");
    for (const auto& [key, value] : item.items()) {
      if (!kKeys.contains(key)) return Bad(i, absl::StrCat("unknown key \"", key, "\""));
    }
    Entry entry;
    auto name = item.find("name");
    if (name == item.end() || !name->is_string() || name->get<std::string>().empty() ||
        name->get<std::string>().size() > 128) {
      return Bad(i, "\"name\" must be a string of 1-128 characters");
    }
    entry.name = name->get<std::string>();
    if (!names.insert(entry.name).second) return Bad(i, "the name is used twice");
    auto hash = item.find("token_sha256");
    if (hash == item.end() || !hash->is_string() || hash->get<std::string>().size() != 64 ||
        !std::all_of(hash->get_ref<const std::string&>().begin(),
                     hash->get_ref<const std::string&>().end(),
                     [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); })) {
      return Bad(i, "\"token_sha256\" must be 64 hex digits (sha256sum of the token)");
    }
    const std::string bytes = absl::HexStringToBytes(hash->get<std::string>());
    if (!hashes.insert(bytes).second) return Bad(i, "a token hash is used twice");
    std::copy(bytes.begin(), bytes.end(), entry.token_sha256.begin());
    auto expires = item.find("expires_at");
    std::string why;
    if (expires == item.end() || !expires->is_string() ||
        !absl::ParseTime(absl::RFC3339_full, expires->get<std::string>(), &entry.expires_at,
                         &why)) {
      return Bad(i, "\"expires_at\" must be an RFC 3339 time (2027-01-01T00:00:00Z)");
    }
    auto uses = item.find("max_uses");
    if (uses == item.end() || !uses->is_number_integer() || uses->get<int64_t>() < 1 ||
        uses->get<int64_t>() > 1000000000) {
      return Bad(i, "\"max_uses\" must be an integer in [1, 1e9]");
    }
    entry.max_uses = uses->get<int64_t>();
    if (auto policy = item.find("policy"); policy != item.end()) {
      absl::StatusOr<callers::PublicRegistrationPolicy> parsed =
          callers::ParsePublicPolicy(policy->dump());
      if (!parsed.ok()) return Bad(i, parsed.status().message());
      entry.policy = *std::move(parsed);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<InitialAccessTokens::Entry>> InitialAccessTokens::Load(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read initial access tokens file ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<Entry>> entries = Parse(text.str());
  if (!entries.ok()) {
    return absl::Status(entries.status().code(),
                        absl::StrCat(path, ": ", entries.status().message()));
  }
  return entries;
}

absl::StatusOr<InitialAccessTokens::Taken> InitialAccessTokens::Take(absl::string_view token,
                                                                     absl::Time now) {
  const callers::Sha256 presented = callers::HashApiKey(token);
  absl::optional<std::size_t> found;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (CRYPTO_memcmp(entries_[i].token_sha256.data(), presented.data(), presented.size()) == 0) {
      found = i;
    }
  }
  if (!found.has_value()) return absl::UnauthenticatedError("unknown initial access token");
  const Entry& entry = entries_[*found];
  if (now >= entry.expires_at) return absl::UnauthenticatedError("expired initial access token");
  absl::MutexLock lock(&mu_);
  if (uses_[*found] >= entry.max_uses) {
    return absl::UnauthenticatedError("the initial access token is used up");
  }
  ++uses_[*found];
  return Taken{*found, &entry};
}

void InitialAccessTokens::GiveBack(std::size_t index) {
  absl::MutexLock lock(&mu_);
  if (index < uses_.size() && uses_[index] > 0) --uses_[index];
}

int64_t InitialAccessTokens::uses(std::size_t index) const {
  absl::MutexLock lock(&mu_);
  return index < uses_.size() ? uses_[index] : 0;
}

}  // namespace dcr::public_registration
