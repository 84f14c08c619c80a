#include "service/metrics/listening_socket.h"

#include <boost/system/error_code.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dcr::metrics {

absl::StatusOr<std::unique_ptr<boost::asio::ip::tcp::acceptor>> Listen(
    boost::asio::io_context& ioc, const std::string& address, int backlog,
    absl::string_view what) {
  using tcp = boost::asio::ip::tcp;
  const std::size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be host:port: ", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  tcp::resolver resolver(ioc);
  const tcp::resolver::results_type found =
      resolver.resolve(host, std::to_string(port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", what, " ", address));
  }
  const tcp::endpoint endpoint = found.begin()->endpoint();
  auto acceptor = std::make_unique<tcp::acceptor>(ioc);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(backlog, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", ec.message()));
  }
  return acceptor;
}

}  // namespace dcr::metrics
