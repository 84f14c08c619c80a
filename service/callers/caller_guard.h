// The gate every ClientRegistrationService call passes before anything is
// sent to Authlete: who is calling (API key or client certificate), whether
// its policy allows this RPC, service id, redirect URIs and grant types, and
// whether it is within its rate limit. Every refusal is a core::Error
// (CALLER_UNAUTHENTICATED, CALLER_NOT_PERMITTED, CALLER_RATE_LIMITED, or
// INVALID_REQUEST for a metadata document it cannot read).
//
// Open mode (no callers file) is one thing only: every caller gets a policy
// that allows everything.
#ifndef DCR_SERVICE_CALLERS_CALLER_GUARD_H_
#define DCR_SERVICE_CALLERS_CALLER_GUARD_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "proto/api/operation.h"
#include "service/callers/caller_policy.h"
#include "service/core/call.h"
#include "service/core/error.h"
#include "service/state/state_store.h"

namespace dcr::callers {

// What a call presented, read from the transport by the gRPC layer.
struct CallerCredentials {
  // From "authorization: Bearer <key>"; a secret, never logged.
  absl::optional<std::string> api_key;
  // Subject alternative names and common name of a verified client
  // certificate (mutual TLS); empty otherwise.
  std::vector<std::string> certificate_identities;
};

struct Caller {
  // The policy's name, or without a callers file the certificate identity
  // or "anonymous". Safe to log.
  std::string name;
  // Never null: in open mode, the guard's allow-everything policy.
  const CallerPolicy* policy = nullptr;
  std::size_t index = 0;
};

class CallerGuard {
 public:
  using Clock = std::function<absl::Time()>;

  // Without `callers` (no callers file) every caller is let in and may do
  // everything; with it, only the callers it names.
  explicit CallerGuard(absl::optional<std::vector<CallerPolicy>> callers,
                       Clock clock = &absl::Now);

  core::ErrorOr<Caller> Authenticate(const CallerCredentials& credentials) const;

  // The RPC is in the caller's policy and the caller within its rate limit
  // (which this call then uses up a token of). With `shared_rate_limits`,
  // the rate limit is left to the caller of Admit (SharedRateLimit).
  core::Refusal Admit(const Caller& caller, api::Operation operation) ABSL_LOCKS_EXCLUDED(mu_);

  // Rate limits shared by every replica: the caller's bucket in this store
  // (Redis), one atomic script per call, instead of this replica's own.
  void ShareRateLimits(std::shared_ptr<state::StateStore> store) { shared_ = std::move(store); }
  bool shares_rate_limits() const { return shared_ != nullptr; }
  // The shared rate limit of a caller Admit let through: `done` gets nullopt
  // (a token taken, or the caller has no limit) or the refusal, exactly
  // once, on this thread or the store's. A store that cannot answer refuses
  // (STATE_STORE_UNAVAILABLE): --state_store_unavailable=local falls back
  // to per-replica buckets inside the store instead.
  void SharedRateLimit(const Caller& caller,
                       absl::AnyInvocable<void(core::Refusal) &&> done) const;

  // The call's service id, and for Register/Update the redirect URIs and
  // grant types of its metadata, are within the caller's policy.
  core::Refusal CheckCall(const Caller& caller, const core::DcrCall& call) const;

  // How many distinct callers Caller::index ranges over: the callers file's
  // entries, or 1 in open mode (every caller shares index 0).
  std::size_t caller_count() const { return callers_.has_value() ? callers_->size() : 1; }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };

  const absl::optional<std::vector<CallerPolicy>> callers_;
  // What every caller may do in open mode.
  const CallerPolicy allow_all_;
  const Clock clock_;
  std::shared_ptr<state::StateStore> shared_;  // set before serving
  absl::Mutex mu_;
  std::vector<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::callers

#endif  // DCR_SERVICE_CALLERS_CALLER_GUARD_H_
