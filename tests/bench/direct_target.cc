// The direct baseline: libcurl straight to Authlete (the emulator), with the
// gateway's own request builder so that both paths send identical requests.
#include <curl/curl.h>

#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "service/authlete/authlete_request.h"
#include "tests/bench/target.h"

namespace dcr::bench {
namespace {

std::size_t Append(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

class DirectTarget final : public Target {
 public:
  DirectTarget(authlete::AuthleteOptions options, std::string service_id,
               std::vector<std::string> documents, absl::Duration timeout, CURL* easy)
      : options_(std::move(options)),
        service_id_(std::move(service_id)),
        documents_(std::move(documents)),
        timeout_(timeout),
        easy_(easy) {}
  ~DirectTarget() override { curl_easy_cleanup(easy_); }

  bool blocking() const override { return true; }

  void Start(const CallSpec& spec, Done done) override {
    core::DcrCall call;
    call.operation = spec.operation;
    call.service_id = service_id_;
    call.client_id = spec.client.client_id;
    call.token = spec.client.token;
    if (spec.operation == Operation::kRegister) {
      call.json = documents_[spec.document];
    } else if (spec.operation == Operation::kUpdate) {
      // RFC 7592 §2.2: the update body carries the client_id, as the
      // gateway's metadata conversion adds it.
      const std::string& document = documents_[spec.document];
      call.json = absl::StrCat("{\"client_id\":\"", spec.client.client_id, "\",",
                               absl::string_view(document).substr(1));
    }
    std::move(done)(Perform(spec.operation, authlete::BuildHttpRequest(options_, call, timeout_)));
  }

 private:
  CallOutcome Perform(Operation operation, const http::HttpRequest& request) {
    curl_slist* headers = nullptr;
    for (const std::string& header : request.headers) {
      headers = curl_slist_append(headers, header.c_str());
    }
    headers = curl_slist_append(headers, "Expect:");
    std::string body;
    curl_easy_setopt(easy_, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &body);
    const CURLcode code = curl_easy_perform(easy_);
    curl_slist_free_all(headers);
    CallOutcome outcome;
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK) {
      outcome.outcome = absl::StrCat("CURL_", curl_easy_strerror(code));
      return outcome;
    }
    if (status != 200) {
      outcome.outcome = absl::StrCat("HTTP_", status);
      return outcome;
    }
    const nlohmann::json answer = nlohmann::json::parse(body, nullptr, false);
    const std::string action = answer.is_object() ? answer.value("action", "") : "";
    static constexpr const char* kSuccess[] = {"CREATED", "OK", "UPDATED", "DELETED"};
    if (action != kSuccess[static_cast<int>(operation)]) {
      outcome.outcome = action.empty() ? "BAD_RESPONSE" : action;
      return outcome;
    }
    if (operation == Operation::kRegister) {
      const nlohmann::json client =
          nlohmann::json::parse(answer.value("responseContent", ""), nullptr, false);
      if (!client.is_object()) {
        outcome.outcome = "BAD_RESPONSE";
        return outcome;
      }
      const nlohmann::json& id = client["client_id"];
      outcome.registered = ClientRef{id.is_string() ? id.get<std::string>() : id.dump(),
                                     client.value("registration_access_token", "")};
    }
    return outcome;
  }

  const authlete::AuthleteOptions options_;
  const std::string service_id_;
  const std::vector<std::string> documents_;
  const absl::Duration timeout_;
  CURL* const easy_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> MakeDirectTarget(
    authlete::AuthleteOptions options, std::string service_id,
    const std::vector<std::string>& documents, absl::Duration timeout) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return absl::InternalError("curl_easy_init failed");
  return std::make_unique<DirectTarget>(std::move(options), std::move(service_id), documents,
                                        timeout, easy);
}

}  // namespace dcr::bench
