// An asynchronous HTTP client interface: the seam between the Authlete REST
// client and the transport, so tests can script HTTP outcomes precisely.
#ifndef DCR_SERVICE_HTTP_HTTP_CLIENT_H_
#define DCR_SERVICE_HTTP_HTTP_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace dcr::http {

// One request. `headers` are complete "Name: value" lines; they may hold
// credentials, so nothing here is ever logged.
struct HttpRequest {
  enum class Method { kPost, kGet };
  // A GET sends no body (`body` is ignored).
  Method method = Method::kPost;
  std::string url;
  std::vector<std::string> headers;
  std::string body;
  // Open a new connection for it: libcurl silently resends a GET whose
  // reused connection died, which a request that must never run twice (a
  // secret refresh) cannot allow.
  bool fresh_connection = false;
  // Total time allowed for the exchange, connection set-up included.
  absl::Duration timeout = absl::Seconds(10);
};

// What became of a request. `transport` is OK when a complete HTTP response
// arrived (whatever its status); otherwise it says what failed:
//   UNAVAILABLE        no connection, or it broke (see request_sent)
//   DEADLINE_EXCEEDED  the request's timeout elapsed
//   DATA_LOSS          the response was truncated
//   OUT_OF_RANGE       the response exceeded the configured size limit
//   CANCELLED          the client is shutting down
struct HttpResult {
  absl::Status transport;
  // Whether any part of the request was handed to the network: when false
  // the server cannot have processed it, so any RPC is safe to retry.
  bool request_sent = false;
  int status = 0;
  std::string body;
  // From a Retry-After header (seconds or HTTP-date), when present.
  absl::optional<absl::Duration> retry_after;
};

using HttpCallback = absl::AnyInvocable<void(HttpResult) &&>;

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends `request` and calls `done` exactly once, on an internal thread.
  // `done` must not block: it runs on the transport's event loop.
  virtual void Send(HttpRequest request, HttpCallback done) = 0;
};

}  // namespace dcr::http

#endif  // DCR_SERVICE_HTTP_HTTP_CLIENT_H_
