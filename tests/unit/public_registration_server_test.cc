// The public registration server's limits over raw loopback sockets, with a
// handler of the test's own: keep-alive and its request cap, 431 and 413,
// the header and body timeouts (a client trickling one byte per 200 ms is
// closed within the header timeout), the connection limit, answers from
// another thread, and malformed requests.
#include "service/public_registration/public_registration_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace dcr::public_registration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
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

void Send(int fd, const std::string& bytes) {
  (void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

// What arrives until the peer closes, `until` is seen, or `timeout` passes.
std::string Read(int fd, absl::Duration timeout, const std::string& until = "") {
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[4096];
  while (absl::Now() < deadline) {
    if (!until.empty() && out.find(until) != std::string::npos) break;
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

// Whether the server closed `fd` within `timeout`.
bool ClosedWithin(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[256];
  while (absl::Now() < deadline) {
    pollfd in = {fd, POLLIN, 0};
    if (poll(&in, 1, static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()))) <= 0) {
      return false;
    }
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return true;
  }
  return false;
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(PublicRegistrationServer::Options options = {}) {
    options.listen_address = "127.0.0.1:0";
    if (options.header_timeout == absl::Seconds(5)) options.header_timeout = absl::Seconds(1);
    if (options.read_timeout == absl::Seconds(10)) options.read_timeout = absl::Seconds(1);
    auto started = PublicRegistrationServer::Start(
        options,
        [this](PublicRequest request, PublicRegistrationServer::Respond respond) {
          {
            absl::MutexLock lock(&mu_);
            last_ = request;
            ++handled_;
          }
          PublicResponse response;
          response.status = request.target == "/none" ? 204 : 200;
          response.headers.emplace_back("Content-Type", "text/plain");
          if (response.status == 200) response.body = absl::StrCat("body:", request.body);
          // From another thread, as Authlete's answers come.
          std::thread([respond = std::move(respond), response]() mutable {
            std::move(respond)(std::move(response));
          }).detach();
        },
        nullptr);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }

  PublicRequest last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }
  int handled() {
    absl::MutexLock lock(&mu_);
    return handled_;
  }

  absl::Mutex mu_;
  PublicRequest last_ ABSL_GUARDED_BY(mu_);
  int handled_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<PublicRegistrationServer> server_;
};

TEST_F(ServerTest, KeepAliveUntilTheRequestCap) {
  PublicRegistrationServer::Options options;
  options.max_requests_per_connection = 2;
  Start(options);
  const int fd = Connect(server_->port());
  Send(fd,
       "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       "Authorization: Bearer secret\r\nX-Forwarded-For: 1.2.3.4\r\nContent-Length: 2\r\n\r\n{}");
  std::string first = Read(fd, absl::Seconds(5), "body:{}");
  EXPECT_THAT(first, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(first, Not(HasSubstr("Connection: close")));
  const PublicRequest seen = last();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/register");
  EXPECT_EQ(seen.authorization, "Bearer secret");
  EXPECT_EQ(seen.content_type, "application/json");
  EXPECT_EQ(seen.x_forwarded_for, std::vector<std::string>{"1.2.3.4"});
  EXPECT_EQ(seen.peer_address, "127.0.0.1");
  EXPECT_EQ(seen.body, "{}");
  Send(fd, "GET /none HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string second = Read(fd, absl::Seconds(5));
  EXPECT_THAT(second, StartsWith("HTTP/1.1 204 No Content"));
  EXPECT_THAT(second, HasSubstr("Connection: close"));
  EXPECT_THAT(second, Not(HasSubstr("Content-Length")));
  EXPECT_EQ(handled(), 2);
  close(fd);
}

TEST_F(ServerTest, IdleKeptAliveConnectionClosedAfterReadTimeout) {
  Start();
  const int fd = Connect(server_->port());
  Send(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(Read(fd, absl::Seconds(5), "body:"), StartsWith("HTTP/1.1 200"));
  const absl::Time start = absl::Now();
  EXPECT_TRUE(ClosedWithin(fd, absl::Seconds(3)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(800));
  close(fd);
}

TEST_F(ServerTest, HeadTooLargeIs431) {
  Start();
  const int fd = Connect(server_->port());
  Send(fd, absl::StrCat("GET /register/1 HTTP/1.1\r\nHost: x\r\nX-Big: ", std::string(9000, 'a'),
                        "\r\n\r\n"));
  EXPECT_THAT(Read(fd, absl::Seconds(5)), StartsWith("HTTP/1.1 431"));
  EXPECT_EQ(handled(), 0);
  close(fd);
}

TEST_F(ServerTest, BodyTooLargeIs413BeforeItIsRead) {
  PublicRegistrationServer::Options options;
  options.max_body_bytes = 1024;
  Start(options);
  int fd = Connect(server_->port());
  Send(fd, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  EXPECT_THAT(Read(fd, absl::Seconds(5)), StartsWith("HTTP/1.1 413"));
  close(fd);
  // Chunked: refused while reading.
  fd = Connect(server_->port());
  Send(fd, absl::StrCat("POST /register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                        "800\r\n", std::string(0x800, 'x'), "\r\n0\r\n\r\n"));
  EXPECT_THAT(Read(fd, absl::Seconds(5)), StartsWith("HTTP/1.1 413"));
  close(fd);
  EXPECT_EQ(handled(), 0);
}

TEST_F(ServerTest, ExpectContinueGetsOneAndTheBodyIsRead) {
  Start();
  const int fd = Connect(server_->port());
  Send(fd,
       "POST /register HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_THAT(Read(fd, absl::Seconds(5), "\r\n\r\n"), StartsWith("HTTP/1.1 100 Continue"));
  Send(fd, "hello");
  EXPECT_THAT(Read(fd, absl::Seconds(5), "body:hello"), HasSubstr("body:hello"));
  close(fd);
}

// Slowloris: one header byte per 200 ms never completes a head; the server
// closes the connection once the header timeout (1 s) has passed.
TEST_F(ServerTest, TricklingHeadClosedWithinTheHeaderTimeout) {
  Start();
  const int fd = Connect(server_->port());
  const std::string head = "GET /register/1 HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const absl::Time start = absl::Now();
  bool closed = false;
  for (std::size_t i = 0; i < head.size() && absl::Now() - start < absl::Seconds(5); ++i) {
    Send(fd, head.substr(i, 1));
    pollfd in = {fd, POLLIN, 0};
    if (poll(&in, 1, 200) > 0) {
      char c;
      if (recv(fd, &c, 1, 0) <= 0) {
        closed = true;
        break;
      }
    }
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(closed);
  EXPECT_LT(took, absl::Milliseconds(1800));
  EXPECT_GE(took, absl::Milliseconds(800));
  EXPECT_EQ(handled(), 0);
  close(fd);
}

TEST_F(ServerTest, SlowBodyClosedWithinTheReadTimeout) {
  Start();
  const int fd = Connect(server_->port());
  Send(fd, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
  EXPECT_TRUE(ClosedWithin(fd, absl::Seconds(3)));
  EXPECT_EQ(handled(), 0);
  close(fd);
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitClosedAtAccept) {
  PublicRegistrationServer::Options options;
  options.max_connections = 2;
  options.header_timeout = absl::Seconds(4);
  Start(options);
  const int a = Connect(server_->port());
  const int b = Connect(server_->port());
  for (int i = 0; i < 100 && server_->connections() < 2; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(server_->connections(), 2);
  const int c = Connect(server_->port());
  EXPECT_TRUE(ClosedWithin(c, absl::Seconds(2)));
  close(c);
  // The others are still served.
  Send(a, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(Read(a, absl::Seconds(5), "body:"), StartsWith("HTTP/1.1 200"));
  close(a);
  close(b);
  for (int i = 0; i < 100 && server_->connections() > 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  const int d = Connect(server_->port());
  Send(d, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(Read(d, absl::Seconds(5), "body:"), StartsWith("HTTP/1.1 200"));
  close(d);
}

TEST_F(ServerTest, MalformedRequestIs400AndGarbageNeverCrashes) {
  Start();
  int fd = Connect(server_->port());
  Send(fd, "GARBAGE\r\n\r\n");
  EXPECT_THAT(Read(fd, absl::Seconds(5)), StartsWith("HTTP/1.1 400"));
  close(fd);
  for (const std::string& junk :
       {std::string("\x16\x03\x01\x02\x00", 5), std::string(20000, '\0'),
        std::string("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    fd = Connect(server_->port());
    Send(fd, junk);
    Read(fd, absl::Seconds(3));
    close(fd);
  }
  fd = Connect(server_->port());
  Send(fd, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(Read(fd, absl::Seconds(5), "body:"), StartsWith("HTTP/1.1 200"));
  close(fd);
}

TEST_F(ServerTest, StopsWithAnAnswerStillDue) {
  PublicRegistrationServer::Respond kept;
  absl::Notification handed;
  PublicRegistrationServer::Options options;
  options.listen_address = "127.0.0.1:0";
  auto started = PublicRegistrationServer::Start(
      options,
      [&](PublicRequest, PublicRegistrationServer::Respond respond) {
        kept = std::move(respond);
        handed.Notify();
      },
      nullptr);
  ASSERT_TRUE(started.ok());
  const int fd = Connect((*started)->port());
  Send(fd, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(handed.WaitForNotificationWithTimeout(absl::Seconds(5)));
  started->reset();  // the server goes while the answer is due
  close(fd);
  std::move(kept)(PublicResponse{});  // dropped, harmlessly
}

}  // namespace
}  // namespace dcr::public_registration
