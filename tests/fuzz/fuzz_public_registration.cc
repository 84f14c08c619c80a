// The public registration endpoint against untrusted bytes, the gateway's
// most exposed surface: the first byte chooses what the rest is.
//   0  an HTTP request (method, target, headers, body on lines of their own)
//      through RegistrationEndpoint::Handle, with an Authlete that answers
//      at once (introspection OK, registration created): it must be answered
//      exactly once, whatever the bytes;
//   1  a client metadata document against the default public policy;
//   2  a public registration policy file, and a metadata document against
//      it when it parses;
//   3  an initial access tokens file;
//   4  trusted proxies and a Forwarded / X-Forwarded-For chain.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "service/authlete/authlete_connection.h"
#include "service/callers/caller_policy.h"
#include "service/public_registration/client_address.h"
#include "service/public_registration/initial_access_tokens.h"
#include "service/public_registration/metadata_check.h"
#include "service/public_registration/registration_endpoint.h"

namespace {

using dcr::public_registration::IpAddress;
using dcr::public_registration::PublicRequest;
using dcr::public_registration::PublicResponse;
using dcr::public_registration::RegistrationEndpoint;

// Answers every call at once, as Authlete would a good one.
class InstantAuthlete final : public dcr::authlete::AuthleteConnection {
 public:
  void Call(const dcr::core::DcrCall& call, absl::Duration, Callback done) override {
    dcr::core::DcrResponse response;
    switch (call.operation) {
      case dcr::api::Operation::kIntrospectToken:
        response.action = dcr::v1::ACTION_UNSPECIFIED;
        response.response_content =
            R"({"action":"OK","clientId":7,"responseContent":"Bearer error=\"invalid_request\""})";
        break;
      case dcr::api::Operation::kDelete:
        response.action = dcr::v1::ACTION_DELETED;
        break;
      case dcr::api::Operation::kRegister:
        response.action = dcr::v1::ACTION_CREATED;
        response.response_content = R"({"client_id":"7","registration_access_token":"t"})";
        break;
      default:
        response.action = dcr::v1::ACTION_OK;
        response.response_content = R"({"client_id":"7"})";
        break;
    }
    std::move(done)(std::move(response));
  }
};

std::shared_ptr<RegistrationEndpoint> MakeEndpoint(RegistrationEndpoint::Access access) {
  RegistrationEndpoint::Options options;
  options.access = access;
  options.call.default_service_id = "21653835348762";
  options.observe.log_requests = false;
  // Generous: the fuzzer's requests all come from one address.
  options.rate.per_address_rate = 1e9;
  options.rate.per_address_burst = 1e9;
  options.rate.global_rate = 1e9;
  options.rate.global_burst = 1e9;
  auto proxies = dcr::public_registration::TrustedProxies::Parse({"10.0.0.0/8", "::1"});
  if (!proxies.ok()) abort();
  return std::make_shared<RegistrationEndpoint>(
      options, dcr::callers::DefaultPublicPolicy(), nullptr, *std::move(proxies),
      std::make_shared<InstantAuthlete>(), nullptr);
}

void HandleRequest(absl::string_view text, bool authlete_token) {
  // Made once and kept for the whole run (held by a static that is never
  // destroyed: a fuzzer exits without tearing down).
  static const auto* endpoints = new std::shared_ptr<RegistrationEndpoint>[2]{
      MakeEndpoint(RegistrationEndpoint::Access::kOpen),
      MakeEndpoint(RegistrationEndpoint::Access::kAuthleteToken)};
  std::vector<std::string> lines = absl::StrSplit(text, absl::MaxSplits('\n', 8));
  lines.resize(9);
  PublicRequest request;
  request.method = lines[0];
  request.target = lines[1];
  request.authorization = lines[2];
  request.content_type = lines[3];
  request.forwarded = {lines[4]};
  request.x_forwarded_for = absl::StrSplit(lines[5], ',');
  if (!lines[6].empty()) request.traceparent = lines[6];
  request.peer_address = lines[7];
  request.body = lines[8];
  int answers = 0;
  endpoints[authlete_token ? 1 : 0]->Handle(std::move(request),
                                            [&answers](PublicResponse) { ++answers; });
  if (answers != 1) abort();  // the instant Authlete answers inline
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0:
    case 5:
      HandleRequest(text, data[0] % 6 == 5);
      break;
    case 1:
      (void)dcr::public_registration::CheckMetadata(dcr::callers::DefaultPublicPolicy(), text);
      break;
    case 2: {
      const size_t newline = text.find('\n');
      auto policy = dcr::callers::ParsePublicPolicy(text.substr(0, newline));
      if (policy.ok() && newline != absl::string_view::npos) {
        (void)dcr::public_registration::CheckMetadata(*policy, text.substr(newline + 1));
      }
      break;
    }
    case 3:
      (void)dcr::public_registration::InitialAccessTokens::Parse(text);
      break;
    default: {
      std::vector<std::string> lines = absl::StrSplit(text, absl::MaxSplits('\n', 3));
      lines.resize(4);
      auto proxies =
          dcr::public_registration::TrustedProxies::Parse(absl::StrSplit(lines[0], ','));
      absl::optional<IpAddress> peer = IpAddress::Parse(lines[1]);
      if (proxies.ok() && peer.has_value()) {
        (void)proxies->ClientOf(*peer, {lines[2]}, absl::StrSplit(lines[3], ','));
      }
      break;
    }
  }
  return 0;
}
