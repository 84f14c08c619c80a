#include "service/state/redis_connection.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace dcr::state {
namespace {

// Reads at most this much per Drive, so that a server that never stops
// sending cannot keep the store's thread from checking its bounds.
constexpr std::size_t kMaxReadPerDrive = 1 << 20;

// OpenSSL's reason for the last failure on this thread, and the queue
// cleared (file names and library reasons only: never key material).
std::string OpenSslReason() {
  unsigned long code = ERR_get_error();
  std::string reason;
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    reason = text;
  }
  ERR_clear_error();
  return reason.empty() ? "unknown OpenSSL error" : reason;
}

// A server's words may be anything: keep them printable and short.
std::string Printable(absl::string_view text) {
  std::string out;
  for (char c : text.substr(0, 120)) {
    out.push_back(absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?');
  }
  return out;
}

bool IsIpLiteral(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

void FreeRedisReply::operator()(redisReply* reply) const { freeReplyObject(reply); }

// ---- TLS settings ----

absl::StatusOr<std::shared_ptr<RedisTlsContext>> RedisTlsContext::Create(
    const RedisTlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "Redis TLS client certificate and key must be given together");
  }
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", OpenSslReason()));
  std::shared_ptr<RedisTlsContext> context(new RedisTlsContext(ctx, options.server_name));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot load Redis TLS CA file ", options.ca_file, ": ", OpenSslReason()));
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the system's CAs for Redis TLS: ", OpenSslReason()));
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot load Redis TLS client certificate ", options.cert_file, ": ", OpenSslReason()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot load Redis TLS client key ", options.key_file,
          " (or it does not match the certificate): ", OpenSslReason()));
    }
  }
  return context;
}

RedisTlsContext::~RedisTlsContext() { SSL_CTX_free(ctx_); }

// ---- the connection ----

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Open(
    const std::string& host, int port, std::shared_ptr<RedisTlsContext> tls,
    std::size_t max_reply_bytes) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", host, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  std::unique_ptr<RedisConnection> connection(
      new RedisConnection(fd, host, std::move(tls), max_reply_bytes));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
  }
  return connection;
}

RedisConnection::RedisConnection(int fd, std::string host, std::shared_ptr<RedisTlsContext> tls,
                                 std::size_t max_reply_bytes)
    : fd_(fd),
      host_(std::move(host)),
      max_reply_bytes_(max_reply_bytes),
      tls_(std::move(tls)),
      reader_(redisReaderCreate()) {}

RedisConnection::~RedisConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both BIOs
  if (reader_ != nullptr) redisReaderFree(reader_);
  close(fd_);
}

uint32_t RedisConnection::Interest() const {
  if (phase_ == Phase::kConnecting) return EPOLLOUT;
  return EPOLLIN | (out_sent_ < out_.size() ? EPOLLOUT : 0u);
}

void RedisConnection::Append(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  char* command = nullptr;
  const int length =
      redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv.data(), argvlen.data());
  if (length <= 0 || command == nullptr) std::abort();  // only out of memory
  std::string& to = tls_ != nullptr ? plain_ : out_;
  to.append(command, static_cast<std::size_t>(length));
  redisFreeCommand(command);
  if (tls_ != nullptr && phase_ == Phase::kOpen) (void)WritePlain();
}

absl::Status RedisConnection::Drive(std::vector<RedisReplyPtr>* replies) {
  if (phase_ == Phase::kConnecting) {
    if (absl::Status s = FinishConnect(); !s.ok()) return s;
    if (phase_ == Phase::kConnecting) return absl::OkStatus();
  }
  absl::Status status = Read(replies);
  if (absl::Status flushed = Flush(); status.ok()) status = flushed;
  return status;
}

absl::Status RedisConnection::FinishConnect() {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(error)));
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof(peer);
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) {
    if (errno == ENOTCONN) return absl::OkStatus();  // not yet
    return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
  }
  if (tls_ == nullptr) {
    phase_ = Phase::kOpen;
    return absl::OkStatus();
  }
  return StartTls();
}

absl::Status RedisConnection::StartTls() {
  ERR_clear_error();
  ssl_ = SSL_new(tls_->get());
  tls_in_ = BIO_new(BIO_s_mem());
  tls_out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || tls_in_ == nullptr || tls_out_ == nullptr) {
    BIO_free(tls_in_);
    BIO_free(tls_out_);
    tls_in_ = tls_out_ = nullptr;
    return absl::InternalError(absl::StrCat("TLS setup: ", OpenSslReason()));
  }
  // An empty input BIO means "wait for more", not end of stream.
  BIO_set_mem_eof_return(tls_in_, -1);
  SSL_set_bio(ssl_, tls_in_, tls_out_);
  SSL_set_connect_state(ssl_);
  const std::string& name = tls_->server_name().empty() ? host_ : tls_->server_name();
  if (IsIpLiteral(name)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) != 1) {
      return absl::InternalError(absl::StrCat("TLS setup: ", OpenSslReason()));
    }
  } else if (SSL_set_tlsext_host_name(ssl_, name.c_str()) != 1 ||
             SSL_set1_host(ssl_, name.c_str()) != 1) {
    return absl::InternalError(absl::StrCat("TLS setup: ", OpenSslReason()));
  }
  phase_ = Phase::kHandshaking;
  absl::Status status = Handshake();
  DrainTlsOutput();
  return status;
}

absl::Status RedisConnection::Handshake() {
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    phase_ = Phase::kOpen;
    return WritePlain();
  }
  const int error = SSL_get_error(ssl_, ret);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return absl::OkStatus();
  return TlsError("TLS handshake", ret);
}

absl::Status RedisConnection::TlsError(const char* what, int ret) {
  const int error = SSL_get_error(ssl_, ret);
  if (error == SSL_ERROR_ZERO_RETURN) {
    return absl::UnavailableError(absl::StrCat(what, ": closed by the server"));
  }
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return absl::UnavailableError(absl::StrCat(what, ": certificate verify failed: ",
                                               X509_verify_cert_error_string(verify)));
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", OpenSslReason()));
}

absl::Status RedisConnection::WritePlain() {
  while (!plain_.empty()) {
    ERR_clear_error();
    const int ret = SSL_write(ssl_, plain_.data(), static_cast<int>(plain_.size()));
    if (ret <= 0) {
      const int error = SSL_get_error(ssl_, ret);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) break;
      return TlsError("TLS write", ret);
    }
    plain_.erase(0, static_cast<std::size_t>(ret));
  }
  DrainTlsOutput();
  return absl::OkStatus();
}

void RedisConnection::DrainTlsOutput() {
  char buf[16384];
  while (BIO_ctrl_pending(tls_out_) > 0) {
    const int n = BIO_read(tls_out_, buf, sizeof(buf));
    if (n <= 0) break;
    out_.append(buf, static_cast<std::size_t>(n));
  }
}

absl::Status RedisConnection::Flush() {
  if (phase_ == Phase::kConnecting) return absl::OkStatus();
  while (out_sent_ < out_.size()) {
    const ssize_t n = send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
    if (n > 0) {
      out_sent_ += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return absl::OkStatus();
    } else {
      return absl::UnavailableError(absl::StrCat("write: ", std::strerror(errno)));
    }
  }
  out_.clear();
  out_sent_ = 0;
  return absl::OkStatus();
}

absl::Status RedisConnection::Read(std::vector<RedisReplyPtr>* replies) {
  char buf[16384];
  bool closed = false;
  std::size_t total = 0;
  absl::Status status;
  absl::Status read_error;
  while (total < kMaxReadPerDrive) {
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      if (tls_ != nullptr) {
        BIO_write(tls_in_, buf, static_cast<int>(n));
      } else if (status = Feed(buf, static_cast<std::size_t>(n), replies); !status.ok()) {
        return status;
      }
    } else if (n == 0) {
      closed = true;
      break;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else {
      // What arrived before (a TLS alert, say) explains it better: read on.
      read_error = absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
      break;
    }
  }
  if (tls_ != nullptr) {
    // What arrived may finish the handshake, carry replies, or both.
    if (phase_ == Phase::kHandshaking) status = Handshake();
    while (status.ok() && phase_ == Phase::kOpen) {
      ERR_clear_error();
      const int ret = SSL_read(ssl_, buf, sizeof(buf));
      if (ret > 0) {
        status = Feed(buf, static_cast<std::size_t>(ret), replies);
        continue;
      }
      const int error = SSL_get_error(ssl_, ret);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        status = TlsError("TLS read", ret);
      }
      break;
    }
    DrainTlsOutput();  // handshake messages, alerts, key updates
    if (!status.ok()) return status;
  }
  if (!read_error.ok()) return read_error;
  if (closed) {
    return absl::UnavailableError(phase_ == Phase::kHandshaking
                                      ? "TLS handshake: connection closed by the server"
                                      : "connection closed by the server");
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::Feed(const char* data, std::size_t size,
                                   std::vector<RedisReplyPtr>* replies) {
  // What the reader holds unparsed: a reply not yet whole.
  if (reader_->len - reader_->pos + size > max_reply_bytes_) {
    return absl::UnavailableError("reply larger than max_reply_bytes");
  }
  if (redisReaderFeed(reader_, data, size) != REDIS_OK) {
    return absl::UnavailableError("Redis reader: out of memory");
  }
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
      return absl::UnavailableError(
          absl::StrCat("Redis protocol error: ", Printable(reader_->errstr)));
    }
    if (reply == nullptr) return absl::OkStatus();
    replies->emplace_back(static_cast<redisReply*>(reply));
  }
}

}  // namespace dcr::state
