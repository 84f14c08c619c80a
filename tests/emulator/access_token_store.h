// Access tokens for the introspection API (contract §10), issued by tests
// through the admin endpoint or Emulator::IssueAccessToken. Memory only.
#ifndef DCR_TESTS_EMULATOR_ACCESS_TOKEN_STORE_H_
#define DCR_TESTS_EMULATOR_ACCESS_TOKEN_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace dcr::emulator {

// What a test asks for. JSON names of POST /emulator/tokens in the comments.
struct AccessTokenSpec {
  std::string service_id;           // "service_id"; empty = the emulator's first service
  std::vector<std::string> scopes;  // "scopes"
  std::string subject;              // "subject"; empty = none (a client credentials token)
  int64_t client_id = 0;            // "client_id"; 0 = none
  // "expires_in" (seconds). Zero or negative: already expired, so that tests
  // can see Authlete's "expired" answer without waiting.
  absl::Duration expires_in = absl::Hours(1);
};

struct AccessTokenRecord {
  std::string service_id;
  std::vector<std::string> scopes;
  std::string subject;
  int64_t client_id = 0;
  int64_t expires_at_ms = 0;  // epoch milliseconds
};

struct IssuedAccessToken {
  std::string access_token;
  int64_t expires_at_ms = 0;
};

// Thread-safe. Keeps at most `max_tokens` tokens, keyed by their SHA-256 (the
// tokens themselves are never kept). When full, Issue first drops every
// expired token and, if still full, refuses (kResourceExhausted): it
// never evicts a live token, so a test never sees a token it was given vanish.
// Expired tokens stay until then, so that they introspect as "expired", not
// as "unknown".
class AccessTokenStore {
 public:
  explicit AccessTokenStore(size_t max_tokens) : max_tokens_(max_tokens) {}

  // The spec is checked by the caller (scopes, service). kInternal when the
  // RNG fails.
  absl::StatusOr<IssuedAccessToken> Issue(const AccessTokenSpec& spec, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The token's record whatever its expiry, or nullopt if never issued (or
  // dropped).
  absl::optional<AccessTokenRecord> Find(const std::string& token) const ABSL_LOCKS_EXCLUDED(mu_);
  void Clear() ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t max_tokens() const { return max_tokens_; }

 private:
  void DropExpired(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_tokens_;
  mutable absl::Mutex mu_;
  std::map<std::string, AccessTokenRecord> tokens_ ABSL_GUARDED_BY(mu_);  // by hex SHA-256
};

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_ACCESS_TOKEN_STORE_H_
