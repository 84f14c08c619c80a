// Initial access tokens (RFC 7591 §3) issued by the operator: a JSON file of
// entries, each the SHA-256 of its token (never the token), an expiry, a
// maximum number of registrations and, optionally, a policy of its own
// (callers::ParsePublicPolicy's format; without one, the endpoint's):
//
//   {"initial_access_tokens": [{
//     "name": "partner-acme",                       // safe to log
//     "token_sha256": "<64 hex digits>",             // printf %s "$TOKEN" | sha256sum
//     "expires_at": "2027-01-01T00:00:00Z",          // RFC 3339
//     "max_uses": 10,
//     "policy": {"redirect_uri_patterns": ["https://*.acme.example/cb"]}}]}
//
// Uses are counted in this replica's memory (README: with several replicas
// a token may be used up to max_uses times on each; a restart forgets).
#ifndef DCR_SERVICE_PUBLIC_REGISTRATION_INITIAL_ACCESS_TOKENS_H_
#define DCR_SERVICE_PUBLIC_REGISTRATION_INITIAL_ACCESS_TOKENS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "service/callers/caller_policy.h"

namespace dcr::public_registration {

class InitialAccessTokens {
 public:
  struct Entry {
    std::string name;
    callers::Sha256 token_sha256;
    absl::Time expires_at;
    int64_t max_uses = 1;
    // nullopt: the endpoint's policy.
    absl::optional<callers::PublicRegistrationPolicy> policy;
  };

  static absl::StatusOr<std::vector<Entry>> Parse(absl::string_view json);
  static absl::StatusOr<std::vector<Entry>> Load(const std::string& path);

  explicit InitialAccessTokens(std::vector<Entry> entries) : entries_(std::move(entries)) {
    absl::MutexLock lock(&mu_);
    uses_.assign(entries_.size(), 0);
  }

  // What Take found: the entry (its index for GiveBack), or why not.
  struct Taken {
    std::size_t index = 0;
    const Entry* entry = nullptr;
  };
  // The token's entry, if known, unexpired and not used up, with one use
  // taken. Every stored hash is compared in constant time. Errors:
  // UNAUTHENTICATED with a message safe for the end client.
  absl::StatusOr<Taken> Take(absl::string_view token, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // A registration that did not create a client gives its use back.
  void GiveBack(std::size_t index) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t uses(std::size_t index) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::vector<Entry> entries_;
  mutable absl::Mutex mu_;
  std::vector<int64_t> uses_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::public_registration

#endif  // DCR_SERVICE_PUBLIC_REGISTRATION_INITIAL_ACCESS_TOKENS_H_
