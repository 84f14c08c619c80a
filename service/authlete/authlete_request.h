// Builds the HTTP request of contract §1-2 for one DCR operation: always a
// POST, JSON body whose fields are all strings, Bearer (v3) or Basic (v2)
// authentication.
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_REQUEST_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_REQUEST_H_

#include <string>

#include "absl/time/time.h"
#include "service/authlete/authlete_options.h"
#include "service/http/http_client.h"

namespace dcr::authlete {

// One DCR call as the gateway received it.
struct DcrCall {
  Operation operation = Operation::kRegister;
  // The Authlete service's numeric API key.
  std::string service_id;
  // get/update/delete: the client identifier.
  std::string client_id;
  // get/update/delete: the registration access token. A secret.
  std::string token;
  // register/update: the RFC 7591 metadata, a JSON object as text.
  std::string json;
  // W3C trace context passed on to Authlete when non-empty (validated by the
  // caller: no CR or LF can reach a header line).
  std::string traceparent;
  std::string tracestate;
};

http::HttpRequest BuildHttpRequest(const AuthleteOptions& options, const DcrCall& call,
                                   absl::Duration timeout);

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_REQUEST_H_
