// A loopback TCP server that speaks just enough of Redis' protocol to pass
// the state store's handshake (AUTH, SCRIPT LOAD, PING) and then answers
// every script call with bytes the test chooses: a misbehaving or hostile
// Redis, for the store's handling of untrusted replies.
#ifndef DCR_TESTS_INTEGRATION_FAKE_REDIS_SERVER_H_
#define DCR_TESTS_INTEGRATION_FAKE_REDIS_SERVER_H_

#include <atomic>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace dcr::testing {

class FakeRedisServer {
 public:
  FakeRedisServer();  // listens on 127.0.0.1, a port of the kernel's choice
  ~FakeRedisServer();
  int port() const { return port_; }
  // The raw bytes sent in answer to every EVALSHA/EVAL from now on.
  void AnswerScriptsWith(std::string bytes) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Serve();
  void ServeConnection(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::string script_answer_ ABSL_GUARDED_BY(mu_) = "-ERR not set\r\n";
  std::thread thread_;
};

}  // namespace dcr::testing

#endif  // DCR_TESTS_INTEGRATION_FAKE_REDIS_SERVER_H_
