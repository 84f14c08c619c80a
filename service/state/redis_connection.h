// One connection to a Redis server, as RedisStateStore's thread drives it:
// a non-blocking TCP socket, TLS over it when configured (OpenSSL), and
// Redis' protocol by hiredis (redisFormatCommandArgv writes the commands,
// redisReader parses the replies).
//
// Why not hiredis' own asynchronous context: in Debian 12's hiredis 0.14 it
// reads and writes the socket itself and cannot do TLS (hiredis_ssl came with
// hiredis 1.0). Keeping hiredis for the protocol and doing the I/O here gives
// one code path for plaintext and TLS. TLS runs over memory BIOs, so that
// every byte goes through send(MSG_NOSIGNAL)/recv on this socket: no SIGPIPE,
// and no blocking call inside OpenSSL.
//
// Not thread-safe: one thread (the store's) owns it.
#ifndef DCR_SERVICE_STATE_REDIS_CONNECTION_H_
#define DCR_SERVICE_STATE_REDIS_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct redisReader;
struct redisReply;
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

namespace dcr::state {

struct RedisTlsOptions {
  bool enabled = false;
  // PEM CA bundle the server's certificate must chain to; empty: the
  // system's CAs (a managed Redis with a public CA).
  std::string ca_file;
  // The name sent as SNI and checked against the certificate (a DNS name or
  // an IP address); empty: the host dialled.
  std::string server_name;
  // A client certificate and its key, for a server that asks for one (Redis'
  // own default, tls-auth-clients yes); both or neither.
  std::string cert_file;
  std::string key_file;
};

// The TLS settings every connection of a store shares (an SSL_CTX).
class RedisTlsContext {
 public:
  // Reads the CA, certificate and key files now, so that a bad file stops
  // the gateway at start rather than failing every reconnect.
  static absl::StatusOr<std::shared_ptr<RedisTlsContext>> Create(const RedisTlsOptions& options);
  ~RedisTlsContext();
  RedisTlsContext(const RedisTlsContext&) = delete;
  RedisTlsContext& operator=(const RedisTlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  const std::string& server_name() const { return server_name_; }

 private:
  RedisTlsContext(SSL_CTX* ctx, std::string server_name)
      : ctx_(ctx), server_name_(std::move(server_name)) {}
  SSL_CTX* ctx_;
  std::string server_name_;
};

struct FreeRedisReply {
  void operator()(redisReply* reply) const;
};
using RedisReplyPtr = std::unique_ptr<redisReply, FreeRedisReply>;

class RedisConnection {
 public:
  // Resolves `host` (blocking: the caller is the store's thread) and starts
  // a non-blocking connect to its first address. `tls` null: plaintext.
  // A reply that would buffer more than `max_reply_bytes` unparsed (hiredis'
  // reader has no limit of its own) kills the connection: a misbehaving
  // server cannot take the process's memory.
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Open(
      const std::string& host, int port, std::shared_ptr<RedisTlsContext> tls,
      std::size_t max_reply_bytes);
  ~RedisConnection();  // closes the socket
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  int fd() const { return fd_; }
  // What to wait for on fd(), as epoll events.
  uint32_t Interest() const;

  // Queues one command; it is written as soon as the connection allows
  // (commands queued while connecting go out after the TLS handshake).
  void Append(const std::vector<std::string>& args);

  // Makes whatever progress the socket allows: finishes the connect and the
  // TLS handshake, writes, reads, and appends every whole reply, in order, to
  // `replies`. An error means the connection is dead (its reason never holds
  // a secret); replies appended before it are still valid.
  absl::Status Drive(std::vector<RedisReplyPtr>* replies);

 private:
  enum class Phase { kConnecting, kHandshaking, kOpen };

  RedisConnection(int fd, std::string host, std::shared_ptr<RedisTlsContext> tls,
                  std::size_t max_reply_bytes);
  absl::Status FinishConnect();
  absl::Status StartTls();
  absl::Status Handshake();
  absl::Status WritePlain();   // TLS: plaintext into SSL_write; else into out_
  void DrainTlsOutput();       // TLS: ciphertext from the write BIO into out_
  absl::Status Flush();        // out_ to the socket
  absl::Status Read(std::vector<RedisReplyPtr>* replies);
  absl::Status Feed(const char* data, std::size_t size, std::vector<RedisReplyPtr>* replies);
  absl::Status TlsError(const char* what, int ret);

  int fd_;
  const std::string host_;
  const std::size_t max_reply_bytes_;
  Phase phase_ = Phase::kConnecting;
  const std::shared_ptr<RedisTlsContext> tls_;
  SSL* ssl_ = nullptr;
  BIO* tls_in_ = nullptr;   // ciphertext from the socket, owned by ssl_
  BIO* tls_out_ = nullptr;  // ciphertext to the socket, owned by ssl_
  redisReader* reader_;
  std::string plain_;  // commands not yet through TLS (TLS only)
  std::string out_;    // bytes for the socket, from out_sent_ on
  std::size_t out_sent_ = 0;
};

}  // namespace dcr::state

#endif  // DCR_SERVICE_STATE_REDIS_CONNECTION_H_
