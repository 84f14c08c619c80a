#include "service/public_registration/public_registration_server.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "service/metrics/listening_socket.h"
#include "service/public_registration/answers.h"

namespace dcr::public_registration {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr int kListenBacklog = 128;
constexpr std::size_t kReadChunk = 4096;
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(1);

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// A connection, as the server sees it when it stops: something to close.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Abort() = 0;
};

}  // namespace

struct PublicRegistrationServer::Impl {
  Options options;
  Handler handler;
  std::weak_ptr<Impl> self;
  std::unique_ptr<metrics::Registry> own_registry;
  metrics::Series* open_connections = nullptr;
  metrics::Series* refused_connections = nullptr;
  metrics::Family* closed = nullptr;
  // Declared before what runs on it; sessions hold the Impl, so it outlives
  // them all.
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<ssl::context> tls;  // null: plaintext
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<net::steady_timer> accept_retry;
  std::thread thread;
  std::atomic<int> connections{0};
  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  std::vector<std::weak_ptr<Connection>> live ABSL_GUARDED_BY(mu);

  bool Stopped() {
    absl::MutexLock lock(&mu);
    return stopped;
  }
  void Closed(const char* why) { closed->With({why}).Add(1); }
  void DoAccept();
  template <typename Stream>
  void Serve(tcp::socket socket);
};

namespace {

template <typename Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <typename... Args>
  Session(std::shared_ptr<PublicRegistrationServer::Impl> impl, Args&&... args)
      : impl_(std::move(impl)),
        stream_(std::forward<Args>(args)...),
        buffer_(impl_->options.max_header_bytes + impl_->options.max_body_bytes + kReadChunk) {}

  ~Session() override {
    impl_->connections.fetch_sub(1);
    impl_->open_connections->Add(-1);
  }

  void Abort() override {
    beast::error_code ignored;
    Lowest().socket().close(ignored);
  }

  void Start() {
    if constexpr (kTls) {
      Lowest().expires_after(Chrono(impl_->options.header_timeout));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  self->impl_->Closed("tls_handshake");
                                  return self->Close();
                                }
                                self->ReadRequest();
                              });
    } else {
      ReadRequest();
    }
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(impl_->options.max_header_bytes));
    parser_->body_limit(impl_->options.max_body_bytes);
    if (served_ > 0 && buffer_.size() == 0) {
      // Kept alive: the next request gets read_timeout to begin, then
      // header_timeout for its head.
      Lowest().expires_after(Chrono(impl_->options.read_timeout));
      const std::size_t room = std::min(kReadChunk, buffer_.max_size() - buffer_.size());
      stream_.async_read_some(buffer_.prepare(room),
                              [self = this->shared_from_this()](beast::error_code ec,
                                                                std::size_t n) {
                                if (ec) {
                                  if (ec == beast::error::timeout) self->impl_->Closed("idle");
                                  return self->Close();
                                }
                                self->buffer_.commit(n);
                                self->ReadHeader();
                              });
      return;
    }
    ReadHeader();
  }

  void ReadHeader() {
    // One deadline for the whole head, however it trickles in.
    Lowest().expires_after(Chrono(impl_->options.header_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      impl_->Closed("header_too_large");
      return Refuse(431, "the request head is too large");
    }
    if (ec == http::error::body_limit) {  // Content-Length beyond it, seen with the head
      impl_->Closed("body_too_large");
      return Refuse(413, "the request body is too large");
    }
    if (ec) return ReadFailed(ec);
    const auto length = parser_->content_length();  // boost::optional
    if (length && *length > impl_->options.max_body_bytes) {
      impl_->Closed("body_too_large");
      return Refuse(413, "the request body is too large");
    }
    if (parser_->is_done()) return OnBody({});
    const auto& request = parser_->get();
    if (beast::iequals(request[http::field::expect], "100-continue")) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      Lowest().expires_after(Chrono(impl_->options.write_timeout));
      net::async_write(stream_, net::buffer(kContinue, sizeof(kContinue) - 1),
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Lowest().expires_after(Chrono(impl_->options.read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->OnBody(ec);
                     });
  }

  void ReadFailed(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      impl_->Closed("timeout");
      return Close();
    }
    // A request Beast could not parse gets 400; a cut or vanished client
    // nothing.
    const bool malformed = ec.category() == http::make_error_code(http::error::bad_method).category() &&
                           ec != http::error::partial_message && ec != http::error::end_of_stream;
    if (malformed) {
      impl_->Closed("malformed");
      return Refuse(400, "malformed request");
    }
    Close();
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
      impl_->Closed("body_too_large");
      return Refuse(413, "the request body is too large");
    }
    if (ec) return ReadFailed(ec);
    if (impl_->Stopped()) return Close();
    http::request<http::string_body> message = parser_->release();
    PublicRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.authorization = std::string(message[http::field::authorization]);
    request.content_type = std::string(message[http::field::content_type]);
    for (const auto& field : message) {
      if (beast::iequals(field.name_string(), "forwarded")) {
        request.forwarded.emplace_back(field.value());
      } else if (beast::iequals(field.name_string(), "x-forwarded-for")) {
        request.x_forwarded_for.emplace_back(field.value());
      } else if (beast::iequals(field.name_string(), "traceparent")) {
        request.traceparent = std::string(field.value());
      } else if (beast::iequals(field.name_string(), "tracestate")) {
        request.tracestate = std::string(field.value());
      }
    }
    request.body = std::move(message.body());
    beast::error_code ignored;
    request.peer_address = Lowest().socket().remote_endpoint(ignored).address().to_string();
    ++served_;
    keep_alive_ = message.keep_alive() && served_ < impl_->options.max_requests_per_connection;
    impl_->handler(std::move(request),
                   [self = this->shared_from_this()](PublicResponse response) mutable {
                     // Under the lock, so that a stopping server either sees
                     // this answer queued or refuses it: nothing is posted to
                     // a loop that will never run it.
                     PublicRegistrationServer::Impl& impl = *self->impl_;
                     absl::MutexLock lock(&impl.mu);
                     if (impl.stopped) return;
                     net::post(*impl.ioc, [self, response = std::move(response)]() mutable {
                       self->Write(std::move(response));
                     });
                   });
  }

  // An answer of the server's own; the connection closes after it, since
  // what follows on it cannot be trusted to be a request.
  void Refuse(int status, const char* why) {
    keep_alive_ = false;
    Write(JsonError(status, "invalid_request", why));
  }

  void Write(PublicResponse answer) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(answer.status));
    for (auto& [name, value] : answer.headers) response_.set(name, value);
    response_.keep_alive(keep_alive_);
    if (answer.status != 204 && answer.status != 304) {
      response_.body() = std::move(answer.body);
      response_.content_length(response_.body().size());
    }
    Lowest().expires_after(Chrono(impl_->options.write_timeout));
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->keep_alive_) return self->Close();
                        self->ReadRequest();
                      });
  }

  void Close() {
    if constexpr (kTls) {
      Lowest().expires_after(kTlsShutdownTimeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        self->Lowest().socket().close(ignored);
      });
    } else {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Lowest().socket().close(ignored);
    }
  }

  // First: destroyed last, after the stream that lives on its loop.
  const std::shared_ptr<PublicRegistrationServer::Impl> impl_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  int served_ = 0;
  bool keep_alive_ = false;
};

}  // namespace

template <typename Stream>
void PublicRegistrationServer::Impl::Serve(tcp::socket socket) {
  std::shared_ptr<Session<Stream>> session;
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    session = std::make_shared<Session<Stream>>(self.lock(), std::move(socket));
  } else {
    session = std::make_shared<Session<Stream>>(self.lock(), std::move(socket), *tls);
  }
  {
    absl::MutexLock lock(&mu);
    // Forget the connections that ended, now and then: the list stays
    // within twice the connection limit.
    if (live.size() >= 2 * static_cast<std::size_t>(options.max_connections)) {
      std::vector<std::weak_ptr<Connection>> kept;
      for (auto& weak : live) {
        if (!weak.expired()) kept.push_back(std::move(weak));
      }
      live = std::move(kept);
    }
    live.push_back(session);
  }
  session->Start();
}

void PublicRegistrationServer::Impl::DoAccept() {
  acceptor->async_accept(*ioc, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || Stopped()) return;
    if (ec) {
      // E.g. EMFILE: back off briefly instead of spinning.
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code ec) {
        if (!ec) DoAccept();
      });
      return;
    }
    if (connections.load() >= options.max_connections) {
      // Refused at accept: closed before a byte is read.
      refused_connections->Add(1);
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      connections.fetch_add(1);
      open_connections->Add(1);
      if (tls != nullptr) {
        Serve<beast::ssl_stream<beast::tcp_stream>>(std::move(socket));
      } else {
        Serve<beast::tcp_stream>(std::move(socket));
      }
    }
    DoAccept();
  });
}

absl::StatusOr<std::unique_ptr<PublicRegistrationServer>> PublicRegistrationServer::Start(
    Options options, Handler handler, metrics::Registry* registry) {
  const std::string address = options.listen_address;
  auto impl = std::make_shared<Impl>();
  impl->self = impl;
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  if (registry == nullptr) {
    impl->own_registry = std::make_unique<metrics::Registry>();
    registry = impl->own_registry.get();
  }
  impl->open_connections =
      &registry
           ->Add("dcr_gateway_public_registration_connections",
                 "Connections open on the public registration port.", metrics::Type::kGauge)
           .With({});
  impl->refused_connections =
      &registry
           ->Add("dcr_gateway_public_registration_connections_refused_total",
                 "Connections closed at accept: the connection limit was reached.",
                 metrics::Type::kCounter)
           .With({});
  impl->closed = &registry->Add(
      "dcr_gateway_public_registration_transport_refusals_total",
      "Requests the public registration server refused or dropped itself, by why: "
      "header_too_large (431), body_too_large (413), malformed (400), timeout (head or body "
      "too slow), idle (kept-alive connection unused), tls_handshake.",
      metrics::Type::kCounter, {"why"});
  impl->ioc = std::make_unique<net::io_context>(1);
  beast::error_code ec;
  if (!impl->options.tls_cert_file.empty()) {
    impl->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                               ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                               ssl::context::no_tlsv1_1,
                           ec);
    if (!ec) impl->tls->use_certificate_chain_file(impl->options.tls_cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("public registration TLS: cannot use ", impl->options.tls_cert_file));
    }
    impl->tls->use_private_key_file(impl->options.tls_key_file, ssl::context::pem, ec);
    if (ec) {
      // Never the file's content: it is a private key.
      return absl::InvalidArgumentError(
          absl::StrCat("public registration TLS: cannot use ", impl->options.tls_key_file));
    }
  }
  absl::StatusOr<std::unique_ptr<tcp::acceptor>> acceptor =
      metrics::Listen(*impl->ioc, address, kListenBacklog, "public registration address");
  if (!acceptor.ok()) return acceptor.status();
  impl->acceptor = *std::move(acceptor);
  impl->accept_retry = std::make_unique<net::steady_timer>(*impl->ioc);
  const int bound_port = impl->acceptor->local_endpoint().port();
  impl->DoAccept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc->run(); });
  return std::unique_ptr<PublicRegistrationServer>(
      new PublicRegistrationServer(std::move(impl), bound_port));
}

PublicRegistrationServer::PublicRegistrationServer(std::shared_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

int PublicRegistrationServer::connections() const { return impl_->connections.load(); }

PublicRegistrationServer::~PublicRegistrationServer() {
  std::vector<std::weak_ptr<Connection>> live;
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopped = true;
    live = impl_->live;
  }
  impl_->ioc->stop();
  impl_->thread.join();
  // The loop is still: close everything on this thread, then run what that
  // cancelled, so that every session the loop held is let go. Sessions
  // still awaiting their answer are dropped when the handler answers.
  beast::error_code ignored;
  impl_->acceptor->close(ignored);
  impl_->accept_retry->cancel();
  for (const std::weak_ptr<Connection>& weak : live) {
    if (std::shared_ptr<Connection> connection = weak.lock()) connection->Abort();
  }
  impl_->ioc->restart();
  impl_->ioc->poll();
}

}  // namespace dcr::public_registration
