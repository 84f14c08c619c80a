// The gRPC face of the gateway: one callback service whose RPCs each run the
// same pipeline of named stages (README "Follow one RPC"):
//   1. identify the caller  (incoming_call.h, callers::CallerGuard::Authenticate)
//   2. admit                (CallerGuard::Admit: the RPC in its policy, rate limit;
//                           admission::InFlightBudget: room in the memory budget)
//   3. build the call       (call_builder.h; metadata serialized only now)
//   4. check the call       (CallerGuard::CheckCall: service, redirect URIs, grants)
//   4b. idempotency         (idempotency.h: a RegisterClient with a request_id
//                           only; no store traffic without one)
//   5. upstream             (authlete::AuthleteConnection: resilience, then HTTP)
//   6. reply                (reply.h), observed (call_observer.h), and the
//                           error, if any, turned into a gRPC status once.
// No thread waits for Authlete: the reply is sent from the upstream callback.
#ifndef DCR_SERVICE_REGISTRATION_CLIENT_REGISTRATION_SERVICE_H_
#define DCR_SERVICE_REGISTRATION_CLIENT_REGISTRATION_SERVICE_H_

#include <memory>

#include "absl/time/time.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "service/admission/in_flight_budget.h"
#include "service/authlete/authlete_connection.h"
#include "service/callers/caller_guard.h"
#include "service/registration/call_builder.h"
#include "service/registration/call_observer.h"
#include "service/registration/idempotency.h"
#include "service/state/state_store.h"

namespace dcr::registration {

class PendingRpc;  // one RPC in flight (client_registration_service.cc)

class ClientRegistrationService final
    : public v1::ClientRegistrationService::CallbackService {
 public:
  struct Options {
    CallBuilder::Options call;
    CallObserver::Options observe;
    // Upper bound of the time given to Authlete; the caller's deadline may
    // shorten it.
    absl::Duration max_upstream_timeout = absl::Seconds(10);
    // RegisterClient with a request_id; reservation_ttl must exceed
    // max_upstream_timeout (GatewayServer derives it so).
    IdempotencyStage::Options idempotency;
  };

  // `guard` decides who may call (never null: CallerGuard without a callers
  // file lets everyone in); `registry` (may be null) gets the RPC metrics;
  // `budget` bounds what calls in flight hold (null: no bound, for tests of
  // the other stages; GatewayServer always has one); `store` keeps the
  // request_id records (null: an in-process store of the service's own).
  ClientRegistrationService(Options options, std::shared_ptr<callers::CallerGuard> guard,
                            std::shared_ptr<authlete::AuthleteConnection> authlete,
                            metrics::Registry* registry,
                            std::shared_ptr<admission::InFlightBudget> budget = nullptr,
                            std::shared_ptr<state::StateStore> store = nullptr);

  // Shutdown: calls waiting for a duplicate in flight end now.
  void CancelWaits() { idempotency_->CancelAll(); }

  grpc::ServerUnaryReactor* RegisterClient(grpc::CallbackServerContext* context,
                                           const v1::RegisterClientRequest* request,
                                           v1::RegisterClientResponse* response) override;
  grpc::ServerUnaryReactor* GetClient(grpc::CallbackServerContext* context,
                                      const v1::GetClientRequest* request,
                                      v1::GetClientResponse* response) override;
  grpc::ServerUnaryReactor* UpdateClient(grpc::CallbackServerContext* context,
                                         const v1::UpdateClientRequest* request,
                                         v1::UpdateClientResponse* response) override;
  grpc::ServerUnaryReactor* DeleteClient(grpc::CallbackServerContext* context,
                                         const v1::DeleteClientRequest* request,
                                         v1::DeleteClientResponse* response) override;
  grpc::ServerUnaryReactor* ListClients(grpc::CallbackServerContext* context,
                                        const v1::ListClientsRequest* request,
                                        v1::ListClientsResponse* response) override;
  grpc::ServerUnaryReactor* GetClientRecord(grpc::CallbackServerContext* context,
                                            const v1::GetClientRecordRequest* request,
                                            v1::GetClientRecordResponse* response) override;
  grpc::ServerUnaryReactor* RotateClientSecret(grpc::CallbackServerContext* context,
                                               const v1::RotateClientSecretRequest* request,
                                               v1::RotateClientSecretResponse* response) override;
  grpc::ServerUnaryReactor* SetClientLocked(grpc::CallbackServerContext* context,
                                            const v1::SetClientLockedRequest* request,
                                            v1::SetClientLockedResponse* response) override;

 private:
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Handle(api::Operation operation,
                                   grpc::CallbackServerContext* context, const Request& request,
                                   Response* response);
  struct Onward;
  // Stages 2 (the budget) to 6, after the rate limit.
  template <typename Request, typename Response>
  void Continue(std::unique_ptr<PendingRpc> rpc, Onward onward, const Request& request,
                Response* response);
  // Stages 4b to 6 of a RegisterClient with a request_id.
  void RegisterOnce(std::unique_ptr<PendingRpc> rpc, const callers::Caller& caller,
                    core::DcrCall call, absl::Time deadline,
                    v1::RegisterClientResponse* response);

  const Options options_;
  const std::shared_ptr<callers::CallerGuard> guard_;
  const std::shared_ptr<authlete::AuthleteConnection> authlete_;
  const std::shared_ptr<admission::InFlightBudget> budget_;
  const CallBuilder builder_;
  CallObserver observer_;
  // Last: destroyed first, so that waits it cancels still find the observer.
  std::unique_ptr<IdempotencyStage> idempotency_;
};

}  // namespace dcr::registration

#endif  // DCR_SERVICE_REGISTRATION_CLIENT_REGISTRATION_SERVICE_H_
