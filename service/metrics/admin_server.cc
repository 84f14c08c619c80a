#include "service/metrics/admin_server.h"

#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "service/metrics/listening_socket.h"

namespace dcr::metrics {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::size_t kMaxRequestBytes = 8 * 1024;     // the request's head
constexpr auto kReadTimeout = std::chrono::seconds(2);  // for the whole head to arrive
constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr int kMaxConnections = 16;  // at a time; more wait in the listen queue
constexpr int kListenBacklog = 16;

}  // namespace

struct AdminServer::Impl {
  std::function<std::string()> render_metrics;
  std::function<bool()> ready;
  // Declared first, destroyed last: the acceptor and the sessions need it.
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<net::steady_timer> accept_retry;
  std::thread thread;
  // Touched on the server's thread only (and in ~AdminServer after it ended).
  int connections = 0;
  bool accepting = false;
  bool stopped = false;

  void DoAccept();
  void ConnectionEnded() {
    --connections;
    if (!stopped) DoAccept();
  }
};

namespace {

// One connection: one request, one answer, closed.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(AdminServer::Impl* server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)) {}
  ~Session() { server_->ConnectionEnded(); }

  void Start() {
    parser_.header_limit(kMaxRequestBytes);
    // Admin requests have no body; one that comes is never read.
    stream_.expires_after(kReadTimeout);
    http::async_read_header(stream_, buffer_, parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

 private:
  void OnHeader(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return Answer(http::status::request_header_fields_too_large, "text/plain", "too large\n");
    }
    if (ec) {
      // A request Beast could not parse gets 400; a slow, cut or vanished
      // client gets nothing.
      const bool malformed =
          ec.category() == http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::partial_message && ec != http::error::end_of_stream;
      if (malformed) return Answer(http::status::bad_request, "text/plain", "bad request\n");
      return Close();
    }
    const http::request<http::empty_body>& request = parser_.get();
    const beast::string_view target = request.target();
    const beast::string_view path = target.substr(0, target.find('?'));
    head_ = request.method() == http::verb::head;
    if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
      Answer(http::status::not_found, "text/plain", "not found\n");
    } else if (request.method() != http::verb::get && !head_) {
      Answer(http::status::method_not_allowed, "text/plain", "GET only\n");
    } else if (path == "/healthz") {
      Answer(http::status::ok, "text/plain", "ok\n");
    } else if (path == "/readyz") {
      if (server_->ready()) {
        Answer(http::status::ok, "text/plain", "ready\n");
      } else {
        Answer(http::status::service_unavailable, "text/plain", "draining\n");
      }
    } else {
      Answer(http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
             server_->render_metrics());
    }
  }

  void Answer(http::status status, const char* content_type, std::string body) {
    response_.version(11);
    response_.result(status);
    response_.set(http::field::content_type, content_type);
    response_.keep_alive(false);  // Connection: close
    response_.content_length(body.size());
    if (!head_) response_.body() = std::move(body);
    stream_.expires_after(kWriteTimeout);
    // A HEAD answer has the Content-Length of the GET's body, but no body.
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code, std::size_t) {
                        self->Close();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  AdminServer::Impl* const server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kMaxRequestBytes};
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> response_;
  bool head_ = false;
};

}  // namespace

void AdminServer::Impl::DoAccept() {
  if (accepting || stopped || connections >= kMaxConnections) return;
  accepting = true;
  acceptor->async_accept(*ioc, [this](beast::error_code ec, tcp::socket socket) {
    accepting = false;
    if (stopped || ec == net::error::operation_aborted) return;
    if (ec) {
      // E.g. EMFILE: back off briefly instead of spinning.
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code ec) {
        if (!ec) DoAccept();
      });
      return;
    }
    ++connections;
    std::make_shared<Session>(this, std::move(socket))->Start();
    DoAccept();
  });
}

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(
    const std::string& address, std::function<std::string()> render_metrics,
    std::function<bool()> ready) {
  auto impl = std::make_unique<Impl>();
  impl->render_metrics = std::move(render_metrics);
  impl->ready = std::move(ready);
  impl->ioc = std::make_unique<net::io_context>(1);
  absl::StatusOr<std::unique_ptr<tcp::acceptor>> acceptor =
      Listen(*impl->ioc, address, kListenBacklog, "admin address");
  if (!acceptor.ok()) return acceptor.status();
  impl->acceptor = *std::move(acceptor);
  impl->accept_retry = std::make_unique<net::steady_timer>(*impl->ioc);
  const int bound_port = impl->acceptor->local_endpoint().port();
  impl->DoAccept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc->run(); });
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl), bound_port));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

AdminServer::~AdminServer() {
  impl_->ioc->stop();
  impl_->thread.join();
  impl_->stopped = true;
  // Sessions are owned by pending handlers; destroying the io_context drops
  // them (closing their sockets) while the rest of Impl is still alive.
  impl_->accept_retry.reset();
  impl_->acceptor.reset();
  impl_->ioc.reset();
}

}  // namespace dcr::metrics
