#include "service/callers/caller_guard.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"


namespace dcr::callers {
namespace {

using api::Operation;
using core::Error;

Error Unauthenticated(std::string message) {
  return Error(v1::ERROR_REASON_CALLER_UNAUTHENTICATED, std::move(message));
}

Error NotPermitted(const Caller& caller, absl::string_view what) {
  return Error(v1::ERROR_REASON_CALLER_NOT_PERMITTED,
               absl::StrCat("caller ", caller.name, " may not ", what));
}

CallerPolicy AllowEverything() {
  CallerPolicy policy;
  policy.name = "anonymous";
  policy.rpcs.fill(true);
  policy.service_ids.any = true;
  policy.any_redirect_uri = true;
  policy.grant_types.any = true;
  return policy;
}

// The top-level members of a metadata document, refusing a document whose
// top level repeats a key: Authlete might read the other copy than the one
// checked here.
core::ErrorOr<nlohmann::json> ParseMetadata(const std::string& text) {
  bool duplicate = false;
  absl::flat_hash_set<std::string> keys;
  nlohmann::json::parser_callback_t check = [&](int depth, nlohmann::json::parse_event_t event,
                                                nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
        !keys.insert(parsed.get<std::string>()).second) {
      duplicate = true;
    }
    return true;
  };
  nlohmann::json doc = nlohmann::json::parse(text, check, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error::InvalidRequest("client metadata must be a JSON object");
  }
  if (duplicate) return Error::InvalidRequest("client metadata repeats a member name");
  return doc;
}

}  // namespace

CallerGuard::CallerGuard(absl::optional<std::vector<CallerPolicy>> callers, Clock clock)
    : callers_(std::move(callers)), allow_all_(AllowEverything()), clock_(std::move(clock)) {
  if (!callers_.has_value()) return;
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  for (const CallerPolicy& policy : *callers_) {
    buckets_.push_back(Bucket{policy.rate_limit ? policy.rate_limit->burst : 0, now});
  }
}

core::ErrorOr<Caller> CallerGuard::Authenticate(const CallerCredentials& credentials) const {
  if (!callers_.has_value()) {
    Caller open;
    open.name = credentials.certificate_identities.empty()
                    ? allow_all_.name
                    : credentials.certificate_identities.front();
    open.policy = &allow_all_;
    return open;
  }
  const std::vector<CallerPolicy>& callers = *callers_;
  absl::optional<std::size_t> by_certificate;
  for (std::size_t i = 0; i < callers.size() && !by_certificate; ++i) {
    for (const std::string& id : callers[i].certificate_identities) {
      for (const std::string& presented : credentials.certificate_identities) {
        if (id == presented) by_certificate = i;
      }
    }
  }
  if (credentials.api_key.has_value()) {
    // Every stored hash is compared, in constant time, whatever matched
    // before: the time taken says nothing about which key came close.
    const Sha256 presented = HashApiKey(*credentials.api_key);
    absl::optional<std::size_t> by_key;
    for (std::size_t i = 0; i < callers.size(); ++i) {
      for (const Sha256& stored : callers[i].api_key_sha256) {
        if (CRYPTO_memcmp(stored.data(), presented.data(), presented.size()) == 0) by_key = i;
      }
    }
    if (!by_key.has_value()) return Unauthenticated("the API key is not known to the gateway");
    if (by_certificate.has_value() && *by_certificate != *by_key) {
      return Unauthenticated("the API key and the client certificate belong to different callers");
    }
    return Caller{callers[*by_key].name, &callers[*by_key], *by_key};
  }
  if (by_certificate.has_value()) {
    return Caller{callers[*by_certificate].name, &callers[*by_certificate], *by_certificate};
  }
  if (!credentials.certificate_identities.empty()) {
    return Unauthenticated("the client certificate names no caller of this gateway");
  }
  return Unauthenticated(
      "credentials required: an API key (authorization: Bearer <key>) or a client certificate");
}

core::Refusal CallerGuard::Admit(const Caller& caller, Operation operation) {
  if (!caller.policy->MayCall(operation)) {
    return NotPermitted(caller, absl::StrCat("call ", api::Name(operation)));
  }
  if (!caller.policy->rate_limit.has_value() || shared_ != nullptr) return absl::nullopt;
  const RateLimit& limit = *caller.policy->rate_limit;
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  Bucket& bucket = buckets_[caller.index];
  const double refill = absl::ToDoubleSeconds(now - bucket.last) * limit.requests_per_second;
  bucket.tokens = std::min(limit.burst, bucket.tokens + std::max(refill, 0.0));
  bucket.last = std::max(bucket.last, now);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return absl::nullopt;
  }
  const absl::Duration wait = absl::Seconds((1 - bucket.tokens) / limit.requests_per_second);
  Error limited(v1::ERROR_REASON_CALLER_RATE_LIMITED,
                absl::StrCat("caller ", caller.name, " is over its rate limit of ",
                             limit.requests_per_second, " calls/s"));
  limited.set_retry_after(wait);
  return limited;
}

void CallerGuard::SharedRateLimit(const Caller& caller,
                                  absl::AnyInvocable<void(core::Refusal) &&> done) const {
  if (shared_ == nullptr || !caller.policy->rate_limit.has_value()) {
    return std::move(done)(absl::nullopt);
  }
  const RateLimit limit = *caller.policy->rate_limit;
  // Named by the caller's name, which every replica's callers file shares.
  shared_->Acquire(
      absl::StrCat("rate;", caller.name), limit.requests_per_second, limit.burst, clock_(),
      [name = caller.name, limit, done = std::move(done)](
          absl::StatusOr<state::RateDecision> decision) mutable {
        if (!decision.ok()) {
          std::move(done)(Error(v1::ERROR_REASON_STATE_STORE_UNAVAILABLE,
                                absl::StrCat("the shared rate limit could not be checked: ",
                                             decision.status().message())));
          return;
        }
        if (decision->allowed) return std::move(done)(absl::nullopt);
        Error limited(v1::ERROR_REASON_CALLER_RATE_LIMITED,
                      absl::StrCat("caller ", name, " is over its rate limit of ",
                                   limit.requests_per_second, " calls/s (all replicas)"));
        limited.set_retry_after(decision->retry_after);
        std::move(done)(std::move(limited));
      });
}

core::Refusal CallerGuard::CheckCall(const Caller& caller, const core::DcrCall& call) const {
  const CallerPolicy* policy = caller.policy;
  if (!policy->service_ids.Contains(call.service_id)) {
    return NotPermitted(caller, absl::StrCat("use service ", call.service_id));
  }
  if (!api::Traits(call.operation).sends_metadata ||
      (policy->any_redirect_uri && policy->grant_types.any)) {
    return absl::nullopt;
  }
  core::ErrorOr<nlohmann::json> doc = ParseMetadata(call.json);
  if (!doc.ok()) return doc.error();
  if (!policy->any_redirect_uri) {
    if (auto it = doc->find("redirect_uris"); it != doc->end() && !it->is_null()) {
      if (!it->is_array()) return Error::InvalidRequest("redirect_uris must be an array");
      for (const nlohmann::json& uri : *it) {
        if (!uri.is_string()) return Error::InvalidRequest("redirect_uris must hold strings");
        if (!policy->MayUseRedirectUri(uri.get_ref<const std::string&>())) {
          return NotPermitted(caller, absl::StrCat("register redirect URI ",
                                                   uri.get_ref<const std::string&>()));
        }
      }
    }
  }
  if (!policy->grant_types.any) {
    auto it = doc->find("grant_types");
    if (it == doc->end() || it->is_null()) {
      // RFC 7591 §2: omitted grant_types means ["authorization_code"].
      if (!policy->grant_types.Contains("authorization_code")) {
        return NotPermitted(caller, "register the default grant type authorization_code");
      }
    } else {
      if (!it->is_array()) return Error::InvalidRequest("grant_types must be an array");
      for (const nlohmann::json& grant : *it) {
        if (!grant.is_string()) return Error::InvalidRequest("grant_types must hold strings");
        if (!policy->grant_types.Contains(grant.get<std::string>())) {
          return NotPermitted(caller,
                              absl::StrCat("register grant type ", grant.get<std::string>()));
        }
      }
    }
  }
  return absl::nullopt;
}

}  // namespace dcr::callers
