// The HTTP transport under concurrency: requests started on many threads at
// once (each may take the multi handle and send inline, or queue for the
// event loop), against the emulator over real HTTP on 127.0.0.1.
#include "service/http/curl_multi_http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "service/authlete/authlete_request.h"
#include "tests/emulator/emulator.h"

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
    authlete::AuthleteOptions options;
    options.base_url = emulator_->base_url();
    options.credential = emulator::kDefaultServiceToken;
    core::DcrCall call;
    call.operation = api::Operation::kRegister;
    call.service_id = emulator::kDefaultServiceId;
    call.json = R"({"redirect_uris":["https://app.example.com/cb"]})";
    return authlete::BuildHttpRequest(options, call, timeout);
  }

  std::unique_ptr<emulator::Emulator> emulator_;
  std::unique_ptr<CurlMultiHttpClient> http_;
};

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
  emulator::FaultSpec slow;
  emulator::FaultRule latency;
  latency.kind = emulator::FaultKind::kLatency;
  latency.latency_ms = 2000;
  slow.rules.push_back(latency);
  emulator_->SetFaults(slow);
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
