#include "service/state/state_store.h"

namespace dcr::state {

absl::string_view ReserveOutcomeName(ReserveOutcome outcome) {
  switch (outcome) {
    case ReserveOutcome::kReserved: return "reserved";
    case ReserveOutcome::kInFlight: return "in_flight";
    case ReserveOutcome::kCompleted: return "completed";
    case ReserveOutcome::kFingerprintMismatch: return "fingerprint_mismatch";
    case ReserveOutcome::kOutcomeUnknown: return "outcome_unknown";
  }
  return "?";
}

}  // namespace dcr::state
