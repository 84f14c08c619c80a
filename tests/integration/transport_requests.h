// What the HTTP transport's tests send, and how they make the emulator hold
// it: shared by curl_multi_http_client_test.cc and upstream_http2_test.cc.
#ifndef DCR_TESTS_INTEGRATION_TRANSPORT_REQUESTS_H_
#define DCR_TESTS_INTEGRATION_TRANSPORT_REQUESTS_H_

#include <string>

#include "absl/time/time.h"
#include "service/authlete/authlete_request.h"
#include "tests/emulator/emulator.h"

namespace dcr::testing {

// A Register request of the contract, to the Authlete at `base_url`.
inline http::HttpRequest RegisterRequestTo(const std::string& base_url,
                                           absl::Duration timeout = absl::Seconds(10)) {
  authlete::AuthleteOptions options;
  options.base_url = base_url;
  options.credential = emulator::kDefaultServiceToken;
  core::DcrCall call;
  call.operation = api::Operation::kRegister;
  call.service_id = emulator::kDefaultServiceId;
  call.json = R"({"redirect_uris":["https://app.example.com/cb"]})";
  return authlete::BuildHttpRequest(options, call, timeout);
}

// Every request held by the emulator for `ms` (0: none), so that those sent
// at once are all under way together.
inline void HoldEveryRequest(emulator::Emulator& emulator, int ms) {
  emulator::FaultSpec spec;
  if (ms > 0) {
    emulator::FaultRule latency;
    latency.kind = emulator::FaultKind::kLatency;
    latency.latency_ms = ms;
    spec.rules.push_back(latency);
  }
  emulator.SetFaults(spec);
}

}  // namespace dcr::testing

#endif  // DCR_TESTS_INTEGRATION_TRANSPORT_REQUESTS_H_
