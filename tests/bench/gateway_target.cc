// The gateway target: one async call per operation of the generated stub.
#include <utility>

#include "absl/strings/str_cat.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "proto/api/status_detail.h"
#include "service/metadata/metadata_json.h"
#include "tests/bench/target.h"

namespace dcr::bench {
namespace {

class GatewayTarget final : public Target {
 public:
  GatewayTarget(std::shared_ptr<grpc::Channel> channel, std::vector<v1::ClientMetadata> metadata,
                absl::Duration timeout)
      : stub_(v1::ClientRegistrationService::NewStub(std::move(channel))),
        metadata_(std::move(metadata)),
        timeout_(timeout) {}

  bool blocking() const override { return false; }

  void Start(const CallSpec& spec, Done done) override {
    switch (spec.operation) {
      case Operation::kRegister: {
        auto* call = NewCall<v1::RegisterClientRequest, v1::RegisterClientResponse>(std::move(done));
        *call->request.mutable_metadata() = metadata_[spec.document];
        stub_->async()->RegisterClient(&call->context, &call->request, &call->response,
                                       [call](grpc::Status status) {
                                         CallOutcome outcome = OutcomeOf(status);
                                         if (status.ok()) {
                                           const auto& client = call->response.client();
                                           outcome.registered = ClientRef{
                                               client.client_id(),
                                               client.registration_access_token()};
                                         }
                                         call->Finish(std::move(outcome));
                                       });
        return;
      }
      case Operation::kGet: {
        auto* call = NewCall<v1::GetClientRequest, v1::GetClientResponse>(std::move(done));
        call->request.set_client_id(spec.client.client_id);
        call->request.set_registration_access_token(spec.client.token);
        stub_->async()->GetClient(&call->context, &call->request, &call->response,
                                  [call](grpc::Status s) { call->Finish(OutcomeOf(s)); });
        return;
      }
      case Operation::kUpdate: {
        auto* call = NewCall<v1::UpdateClientRequest, v1::UpdateClientResponse>(std::move(done));
        call->request.set_client_id(spec.client.client_id);
        call->request.set_registration_access_token(spec.client.token);
        *call->request.mutable_metadata() = metadata_[spec.document];
        stub_->async()->UpdateClient(&call->context, &call->request, &call->response,
                                     [call](grpc::Status s) { call->Finish(OutcomeOf(s)); });
        return;
      }
      case Operation::kDelete: {
        auto* call = NewCall<v1::DeleteClientRequest, v1::DeleteClientResponse>(std::move(done));
        call->request.set_client_id(spec.client.client_id);
        call->request.set_registration_access_token(spec.client.token);
        stub_->async()->DeleteClient(&call->context, &call->request, &call->response,
                                     [call](grpc::Status s) { call->Finish(OutcomeOf(s)); });
        return;
      }
      default:
        // The workload makes the four DCR calls only; anything else fails
        // rather than never finishing.
        std::move(done)(CallOutcome{"UNSUPPORTED_OPERATION", absl::nullopt});
        return;
    }
  }

 private:
  // What one call keeps alive until its callback: gRPC only borrows these.
  template <typename Request, typename Response>
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
    Done done;
    void Finish(CallOutcome outcome) {
      Done finish = std::move(done);
      delete this;
      std::move(finish)(std::move(outcome));
    }
  };

  template <typename Request, typename Response>
  Call<Request, Response>* NewCall(Done done) {
    auto* call = new Call<Request, Response>();
    call->done = std::move(done);
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    return call;
  }

  friend class HealthCheckTarget;
  // "OK", or the code and the gateway's reason, e.g.
  // "RESOURCE_EXHAUSTED/ERROR_REASON_GATEWAY_OVERLOADED" (the code alone
  // when the status carries no detail: gRPC's own errors, a deadline).
  static CallOutcome OutcomeOf(const grpc::Status& status) {
    CallOutcome outcome;
    if (!status.ok()) {
      outcome.outcome = std::string(
          absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())));
      if (absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(status)) {
        absl::StrAppend(&outcome.outcome, "/", v1::ErrorReason_Name(detail->reason()));
      }
    }
    return outcome;
  }

  std::unique_ptr<v1::ClientRegistrationService::Stub> stub_;
  const std::vector<v1::ClientMetadata> metadata_;
  const absl::Duration timeout_;
};

class HealthCheckTarget final : public Target {
 public:
  HealthCheckTarget(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
      : stub_(grpc::health::v1::Health::NewStub(std::move(channel))), timeout_(timeout) {}

  bool blocking() const override { return false; }

  void Start(const CallSpec& /*spec*/, Done done) override {
    struct Call {
      grpc::ClientContext context;
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
      Done done;
    };
    auto* call = new Call();
    call->done = std::move(done);
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    stub_->async()->Check(&call->context, &call->request, &call->response,
                          [call](grpc::Status status) {
                            Done finish = std::move(call->done);
                            delete call;
                            std::move(finish)(GatewayTarget::OutcomeOf(status));
                          });
  }

 private:
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  const absl::Duration timeout_;
};

}  // namespace

std::unique_ptr<Target> MakeHealthCheckTarget(std::shared_ptr<grpc::Channel> channel,
                                              absl::Duration timeout) {
  return std::make_unique<HealthCheckTarget>(std::move(channel), timeout);
}

absl::StatusOr<std::unique_ptr<Target>> MakeGatewayTarget(
    std::shared_ptr<grpc::Channel> channel, const std::vector<std::string>& documents,
    absl::Duration timeout) {
  std::vector<v1::ClientMetadata> metadata;
  for (const std::string& document : documents) {
    absl::StatusOr<v1::ClientMetadata> typed = metadata::MetadataFromJsonString(document);
    if (!typed.ok()) return typed.status();
    metadata.push_back(*std::move(typed));
  }
  return std::make_unique<GatewayTarget>(std::move(channel), std::move(metadata), timeout);
}

}  // namespace dcr::bench
