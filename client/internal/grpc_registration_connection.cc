#include "client/grpc_registration_connection.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <mutex>
#include <utility>

#include <grpcpp/client_context.h>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/time/clock.h"
#include "client/registration_error.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "proto/api/error_rules.h"
#include "proto/api/operation.h"
#include "proto/api/status_detail.h"

namespace dcr::client {
namespace {

// Clamps options to sane values, so a caller's zero or negative numbers do
// not produce an endless loop or a negative sleep.
ConnectionOptions Sanitize(ConnectionOptions o) {
  o.max_attempts = std::max(o.max_attempts, 1);
  o.initial_backoff = std::max(o.initial_backoff, absl::ZeroDuration());
  o.max_backoff = std::max(o.max_backoff, o.initial_backoff);
  if (!(o.backoff_multiplier >= 1.0)) o.backoff_multiplier = 1.0;  // NaN too
  return o;
}

class GrpcRegistrationConnection : public RegistrationConnection {
 public:
  GrpcRegistrationConnection(std::shared_ptr<grpc::Channel> channel, ConnectionOptions options)
      : stub_(v1::ClientRegistrationService::NewStub(std::move(channel))),
        options_(Sanitize(options)) {}

  absl::StatusOr<v1::RegisterClientResponse> RegisterClient(
      const v1::RegisterClientRequest& request, const CallOptions& options) override {
    if (!request.request_id().empty()) {
      return Call(api::Operation::kRegister, &Stub::RegisterClient, request, options, true);
    }
    // Every attempt of this call carries the same new request_id, so that a
    // resend can never create a second client.
    v1::RegisterClientRequest with_id = request;
    with_id.set_request_id(NewRequestId());
    return Call(api::Operation::kRegister, &Stub::RegisterClient, with_id, options, true);
  }
  absl::StatusOr<v1::GetClientResponse> GetClient(const v1::GetClientRequest& request,
                                                  const CallOptions& options) override {
    return Call(api::Operation::kGet, &Stub::GetClient, request, options);
  }
  absl::StatusOr<v1::UpdateClientResponse> UpdateClient(
      const v1::UpdateClientRequest& request, const CallOptions& options) override {
    return Call(api::Operation::kUpdate, &Stub::UpdateClient, request, options);
  }
  absl::StatusOr<v1::DeleteClientResponse> DeleteClient(
      const v1::DeleteClientRequest& request, const CallOptions& options) override {
    return Call(api::Operation::kDelete, &Stub::DeleteClient, request, options);
  }
  absl::StatusOr<v1::ListClientsResponse> ListClients(const v1::ListClientsRequest& request,
                                                      const CallOptions& options) override {
    return Call(api::Operation::kListClients, &Stub::ListClients, request, options);
  }
  absl::StatusOr<v1::GetClientRecordResponse> GetClientRecord(
      const v1::GetClientRecordRequest& request, const CallOptions& options) override {
    return Call(api::Operation::kGetClientRecord, &Stub::GetClientRecord, request, options);
  }
  absl::StatusOr<v1::RotateClientSecretResponse> RotateClientSecret(
      const v1::RotateClientSecretRequest& request, const CallOptions& options) override {
    return Call(api::Operation::kRotateClientSecret, &Stub::RotateClientSecret, request,
                options);
  }
  absl::StatusOr<v1::SetClientLockedResponse> SetClientLocked(
      const v1::SetClientLockedRequest& request, const CallOptions& options) override {
    return Call(api::Operation::kSetClientLocked, &Stub::SetClientLocked, request, options);
  }

 private:
  using Stub = v1::ClientRegistrationService::Stub;
  // A blocking unary method of the stub.
  template <typename Request, typename Response>
  using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

  // One call of `operation`: attempts of `method` until one succeeds, the
  // failure is not the client's to resend (api::ClientRetries), or the
  // attempts or the deadline run out.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(api::Operation operation, Method<Request, Response> method,
                                const Request& request, const CallOptions& call_options,
                                bool with_request_id = false) {
    const absl::Time deadline =
        absl::Now() + call_options.timeout.value_or(options_.default_timeout);
    const int max_attempts = std::max(call_options.max_attempts.value_or(options_.max_attempts), 1);
    absl::Duration backoff = options_.initial_backoff;
    for (int n = 1;; ++n) {
      // A ClientContext serves one RPC only: a fresh one per attempt.
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(deadline));
      Response response;
      absl::Status status = FromGrpcStatus(((*stub_).*method)(&context, request, &response));
      if (status.ok()) return response;
      if (n >= max_attempts) return status;
      const absl::optional<v1::RegistrationError> detail = GetRegistrationError(status);
      const v1::RegistrationError* error = detail.has_value() ? &*detail : nullptr;
      const bool retry = with_request_id
                             ? api::ClientRetriesWithRequestId(status.code(), error)
                             : api::ClientRetries(operation, status.code(), error);
      if (!retry) return status;

      absl::Duration sleep = Jitter(backoff);
      backoff = std::min(options_.max_backoff, backoff * options_.backoff_multiplier);
      if (error != nullptr) {
        if (absl::optional<absl::Duration> retry_after = api::RetryAfter(*error)) {
          sleep = std::max(sleep, *retry_after);
        }
      }
      // Sleeping past the deadline would only turn this error into a less
      // informative DEADLINE_EXCEEDED.
      if (absl::Now() + sleep >= deadline) return status;
      absl::SleepFor(sleep);
    }
  }

  // A random (version 4) UUID, RFC 9562 §5.4.
  std::string NewRequestId() {
    uint8_t bytes[16];
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (uint8_t& byte : bytes) byte = absl::Uniform<uint8_t>(bitgen_);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80;  // variant 10
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    id.reserve(36);
    for (int i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
      id.push_back(kHex[bytes[i] >> 4]);
      id.push_back(kHex[bytes[i] & 0x0f]);
    }
    return id;
  }

  // Full jitter: uniform in [0, cap].
  absl::Duration Jitter(absl::Duration cap) {
    std::lock_guard<std::mutex> lock(mu_);
    return cap * absl::Uniform(absl::IntervalClosed, bitgen_, 0.0, 1.0);
  }

  std::unique_ptr<Stub> stub_;
  const ConnectionOptions options_;
  std::mutex mu_;
  absl::BitGen bitgen_;  // guarded by mu_
};

}  // namespace

std::shared_ptr<RegistrationConnection> MakeGrpcRegistrationConnection(
    std::shared_ptr<grpc::Channel> channel, ConnectionOptions options) {
  return std::make_shared<GrpcRegistrationConnection>(std::move(channel), options);
}

}  // namespace dcr::client
