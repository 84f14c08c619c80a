// Stage 6: what the gateway tells the world of each call, in one place: the
// log line (an "audit" line for every mutation, and for reads when asked;
// never a token, the metadata or Authlete's answer) and the RPC metrics
// (README "Metrics"; the upstream ones are resilience::UpstreamMetrics).
// Every call is counted with the code its caller saw, so that a client's
// failure counts and the gateway's agree, and every failure with its reason.
#ifndef DCR_SERVICE_REGISTRATION_CALL_OBSERVER_H_
#define DCR_SERVICE_REGISTRATION_CALL_OBSERVER_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "dcr/v1/action.pb.h"
#include "proto/api/operation.h"
#include "service/core/error.h"
#include "service/metrics/metrics.h"

namespace dcr::registration {

// One call as the log and the metrics see it; filled in as it goes.
struct CallRecord {
  api::Operation operation = api::Operation::kRegister;
  absl::Time start;
  std::string caller = "unauthenticated";
  std::string peer;
  std::string trace_id;
  std::string service_id;
  std::string client_id;
  // Authlete's action and result code, when it answered.
  v1::Action action = v1::ACTION_UNSPECIFIED;
  std::string result_code;
  // The caller was gone before the answer reached it (its deadline passed,
  // it cancelled, or its connection broke): what it saw is DEADLINE_EXCEEDED
  // or CANCELLED, whatever the gateway and Authlete did.
  bool caller_gave_up = false;
  bool caller_deadline_passed = false;
  // RegisterClient with a request_id: the reply was an earlier call's,
  // Authlete was not called.
  bool replayed = false;
};

class CallObserver {
 public:
  struct Options {
    // One log line per call (mutations are always logged, as audit lines).
    bool log_requests = true;
    // Audit lines for GetClient too.
    bool audit_reads = false;
  };

  // The RPC metrics go to `registry`; null (tests): to one of its own.
  CallObserver(Options options, metrics::Registry* registry);

  void Started(api::Operation operation);

  // How a call ended, as its caller sees it, and what its line is: all
  // that Log needs, so that it touches no observer (see Log).
  struct Outcome {
    absl::StatusCode code = absl::StatusCode::kOk;
    absl::Duration latency;
    bool logged = false;  // a line at all
    bool audit = false;   // an "audit" line, not an "rpc" one
  };
  // The metrics of a finished call (`error` is null when it succeeded):
  // before its answer leaves, so that a caller holding the answer finds its
  // call counted.
  Outcome Count(const CallRecord& record, const core::Error* error);
  // Its log line: after the answer left, so that writing it (a syscall)
  // adds nothing to the caller's wait. Static: by then a shutdown may have
  // destroyed the service and its observer.
  static void Log(const CallRecord& record, const core::Error* error, const Outcome& outcome);
  // Both, for a caller that answers otherwise.
  void Finished(const CallRecord& record, const core::Error* error) {
    Log(record, error, Count(record, error));
  }

 private:
  const Options options_;
  std::unique_ptr<metrics::Registry> own_registry_;
  metrics::Family* calls_ = nullptr;
  metrics::Family* errors_ = nullptr;
  // Per operation, found once: the hot path then touches only atomics.
  api::PerOperation<metrics::Series*> duration_{};
  api::PerOperation<metrics::Series*> in_flight_{};
};

}  // namespace dcr::registration

#endif  // DCR_SERVICE_REGISTRATION_CALL_OBSERVER_H_
