#include "service/resilience/backoff.h"

#include <algorithm>
#include <cmath>

#include "absl/random/distributions.h"

namespace dcr::resilience {

absl::Duration BackoffDelay(const BackoffOptions& options, int retry,
                            absl::optional<absl::Duration> retry_after,
                            absl::BitGenRef random) {
  const double initial_s = absl::ToDoubleSeconds(options.initial);
  const double max_s = absl::ToDoubleSeconds(options.maximum);
  // pow() of a large exponent is +inf, which min() folds back to the cap.
  const double bound_s =
      std::min(max_s, initial_s * std::pow(std::max(options.multiplier, 1.0),
                                           static_cast<double>(std::max(retry, 0))));
  absl::Duration delay = absl::ZeroDuration();
  if (bound_s > 0) delay = absl::Seconds(absl::Uniform(absl::IntervalClosed, random, 0.0, bound_s));
  if (retry_after.has_value() && *retry_after > delay) delay = *retry_after;
  return delay;
}

}  // namespace dcr::resilience
