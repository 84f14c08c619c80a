#include "service/state/argument_checks.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace dcr::state {

absl::Status CheckKey(absl::string_view what, absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is longer than ", kMaxKeyBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckTtl(absl::Duration ttl) {
  // Redis counts TTLs in whole milliseconds; below one, a key would never live.
  if (ttl < absl::Milliseconds(1) || ttl == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("ttl must be at least 1 ms and finite");
  }
  return absl::OkStatus();
}

absl::Status CheckReservation(const Reservation& reservation) {
  if (absl::Status s = CheckKey("key", reservation.key); !s.ok()) return s;
  if (absl::Status s = CheckKey("fingerprint", reservation.fingerprint); !s.ok()) return s;
  return CheckKey("reservation token", reservation.token);
}

absl::Status CheckRecord(absl::string_view record, std::size_t max_record_bytes) {
  if (record.size() > max_record_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("record of ", record.size(), " bytes is over the store's ", max_record_bytes));
  }
  return absl::OkStatus();
}

absl::Status CheckRate(double rate_per_s, double burst) {
  if (!std::isfinite(rate_per_s) || rate_per_s <= 0 || !std::isfinite(burst) || burst < 1) {
    return absl::InvalidArgumentError("rate must be > 0 and burst >= 1, both finite");
  }
  return absl::OkStatus();
}

}  // namespace dcr::state
