// Builds the HTTP request of contract §1-2 for one DCR operation (a POST,
// JSON body whose fields are all strings), or of §9 for an administrative
// one (a GET without body or Content-Type, or a POST with a JSON body);
// Bearer (v3) or Basic (v2) authentication.
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_REQUEST_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_REQUEST_H_

#include <string>

#include "absl/time/time.h"
#include "service/authlete/authlete_options.h"
#include "service/core/call.h"
#include "service/http/http_client.h"

namespace dcr::authlete {

http::HttpRequest BuildHttpRequest(const AuthleteOptions& options, const core::DcrCall& call,
                                   absl::Duration timeout);

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_REQUEST_H_
