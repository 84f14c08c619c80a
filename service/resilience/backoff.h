// How long to wait before retry number n: exponential growth with full
// jitter (a uniformly random delay up to the exponential bound), so that
// gateway replicas that failed together do not retry together.
#ifndef DCR_SERVICE_RESILIENCE_BACKOFF_H_
#define DCR_SERVICE_RESILIENCE_BACKOFF_H_

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace dcr::resilience {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration maximum = absl::Seconds(2);
  double multiplier = 2.0;
};

// The delay before retry `retry` (0 for the first retry): uniform in
// [0, min(maximum, initial * multiplier^retry)], but never shorter than what
// the server asked for with Retry-After.
absl::Duration BackoffDelay(const BackoffOptions& options, int retry,
                            absl::optional<absl::Duration> retry_after,
                            absl::BitGenRef random);

}  // namespace dcr::resilience

#endif  // DCR_SERVICE_RESILIENCE_BACKOFF_H_
