// The gateway's error value: what went wrong (a dcr.v1.ErrorReason, with the
// fields of dcr.v1.RegistrationError) and a message for people. It stays an
// in-memory value from where it arises to the gRPC edge, which turns it into
// a google.rpc.Status once. Its code, end-client HTTP status and whether the
// request may have been processed come from the one table in
// proto/api/error_rules.h, never from the place that raises it.
#ifndef DCR_SERVICE_CORE_ERROR_H_
#define DCR_SERVICE_CORE_ERROR_H_

#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "dcr/v1/registration_error.pb.h"

namespace dcr::core {

// Whether a failed request may have left the gateway, for the reasons whose
// "processed" depends on it (UPSTREAM_TIMEOUT, GATEWAY_UNAVAILABLE).
enum class Sent { kNo, kMaybe };

class Error {
 public:
  Error(v1::ErrorReason reason, std::string message, Sent sent = Sent::kNo);

  // INVALID_REQUEST: the request to the gateway is malformed.
  static Error InvalidRequest(std::string message);

  v1::ErrorReason reason() const { return detail_.reason(); }
  absl::StatusCode code() const;
  const std::string& message() const { return message_; }
  const v1::RegistrationError& detail() const { return detail_; }

  // Authlete's action; the code and end-client HTTP status follow it
  // (REGISTRATION_REJECTED with UNAUTHORIZED is UNAUTHENTICATED, 401).
  Error& set_action(v1::Action action);
  // What Authlete said: its HTTP status and result.
  Error& set_upstream_http_status(int status);
  Error& set_result(std::string code, std::string message);
  // RFC 7591 §3.2.2 error fields and Authlete's responseContent verbatim.
  Error& set_end_client_error(std::string error, std::string description, std::string uri);
  Error& set_response_content(std::string content);
  Error& set_retry_after(absl::Duration wait);
  Error& set_upstream_attempts(int attempts);
  // A 2xx that was not the expected 200: Authlete may have acted on it.
  Error& mark_maybe_processed();

  absl::optional<absl::Duration> retry_after() const;
  // Code and message only, for code that speaks absl::Status.
  absl::Status ToStatus() const;

 private:
  std::string message_;
  v1::RegistrationError detail_;
};

// A value or the Error that prevented it: absl::StatusOr's shape, holding the
// gateway's error value.
template <typename T>
class ErrorOr {
 public:
  ErrorOr(T value) : state_(std::move(value)) {}      // NOLINT: implicit, as StatusOr
  ErrorOr(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // Code and message as an absl::Status: OK when ok().
  absl::Status status() const { return ok() ? absl::OkStatus() : error().ToStatus(); }
  // Only when !ok().
  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

// The refusal of a check that passed nothing else on: empty when it passed.
using Refusal = absl::optional<Error>;

}  // namespace dcr::core

#endif  // DCR_SERVICE_CORE_ERROR_H_
