#include "service/registration/client_registration_service.h"

#include <chrono>
#include <type_traits>
#include <utility>

#include "proto/api/status_detail.h"
#include "service/state/in_process_state_store.h"
#include "service/registration/incoming_call.h"
#include "service/registration/reply.h"
#include "service/telemetry/trace_context.h"

namespace dcr::registration {
namespace {

using api::Operation;
using core::DcrCall;
using core::DcrResult;
using core::Error;
using core::ErrorOr;

// The time Authlete may take: the caller's remaining deadline, capped, less
// a little (5 %, at most 100 ms) so that a timed-out call's answer, with its
// reason and whether it may have been processed, reaches the caller before
// its own deadline fires and hides it.
ErrorOr<absl::Duration> UpstreamTimeout(absl::Time deadline, absl::Duration max) {
  if (deadline == absl::InfiniteFuture()) return max;
  absl::Duration left = deadline - absl::Now();
  left -= std::min(left / 20, absl::Milliseconds(100));
  if (left <= absl::ZeroDuration()) {
    return Error(v1::ERROR_REASON_UPSTREAM_TIMEOUT,
                 "the call's deadline passed before Authlete was called");
  }
  return std::min(left, max);
}

// What a request names, for the audit line of a call refused before its
// call is built (untrusted, so bounded; the builder checks it later).
constexpr std::size_t kMaxLoggedIdBytes = 256;
std::string Bounded(const std::string& id) { return id.substr(0, kMaxLoggedIdBytes); }
std::string RequestedClientId(const v1::RegisterClientRequest&) { return ""; }
std::string RequestedClientId(const v1::ListClientsRequest&) { return ""; }
template <typename Request>
std::string RequestedClientId(const Request& request) {
  return Bounded(request.client_id());
}

// What a reply needs of its call besides Authlete's answer: nothing, but
// for ListClients, whose next_page_token continues the page it asked for.
template <typename Response>
struct ReplyContext {
  explicit ReplyContext(const DcrCall&) {}
  void Complete(const CallBuilder&, Response&) const {}
};
template <>
struct ReplyContext<v1::ListClientsResponse> {
  explicit ReplyContext(const DcrCall& call) : page(call) {}
  void Complete(const CallBuilder& builder, v1::ListClientsResponse& response) const {
    response.set_next_page_token(builder.NextPageToken(page, response.total_count()));
  }
  DcrCall page;
};

}  // namespace

// One RPC in flight: its record for the observer, its share of the admission
// budget, and how it ends. Every path ends it exactly once, with or without
// an error, and it is observed then with the code its caller sees: a caller
// that already gave up sees its own deadline or cancellation, which gRPC
// knows by then. gRPC's default reactor, not one of ours: gRPC runs its
// reactions inline, where a reactor of our own would cost a hop to gRPC's
// executor threads on every call.
class PendingRpc {
 public:
  // `reactor` is the context's DefaultReactor(), which may be asked for once.
  PendingRpc(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
             CallObserver& observer, CallRecord record)
      : context_(context), reactor_(reactor), observer_(observer), record_(std::move(record)) {}

  CallRecord& record() { return record_; }
  void Hold(admission::Reservation reservation) { reservation_ = std::move(reservation); }

  void Fail(const Error& error) {
    const CallObserver::Outcome outcome = Count(&error);
    // The one place an error becomes a gRPC status.
    End(api::ToGrpcStatus(error.code(), error.message(), &error.detail()));
    CallObserver::Log(record_, &error, outcome);
  }

  void Succeed() {
    const CallObserver::Outcome outcome = Count(nullptr);
    End(grpc::Status::OK);
    CallObserver::Log(record_, nullptr, outcome);
  }

 private:
  // Before the answer leaves: the context is gRPC's until then, and a caller
  // holding its answer finds the call in the metrics. The log line follows
  // the answer (CallObserver::Log), off the caller's wait; nothing of the
  // service is touched after Finish, since a shutdown may then destroy it.
  CallObserver::Outcome Count(const Error* error) {
    record_.caller_gave_up = context_->IsCancelled();
    if (record_.caller_gave_up) {
      record_.caller_deadline_passed = context_->deadline() <= std::chrono::system_clock::now();
    }
    return observer_.Count(record_, error);
  }

  // The budget is given back as the answer is handed to gRPC: what the call
  // held (request JSON, Authlete's answer) is gone by then but the reply.
  void End(const grpc::Status& status) {
    reservation_.Release();
    reactor_->Finish(status);
  }

  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  CallObserver& observer_;
  CallRecord record_;
  admission::Reservation reservation_;
};

ClientRegistrationService::ClientRegistrationService(
    Options options, std::shared_ptr<callers::CallerGuard> guard,
    std::shared_ptr<authlete::AuthleteConnection> authlete, metrics::Registry* registry,
    std::shared_ptr<admission::InFlightBudget> budget, std::shared_ptr<state::StateStore> store)
    : options_(options),
      guard_(std::move(guard)),
      authlete_(std::move(authlete)),
      budget_(std::move(budget)),
      builder_(options.call),
      observer_(options.observe, registry),
      idempotency_(std::make_unique<IdempotencyStage>(
          options.idempotency,
          store != nullptr ? std::move(store) : std::make_shared<state::InProcessStateStore>(),
          registry)) {}

// What the stages after admission need of the call.
struct ClientRegistrationService::Onward {
  callers::Caller caller;
  absl::Time deadline;
  std::string traceparent;
  std::string tracestate;
};

template <typename Request, typename Response>
void ClientRegistrationService::Continue(std::unique_ptr<PendingRpc> rpc, Onward onward,
                                         const Request& request, Response* response) {
  if (budget_ != nullptr) {
    core::ErrorOr<admission::Reservation> room = budget_->Reserve(
        {onward.caller.index, onward.caller.policy->max_in_flight},
        admission::CallCost(request.ByteSizeLong()));
    if (!room.ok()) {
      rpc->Fail(room.error());
      return;
    }
    rpc->Hold(*std::move(room));
  }
  // 3. Build the call.
  ErrorOr<DcrCall> call = builder_.Build(request);
  if (!call.ok()) {
    rpc->Fail(call.error());
    return;
  }
  rpc->record().service_id = call->service_id;
  rpc->record().client_id = call->client_id;
  // 4. Check what it asks for against the caller's policy.
  if (core::Refusal refused = guard_->CheckCall(onward.caller, *call)) {
    rpc->Fail(*refused);
    return;
  }
  call->traceparent = std::move(onward.traceparent);
  call->tracestate = std::move(onward.tracestate);
  if constexpr (std::is_same_v<Request, v1::RegisterClientRequest>) {
    if (!call->request_id.empty()) {
      RegisterOnce(std::move(rpc), onward.caller, *std::move(call), onward.deadline, response);
      return;
    }
  }
  ErrorOr<absl::Duration> timeout =
      UpstreamTimeout(onward.deadline, options_.max_upstream_timeout);
  if (!timeout.ok()) {
    rpc->Fail(timeout.error());
    return;
  }
  // 5. Upstream; 6. reply and observe, from Authlete's answer.
  authlete_->Call(*call, *timeout,
                  [this, rpc = std::move(rpc), response,
                   context = ReplyContext<Response>(*call)](DcrResult result) mutable {
                    if (!result.ok()) {
                      rpc->Fail(result.error());
                      return;
                    }
                    if (core::Refusal unusable = FillReply(*result, *response)) {
                      rpc->Fail(*unusable);
                      return;
                    }
                    context.Complete(builder_, *response);
                    CallRecord& record = rpc->record();
                    record.action = result->action;
                    record.result_code = result->result_code;
                    if (record.client_id.empty()) record.client_id = ClientIdOf(*response);
                    rpc->Succeed();
                  });
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* ClientRegistrationService::Handle(Operation operation,
                                                            grpc::CallbackServerContext* context,
                                                            const Request& request,
                                                            Response* response) {
  IncomingCall incoming = ReadIncomingCall(*context);
  // The caller's trace continued (or a new one): in the log line and in the
  // call to Authlete, so both sides of the hop can be joined.
  const telemetry::TraceContext trace = telemetry::StartSpan(incoming.traceparent,
                                                             incoming.tracestate);
  CallRecord record;
  record.operation = operation;
  record.start = absl::Now();
  record.peer = std::move(incoming.peer);
  record.trace_id = trace.trace_id;
  record.service_id = Bounded(request.service_id());
  record.client_id = RequestedClientId(request);
  observer_.Started(operation);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto rpc = std::make_unique<PendingRpc>(context, reactor, observer_, std::move(record));

  // 1. Identify the caller.
  ErrorOr<callers::Caller> caller = guard_->Authenticate(incoming.credentials);
  if (!caller.ok()) {
    rpc->Fail(caller.error());
    return reactor;
  }
  rpc->record().caller = caller->name;
  // 2. Admit: may it make this RPC, now, and is there room for it?
  if (core::Refusal refused = guard_->Admit(*caller, operation)) {
    rpc->Fail(*refused);
    return reactor;
  }
  Onward onward{*std::move(caller), incoming.deadline, trace.TraceparentHeader(),
                trace.tracestate};
  if (!guard_->shares_rate_limits()) {
    Continue(std::move(rpc), std::move(onward), request, response);
    return reactor;
  }
  // The rate limit shared by every replica: one store call, then on from
  // its answer (on this thread or the store's).
  const callers::Caller who = onward.caller;
  guard_->SharedRateLimit(
      who, [this, rpc = std::move(rpc), onward = std::move(onward), &request,
            response](core::Refusal refused) mutable {
        if (refused) {
          rpc->Fail(*refused);
          return;
        }
        Continue(std::move(rpc), std::move(onward), request, response);
      });
  return reactor;
}

void ClientRegistrationService::RegisterOnce(std::unique_ptr<PendingRpc> rpc,
                                             const callers::Caller& caller, DcrCall call,
                                             absl::Time deadline,
                                             v1::RegisterClientResponse* response) {
  std::string key = IdempotencyStage::Key(caller.name, call.service_id, call.request_id);
  std::string fingerprint = IdempotencyStage::Fingerprint(call.service_id, call.json);
  // Sent only when this call holds the request_id; the timeout is taken
  // then, after any wait for a duplicate.
  auto send = [this, call = std::move(call), deadline,
               response](IdempotencyStage::SendDone sent) mutable {
    ErrorOr<absl::Duration> timeout = UpstreamTimeout(deadline, options_.max_upstream_timeout);
    if (!timeout.ok()) {
      std::move(sent)(timeout.error());
      return;
    }
    authlete_->Call(call, *timeout,
                    [response, sent = std::move(sent)](DcrResult result) mutable {
                      if (!result.ok()) {
                        std::move(sent)(std::move(result).error());
                        return;
                      }
                      if (core::Refusal unusable = FillReply(*result, *response)) {
                        std::move(sent)(*std::move(unusable));
                        return;
                      }
                      std::move(sent)(response->SerializeAsString());
                    });
  };
  idempotency_->Run(
      std::move(key), std::move(fingerprint), deadline, std::move(send),
      [rpc = std::move(rpc), response](ErrorOr<IdempotencyStage::Reply> reply) mutable {
        if (!reply.ok()) {
          rpc->Fail(reply.error());
          return;
        }
        CallRecord& record = rpc->record();
        if (reply->replayed) {
          // The first call's reply, byte for byte: the same client, secret
          // and registration access token.
          response->Clear();
          if (!response->ParseFromString(reply->bytes)) {
            rpc->Fail(Error(v1::ERROR_REASON_STATE_STORE_UNAVAILABLE,
                            "the stored reply of this request_id could not be read"));
            return;
          }
          record.replayed = true;
        }
        record.action = response->action();
        record.result_code = response->result_code();
        if (record.client_id.empty()) record.client_id = ClientIdOf(*response);
        rpc->Succeed();
      });
}

grpc::ServerUnaryReactor* ClientRegistrationService::RegisterClient(
    grpc::CallbackServerContext* context, const v1::RegisterClientRequest* request,
    v1::RegisterClientResponse* response) {
  return Handle(Operation::kRegister, context, *request, response);
}

grpc::ServerUnaryReactor* ClientRegistrationService::GetClient(
    grpc::CallbackServerContext* context, const v1::GetClientRequest* request,
    v1::GetClientResponse* response) {
  return Handle(Operation::kGet, context, *request, response);
}

grpc::ServerUnaryReactor* ClientRegistrationService::UpdateClient(
    grpc::CallbackServerContext* context, const v1::UpdateClientRequest* request,
    v1::UpdateClientResponse* response) {
  return Handle(Operation::kUpdate, context, *request, response);
}

grpc::ServerUnaryReactor* ClientRegistrationService::DeleteClient(
    grpc::CallbackServerContext* context, const v1::DeleteClientRequest* request,
    v1::DeleteClientResponse* response) {
  return Handle(Operation::kDelete, context, *request, response);
}

grpc::ServerUnaryReactor* ClientRegistrationService::ListClients(
    grpc::CallbackServerContext* context, const v1::ListClientsRequest* request,
    v1::ListClientsResponse* response) {
  return Handle(Operation::kListClients, context, *request, response);
}

grpc::ServerUnaryReactor* ClientRegistrationService::GetClientRecord(
    grpc::CallbackServerContext* context, const v1::GetClientRecordRequest* request,
    v1::GetClientRecordResponse* response) {
  return Handle(Operation::kGetClientRecord, context, *request, response);
}

grpc::ServerUnaryReactor* ClientRegistrationService::RotateClientSecret(
    grpc::CallbackServerContext* context, const v1::RotateClientSecretRequest* request,
    v1::RotateClientSecretResponse* response) {
  return Handle(Operation::kRotateClientSecret, context, *request, response);
}

grpc::ServerUnaryReactor* ClientRegistrationService::SetClientLocked(
    grpc::CallbackServerContext* context, const v1::SetClientLockedRequest* request,
    v1::SetClientLockedResponse* response) {
  return Handle(Operation::kSetClientLocked, context, *request, response);
}

}  // namespace dcr::registration
