// The transport to an Authlete that speaks HTTP/2 over TLS (ALPN "h2"): a
// real HTTP/2 server, nghttpx (Debian's nghttp2-proxy), in front of the
// emulator, which speaks HTTP/1.1 only. Its access log names, per request,
// the protocol and the client port (one port per connection). And the same
// gate over TLS when the upstream answers in HTTP/1.1: the emulator's HTTPS.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "service/http/curl_multi_http_client.h"
#include "tests/cli/subprocess.h"
#include "tests/emulator/emulator.h"
#include "tests/integration/transport_requests.h"
#include "tests/testing/free_port.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace dcr::testing {
namespace {

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// nghttpx on 127.0.0.1 with TLS, passing every request to `backend_port`.
class Http2Front {
 public:
  static absl::StatusOr<std::unique_ptr<Http2Front>> Start(const std::string& dir,
                                                           int backend_port,
                                                           const std::string& cert_file,
                                                           const std::string& key_file) {
    auto front = std::unique_ptr<Http2Front>(new Http2Front(dir));
    absl::Status last = absl::UnavailableError("no free port");
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = PickFreeLoopbackPort();
      if (port == 0) continue;
      absl::StatusOr<cli_test::Process> process = cli_test::Process::Start(
          DCR_NGHTTPX,
          {absl::StrCat("--frontend=127.0.0.1,", port),
           absl::StrCat("--backend=127.0.0.1,", backend_port, ";;proto=http/1.1"),
           "--backend-connections-per-host=4096", "--workers=1", "--no-ocsp",
           "--accesslog-file=" + front->access_log(),
           "--accesslog-format=$remote_port $alpn $status $method $path",
           "--errorlog-file=" + dir + "/nghttpx-error.log", "--log-level=WARN",
           "--frontend-http2-max-concurrent-streams=100", key_file, cert_file},
          {}, dir + "/nghttpx.out");
      if (!process.ok()) return process.status();
      front->process_.emplace(*std::move(process));
      const absl::Time deadline = absl::Now() + absl::Seconds(10);
      while (absl::Now() < deadline && front->process_->Running() && !Accepts(port)) {
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (front->process_->Running() && Accepts(port)) {
        front->port_ = port;
        return front;
      }
      front->process_.reset();
      last = absl::UnavailableError(absl::StrCat("nghttpx did not listen on ", port, "; see ",
                                                 dir, "/nghttpx-error.log"));
    }
    return last;
  }

  std::string base_url() const { return absl::StrCat("https://127.0.0.1:", port_); }
  std::string access_log() const { return dir_ + "/nghttpx-access.log"; }

  struct Log {
    std::set<std::string> connections;  // client ports
    std::map<std::string, int> by_protocol;
    int requests = 0;
  };
  // The access log once it holds `requests` lines (nghttpx writes a line as
  // a stream closes, which may be just after its answer reached the client),
  // or as it is after 5 s.
  Log ReadLog(int requests) const {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    for (;;) {
      Log log;
      for (absl::string_view line :
           absl::StrSplit(cli_test::ReadFile(access_log()), '\n', absl::SkipEmpty())) {
        std::vector<std::string> f = absl::StrSplit(line, ' ');
        if (f.size() < 2) continue;
        log.connections.insert(f[0]);
        ++log.by_protocol[f[1]];
        ++log.requests;
      }
      if (log.requests >= requests || absl::Now() > deadline) return log;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

 private:
  explicit Http2Front(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  int port_ = 0;
  absl::optional<cli_test::Process> process_;
};

class UpstreamHttp2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto pki = TestPki::Create("http2 test CA");
    ASSERT_TRUE(pki.ok()) << pki.status();
    LeafSpec spec;
    spec.common_name = "authlete-front";
    spec.ip_addresses = {"127.0.0.1"};
    auto leaf = pki->Issue(spec);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    cert_ = dir_.path() + "/front.pem";
    key_ = dir_.path() + "/front.key";
    ca_file_ = dir_.path() + "/ca.pem";
    cli_test::WriteFile(cert_, leaf->cert_pem);
    cli_test::WriteFile(key_, leaf->key_pem);
    cli_test::WriteFile(ca_file_, pki->ca_cert_pem());
  }

  // The emulator, over HTTPS itself (HTTP/1.1) when `tls`.
  void StartEmulator(bool tls) {
    emulator::EmulatorOptions options;
    if (tls) {
      options.tls_cert_file = cert_;
      options.tls_key_file = key_;
    }
    auto emulator = emulator::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    base_url_ = emulator_->base_url();
  }

  // The emulator on plain HTTP behind nghttpx, which the client calls.
  void StartBehindHttp2Front() {
    StartEmulator(false);
    int backend_port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(base_url_.substr(base_url_.rfind(':') + 1), &backend_port));
    auto front = Http2Front::Start(dir_.path(), backend_port, cert_, key_);
    ASSERT_TRUE(front.ok()) << front.status();
    front_ = *std::move(front);
    base_url_ = front_->base_url();
  }

  void NewClient() {
    http::CurlOptions options;
    options.ca_file = ca_file_;
    auto client = http::CurlMultiHttpClient::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  http::HttpRequest RegisterRequest(absl::Duration timeout) const {
    return RegisterRequestTo(base_url_, timeout);
  }

  void HoldRequests(int ms) { HoldEveryRequest(*emulator_, ms); }

  struct Outcomes {
    int ok = 0;
    // Failures by status, message and whether the request was sent.
    std::map<std::string, int> failures;
  };

  // Sends `n` requests at once, each with `timeout`, and waits for every answer.
  Outcomes SendAtOnce(int n, absl::Duration timeout = absl::Seconds(20)) {
    absl::BlockingCounter done(n);
    absl::Mutex mu;
    Outcomes outcomes;
    for (int i = 0; i < n; ++i) {
      client_->Send(RegisterRequest(timeout), [&](http::HttpResult result) {
        {
          absl::MutexLock lock(&mu);
          if (result.transport.ok() && result.status == 200) {
            ++outcomes.ok;
          } else {
            ++outcomes.failures[absl::StrCat(result.status, " ", result.transport.ToString(),
                                             result.request_sent ? " (sent)" : " (not sent)")];
          }
        }
        done.DecrementCount();
      });
    }
    done.Wait();
    return outcomes;
  }

  TempDir dir_{"upstream_http2"};
  std::string cert_, key_, ca_file_;
  std::unique_ptr<emulator::Emulator> emulator_;
  std::unique_ptr<Http2Front> front_;
  std::string base_url_;
  std::unique_ptr<http::CurlMultiHttpClient> client_;
};

std::string Describe(const std::map<std::string, int>& failures) {
  std::string text;
  for (const auto& [what, count] : failures) absl::StrAppend(&text, count, " x ", what, "; ");
  return text;
}

// libcurl 7.88, handed 1,000 requests at once, opened a connection for each
// request beyond the first connection's 100 streams (901 connections in one
// run, 509 in another, where 392 requests then failed in the TLS handshake).
// The gateway hands it only what its ready connections carry, plus one
// request that opens the next connection.
TEST_F(UpstreamHttp2Test, ABurstSharesAFewConnections) {
  StartBehindHttp2Front();
  NewClient();
  HoldRequests(300);
  Outcomes burst = SendAtOnce(1000);
  EXPECT_EQ(burst.ok, 1000) << Describe(burst.failures);
  Http2Front::Log log = front_->ReadLog(1000);
  EXPECT_EQ(log.requests, 1000);
  EXPECT_EQ(log.by_protocol["h2"], 1000);
  // 100 streams each: 10, and one more opened as a burst outgrows them.
  EXPECT_LE(log.connections.size(), 11u);
  EXPECT_EQ(emulator_->stats().register_requests, 1000);

  // A second burst, larger, on the warm connections: what it adds is what it needs.
  Outcomes second = SendAtOnce(1500);
  EXPECT_EQ(second.ok, 1500) << Describe(second.failures);
  log = front_->ReadLog(2500);
  EXPECT_EQ(log.by_protocol["h2"], 2500);
  EXPECT_LE(log.connections.size(), 16u);
}

// A loopback port whose connections the kernel accepts and nobody serves:
// a TLS handshake with it never ends.
class Tarpit {
 public:
  Tarpit() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd_, 64) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~Tarpit() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Requests held back wait no longer than their own deadline, and fail as not
// sent (so any RPC may retry them). The first request to an upstream goes
// alone; here its TLS handshake never ends, so the others wait for it.
TEST_F(UpstreamHttp2Test, HeldRequestsFailAtTheirDeadlineAsNotSent) {
  Tarpit tarpit;
  ASSERT_NE(tarpit.port(), 0);
  base_url_ = absl::StrCat("https://127.0.0.1:", tarpit.port());
  NewClient();
  absl::Mutex mu;
  std::vector<std::string> order;  // who finished, in order
  std::map<std::string, int> outcomes;
  auto record = [&](const std::string& who, const http::HttpResult& result) {
    absl::MutexLock lock(&mu);
    order.push_back(who);
    ++outcomes[absl::StrCat(who, ": ", absl::StatusCodeToString(result.transport.code()),
                            result.request_sent ? " (sent)" : " (not sent)")];
  };
  absl::BlockingCounter done(31);
  // Its connect timeout is its own timeout, 2 s, below the default 3 s.
  client_->Send(RegisterRequest(absl::Seconds(2)), [&](http::HttpResult result) {
    record("first", result);
    done.DecrementCount();
  });
  for (int i = 0; i < 30; ++i) {
    client_->Send(RegisterRequest(absl::Milliseconds(400)), [&](http::HttpResult result) {
      record("held", result);
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(outcomes["held: DEADLINE_EXCEEDED (not sent)"], 30) << Describe(outcomes);
  // Its handshake timed out.
  EXPECT_EQ(outcomes["first: DEADLINE_EXCEEDED (not sent)"], 1) << Describe(outcomes);
  // Each at its own deadline: the held ones before the first gave up.
  ASSERT_EQ(order.size(), 31u);
  EXPECT_EQ(order.back(), "first");
}

// An upstream that answers over HTTP/1.1 on TLS gets a connection per request
// in flight, as over plain HTTP. On a cold client the first request goes
// alone, the next hundred once its connection is ready, the rest once theirs
// are: all of a burst are under way together within a few handshakes.
TEST_F(UpstreamHttp2Test, OverHttp11OnTlsEveryRequestGetsAConnection) {
  StartEmulator(/*tls=*/true);
  NewClient();
  HoldRequests(500);
  Outcomes burst = SendAtOnce(300);
  EXPECT_EQ(burst.ok, 300) << Describe(burst.failures);
  EXPECT_GE(emulator_->stats().peak_connections, 290);
  // Known now (HTTP/1.1 answers): nothing is held.
  Outcomes second = SendAtOnce(300);
  EXPECT_EQ(second.ok, 300) << Describe(second.failures);
  EXPECT_EQ(emulator_->stats().register_requests, 600);
}

}  // namespace
}  // namespace dcr::testing
