#include "service/registration/client_registration_service.h"

#include <utility>

#include "proto/api/status_detail.h"
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

// The time Authlete may take: the caller's remaining deadline, capped.
ErrorOr<absl::Duration> UpstreamTimeout(absl::Time deadline, absl::Duration max) {
  if (deadline == absl::InfiniteFuture()) return max;
  const absl::Duration left = deadline - absl::Now();
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
template <typename Request>
std::string RequestedClientId(const Request& request) {
  return Bounded(request.client_id());
}

// One RPC in flight: its record for the observer and how it ends. Every
// path ends it exactly once, with or without an error.
class PendingRpc {
 public:
  PendingRpc(grpc::ServerUnaryReactor* reactor, CallObserver& observer, CallRecord record)
      : reactor_(reactor), observer_(observer), record_(std::move(record)) {}

  CallRecord& record() { return record_; }

  void Fail(const Error& error) {
    observer_.Finished(record_, &error);
    // The one place an error becomes a gRPC status.
    reactor_->Finish(api::ToGrpcStatus(error.code(), error.message(), &error.detail()));
  }

  void Succeed() {
    observer_.Finished(record_, nullptr);
    reactor_->Finish(grpc::Status::OK);
  }

 private:
  grpc::ServerUnaryReactor* const reactor_;
  CallObserver& observer_;
  CallRecord record_;
};

}  // namespace

ClientRegistrationService::ClientRegistrationService(
    Options options, std::shared_ptr<callers::CallerGuard> guard,
    std::shared_ptr<authlete::AuthleteConnection> authlete, metrics::Registry* registry)
    : options_(options),
      guard_(std::move(guard)),
      authlete_(std::move(authlete)),
      builder_(options.call),
      observer_(options.observe, registry) {}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* ClientRegistrationService::Handle(Operation operation,
                                                            grpc::CallbackServerContext* context,
                                                            const Request& request,
                                                            Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
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
  auto rpc = std::make_unique<PendingRpc>(reactor, observer_, std::move(record));

  // 1. Identify the caller.
  ErrorOr<callers::Caller> caller = guard_->Authenticate(incoming.credentials);
  if (!caller.ok()) {
    rpc->Fail(caller.error());
    return reactor;
  }
  rpc->record().caller = caller->name;
  // 2. Admit: may it make this RPC, now?
  if (core::Refusal refused = guard_->Admit(*caller, operation)) {
    rpc->Fail(*refused);
    return reactor;
  }
  // 3. Build the call.
  ErrorOr<DcrCall> call = builder_.Build(request);
  if (!call.ok()) {
    rpc->Fail(call.error());
    return reactor;
  }
  rpc->record().service_id = call->service_id;
  rpc->record().client_id = call->client_id;
  // 4. Check what it asks for against the caller's policy.
  if (core::Refusal refused = guard_->CheckCall(*caller, *call)) {
    rpc->Fail(*refused);
    return reactor;
  }
  ErrorOr<absl::Duration> timeout =
      UpstreamTimeout(incoming.deadline, options_.max_upstream_timeout);
  if (!timeout.ok()) {
    rpc->Fail(timeout.error());
    return reactor;
  }
  call->traceparent = trace.TraceparentHeader();
  call->tracestate = trace.tracestate;
  // 5. Upstream; 6. reply and observe, from Authlete's answer.
  authlete_->Call(*call, *timeout,
                  [rpc = std::move(rpc), response](DcrResult result) mutable {
                    if (!result.ok()) {
                      rpc->Fail(result.error());
                      return;
                    }
                    FillReply(*result, *response);
                    CallRecord& record = rpc->record();
                    record.action = result->action;
                    record.result_code = result->result_code;
                    if (record.client_id.empty()) record.client_id = ClientIdOf(*response);
                    rpc->Succeed();
                  });
  return reactor;
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

}  // namespace dcr::registration
