// The HTTP transport under concurrency: requests started on many threads at
// once (each may take the multi handle and send inline, or queue for the
// event loop), against the emulator over real HTTP on 127.0.0.1.
#include "service/http/curl_multi_http_client.h"

#include <gtest/gtest.h>

#include <time.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "service/authlete/authlete_request.h"
#include "tests/emulator/emulator.h"
#include "tests/integration/transport_requests.h"

namespace dcr::http {
namespace {

class CurlMultiHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<emulator::Emulator>> started =
        emulator::Emulator::Start(emulator::EmulatorOptions{});
    ASSERT_TRUE(started.ok()) << started.status();
    emulator_ = *std::move(started);
    absl::StatusOr<std::unique_ptr<CurlMultiHttpClient>> http =
        CurlMultiHttpClient::Create(CurlOptions{});
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
  }

  // A Register request of the contract, to the emulator.
  HttpRequest RegisterRequest(absl::Duration timeout = absl::Seconds(10)) const {
    return testing::RegisterRequestTo(emulator_->base_url(), timeout);
  }

  // Sends `n` requests at once and waits for every answer; each must be a 200.
  void SendAtOnce(int n) {
    absl::BlockingCounter done(n);
    std::atomic<int> ok{0};
    for (int i = 0; i < n; ++i) {
      http_->Send(RegisterRequest(), [&](HttpResult result) {
        if (result.transport.ok() && result.status == 200) ++ok;
        done.DecrementCount();
      });
    }
    done.Wait();
    EXPECT_EQ(ok.load(), n);
  }

  // Every request held by the emulator for `ms` (0: none), so that those
  // sent at once are all under way together, each on a connection of its own.
  void HoldRequests(int ms) { testing::HoldEveryRequest(*emulator_, ms); }

  std::unique_ptr<emulator::Emulator> emulator_;
  std::unique_ptr<CurlMultiHttpClient> http_;
};

// A load that dips keeps its connections: curl's default cache limit (four
// times the transfers under way) closed one idle connection per answer once
// the load fell, and the next rise opened them all again.
TEST_F(CurlMultiHttpClientTest, ConnectionsOutliveADipInTheLoad) {
  HoldRequests(100);
  SendAtOnce(32);
  // One each: over plain HTTP no request waits for another's connection to
  // learn whether it multiplexes (plain HTTP passes no gate; see
  // upstream_http2_test.cc for https).
  const int64_t opened = emulator_->stats().connections_accepted;
  EXPECT_EQ(opened, 32);
  HoldRequests(0);
  for (int i = 0; i < 20; ++i) SendAtOnce(1);  // curl's default closed 20 here
  HoldRequests(100);
  SendAtOnce(32);
  EXPECT_LE(emulator_->stats().connections_accepted, opened + 2);
}

// ...but a burst's connections do not all stay: once it is over, answers
// close the idle ones down to the spare margin (64).
TEST_F(CurlMultiHttpClientTest, ABurstsIdleConnectionsAreClosedAfterIt) {
  HoldRequests(200);
  SendAtOnce(150);
  EXPECT_GE(emulator_->stats().peak_connections, 140);
  HoldRequests(0);
  for (int i = 0; i < 100; ++i) SendAtOnce(1);
  // The emulator sees each close a moment after curl makes it.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (emulator_->stats().active_connections > 65 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_LE(emulator_->stats().active_connections, 65);
}

TEST_F(CurlMultiHttpClientTest, ManyThreadsSendingAtOnceAllGetTheirAnswer) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  absl::BlockingCounter done(kThreads * kPerThread);
  std::atomic<int> ok{0};
  std::vector<std::thread> senders;
  for (int i = 0; i < kThreads; ++i) {
    senders.emplace_back([&] {
      for (int j = 0; j < kPerThread; ++j) {
        http_->Send(RegisterRequest(), [&](HttpResult result) {
          if (result.transport.ok() && result.status == 200) ++ok;
          done.DecrementCount();
        });
      }
    });
  }
  for (std::thread& t : senders) t.join();
  done.Wait();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(emulator_->stats().register_requests, kThreads * kPerThread);
}

// A callback that sends again (as a retry would) from the transport's own
// thread must neither deadlock nor lose the request.
TEST_F(CurlMultiHttpClientTest, CallbackMaySendAgain) {
  absl::BlockingCounter done(1);
  std::atomic<int> statuses{0};
  http_->Send(RegisterRequest(), [&](HttpResult first) {
    statuses += first.status;
    http_->Send(RegisterRequest(), [&](HttpResult second) {
      statuses += second.status;
      done.DecrementCount();
    });
  });
  done.Wait();
  EXPECT_EQ(statuses.load(), 400);
}

// Timeouts still fire with every transfer started inline: curl's timer lives
// in a timerfd the event loop watches.
TEST_F(CurlMultiHttpClientTest, TimeoutFiresForInlineSends) {
  HoldRequests(2000);
  absl::BlockingCounter done(3);
  std::atomic<int> deadline_exceeded{0};
  const absl::Time start = absl::Now();
  for (int i = 0; i < 3; ++i) {
    http_->Send(RegisterRequest(absl::Milliseconds(200)), [&](HttpResult result) {
      if (result.transport.code() == absl::StatusCode::kDeadlineExceeded) ++deadline_exceeded;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(deadline_exceeded.load(), 3);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1.5));
}

// An idle connection's socket stays in the epoll set between transfers (no
// DEL and ADD per call). When Authlete closes such a connection, the loop
// takes the socket out instead of spinning on it, and the next request goes
// on a new connection.
TEST(CurlMultiHttpClientIdleTest, AnIdleConnectionClosedByAuthleteIsDroppedNotSpunOn) {
  emulator::EmulatorOptions options;
  options.idle_timeout = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<emulator::Emulator>> emulator =
      emulator::Emulator::Start(options);
  ASSERT_TRUE(emulator.ok()) << emulator.status();
  absl::StatusOr<std::unique_ptr<CurlMultiHttpClient>> http =
      CurlMultiHttpClient::Create(CurlOptions{});
  ASSERT_TRUE(http.ok()) << http.status();
  auto send = [&] {
    authlete::AuthleteOptions authlete;
    authlete.base_url = (*emulator)->base_url();
    authlete.credential = emulator::kDefaultServiceToken;
    core::DcrCall call;
    call.operation = api::Operation::kRegister;
    call.service_id = emulator::kDefaultServiceId;
    call.json = R"({"redirect_uris":["https://app.example.com/cb"]})";
    absl::Notification done;
    int status = 0;
    (*http)->Send(authlete::BuildHttpRequest(authlete, call, absl::Seconds(10)),
                  [&](HttpResult result) {
                    status = result.transport.ok() ? result.status : -1;
                    done.Notify();
                  });
    done.WaitForNotification();
    return status;
  };
  ASSERT_EQ(send(), 200);
  // The emulator closes the idle connection after 100 ms; its socket fires
  // then. A loop that kept handing it to curl (which ignores it) would burn
  // a core for the whole wait.
  auto cpu = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return absl::DurationFromTimespec(t);
  };
  const absl::Duration before = cpu();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_LT(cpu() - before, absl::Milliseconds(150));
  EXPECT_EQ((*emulator)->stats().active_connections, 0);
  EXPECT_EQ(send(), 200);
  EXPECT_EQ((*emulator)->stats().connections_accepted, 2);
}

TEST_F(CurlMultiHttpClientTest, SendsAfterCancelAllAreCancelled) {
  http_->CancelAll();
  absl::BlockingCounter done(5);
  std::atomic<int> cancelled{0};
  for (int i = 0; i < 5; ++i) {
    http_->Send(RegisterRequest(), [&](HttpResult result) {
      if (result.transport.code() == absl::StatusCode::kCancelled) ++cancelled;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(cancelled.load(), 5);
  EXPECT_EQ(emulator_->stats().total, 0);
}

}  // namespace
}  // namespace dcr::http
