// The public RFC 7591/7592 endpoint's logic, below the HTTP server: each
// request runs the stages of an RPC (README "Follow one RPC"), with the
// public endpoint's own caller, admission and policy:
//   1. route        POST /register; GET, PUT, DELETE /register/{client_id}
//   2. admit        the rate limits of the client's address and of the
//                   endpoint (the address behind trusted proxies only), in
//                   this replica's memory or, with Redis, the shared store
//   3. who          POST: open, an initial access token, or an access token
//                   Authlete introspects (contract §10) with the required
//                   scope; GET/PUT/DELETE: the registration access token
//   4. check        the metadata against the public registration policy
//   5. build        registration::CallBuilder, as for the RPCs
//   6. upstream     the gateway's authlete::AuthleteConnection (resilience,
//                   retries by idempotency, upstream metrics)
//   7. answer       answers.h, observed by registration::CallObserver
//                   (audit line, RPC metrics) like an RPC.
#ifndef DCR_SERVICE_PUBLIC_REGISTRATION_REGISTRATION_ENDPOINT_H_
#define DCR_SERVICE_PUBLIC_REGISTRATION_REGISTRATION_ENDPOINT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "service/authlete/authlete_connection.h"
#include "service/callers/caller_policy.h"
#include "service/config/gateway_config.h"
#include "service/metrics/metrics.h"
#include "service/public_registration/client_address.h"
#include "service/public_registration/http_exchange.h"
#include "service/public_registration/initial_access_tokens.h"
#include "service/public_registration/registration_rate_limiter.h"
#include "service/registration/call_builder.h"
#include "service/registration/call_observer.h"
#include "service/state/state_store.h"

namespace dcr::public_registration {

class RegistrationEndpoint {
 public:
  using Access = config::PublicRegistrationConfig::Access;
  struct Options {
    Access access = Access::kOpen;
    // With kAuthleteToken.
    std::string required_scope = "register";
    // What one call to Authlete may take.
    absl::Duration upstream_timeout = absl::Seconds(10);
    // The service and the bounds, as for the RPCs (the public endpoint
    // names no service: always the default one).
    registration::CallBuilder::Options call;
    registration::CallObserver::Options observe;
    RegistrationRateLimiter::Options rate;
  };
  using Respond = absl::AnyInvocable<void(PublicResponse) &&>;

  // `tokens` is needed with kInitialAccessToken only; `registry` may be null
  // (tests). Calls in flight do not own it: it must outlive them
  // (in_flight() == 0), as GatewayServer::Shutdown waits for, so that no
  // Authlete thread ever drops the last reference to what owns that thread.
  RegistrationEndpoint(Options options, callers::PublicRegistrationPolicy policy,
                       std::shared_ptr<InitialAccessTokens> tokens, TrustedProxies proxies,
                       std::shared_ptr<authlete::AuthleteConnection> authlete,
                       metrics::Registry* registry,
                       RegistrationRateLimiter::Clock clock = &absl::Now);

  // The rate limits in `store` (Redis) rather than in this replica's memory,
  // so that replicas share them. Set before serving; null: this replica's.
  void ShareRateLimits(std::shared_ptr<state::StateStore> store) {
    shared_limits_ = std::move(store);
  }

  // Answers `request` through `respond` exactly once, on this thread or
  // Authlete's; `respond` must not block.
  void Handle(PublicRequest request, Respond respond);

  const RegistrationRateLimiter& rate_limiter() const { return limiter_; }
  // Requests handed to Handle and not yet answered.
  int64_t in_flight() const { return in_flight_.load(); }

 private:
  struct Pending;
  // Step 2 in the shared store, then steps 3 on (Identify).
  void AdmitShared(std::shared_ptr<Pending> pending, std::string address);
  bool SharedAdmits(const std::shared_ptr<Pending>& pending,
                    const absl::StatusOr<state::RateDecision>& decision);
  static std::unique_ptr<core::Error> RateLimited(const std::string& peer, absl::Duration wait);
  void Identify(std::shared_ptr<Pending> pending);
  void Authorized(std::shared_ptr<Pending> pending, const callers::PublicRegistrationPolicy& policy);
  void Introspect(std::shared_ptr<Pending> pending, std::string token);
  void Finish(const std::shared_ptr<Pending>& pending, PublicResponse response,
              const core::Error* error);

  const Options options_;
  const callers::PublicRegistrationPolicy policy_;
  const std::shared_ptr<InitialAccessTokens> tokens_;
  const TrustedProxies proxies_;
  const std::shared_ptr<authlete::AuthleteConnection> authlete_;
  const RegistrationRateLimiter::Clock clock_;
  std::shared_ptr<state::StateStore> shared_limits_;
  const registration::CallBuilder builder_;
  registration::CallObserver observer_;
  RegistrationRateLimiter limiter_;
  std::unique_ptr<metrics::Registry> own_registry_;
  metrics::Family* answers_ = nullptr;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace dcr::public_registration

#endif  // DCR_SERVICE_PUBLIC_REGISTRATION_REGISTRATION_ENDPOINT_H_
