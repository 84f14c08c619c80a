// Fault injection: what can go wrong between the gateway and Authlete.
#ifndef DCR_TESTS_EMULATOR_FAULTS_H_
#define DCR_TESTS_EMULATOR_FAULTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"

namespace dcr::emulator {

// The four DCR operations of contract §1, the client management
// operations of §9 and token introspection (§10).
enum class Operation {
  kRegister,
  kGet,
  kUpdate,
  kDelete,
  kListClients,
  kGetClientRecord,
  kRefreshSecret,
  kUpdateSecret,
  kUpdateLockFlag,
  kIntrospection,
};

// "register", "get", "update", "delete", "list_clients", "get_client_record",
// "refresh_secret", "update_secret", "update_lock_flag", "introspection".
absl::string_view OperationName(Operation op);
absl::optional<Operation> OperationFromName(absl::string_view name);

enum class FaultKind {
  kLatency,                // "latency": delay, then answer normally (combines with others)
  kHttpError,              // "http_error": answer `status` with `body`, request not processed
  kRateLimit,              // "rate_limit": 429 + Retry-After, request not processed
  kResetBeforeProcessing,  // "reset_before": TCP RST, request not processed
  kResetAfterProcessing,   // "reset_after": request processed (e.g. client created), then RST
  kTruncatedBody,          // "truncated_body": processed; Content-Length promises more than sent
  kMalformedJson,          // "malformed_json": processed; HTTP 200 with an unparsable body
  kUnknownAction,          // "unknown_action": processed; `action` replaced by `action_value`
  kSlowBody,               // "slow_body": processed; body dribbled in chunks with delays
  kInternalServerError,    // "internal_server_error": not processed; HTTP 200, action
                           // INTERNAL_SERVER_ERROR (management calls: 500 A001101)
};

absl::string_view FaultKindName(FaultKind kind);

// One rule. JSON names (admin endpoint, --faults) in the comments.
struct FaultRule {
  FaultKind kind = FaultKind::kLatency;          // "kind"
  absl::optional<Operation> operation;           // "operation"; unset or "all" = every operation
  int64_t count = -1;                            // "count": next N matching requests; -1 = until cleared
  double probability = 1.0;                      // "probability" in [0, 1]
  int64_t latency_ms = 0;                        // "latencyMs" (latency)
  int64_t jitter_ms = 0;                         // "jitterMs": + uniform [0, jitter] (latency)
  int http_status = 503;                         // "status" (http_error), 400..599
  std::string body;                              // "body" (http_error); empty = Authlete A001101 body
  int64_t retry_after_seconds = 1;               // "retryAfterSeconds" (rate_limit)
  std::string action_value = "UNKNOWN_ACTION";   // "action" (unknown_action)
  int64_t chunk_bytes = 8;                       // "chunkBytes" (slow_body)
  int64_t chunk_delay_ms = 50;                   // "chunkDelayMs" (slow_body)
};

struct FaultSpec {
  std::vector<FaultRule> rules;
};

// Accepts {"rules": [rule, ...]}, a bare array of rules, or one rule object.
absl::StatusOr<FaultSpec> ParseFaultSpec(absl::string_view json_text);
// {"rules": [...]} with the remaining counts.
std::string FaultSpecToJson(const FaultSpec& spec);

// What to do with one request.
struct FaultDecision {
  int64_t delay_ms = 0;                 // sum of all latency rules that fired
  absl::optional<FaultRule> outcome;    // first non-latency rule that fired
  int fired = 0;                        // number of rules that fired
};

// Thread-safe rule set. Rules are evaluated in order for each request of a
// known operation; requests to unknown paths and admin requests never see a fault.
class FaultInjector {
 public:
  void Set(FaultSpec spec) ABSL_LOCKS_EXCLUDED(mu_);
  void Clear() ABSL_LOCKS_EXCLUDED(mu_);
  FaultSpec Get() const ABSL_LOCKS_EXCLUDED(mu_);
  FaultDecision Decide(Operation op) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<FaultRule> rules_ ABSL_GUARDED_BY(mu_);
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_FAULTS_H_
