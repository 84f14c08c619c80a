#include "tests/integration/fake_redis_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace dcr::testing {
namespace {

// Parses one command (an array of bulk strings) from the front of `buf`:
// its arguments, or false if it is not all there yet.
bool ParseCommand(std::string& buf, std::vector<std::string>& args) {
  args.clear();
  std::size_t pos = 0;
  auto line = [&](char type, long long& n) {
    if (pos >= buf.size() || buf[pos] != type) return false;
    const std::size_t end = buf.find("\r\n", pos);
    if (end == std::string::npos) return false;
    if (!absl::SimpleAtoi(buf.substr(pos + 1, end - pos - 1), &n)) return false;
    pos = end + 2;
    return true;
  };
  long long count = 0;
  if (!line('*', count)) return false;
  for (long long i = 0; i < count; ++i) {
    long long len = 0;
    if (!line('$', len) || buf.size() < pos + len + 2) return false;
    args.push_back(buf.substr(pos, len));
    pos += len + 2;
  }
  buf.erase(0, pos);
  return true;
}

}  // namespace

FakeRedisServer::FakeRedisServer() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

FakeRedisServer::~FakeRedisServer() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

void FakeRedisServer::AnswerScriptsWith(std::string bytes) {
  absl::MutexLock lock(&mu_);
  script_answer_ = std::move(bytes);
}

void FakeRedisServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    ServeConnection(fd);  // one client at a time is all the tests need
    close(fd);
  }
}

void FakeRedisServer::ServeConnection(int fd) {
  std::string buf;
  std::vector<std::string> args;
  char chunk[16384];
  while (!stop_) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) return;
    buf.append(chunk, static_cast<std::size_t>(n));
    while (ParseCommand(buf, args)) {
      std::string answer;
      const std::string name = args.empty() ? "" : absl::AsciiStrToUpper(args[0]);
      if (name == "PING") {
        answer = "+PONG\r\n";
      } else if (name == "EVALSHA" || name == "EVAL") {
        absl::MutexLock lock(&mu_);
        answer = script_answer_;
      } else {
        answer = "+OK\r\n";  // AUTH, SCRIPT LOAD
      }
      std::size_t sent = 0;
      while (sent < answer.size()) {
        const ssize_t w = write(fd, answer.data() + sent, answer.size() - sent);
        if (w <= 0) return;  // the store hung up (e.g. a reply too large)
        sent += static_cast<std::size_t>(w);
      }
    }
  }
}

}  // namespace dcr::testing
