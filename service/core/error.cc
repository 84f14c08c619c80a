#include "service/core/error.h"

#include "proto/api/error_rules.h"
#include "proto/api/status_detail.h"

namespace dcr::core {

Error::Error(v1::ErrorReason reason, std::string message, Sent sent)
    : message_(std::move(message)) {
  const api::ReasonRule& rule = api::RuleOf(reason);
  detail_.set_reason(reason);
  detail_.set_http_status(rule.http_status);
  detail_.set_may_have_been_processed(
      rule.processed == api::Processed::kYes ||
      (rule.processed == api::Processed::kIfSent && sent == Sent::kMaybe));
}

Error Error::InvalidRequest(std::string message) {
  return Error(v1::ERROR_REASON_INVALID_REQUEST, std::move(message));
}

absl::StatusCode Error::code() const { return api::CodeOf(detail_.reason(), detail_.action()); }

Error& Error::set_action(v1::Action action) {
  detail_.set_action(action);
  detail_.set_http_status(api::HttpStatusOf(detail_.reason(), action));
  return *this;
}

Error& Error::set_upstream_http_status(int status) {
  detail_.set_upstream_http_status(status);
  return *this;
}

Error& Error::set_result(std::string code, std::string message) {
  detail_.set_result_code(std::move(code));
  detail_.set_result_message(std::move(message));
  return *this;
}

Error& Error::set_end_client_error(std::string error, std::string description,
                                   std::string uri) {
  detail_.set_error(std::move(error));
  detail_.set_error_description(std::move(description));
  detail_.set_error_uri(std::move(uri));
  return *this;
}

Error& Error::set_response_content(std::string content) {
  detail_.set_response_content(std::move(content));
  return *this;
}

Error& Error::set_retry_after(absl::Duration wait) {
  api::SetRetryAfter(wait, detail_);
  return *this;
}

Error& Error::set_upstream_attempts(int attempts) {
  detail_.set_upstream_attempts(attempts);
  return *this;
}

Error& Error::mark_maybe_processed() {
  detail_.set_may_have_been_processed(true);
  return *this;
}

absl::optional<absl::Duration> Error::retry_after() const { return api::RetryAfter(detail_); }

absl::Status Error::ToStatus() const { return absl::Status(code(), message_); }

}  // namespace dcr::core
