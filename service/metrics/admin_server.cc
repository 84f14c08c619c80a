#include "service/metrics/admin_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dcr::metrics {
namespace {

constexpr std::size_t kMaxRequestBytes = 8 * 1024;
constexpr int kReadTimeoutMs = 2000;

void WriteAll(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

std::string Response(int status, const char* reason, const char* type, const std::string& body) {
  return absl::StrCat("HTTP/1.1 ", status, " ", reason, "\r\nContent-Type: ", type,
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(
    const std::string& address, std::function<std::string()> render_metrics,
    std::function<bool()> ready) {
  const std::size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("admin address must be host:port: ", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve admin address ", address));
  }
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool bound = fd >= 0 && bind(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                     listen(fd, 16) == 0;
  freeaddrinfo(found);
  if (!bound) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", why));
  }
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  const int bound_port = ntohs(local.ss_family == AF_INET6
                                   ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                   : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  const int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    close(fd);
    return absl::InternalError("eventfd failed");
  }
  return std::unique_ptr<AdminServer>(
      new AdminServer(fd, stop_fd, bound_port, std::move(render_metrics), std::move(ready)));
}

AdminServer::AdminServer(int listen_fd, int stop_fd, int port,
                         std::function<std::string()> render, std::function<bool()> ready)
    : listen_fd_(listen_fd), stop_fd_(stop_fd), port_(port), render_metrics_(std::move(render)),
      ready_(std::move(ready)) {
  thread_ = std::thread([this] { Run(); });
}

AdminServer::~AdminServer() {
  const uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
  thread_.join();
  close(listen_fd_);
  close(stop_fd_);
}

void AdminServer::Run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents & POLLIN) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        Serve(fd);
        close(fd);
      }
    }
  }
}

void AdminServer::Serve(int fd) {
  std::string request;
  char buffer[2048];
  while (request.find("\r\n\r\n") == std::string::npos) {
    if (request.size() > kMaxRequestBytes) {
      WriteAll(fd, Response(431, "Request Header Fields Too Large", "text/plain", "too large\n"));
      return;
    }
    pollfd in = {fd, POLLIN, 0};
    if (poll(&in, 1, kReadTimeoutMs) <= 0) return;  // slow or gone: drop it
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  const absl::string_view line(request.data(), request.find("\r\n"));
  const std::size_t first = line.find(' ');
  const std::size_t second = first == absl::string_view::npos ? first : line.find(' ', first + 1);
  if (second == absl::string_view::npos || !absl::StartsWith(line.substr(second + 1), "HTTP/1.")) {
    WriteAll(fd, Response(400, "Bad Request", "text/plain", "bad request\n"));
    return;
  }
  const absl::string_view method = line.substr(0, first);
  absl::string_view path = line.substr(first + 1, second - first - 1);
  path = path.substr(0, path.find('?'));
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    WriteAll(fd, Response(404, "Not Found", "text/plain", "not found\n"));
  } else if (method != "GET" && method != "HEAD") {
    WriteAll(fd, Response(405, "Method Not Allowed", "text/plain", "GET only\n"));
  } else if (path == "/healthz") {
    WriteAll(fd, Response(200, "OK", "text/plain", "ok\n"));
  } else if (path == "/readyz") {
    WriteAll(fd, ready_() ? Response(200, "OK", "text/plain", "ready\n")
                          : Response(503, "Service Unavailable", "text/plain", "draining\n"));
  } else {
    WriteAll(fd, Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                          render_metrics_()));
  }
}

}  // namespace dcr::metrics
