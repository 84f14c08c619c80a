// service/resilience: backoff, circuit breaker, timer queue, and the retry
// decorator around a StrictMock AuthleteConnection (no network, no sleeps
// beyond a few milliseconds of backoff).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "absl/random/random.h"
#include "absl/synchronization/notification.h"
#include "proto/api/error_rules.h"
#include "service/metrics/metrics.h"
#include "service/resilience/backoff.h"
#include "service/resilience/circuit_breaker.h"
#include "service/resilience/resilient_authlete_connection.h"
#include "service/resilience/timer_queue.h"
#include "tests/testing/mock_authlete_connection.h"

namespace dcr::resilience {
namespace {

using api::Operation;
using core::DcrCall;
using core::DcrResponse;
using core::DcrResult;
using ::testing::_;
using ::testing::StrictMock;

// --- Backoff ----------------------------------------------------------------

TEST(BackoffTest, GrowsExponentiallyWithinTheCapAndJitters) {
  BackoffOptions options{absl::Milliseconds(100), absl::Seconds(1), 2.0};
  absl::BitGen random;
  absl::Duration longest[5] = {};
  absl::Duration shortest[5];
  for (auto& d : shortest) d = absl::InfiniteDuration();
  for (int i = 0; i < 2000; ++i) {
    for (int retry = 0; retry < 5; ++retry) {
      const absl::Duration d = BackoffDelay(options, retry, absl::nullopt, random);
      longest[retry] = std::max(longest[retry], d);
      shortest[retry] = std::min(shortest[retry], d);
    }
  }
  const absl::Duration bounds[5] = {absl::Milliseconds(100), absl::Milliseconds(200),
                                    absl::Milliseconds(400), absl::Milliseconds(800),
                                    absl::Seconds(1)};
  for (int retry = 0; retry < 5; ++retry) {
    EXPECT_LE(longest[retry], bounds[retry]) << retry;
    // Full jitter: the spread covers most of [0, bound].
    EXPECT_GT(longest[retry], bounds[retry] * 0.9) << retry;
    EXPECT_LT(shortest[retry], bounds[retry] * 0.1) << retry;
  }
  // Huge retry numbers stay at the cap instead of overflowing.
  EXPECT_LE(BackoffDelay(options, 100000, absl::nullopt, random), absl::Seconds(1));
}

TEST(BackoffTest, RetryAfterIsAFloor) {
  BackoffOptions options{absl::Milliseconds(10), absl::Milliseconds(20), 2.0};
  absl::BitGen random;
  EXPECT_EQ(BackoffDelay(options, 0, absl::Seconds(3), random), absl::Seconds(3));
}

// --- Circuit breaker ----------------------------------------------------------

class CircuitBreakerTest : public ::testing::Test {
 protected:
  absl::Time now_ = absl::FromUnixSeconds(1000);
  CircuitBreaker breaker_{CircuitBreakerOptions{3, absl::Seconds(10)}, [this] { return now_; }};

  void Fail() {
    auto a = breaker_.Admit();
    ASSERT_TRUE(a.allowed);
    breaker_.Record(a, CallOutcome::kFailure);
  }
};

TEST_F(CircuitBreakerTest, OpensAfterConsecutiveFailuresOnly) {
  Fail();
  Fail();
  auto ok = breaker_.Admit();
  breaker_.Record(ok, CallOutcome::kSuccess);  // resets the run
  Fail();
  Fail();
  EXPECT_EQ(breaker_.state(), CircuitState::kClosed);
  Fail();
  EXPECT_EQ(breaker_.state(), CircuitState::kOpen);
  auto refused = breaker_.Admit();
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, absl::Seconds(10));
}

TEST_F(CircuitBreakerTest, OneProbeAtATimeAndItsResultDecides) {
  for (int i = 0; i < 3; ++i) Fail();
  now_ += absl::Seconds(9);
  EXPECT_FALSE(breaker_.Admit().allowed);
  now_ += absl::Seconds(1);
  auto probe = breaker_.Admit();
  ASSERT_TRUE(probe.allowed);
  EXPECT_TRUE(probe.probe);
  EXPECT_EQ(breaker_.state(), CircuitState::kHalfOpen);
  EXPECT_FALSE(breaker_.Admit().allowed);  // only one probe
  breaker_.Record(probe, CallOutcome::kFailure);
  EXPECT_EQ(breaker_.state(), CircuitState::kOpen);
  now_ += absl::Seconds(10);
  probe = breaker_.Admit();
  ASSERT_TRUE(probe.probe);
  breaker_.Record(probe, CallOutcome::kNeutral);  // says nothing: next one probes
  probe = breaker_.Admit();
  ASSERT_TRUE(probe.probe);
  breaker_.Record(probe, CallOutcome::kSuccess);
  EXPECT_EQ(breaker_.state(), CircuitState::kClosed);
  EXPECT_TRUE(breaker_.Admit().allowed);
}

TEST_F(CircuitBreakerTest, ALateSuccessDoesNotCloseAnOpenCircuit) {
  auto early = breaker_.Admit();
  for (int i = 0; i < 3; ++i) Fail();
  breaker_.Record(early, CallOutcome::kSuccess);
  EXPECT_EQ(breaker_.state(), CircuitState::kOpen);
}

TEST(CircuitBreakerOffTest, ThresholdZeroAdmitsEverything) {
  CircuitBreaker breaker(CircuitBreakerOptions{0, absl::Seconds(1)});
  for (int i = 0; i < 100; ++i) {
    auto a = breaker.Admit();
    ASSERT_TRUE(a.allowed);
    breaker.Record(a, CallOutcome::kFailure);
  }
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
}

// --- Timer queue ----------------------------------------------------------------

TEST(TimerQueueTest, RunsInTimeOrderAndCancelsTheRest) {
  TimerQueue timers;
  std::vector<int> order;
  absl::Mutex mu;
  absl::Notification both;
  const absl::Time now = absl::Now();
  auto record = [&](int id) {
    return [&, id](bool cancelled) {
      absl::MutexLock lock(&mu);
      order.push_back(cancelled ? -id : id);
      if (order.size() == 2) both.Notify();
    };
  };
  timers.Schedule(now + absl::Milliseconds(40), record(2));
  timers.Schedule(now + absl::Milliseconds(10), record(1));
  timers.Schedule(now + absl::Hours(1), record(3));
  ASSERT_TRUE(both.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(timers.pending(), 1u);
  timers.CancelAll();
  bool late_cancelled = false;
  timers.Schedule(now, [&](bool cancelled) { late_cancelled = cancelled; });
  EXPECT_TRUE(late_cancelled);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, -3}));
}

// --- The retrying connection -----------------------------------------------------

using MockConnection = authlete::MockAuthleteConnection;

core::Error Upstream(v1::ErrorReason reason, int upstream_http_status, bool maybe_processed,
                     absl::optional<absl::Duration> retry_after = absl::nullopt) {
  core::Error error(reason, "upstream", maybe_processed ? core::Sent::kMaybe : core::Sent::kNo);
  error.set_upstream_http_status(upstream_http_status);
  if (retry_after) error.set_retry_after(*retry_after);
  // The table decides what was processed; the cases here agree with it.
  EXPECT_EQ(error.detail().may_have_been_processed(), maybe_processed) << reason;
  return error;
}

absl::optional<v1::RegistrationError> DetailOf(const DcrResult& result) {
  if (result.ok()) return absl::nullopt;
  return result.error().detail();
}

DcrResponse Ok() {
  DcrResponse r;
  r.action = v1::ACTION_OK;
  return r;
}

TEST(GatewayRetriesTest, FollowsTheDocumentedRules) {
  auto error = [](v1::ErrorReason reason, int http, bool processed) {
    return Upstream(reason, http, processed).detail();
  };
  const auto never_sent = error(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, 0, false);
  const auto http_503 = error(v1::ERROR_REASON_UPSTREAM_FAILED, 503, true);
  const auto dropped = error(v1::ERROR_REASON_UPSTREAM_FAILED, 0, true);
  const auto too_many = error(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, 429, false);
  const auto garbled = error(v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, 200, true);
  const auto rejected = error(v1::ERROR_REASON_REGISTRATION_REJECTED, 200, false);
  for (Operation op : {Operation::kRegister, Operation::kGet, Operation::kUpdate,
                       Operation::kDelete}) {
    EXPECT_TRUE(api::GatewayRetries(op, never_sent));
    EXPECT_FALSE(api::GatewayRetries(op, rejected));
  }
  EXPECT_FALSE(api::GatewayRetries(Operation::kRegister, http_503));
  EXPECT_FALSE(api::GatewayRetries(Operation::kRegister, dropped));
  EXPECT_FALSE(api::GatewayRetries(Operation::kRegister, too_many));
  EXPECT_FALSE(api::GatewayRetries(Operation::kRegister, garbled));
  EXPECT_TRUE(api::GatewayRetries(Operation::kGet, dropped));
  EXPECT_TRUE(api::GatewayRetries(Operation::kGet, garbled));
  for (Operation op : {Operation::kUpdate, Operation::kDelete}) {
    EXPECT_TRUE(api::GatewayRetries(op, http_503));
    EXPECT_TRUE(api::GatewayRetries(op, too_many));
    EXPECT_FALSE(api::GatewayRetries(op, dropped));
    EXPECT_FALSE(api::GatewayRetries(op, garbled));
  }
}

class ResilientConnectionTest : public ::testing::Test {
 protected:
  ResilienceOptions Options() {
    ResilienceOptions options;
    options.max_attempts = 3;
    options.backoff = {absl::Milliseconds(1), absl::Milliseconds(2), 2.0};
    options.circuit_breaker = {2, absl::Seconds(30)};
    options.max_in_flight = 2;
    return options;
  }

  // Runs one call and waits for its result.
  DcrResult Run(ResilientAuthleteConnection& connection, Operation op,
                                  absl::Duration timeout = absl::Seconds(5)) {
    DcrCall call;
    call.operation = op;
    absl::Notification done;
    absl::optional<DcrResult> out;
    connection.Call(call, timeout, [&](DcrResult r) {
      out.emplace(std::move(r));
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    if (!out.has_value()) return core::Error(v1::ERROR_REASON_UNSPECIFIED, "no result");
    return *std::move(out);
  }

  std::shared_ptr<StrictMock<MockConnection>> inner_ =
      std::make_shared<StrictMock<MockConnection>>();
  metrics::Registry registry_;
};

TEST_F(ResilientConnectionTest, GetIsRetriedUntilItSucceeds) {
  ResilientAuthleteConnection connection(Options(), inner_, &registry_);
  int calls = 0;
  EXPECT_CALL(*inner_, Call(_, _, _)).Times(2).WillRepeatedly([&](auto&, auto, auto done) {
    if (++calls == 1) {
      std::move(done)(Upstream(v1::ERROR_REASON_UPSTREAM_FAILED, 0, true));
    } else {
      std::move(done)(Ok());
    }
  });
  EXPECT_TRUE(Run(connection, Operation::kGet).ok());
  EXPECT_NE(registry_.Render().find("dcr_gateway_upstream_retries_total{rpc=\"GetClient\"} 1"),
            std::string::npos)
      << registry_.Render();
}

TEST_F(ResilientConnectionTest, RegisterIsSentOnceWhenItMayHaveArrived) {
  ResilientAuthleteConnection connection(Options(), inner_, &registry_);
  EXPECT_CALL(*inner_, Call(_, _, _)).WillOnce([](auto&, auto, auto done) {
    std::move(done)(Upstream(v1::ERROR_REASON_UPSTREAM_FAILED, 0, true));
  });
  auto result = Run(connection, Operation::kRegister);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().detail().upstream_attempts(), 1);
}

TEST_F(ResilientConnectionTest, RegisterIsRetriedWhenNothingWasSent) {
  ResilientAuthleteConnection connection(Options(), inner_, &registry_);
  int calls = 0;
  EXPECT_CALL(*inner_, Call(_, _, _)).Times(2).WillRepeatedly([&](auto&, auto, auto done) {
    if (++calls == 1) {
      std::move(done)(Upstream(v1::ERROR_REASON_UPSTREAM_UNREACHABLE, 0, false));
    } else {
      std::move(done)(Ok());
    }
  });
  EXPECT_TRUE(Run(connection, Operation::kRegister).ok());
}

TEST_F(ResilientConnectionTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  ResilienceOptions options = Options();
  options.circuit_breaker.failure_threshold = 10;
  ResilientAuthleteConnection connection(options, inner_, &registry_);
  EXPECT_CALL(*inner_, Call(_, _, _)).Times(3).WillRepeatedly([](auto&, auto, auto done) {
    std::move(done)(Upstream(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, 429, false));
  });
  auto result = Run(connection, Operation::kUpdate);
  ASSERT_FALSE(result.ok());
  absl::optional<v1::RegistrationError> detail = DetailOf(result);
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_UPSTREAM_RATE_LIMITED);
  EXPECT_EQ(detail->upstream_attempts(), 3);
}

TEST_F(ResilientConnectionTest, RetryAfterBeyondTheDeadlineEndsTheCallAtOnce) {
  ResilientAuthleteConnection connection(Options(), inner_, &registry_);
  EXPECT_CALL(*inner_, Call(_, _, _)).WillOnce([](auto&, auto, auto done) {
    std::move(done)(
        Upstream(v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, 429, false, absl::Seconds(60)));
  });
  const absl::Time start = absl::Now();
  auto result = Run(connection, Operation::kGet, absl::Seconds(2));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(result.error().detail().reason(),
            v1::ERROR_REASON_UPSTREAM_RATE_LIMITED);
}

TEST_F(ResilientConnectionTest, GetAttemptsShareTheBudget) {
  ResilienceOptions options = Options();
  options.get_attempt_timeout = absl::Milliseconds(300);
  ResilientAuthleteConnection connection(options, inner_, &registry_);
  std::vector<absl::Duration> timeouts;
  EXPECT_CALL(*inner_, Call(_, _, _)).Times(3).WillRepeatedly([&](auto&, auto timeout, auto done) {
    timeouts.push_back(timeout);
    std::move(done)(Upstream(v1::ERROR_REASON_UPSTREAM_TIMEOUT, 0, true));
  });
  Run(connection, Operation::kGet, absl::Seconds(5));
  ASSERT_EQ(timeouts.size(), 3u);
  EXPECT_EQ(timeouts[0], absl::Milliseconds(300));
  EXPECT_EQ(timeouts[1], absl::Milliseconds(300));
  EXPECT_GT(timeouts[2], absl::Seconds(4));  // the last attempt gets what is left
}

// A call waiting to retry when its circuit opens reports its own failure.
TEST_F(ResilientConnectionTest, ACircuitOpeningMidCallEndsItWithItsOwnError) {
  ResilientAuthleteConnection connection(Options(), inner_, &registry_);  // threshold 2
  EXPECT_CALL(*inner_, Call(_, _, _)).Times(2).WillRepeatedly([](auto&, auto, auto done) {
    std::move(done)(Upstream(v1::ERROR_REASON_UPSTREAM_FAILED, 503, true));
  });
  auto result = Run(connection, Operation::kGet);
  absl::optional<v1::RegistrationError> detail = DetailOf(result);
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_UPSTREAM_FAILED);
  EXPECT_EQ(detail->upstream_attempts(), 2);
}

TEST_F(ResilientConnectionTest, CircuitOpensPerOperationAndFailsFast) {
  ResilienceOptions options = Options();
  options.max_attempts = 1;
  ResilientAuthleteConnection connection(options, inner_, &registry_);
  EXPECT_CALL(*inner_, Call(_, _, _)).Times(3).WillRepeatedly([](auto& call, auto, auto done) {
    if (call.operation == Operation::kGet) {
      std::move(done)(Upstream(v1::ERROR_REASON_UPSTREAM_FAILED, 503, true));
    } else {
      std::move(done)(Ok());
    }
  });
  EXPECT_FALSE(Run(connection, Operation::kGet).ok());
  EXPECT_FALSE(Run(connection, Operation::kGet).ok());
  EXPECT_EQ(connection.circuit_state(Operation::kGet), CircuitState::kOpen);
  auto fast = Run(connection, Operation::kGet);  // not sent: the mock allows 3 calls
  ASSERT_FALSE(fast.ok());
  EXPECT_EQ(fast.status().code(), absl::StatusCode::kUnavailable);
  absl::optional<v1::RegistrationError> detail = DetailOf(fast);
  EXPECT_EQ(detail->reason(), v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN);
  EXPECT_EQ(detail->upstream_attempts(), 0);
  EXPECT_GT(detail->retry_after().seconds(), 0);
  EXPECT_TRUE(Run(connection, Operation::kRegister).ok());  // its own circuit
  const std::string page = registry_.Render();
  EXPECT_NE(page.find("dcr_gateway_upstream_circuit_state{rpc=\"GetClient\"} 1"), std::string::npos)
      << page;
  EXPECT_NE(page.find("dcr_gateway_upstream_rejected_total{rpc=\"GetClient\",reason=\"circuit_open\"} 1"),
            std::string::npos)
      << page;
}

TEST_F(ResilientConnectionTest, CallsBeyondTheInFlightBoundAreRefused) {
  ResilientAuthleteConnection connection(Options(), inner_, &registry_);
  std::vector<authlete::AuthleteConnection::Callback> held;
  EXPECT_CALL(*inner_, Call(_, _, _)).Times(2).WillRepeatedly([&](auto&, auto, auto done) {
    held.push_back(std::move(done));
  });
  DcrCall call;
  call.operation = Operation::kGet;
  int finished = 0;
  for (int i = 0; i < 2; ++i) {
    connection.Call(call, absl::Seconds(5), [&](DcrResult) { ++finished; });
  }
  EXPECT_EQ(connection.in_flight(), 2);
  auto refused = Run(connection, Operation::kGet);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.error().detail().reason(),
            v1::ERROR_REASON_GATEWAY_OVERLOADED);
  for (auto& done : held) std::move(done)(Ok());
  EXPECT_EQ(finished, 2);
  EXPECT_EQ(connection.in_flight(), 0);
}

TEST_F(ResilientConnectionTest, CancelAllEndsWaitsBetweenRetries) {
  ResilienceOptions options = Options();
  options.backoff = {absl::Seconds(30), absl::Seconds(30), 1.0};
  ResilientAuthleteConnection connection(options, inner_, &registry_);
  EXPECT_CALL(*inner_, Call(_, _, _)).WillOnce([](auto&, auto, auto done) {
    std::move(done)(Upstream(v1::ERROR_REASON_UPSTREAM_FAILED, 503, true, absl::Seconds(20)));
  });
  DcrCall call;
  call.operation = Operation::kGet;
  absl::Notification done;
  absl::optional<DcrResult> result;
  connection.Call(call, absl::Seconds(60), [&](DcrResult r) {
    result.emplace(std::move(r));
    done.Notify();
  });
  EXPECT_FALSE(done.HasBeenNotified());
  connection.CancelAll();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().reason(), v1::ERROR_REASON_UPSTREAM_FAILED);
}

}  // namespace
}  // namespace dcr::resilience
