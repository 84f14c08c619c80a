// The listening socket of the gateway's HTTP servers on Boost.Asio (the
// admin port, the public registration endpoint), so that both read their
// address and bind it the same way.
#ifndef DCR_SERVICE_METRICS_LISTENING_SOCKET_H_
#define DCR_SERVICE_METRICS_LISTENING_SOCKET_H_

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dcr::metrics {

// An acceptor on `address`: "host:port" or "[v6]:port"; an empty host is
// every address (getaddrinfo's passive lookup), port 0 one the kernel picks.
// SO_REUSEADDR, listening with `backlog`. `what` names the address in
// errors ("admin address"): INVALID_ARGUMENT for one that is malformed or
// does not resolve, UNAVAILABLE when it cannot be bound.
absl::StatusOr<std::unique_ptr<boost::asio::ip::tcp::acceptor>> Listen(
    boost::asio::io_context& ioc, const std::string& address, int backlog,
    absl::string_view what);

}  // namespace dcr::metrics

#endif  // DCR_SERVICE_METRICS_LISTENING_SOCKET_H_
