// A real redis-server for a test: loopback, a port picked free, no
// persistence (--save '' --appendonly no), a password (requirepass, from a
// config file so that `ps` does not show it); stopped with the test. Plus a
// plain blocking admin connection for what the test inspects or breaks.
// With TLS it also listens on a TLS port (the store under test dials that
// one); the plaintext port stays, on loopback, for the test's own looks.
#ifndef DCR_TESTS_INTEGRATION_REDIS_SERVER_H_
#define DCR_TESTS_INTEGRATION_REDIS_SERVER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/cli/subprocess.h"

namespace dcr::testing {

struct RedisTlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;  // the CA client certificates must chain to
  bool auth_clients = false;  // tls-auth-clients: ask for a client certificate
};

class RedisServer {
 public:
  // Picks a port (bind to port 0, read it, close: redis cannot bind port 0)
  // and retries with another when redis-server finds it taken.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      const std::string& dir, std::optional<RedisTlsFiles> tls = std::nullopt);
  ~RedisServer();

  int port() const { return port_; }
  int tls_port() const { return tls_port_; }  // 0 without TLS
  const std::string& password() const { return password_; }
  const std::string& password_file() const { return password_file_; }

  // Kills it (SIGKILL: a crash, no goodbye to clients).
  void Kill();
  // Starts it again on the same port, empty.
  absl::Status Restart();
  // SIGSTOP / SIGCONT: a server that accepts nothing and answers nothing.
  void Pause();
  void Resume();

  // One command on a fresh authenticated connection; the reply as text (an
  // array's elements joined by '\n'), or an error.
  absl::StatusOr<std::string> Command(const std::vector<std::string>& args) const;
  // Every key (SCAN), and each key's DUMP bytes and PTTL.
  struct KeyDump {
    std::string key;
    std::string dump;
    long long pttl_ms = 0;
  };
  absl::StatusOr<std::vector<KeyDump>> DumpAll() const;

 private:
  RedisServer(std::string dir, std::string password, std::optional<RedisTlsFiles> tls);
  absl::Status Launch(int port, int tls_port);

  std::string dir_;
  std::string password_;
  std::string password_file_;
  int port_ = 0;
  std::optional<RedisTlsFiles> tls_;
  int tls_port_ = 0;
  std::optional<cli_test::Process> process_;
  bool paused_ = false;
};

// `redis-cli MONITOR` against `server` into a file while it lives.
class RedisMonitor {
 public:
  static absl::StatusOr<std::unique_ptr<RedisMonitor>> Start(const RedisServer& server,
                                                             const std::string& dir);
  // Stops the monitor and returns everything it saw.
  std::string Stop();

 private:
  RedisMonitor(cli_test::Process process, std::string log) : process_(std::move(process)), log_(log) {}
  std::optional<cli_test::Process> process_;
  std::string log_;
};

}  // namespace dcr::testing

#endif  // DCR_TESTS_INTEGRATION_REDIS_SERVER_H_
