// Options of the dcr-gateway client: per call and per connection.
#ifndef DCR_CLIENT_OPTIONS_H_
#define DCR_CLIENT_OPTIONS_H_

#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace dcr::client {

// Options of one call; unset fields take the connection's defaults.
struct CallOptions {
  // Deadline of the whole call, all attempts and backoff sleeps included.
  // The gateway sees the remaining time as the gRPC deadline and bounds its
  // call to Authlete with it.
  absl::optional<absl::Duration> timeout;
  // Overrides ConnectionOptions::max_attempts (1 disables retries).
  absl::optional<int> max_attempts;
};

// Options of a connection: retry policy and default deadline.
struct ConnectionOptions {
  // Deadline of a call when CallOptions::timeout is unset.
  absl::Duration default_timeout = absl::Seconds(10);
  // Attempts per call, the first included. Which failures are retried
  // depends on the RPC and on what the gateway retried itself (see
  // grpc_registration_connection.h).
  int max_attempts = 3;
  // Exponential backoff with full jitter: the n-th retry sleeps a uniformly
  // random time in [0, min(max_backoff, initial_backoff * multiplier^(n-1))],
  // or at least the server's RegistrationError.retry_after.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  double backoff_multiplier = 2.0;
};

}  // namespace dcr::client

#endif  // DCR_CLIENT_OPTIONS_H_
