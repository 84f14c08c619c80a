// The argument checks every StateStore makes before touching its state, so
// that both stores refuse the same inputs with the same words.
#ifndef DCR_SERVICE_STATE_ARGUMENT_CHECKS_H_
#define DCR_SERVICE_STATE_ARGUMENT_CHECKS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/state/state_store.h"

namespace dcr::state {

// Keys and fingerprints are a caller's hash or identifiers, never documents.
inline constexpr std::size_t kMaxKeyBytes = 1024;

absl::Status CheckKey(absl::string_view what, absl::string_view key);
absl::Status CheckTtl(absl::Duration ttl);
absl::Status CheckReservation(const Reservation& reservation);
absl::Status CheckRecord(absl::string_view record, std::size_t max_record_bytes);
absl::Status CheckRate(double rate_per_s, double burst);

}  // namespace dcr::state

#endif  // DCR_SERVICE_STATE_ARGUMENT_CHECKS_H_
