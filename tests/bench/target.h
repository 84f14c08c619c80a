// Where the load generator sends calls: the gateway over gRPC, or Authlete
// (the emulator) directly over HTTP, the baseline the gateway's added latency
// is measured against.
#ifndef DCR_TESTS_BENCH_TARGET_H_
#define DCR_TESTS_BENCH_TARGET_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "service/authlete/authlete_options.h"
#include "tests/bench/workload.h"

namespace dcr::bench {

struct CallOutcome {
  // "OK", or what went wrong: a gRPC code name, "HTTP_503", an Authlete action.
  std::string outcome = "OK";
  // The client a successful Register created.
  absl::optional<ClientRef> registered;
};

class Target {
 public:
  using Done = absl::AnyInvocable<void(CallOutcome) &&>;
  virtual ~Target() = default;
  // Starts `spec`; `done` runs exactly once, on any thread, possibly before
  // Start returns.
  virtual void Start(const CallSpec& spec, Done done) = 0;
  // Whether Start waits for the answer (then only one call can be in flight).
  virtual bool blocking() const = 0;
};

// The gateway, through the gRPC callback API of the generated stub. Sends
// typed metadata, as an internal service would. Thread-safe.
absl::StatusOr<std::unique_ptr<Target>> MakeGatewayTarget(
    std::shared_ptr<grpc::Channel> channel, const std::vector<std::string>& documents,
    absl::Duration timeout);

// grpc.health.v1.Health/Check on the gateway, whatever `spec` says: a call
// that never reaches Authlete, so its cost is gRPC's own floor per call.
std::unique_ptr<Target> MakeHealthCheckTarget(std::shared_ptr<grpc::Channel> channel,
                                              absl::Duration timeout);

// Authlete directly: the request the gateway would send (same URL, headers
// and body, built by the gateway's own authlete::BuildHttpRequest) on one
// reused libcurl easy handle, as a service embedding an SDK would. Blocking.
absl::StatusOr<std::unique_ptr<Target>> MakeDirectTarget(
    authlete::AuthleteOptions options, std::string service_id,
    const std::vector<std::string>& documents, absl::Duration timeout);

}  // namespace dcr::bench

#endif  // DCR_TESTS_BENCH_TARGET_H_
