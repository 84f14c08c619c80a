#include "tests/emulator/http_server.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <type_traits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dcr::emulator {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

absl::optional<std::string> HttpRequest::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return absl::nullopt;
}

std::string HttpRequest::Path() const { return target.substr(0, target.find('?')); }

void RaiseFileDescriptorLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);  // best effort: the limits we got still work
  }
}

namespace {

std::string ToStd(beast::string_view s) { return std::string(s.data(), s.size()); }

// Writes `head` and the body by hand, for the faults that must break HTTP.
std::string SerializeHead(const http::response<http::string_body>& res) {
  std::string out = absl::StrCat("HTTP/1.1 ", res.result_int(), " ", ToStd(res.reason()), "\r\n");
  for (const auto& field : res) {
    absl::StrAppend(&out, ToStd(field.name_string()), ": ", ToStd(field.value()), "\r\n");
  }
  out += "\r\n";
  return out;
}

// A request target without its query string.
std::string PathOf(beast::string_view target) {
  std::string path = ToStd(target);
  return path.substr(0, path.find('?'));
}

// What the application sees of a request Beast has read.
HttpRequest ToHttpRequest(http::request<http::string_body>& req) {
  HttpRequest request;
  request.method = ToStd(req.method_string());
  request.target = ToStd(req.target());
  for (const auto& field : req) {
    request.headers.emplace_back(ToStd(field.name_string()), ToStd(field.value()));
  }
  request.body = std::move(req.body());
  return request;
}

using BeastResponse = http::response<http::string_body>;

// The application's answer as Beast writes it, with the status given.
std::shared_ptr<BeastResponse> ToBeastResponse(HttpResponse r, int status, unsigned version,
                                               bool keep_alive) {
  auto res = std::make_shared<BeastResponse>();
  res->version(version);
  res->result(static_cast<unsigned>(status));
  res->set(http::field::server, "authlete-emulator");
  for (const auto& [name, value] : r.headers) res->set(name, value);
  res->body() = std::move(r.body);
  res->keep_alive(keep_alive);
  res->prepare_payload();
  return res;
}

// Method, path, status, action, latency: never headers or bodies (secrets).
std::string RequestLogLine(absl::string_view method, absl::string_view path, int status,
                           absl::string_view action, absl::Duration latency,
                           absl::string_view fault) {
  return absl::StrCat("authlete-emulator: ", method, " ", path, " ",
                      status == 0 ? "-" : absl::StrCat(status), " ", action, " ",
                      absl::ToInt64Milliseconds(latency), "ms",
                      fault.empty() ? "" : absl::StrCat(" fault=", fault), "\n");
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpApplication* app = nullptr;
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<net::ssl::context> tls;  // null: plain HTTP
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<net::steady_timer> accept_retry;
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};

  void DoAccept();
};

namespace {

// A connection's byte stream and the ways it ends: closed, reset, closed
// gracefully, or drained first. `Stream` is beast::tcp_stream (HTTP) or
// TlsStream (HTTPS). Session builds the HTTP exchange on top.
template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 protected:
  // `stream_args` construct the stream: the accepted socket, then for TLS the
  // ssl::context.
  template <class... Args>
  explicit Connection(size_t max_body_bytes, Args&&... stream_args)
      : stream_(std::forward<Args>(stream_args)...), max_body_bytes_(max_body_bytes) {}

  // Timeouts and the socket live on the TCP layer, under TLS if any.
  beast::tcp_stream& transport() { return beast::get_lowest_layer(stream_); }

  // Closing a socket with unread input makes the kernel send a reset, which
  // could destroy the answer in flight: half-close, then read until EOF.
  // Over TLS there is no half-close (a bare FIN reads as a cut, and
  // close_notify would wait for the client's): the answer says
  // Connection: close, so the client ends the connection itself.
  void Drain() {
    if constexpr (!kTls) {
      beast::error_code ec;
      transport().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return Close();
    }
    drain_buffer_.resize(64 * 1024);
    DrainMore();
  }

  void DrainMore() {
    // Bounded in bytes and time: a client that never stops sending is cut off.
    if (drained_bytes_ > 16 * max_body_bytes_) return Close();
    transport().expires_after(std::chrono::seconds(2));
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->drained_bytes_ += n;
                              self->DrainMore();
                            });
  }

  void GracefulClose() {
    if constexpr (kTls) {
      // close_notify, so that the client can tell the end of the data from a
      // cut: a truncated_body must read as short, not as an attack. Waits
      // (briefly) for the client's close_notify in return.
      transport().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->Close(); });
      return;
    }
    beast::error_code ec;
    transport().socket().shutdown(tcp::socket::shutdown_send, ec);
    transport().socket().close(ec);
  }

  void Close() {
    beast::error_code ec;
    transport().socket().close(ec);
  }

  // SO_LINGER with a zero timeout: close() sends RST instead of FIN.
  void Reset() {
    beast::error_code ec;
    transport().socket().set_option(net::socket_base::linger(true, 0), ec);
    transport().socket().close(ec);
  }

  Stream stream_;

 private:
  size_t max_body_bytes_;
  std::vector<char> drain_buffer_;
  size_t drained_bytes_ = 0;
};

// One connection's HTTP exchanges; everything above the byte stream, faults
// included, is shared by HTTP and HTTPS.
template <class Stream>
class Session : public Connection<Stream> {
  using Base = Connection<Stream>;

 public:
  template <class... Args>
  explicit Session(HttpServer::Impl* server, Args&&... stream_args)
      : Base(server->options.max_body_bytes, std::forward<Args>(stream_args)...),
        timer_(stream_.get_executor()),
        server_(server) {
    server_->app->OnConnectionOpened();
  }
  ~Session() { server_->app->OnConnectionClosed(); }

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::Handshake, shared_from_this()));
  }

 private:
  using Base::Close;
  using Base::Drain;
  using Base::GracefulClose;
  using Base::kTls;
  using Base::Reset;
  using Base::stream_;
  using Base::transport;

  // This Session, kept alive by the handlers it is bound to.
  std::shared_ptr<Session> shared_from_this() {
    return std::static_pointer_cast<Session>(Base::shared_from_this());
  }

  const HttpServerOptions& options() const { return server_->options; }

  void Handshake() {
    if constexpr (kTls) {
      // Bounded like an idle keep-alive connection: a client that connects
      // and never speaks TLS is dropped alike.
      transport().expires_after(absl::ToChronoMilliseconds(options().idle_timeout));
      stream_.async_handshake(
          net::ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
    } else {
      ReadHeader();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      // E.g. the client does not trust the certificate: worth a line, since
      // no request will show.
      if (options().log_requests) {
        std::fprintf(stderr, "authlete-emulator: TLS handshake failed: %s\n",
                     ec.message().c_str());
      }
      return Close();
    }
    ReadHeader();
  }

  void ReadHeader() {
    method_.clear();
    path_.clear();
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(options().max_body_bytes);
    transport().expires_after(absl::ToChronoMilliseconds(options().idle_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    NoteRequestLine();
    auto length = parser_->content_length();
    if (length && *length > options().max_body_bytes) {
      // Refuse before the body is sent; drain whatever the client sends anyway.
      return SendProtocolError(413);
    }
    if (absl::EqualsIgnoreCase(ToStd(parser_->get()[http::field::expect]), "100-continue")) {
      return SendContinue();
    }
    ReadBody();
  }

  // The request's start, method and path, for the log and protocol errors.
  void NoteRequestLine() {
    start_ = absl::Now();
    method_ = ToStd(parser_->get().method_string());
    path_ = PathOf(parser_->get().target());
  }

  // Without this, curl waits a second before sending bodies over 1 KiB.
  void SendContinue() {
    auto interim = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
    net::async_write(stream_, net::buffer(*interim),
                     [self = shared_from_this(), interim](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->ReadBody();
                     });
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return GracefulClose();
    // Beast reports a too-large Content-Length while reading the header,
    // after the request line has been parsed.
    if (parser_ && path_.empty()) NoteRequestLine();
    if (ec == http::error::body_limit) return SendProtocolError(413);
    if (ec.category() == beast::http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::partial_message) {
      return SendProtocolError(400);
    }
    Close();  // timeout, reset, partial message: nobody to answer
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    transport().expires_never();  // an injected delay must not count as idleness
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    request_ = ToHttpRequest(req);
    plan_ = server_->app->Plan(request_);
    if (plan_.delay_ms > 0) {
      timer_.expires_after(std::chrono::milliseconds(plan_.delay_ms));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->Close();
        self->Process();
      });
      return;
    }
    Process();
  }

  // Answers the request, or applies the transport fault the plan holds.
  void Process() {
    absl::optional<FaultKind> fault;
    if (plan_.fault) fault = plan_.fault->kind;
    if (fault == FaultKind::kResetBeforeProcessing) {
      Log(0, "-", "reset_before");
      return Reset();
    }
    HttpResponse r = server_->app->Handle(request_, plan_);
    const int status = r.status;
    action_ = r.log_action.empty() ? "-" : r.log_action;
    response_ = ToBeastResponse(std::move(r), status, version_, keep_alive_);
    if (fault == FaultKind::kResetAfterProcessing) {
      Log(status, action_, "reset_after");
      return Reset();
    }
    if (fault == FaultKind::kTruncatedBody) return WriteTruncatedBody(status);
    if (fault == FaultKind::kSlowBody) return StartSlowBody(status);
    Write(fault.has_value() ? FaultKindName(*fault) : "");
  }

  // The head and half the body, then the end of the connection.
  void WriteTruncatedBody(int status) {
    const std::string& body = response_->body();
    auto raw = std::make_shared<std::string>(SerializeHead(*response_) +
                                             body.substr(0, body.size() / 2));
    Log(status, action_, "truncated_body");
    transport().expires_after(std::chrono::seconds(30));
    net::async_write(stream_, net::buffer(*raw),
                     [self = shared_from_this(), raw](beast::error_code, size_t) {
                       self->GracefulClose();
                     });
  }

  // The head now, then the body in timed chunks (WriteSlowChunk).
  void StartSlowBody(int status) {
    Log(status, action_, "slow_body");
    slow_head_ = std::make_shared<std::string>(SerializeHead(*response_));
    slow_offset_ = 0;
    transport().expires_after(std::chrono::seconds(30));
    net::async_write(stream_, net::buffer(*slow_head_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->WriteSlowChunk();
                     });
  }

  void WriteSlowChunk() {
    const std::string& body = response_->body();
    if (slow_offset_ >= body.size()) return AfterResponse();
    timer_.expires_after(std::chrono::milliseconds(plan_.fault->chunk_delay_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      const std::string& body = self->response_->body();
      size_t n = std::min<size_t>(static_cast<size_t>(self->plan_.fault->chunk_bytes),
                                  body.size() - self->slow_offset_);
      self->transport().expires_after(std::chrono::seconds(30));
      net::async_write(self->stream_, net::buffer(body.data() + self->slow_offset_, n),
                       [self](beast::error_code ec, size_t n) {
                         if (ec) return self->Close();
                         self->slow_offset_ += n;
                         self->WriteSlowChunk();
                       });
    });
  }

  void Write(absl::string_view fault_name) {
    // Logged before the answer leaves, so the line exists by the time the
    // client has the answer (tests read the log right after).
    Log(response_->result_int(), action_, fault_name);
    transport().expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->AfterResponse();
                      });
  }

  void AfterResponse() {
    if (!response_->keep_alive()) return GracefulClose();
    response_.reset();
    ReadHeader();
  }

  void SendProtocolError(int status) {
    HttpResponse r = server_->app->ProtocolError(status, path_);
    if (path_.empty()) path_ = "-";
    response_ = ToBeastResponse(std::move(r), status, 11, /*keep_alive=*/false);
    if (method_.empty()) method_ = "-";
    if (start_ == absl::InfinitePast()) start_ = absl::Now();
    Log(status, "-", "");
    transport().expires_after(std::chrono::seconds(10));
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->Drain();
                      });
  }

  void Log(int status, absl::string_view action, absl::string_view fault) {
    if (!options().log_requests) return;
    std::string line = RequestLogLine(method_, path_, status, action, absl::Now() - start_, fault);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }

  net::steady_timer timer_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  absl::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  RequestPlan plan_;
  std::shared_ptr<BeastResponse> response_;
  std::shared_ptr<std::string> slow_head_;
  size_t slow_offset_ = 0;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::string method_, path_, action_;
  absl::Time start_ = absl::InfinitePast();
};

}  // namespace

void HttpServer::Impl::DoAccept() {
  acceptor->async_accept(net::make_strand(*ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopped.load()) return;
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      // E.g. EMFILE: back off briefly instead of spinning.
      std::fprintf(stderr, "authlete-emulator: accept failed: %s\n", ec.message().c_str());
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code ec) {
        if (!ec) DoAccept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls) {
      std::make_shared<Session<TlsStream>>(this, std::move(socket), *tls)->Start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(this, std::move(socket))->Start();
    }
    DoAccept();
  });
}

namespace {

// A server context with the certificate (chain) and key, TLS 1.2 or later.
absl::StatusOr<std::unique_ptr<net::ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                                 const std::string& key_file) {
  std::unique_ptr<net::ssl::context> ctx;
  try {
    ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  } catch (const boost::system::system_error& e) {
    return absl::InternalError(absl::StrCat("cannot create a TLS context: ", e.what()));
  }
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return absl::InternalError("cannot require TLS 1.2");
  }
  beast::error_code ec;
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::single_dh_use, ec);
  if (ec) return absl::InternalError(absl::StrCat("TLS options: ", ec.message()));
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the TLS certificate ", cert_file, ": ", ec.message()));
  }
  ctx->use_private_key_file(key_file, net::ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the TLS key ", key_file, ": ", ec.message()));
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the TLS key ", key_file, " does not match the certificate ", cert_file));
  }
  return ctx;
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                             HttpApplication* app) {
  if (options.threads < 1 || options.threads > 256) {
    return absl::InvalidArgumentError("threads must be in [1, 256]");
  }
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError("port must be in [0, 65535]");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->app = app;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert_file and tls_key_file go together");
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::unique_ptr<net::ssl::context>> tls =
        MakeTlsContext(options.tls_cert_file, options.tls_key_file);
    if (!tls.ok()) return tls.status();
    impl->tls = *std::move(tls);
  }
  impl->ioc = std::make_unique<net::io_context>(options.threads);
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options.address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid listen address \"", options.address, "\""));
  }
  impl->acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*impl->ioc));
  impl->accept_retry = std::make_unique<net::steady_timer>(impl->acceptor->get_executor());
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  auto fail = [&](const char* what) {
    return absl::UnavailableError(absl::StrCat("cannot ", what, " ", options.address, ":",
                                               options.port, ": ", ec.message()));
  };
  impl->acceptor->open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  impl->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("set SO_REUSEADDR on");
  impl->acceptor->bind(endpoint, ec);
  if (ec) return fail("bind");
  impl->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  int port = impl->acceptor->local_endpoint().port();
  impl->DoAccept();
  for (int i = 0; i < options.threads; ++i) {
    Impl* raw = impl.get();
    impl->threads.emplace_back([raw] { raw->ioc->run(); });
  }
  const bool tls = impl->tls != nullptr;
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(impl)));
  server->port_ = port;
  server->tls_ = tls;
  return server;
}

void HttpServer::Shutdown() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  impl_->ioc->stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  // Sessions are owned by pending handlers; destroying the io_context drops
  // them (closing their sockets) while the application is still alive.
  impl_->accept_retry.reset();
  impl_->acceptor.reset();
  impl_->ioc.reset();
}

}  // namespace dcr::emulator
