// The admin port's limits, over raw sockets: the request head's size, the
// time it may take to arrive, the connection bound, and what HEAD and
// malformed requests get.
#include "service/metrics/admin_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dcr::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

// Everything the server sends until it closes, or until `timeout`.
std::string ReadAll(int fd, absl::Duration timeout = absl::Seconds(10)) {
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[4096];
  while (absl::Now() < deadline) {
    pollfd in = {fd, POLLIN, 0};
    if (poll(&in, 1, static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()))) <= 0) {
      break;
    }
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

std::string Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
  (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer = ReadAll(fd);
  close(fd);
  return answer;
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = AdminServer::Start("127.0.0.1:0", [] { return std::string("x_total 1\n"); },
                                     [this] { return ready_; });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }
  bool ready_ = true;
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, ServesTheThreePathsAndClosesEachConnection) {
  const std::string metrics = Exchange(server_->port(), "GET /metrics?x=1 HTTP/1.1\r\n\r\n");
  EXPECT_THAT(metrics, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(metrics, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(metrics, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(metrics, HasSubstr("\r\n\r\nx_total 1\n"));
  EXPECT_THAT(Exchange(server_->port(), "GET /healthz HTTP/1.0\r\n\r\n"), HasSubstr("\r\n\r\nok\n"));
  EXPECT_THAT(Exchange(server_->port(), "GET /readyz HTTP/1.1\r\n\r\n"), HasSubstr("\r\n\r\nready\n"));
  ready_ = false;
  const std::string draining = Exchange(server_->port(), "GET /readyz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(draining, StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(draining, HasSubstr("\r\n\r\ndraining\n"));
  // HEAD: the GET's length, no body.
  const std::string head = Exchange(server_->port(), "HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, HasSubstr("Content-Length: 3\r\n"));
  EXPECT_THAT(head, ::testing::EndsWith("\r\n\r\n"));
}

TEST_F(AdminServerTest, RefusesWhatItDoesNotServe) {
  const int port = server_->port();
  EXPECT_THAT(Exchange(port, "GET /nothing HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(Exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"),
              StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(Exchange(port, "\x01\x02 garbage\r\n\r\n"), StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(Exchange(port, "GET /healthz HTTP/2.0\r\n\r\n"), StartsWith("HTTP/1.1 400 "));
  // The head: up to 8 KB.
  EXPECT_THAT(Exchange(port, "GET /healthz HTTP/1.1\r\nX: " + std::string(8000, 'a') + "\r\n\r\n"),
              StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(Exchange(port, "GET /healthz HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n"),
              StartsWith("HTTP/1.1 431 "));
}

TEST_F(AdminServerTest, ARequestHasTwoSecondsToArrive) {
  // A byte every 200 ms never completes a head in time: cut after 2 s in all,
  // not 2 s per byte.
  const int fd = Connect(server_->port());
  const absl::Time start = absl::Now();
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: yyyyyyyyyy\r\n\r\n";
  bool cut = false;
  for (char c : request) {
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
      cut = true;
      break;
    }
    pollfd in = {fd, POLLIN, 0};
    if (poll(&in, 1, 200) > 0) {
      char byte;
      if (recv(fd, &byte, 1, 0) <= 0) {
        cut = true;
        break;
      }
    }
  }
  close(fd);
  EXPECT_TRUE(cut);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(AdminServerTest, IdleConnectionsNeitherBlockOthersForLongNorPileUp) {
  // More idle connections than the bound: the ones served time out after 2 s,
  // and the waiting ones are then accepted, so a probe gets its answer.
  std::vector<int> idle;
  for (int i = 0; i < 40; ++i) idle.push_back(Connect(server_->port()));
  const absl::Time start = absl::Now();
  EXPECT_THAT(Exchange(server_->port(), "GET /healthz HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 200 "));
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));
  for (int fd : idle) close(fd);
}

}  // namespace
}  // namespace dcr::metrics
