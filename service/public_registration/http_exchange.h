// One request to the public registration endpoint and its answer, as the
// endpoint's logic sees them: what the HTTP server read (bounded already) and
// what it is to write. No Beast here, so that the logic is tested without
// sockets.
#ifndef DCR_SERVICE_PUBLIC_REGISTRATION_HTTP_EXCHANGE_H_
#define DCR_SERVICE_PUBLIC_REGISTRATION_HTTP_EXCHANGE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace dcr::public_registration {

struct PublicRequest {
  std::string method;  // "POST", as sent
  std::string target;  // "/register/123?x", as sent
  // Header values; absent headers are empty. `authorization` is a secret.
  std::string authorization;
  std::string content_type;
  // Every Forwarded and X-Forwarded-For line, in order.
  std::vector<std::string> forwarded;
  std::vector<std::string> x_forwarded_for;
  absl::optional<std::string> traceparent;
  absl::optional<std::string> tracestate;
  std::string body;
  // The TCP peer's address, without port ("192.0.2.1", "2001:db8::1").
  std::string peer_address;
};

struct PublicResponse {
  int status = 200;
  // Besides Content-Length and Connection, which the server writes.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of header `name` (case-sensitive as written here), or empty.
  std::string Header(absl::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
};

}  // namespace dcr::public_registration

#endif  // DCR_SERVICE_PUBLIC_REGISTRATION_HTTP_EXCHANGE_H_
