#include "service/callers/caller_guard.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "service/errors/registration_error_status.h"

namespace dcr::callers {
namespace {

using authlete::Operation;

absl::Status Refuse(absl::StatusCode code, v1::ErrorReason reason, absl::string_view message,
                    absl::optional<absl::Duration> retry_after = absl::nullopt) {
  v1::RegistrationError detail;
  detail.set_reason(reason);
  detail.set_http_status(code == absl::StatusCode::kResourceExhausted ? 429 : 403);
  if (retry_after.has_value()) errors::SetRetryAfter(*retry_after, detail);
  return errors::MakeStatus(code, message, detail);
}

absl::Status Unauthenticated(absl::string_view message) {
  return Refuse(absl::StatusCode::kUnauthenticated, v1::ERROR_REASON_CALLER_UNAUTHENTICATED,
                message);
}

absl::Status NotPermitted(const Caller& caller, absl::string_view what) {
  return Refuse(absl::StatusCode::kPermissionDenied, v1::ERROR_REASON_CALLER_NOT_PERMITTED,
                absl::StrCat("caller ", caller.name, " may not ", what));
}

// The top-level members of a metadata document, refusing a document whose
// top level repeats a key: Authlete might read the other copy than the one
// checked here.
absl::StatusOr<nlohmann::json> ParseMetadata(const std::string& text) {
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
    return errors::InvalidRequest("client metadata must be a JSON object");
  }
  if (duplicate) return errors::InvalidRequest("client metadata repeats a member name");
  return doc;
}

}  // namespace

CallerGuard::CallerGuard(absl::optional<std::vector<CallerPolicy>> callers, Clock clock)
    : callers_(std::move(callers)), clock_(std::move(clock)) {
  if (!callers_.has_value()) return;
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  for (const CallerPolicy& policy : *callers_) {
    buckets_.push_back(Bucket{policy.rate_limit ? policy.rate_limit->burst : 0, now});
  }
}

absl::StatusOr<Caller> CallerGuard::Authenticate(const CallerCredentials& credentials) const {
  if (!callers_.has_value()) {
    Caller open;
    open.name = credentials.certificate_identities.empty()
                    ? "anonymous"
                    : credentials.certificate_identities.front();
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

absl::Status CallerGuard::Admit(const Caller& caller, Operation operation) {
  if (caller.policy == nullptr) return absl::OkStatus();
  if (!caller.policy->MayCall(operation)) {
    return NotPermitted(caller, absl::StrCat("call ", RpcName(operation)));
  }
  if (!caller.policy->rate_limit.has_value()) return absl::OkStatus();
  const RateLimit& limit = *caller.policy->rate_limit;
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  Bucket& bucket = buckets_[caller.index];
  const double refill = absl::ToDoubleSeconds(now - bucket.last) * limit.requests_per_second;
  bucket.tokens = std::min(limit.burst, bucket.tokens + std::max(refill, 0.0));
  bucket.last = std::max(bucket.last, now);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return absl::OkStatus();
  }
  const absl::Duration wait = absl::Seconds((1 - bucket.tokens) / limit.requests_per_second);
  return Refuse(absl::StatusCode::kResourceExhausted, v1::ERROR_REASON_CALLER_RATE_LIMITED,
                absl::StrCat("caller ", caller.name, " is over its rate limit of ",
                             limit.requests_per_second, " calls/s"),
                wait);
}

absl::Status CallerGuard::CheckCall(const Caller& caller, const authlete::DcrCall& call) const {
  const CallerPolicy* policy = caller.policy;
  if (policy == nullptr) return absl::OkStatus();
  if (!policy->service_ids.Contains(call.service_id)) {
    return NotPermitted(caller, absl::StrCat("use service ", call.service_id));
  }
  const bool has_metadata =
      call.operation == Operation::kRegister || call.operation == Operation::kUpdate;
  if (!has_metadata || (policy->any_redirect_uri && policy->grant_types.any)) {
    return absl::OkStatus();
  }
  absl::StatusOr<nlohmann::json> doc = ParseMetadata(call.json);
  if (!doc.ok()) return doc.status();
  if (!policy->any_redirect_uri) {
    if (auto it = doc->find("redirect_uris"); it != doc->end() && !it->is_null()) {
      if (!it->is_array()) return errors::InvalidRequest("redirect_uris must be an array");
      for (const nlohmann::json& uri : *it) {
        if (!uri.is_string()) return errors::InvalidRequest("redirect_uris must hold strings");
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
      if (!it->is_array()) return errors::InvalidRequest("grant_types must be an array");
      for (const nlohmann::json& grant : *it) {
        if (!grant.is_string()) return errors::InvalidRequest("grant_types must hold strings");
        if (!policy->grant_types.Contains(grant.get<std::string>())) {
          return NotPermitted(caller,
                              absl::StrCat("register grant type ", grant.get<std::string>()));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace dcr::callers
