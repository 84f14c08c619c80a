#include "tests/bench/workload.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dcr::bench {
namespace {

// A 2048-bit RSA modulus is 342 base64url characters; the value only has to
// look like one (Authlete stores the JWK Set as given).
std::string FakeModulus(int seed) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string n(342, 'A');
  uint32_t x = 2166136261u ^ static_cast<uint32_t>(seed);
  for (char& c : n) {
    x = x * 16777619u + 12345u;
    c = kAlphabet[(x >> 16) % 64];
  }
  return n;
}

}  // namespace

absl::StatusOr<Mix> ParseMix(absl::string_view text) {
  Mix mix{0, 0, 0, 0};
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, ':');
    int weight = 0;
    if (!absl::SimpleAtoi(kv.second, &weight) || weight < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad weight in --mix: ", part));
    }
    if (kv.first == "register") mix.register_weight = weight;
    else if (kv.first == "get") mix.get_weight = weight;
    else if (kv.first == "update") mix.update_weight = weight;
    else if (kv.first == "delete") mix.delete_weight = weight;
    else return absl::InvalidArgumentError(absl::StrCat("unknown operation in --mix: ", part));
  }
  if (mix.register_weight + mix.get_weight + mix.update_weight + mix.delete_weight == 0) {
    return absl::InvalidArgumentError("--mix weighs every operation 0");
  }
  return mix;
}

std::vector<std::string> MetadataDocuments() {
  std::vector<std::string> documents;
  for (int i = 0; i < 16; ++i) {
    nlohmann::json md = {
        {"client_name", absl::StrCat("Partner integration ", i)},
        {"grant_types", {"authorization_code", "refresh_token"}},
        {"response_types", {"code"}},
        {"token_endpoint_auth_method", "client_secret_basic"},
        {"scope", "openid profile email offline_access"},
    };
    const int uris = 1 + i % 8;
    for (int u = 0; u < uris; ++u) {
      md["redirect_uris"].push_back(
          absl::StrCat("https://app", i, ".partner.example.com/oauth/callback/", u));
    }
    if (i % 2 == 1) {
      md["contacts"] = {absl::StrCat("ops", i, "@partner.example.com"),
                        "security@partner.example.com"};
      md["client_uri"] = absl::StrCat("https://partner.example.com/apps/", i);
      md["logo_uri"] = absl::StrCat("https://partner.example.com/apps/", i, "/logo.png");
      md["policy_uri"] = "https://partner.example.com/privacy";
      md["tos_uri"] = "https://partner.example.com/terms";
      md["software_id"] = absl::StrCat("4NRB1-0XZABZI9E6-", 5000 + i);
      md["software_version"] = absl::StrCat("2.", i, ".0");
    }
    // The larger third carry their signing keys.
    if (i % 3 == 2) {
      md["token_endpoint_auth_method"] = "private_key_jwt";
      md["jwks"]["keys"] = nlohmann::json::array();
      for (int k = 0; k < 1 + i % 4; ++k) {
        md["jwks"]["keys"].push_back({{"kty", "RSA"},
                                      {"kid", absl::StrCat("key-", i, "-", k)},
                                      {"use", "sig"},
                                      {"alg", "RS256"},
                                      {"n", FakeModulus(i * 8 + k)},
                                      {"e", "AQAB"}});
      }
    }
    documents.push_back(md.dump());
  }
  return documents;
}

Workload::Workload(Mix mix, std::vector<ClientRef> pool, std::size_t documents, uint64_t seed)
    : mix_(mix),
      pool_(std::move(pool)),
      documents_(documents),
      rng_(seed != 0 ? seed : absl::Uniform<uint64_t>(absl::BitGen())) {}

CallSpec Workload::Next() {
  absl::MutexLock lock(&mu_);
  const int total =
      mix_.register_weight + mix_.get_weight + mix_.update_weight + mix_.delete_weight;
  int pick = absl::Uniform(rng_, 0, total);
  CallSpec spec;
  spec.document = absl::Uniform<std::size_t>(rng_, 0, documents_);
  if ((pick -= mix_.register_weight) < 0) {
    spec.operation = Operation::kRegister;
    return spec;
  }
  if ((pick -= mix_.get_weight) < 0 || pool_.empty()) {
    spec.operation = Operation::kGet;
  } else if ((pick -= mix_.update_weight) < 0) {
    spec.operation = Operation::kUpdate;
  } else if (!deletable_.empty()) {
    spec.operation = Operation::kDelete;
    spec.client = std::move(deletable_.front());
    deletable_.pop_front();
    return spec;
  } else {
    spec.operation = Operation::kGet;
  }
  if (pool_.empty()) {  // Only registers make sense without clients.
    spec.operation = Operation::kRegister;
    return spec;
  }
  spec.client = pool_[absl::Uniform<std::size_t>(rng_, 0, pool_.size())];
  return spec;
}

void Workload::Registered(ClientRef client) {
  absl::MutexLock lock(&mu_);
  deletable_.push_back(std::move(client));
}

}  // namespace dcr::bench
