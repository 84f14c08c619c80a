#include "client/grpc_registration_connection.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include <grpcpp/client_context.h>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/time/clock.h"
#include "client/registration_error.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"

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

// The server's retry_after, when present and well formed.
absl::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  absl::optional<v1::RegistrationError> detail = GetRegistrationError(status);
  if (!detail.has_value() || !detail->has_retry_after()) return absl::nullopt;
  const google::protobuf::Duration& d = detail->retry_after();
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999999999) return absl::nullopt;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

class GrpcRegistrationConnection : public RegistrationConnection {
 public:
  GrpcRegistrationConnection(std::shared_ptr<grpc::Channel> channel, ConnectionOptions options)
      : stub_(v1::ClientRegistrationService::NewStub(std::move(channel))),
        options_(Sanitize(options)) {}

  absl::StatusOr<v1::RegisterClientResponse> RegisterClient(
      const v1::RegisterClientRequest& request, const CallOptions& options) override {
    return Call<v1::RegisterClientResponse>(
        Idempotency::kNonIdempotent, options,
        [&](grpc::ClientContext* context, v1::RegisterClientResponse* response) {
          return stub_->RegisterClient(context, request, response);
        });
  }

  absl::StatusOr<v1::GetClientResponse> GetClient(const v1::GetClientRequest& request,
                                                  const CallOptions& options) override {
    return Call<v1::GetClientResponse>(
        Idempotency::kIdempotent, options,
        [&](grpc::ClientContext* context, v1::GetClientResponse* response) {
          return stub_->GetClient(context, request, response);
        });
  }

  absl::StatusOr<v1::UpdateClientResponse> UpdateClient(
      const v1::UpdateClientRequest& request, const CallOptions& options) override {
    return Call<v1::UpdateClientResponse>(
        Idempotency::kIdempotent, options,
        [&](grpc::ClientContext* context, v1::UpdateClientResponse* response) {
          return stub_->UpdateClient(context, request, response);
        });
  }

  absl::StatusOr<v1::DeleteClientResponse> DeleteClient(
      const v1::DeleteClientRequest& request, const CallOptions& options) override {
    return Call<v1::DeleteClientResponse>(
        Idempotency::kNonIdempotent, options,
        [&](grpc::ClientContext* context, v1::DeleteClientResponse* response) {
          return stub_->DeleteClient(context, request, response);
        });
  }

 private:
  template <typename Response, typename Attempt>
  absl::StatusOr<Response> Call(Idempotency idempotency, const CallOptions& call_options,
                                Attempt&& attempt) {
    const absl::Time deadline =
        absl::Now() + call_options.timeout.value_or(options_.default_timeout);
    const int max_attempts = std::max(call_options.max_attempts.value_or(options_.max_attempts), 1);
    absl::Duration backoff = options_.initial_backoff;
    for (int n = 1;; ++n) {
      // A ClientContext serves one RPC only: a fresh one per attempt.
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(deadline));
      Response response;
      absl::Status status = FromGrpcStatus(attempt(&context, &response));
      if (status.ok()) return response;
      if (n >= max_attempts || !IsRetryable(idempotency, status)) return status;

      absl::Duration sleep = Jitter(backoff);
      backoff = std::min(options_.max_backoff, backoff * options_.backoff_multiplier);
      if (absl::optional<absl::Duration> retry_after = RetryAfter(status)) {
        sleep = std::max(sleep, *retry_after);
      }
      // Sleeping past the deadline would only turn this error into a less
      // informative DEADLINE_EXCEEDED.
      if (absl::Now() + sleep >= deadline) return status;
      absl::SleepFor(sleep);
    }
  }

  // Full jitter: uniform in [0, cap].
  absl::Duration Jitter(absl::Duration cap) {
    std::lock_guard<std::mutex> lock(mu_);
    return cap * absl::Uniform(absl::IntervalClosed, bitgen_, 0.0, 1.0);
  }

  std::unique_ptr<v1::ClientRegistrationService::Stub> stub_;
  const ConnectionOptions options_;
  std::mutex mu_;
  absl::BitGen bitgen_;  // guarded by mu_
};

bool IsProvenUnprocessed(const absl::Status& status) {
  absl::optional<v1::RegistrationError> detail = GetRegistrationError(status);
  if (!detail.has_value() || detail->may_have_been_processed()) return false;
  switch (detail->reason()) {
    case v1::ERROR_REASON_UPSTREAM_UNREACHABLE:
    case v1::ERROR_REASON_UPSTREAM_RATE_LIMITED:
    case v1::ERROR_REASON_GATEWAY_UNAVAILABLE:
    case v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN:  // the gateway did not call Authlete
      return true;
    default:
      return false;
  }
}

}  // namespace

bool IsRetryable(Idempotency idempotency, const absl::Status& status) {
  // DEADLINE_EXCEEDED is never retried: the call's deadline covers all
  // attempts, so there is no time left; and the request may have run.
  if (status.code() != absl::StatusCode::kUnavailable) return false;
  if (idempotency == Idempotency::kIdempotent) return true;
  return IsProvenUnprocessed(status);
}

std::shared_ptr<RegistrationConnection> MakeGrpcRegistrationConnection(
    std::shared_ptr<grpc::Channel> channel, ConnectionOptions options) {
  return std::make_shared<GrpcRegistrationConnection>(std::move(channel), options);
}

}  // namespace dcr::client
