// The per-caller policy against untrusted input: the callers file (an
// operator's, but a typo must not crash the gateway) and, more to the point,
// a caller's metadata document checked against redirect URI patterns and
// grant types. The first byte chooses which.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "service/callers/caller_guard.h"
#include "service/callers/caller_policy.h"
#include "service/callers/redirect_uri_pattern.h"

namespace {

const dcr::callers::CallerGuard& Guard() {
  static const auto* guard = [] {
    auto callers = dcr::callers::ParseCallersFile(R"({"callers": [{"name": "portal",
        "certificate_identities": ["spiffe://corp/portal"], "rpcs": ["*"], "service_ids": ["*"],
        "redirect_uri_patterns": ["https://*.portal.example.com/cb", "https://app.example.com/cb/*",
                                  "com.example.app:/oauth"],
        "grant_types": ["authorization_code"]}]})");
    if (!callers.ok()) abort();
    return new dcr::callers::CallerGuard(*std::move(callers));
  }();
  return *guard;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)dcr::callers::ParseCallersFile(text);
      break;
    case 1: {
      const size_t newline = text.find('\n');
      auto pattern = dcr::callers::RedirectUriPattern::Parse(text.substr(0, newline));
      if (pattern.ok() && newline != absl::string_view::npos) {
        (void)pattern->Matches(text.substr(newline + 1));
      }
      break;
    }
    default: {
      dcr::callers::CallerCredentials credentials;
      credentials.certificate_identities = {"spiffe://corp/portal"};
      auto caller = Guard().Authenticate(credentials);
      if (!caller.ok()) abort();
      dcr::core::DcrCall call;
      call.operation = dcr::api::Operation::kRegister;
      call.service_id = "1";
      call.json = std::string(text);
      (void)Guard().CheckCall(*caller, call);
      break;
    }
  }
  return 0;
}
