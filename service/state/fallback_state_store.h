// --state_store_unavailable=local: a StateStore that uses the shared store
// (Redis) while it can answer and this replica's own in-process store while
// it cannot. Per-replica state is an operator's explicit choice: during an
// outage a retry through another replica is not recognized and may be sent
// again (README "Shared state").
//
// A reservation remembers which store gave it (a one-letter prefix on its
// token), so that Complete, MarkUnknown and Release go back to that store.
#ifndef DCR_SERVICE_STATE_FALLBACK_STATE_STORE_H_
#define DCR_SERVICE_STATE_FALLBACK_STATE_STORE_H_

#include <memory>

#include "service/state/state_store.h"

namespace dcr::state {

class FallbackStateStore final : public StateStore {
 public:
  FallbackStateStore(std::shared_ptr<StateStore> shared, std::shared_ptr<StateStore> local);

  void Reserve(absl::string_view key, absl::string_view fingerprint, absl::Duration ttl,
               ReserveCallback done) override;
  void Complete(const Reservation& reservation, absl::string_view record, absl::Duration ttl,
                DoneCallback done) override;
  void MarkUnknown(const Reservation& reservation, absl::Duration ttl,
                   DoneCallback done) override;
  void Release(const Reservation& reservation, DoneCallback done) override;
  void Acquire(absl::string_view bucket_key, double rate_per_s, double burst, absl::Time now,
               RateCallback done) override;
  // The shared store's: "connected" says whether calls are shared now.
  StoreHealth Health() const override { return shared_->Health(); }

 private:
  // Which store a reservation came from, and its token as that store gave it.
  StateStore& StoreOf(const Reservation& reservation, Reservation& inner) const;

  const std::shared_ptr<StateStore> shared_;
  const std::shared_ptr<StateStore> local_;
};

}  // namespace dcr::state

#endif  // DCR_SERVICE_STATE_FALLBACK_STATE_STORE_H_
