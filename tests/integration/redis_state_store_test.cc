// RedisStateStore (service/state/) against a real redis-server started by
// the test on 127.0.0.1 (no persistence, a password): two store instances
// as two replicas sharing records and buckets, one winner among 50
// concurrent reserves, the rate held across instances, Redis killed, paused
// and restarted mid-run, the bounded queue, NOSCRIPT, and no secret or
// caller identity in clear in Redis (MONITOR and a DUMP of every key).
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "service/state/redis_state_store.h"
#include "tests/integration/fake_redis_server.h"
#include "tests/integration/redis_server.h"
#include "tests/testing/sync_state_store.h"
#include "tests/testing/temp_dir.h"

namespace dcr::state {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.append(s.data(), s.size());
  return out;
}

std::string KeysFile() {
  return absl::StrCat("k1:", absl::Base64Escape(std::string(32, 'a')), "\n",
                      "names:", absl::Base64Escape(std::string(32, 'n')), "\n");
}

class RedisStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> server =
        testing::RedisServer::Start(dir_.path());
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *std::move(server);
  }

  RedisOptions Options() const {
    RedisOptions options;
    options.port = redis_->port();
    options.password_file = redis_->password_file();
    options.key_prefix = "test:";
    options.connect_timeout = absl::Milliseconds(500);
    options.command_timeout = absl::Milliseconds(300);
    options.initial_backoff = absl::Milliseconds(50);
    options.max_backoff = absl::Milliseconds(400);
    return options;
  }

  std::unique_ptr<RedisStateStore> Store(RedisOptions options, bool wait = true) {
    absl::StatusOr<RecordCipher> cipher = RecordCipher::Parse(KeysFile());
    EXPECT_TRUE(cipher.ok());
    absl::StatusOr<std::unique_ptr<RedisStateStore>> store =
        RedisStateStore::Create(std::move(options), *std::move(cipher));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    if (wait) {
      EXPECT_TRUE((*store)->WaitForConnection(absl::Seconds(5)));
    }
    return *std::move(store);
  }
  std::unique_ptr<RedisStateStore> Store() { return Store(Options()); }

  testing::TempDir dir_{"redis-state"};
  std::unique_ptr<testing::RedisServer> redis_;
};

TEST_F(RedisStateStoreTest, TwoReplicasShareTheRecords) {
  std::unique_ptr<RedisStateStore> a = Store();
  std::unique_ptr<RedisStateStore> b = Store();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->Health().kind, "redis");
  EXPECT_TRUE(a->Health().connected);

  absl::StatusOr<ReserveResult> first = testing::Reserve(*a, "portal/svc/req-1", "fp-1");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->outcome, ReserveOutcome::kReserved);
  absl::StatusOr<ReserveResult> on_b = testing::Reserve(*b, "portal/svc/req-1", "fp-1");
  ASSERT_TRUE(on_b.ok()) << on_b.status();
  EXPECT_EQ(on_b->outcome, ReserveOutcome::kInFlight);
  EXPECT_GT(on_b->retry_after, absl::ZeroDuration());
  EXPECT_LE(on_b->retry_after, absl::Milliseconds(50));
  EXPECT_EQ(testing::Reserve(*b, "portal/svc/req-1", "fp-2")->outcome,
            ReserveOutcome::kFingerprintMismatch);

  ASSERT_TRUE(testing::Complete(*a, first->reservation, "reply of req-1").ok());
  absl::StatusOr<ReserveResult> done = testing::Reserve(*b, "portal/svc/req-1", "fp-1");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->outcome, ReserveOutcome::kCompleted);
  EXPECT_EQ(done->record, "reply of req-1");

  // Unknown outcome, seen by the other replica; and a released key is free.
  absl::StatusOr<ReserveResult> second = testing::Reserve(*a, "portal/svc/req-2", "fp");
  ASSERT_TRUE(testing::MarkUnknown(*a, second->reservation).ok());
  EXPECT_EQ(testing::Reserve(*b, "portal/svc/req-2", "fp")->outcome,
            ReserveOutcome::kOutcomeUnknown);
  absl::StatusOr<ReserveResult> third = testing::Reserve(*a, "portal/svc/req-3", "fp");
  Reservation stranger = third->reservation;
  stranger.token = "someone-else";
  EXPECT_TRUE(testing::Release(*b, stranger).ok());
  EXPECT_EQ(testing::Reserve(*b, "portal/svc/req-3", "fp")->outcome, ReserveOutcome::kInFlight);
  ASSERT_TRUE(testing::Release(*a, third->reservation).ok());
  EXPECT_EQ(testing::Reserve(*b, "portal/svc/req-3", "fp")->outcome, ReserveOutcome::kReserved);
}

TEST_F(RedisStateStoreTest, ALapsedReservationCannotOverwriteItsSuccessor) {
  std::unique_ptr<RedisStateStore> a = Store();
  std::unique_ptr<RedisStateStore> b = Store();
  ASSERT_TRUE(a && b);
  absl::StatusOr<ReserveResult> first =
      testing::Reserve(*a, "k", "fp", absl::Milliseconds(100));
  ASSERT_EQ(first->outcome, ReserveOutcome::kReserved);
  absl::SleepFor(absl::Milliseconds(150));
  absl::StatusOr<ReserveResult> second = testing::Reserve(*b, "k", "fp");
  ASSERT_EQ(second->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(testing::Complete(*a, first->reservation, "late").code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(testing::Complete(*b, second->reservation, "on time").ok());
  EXPECT_EQ(testing::Reserve(*a, "k", "fp")->record, "on time");
}

// How a duplicate waits (the interface's choice: polling, no notification):
// replica B polls Reserve after each retry_after until replica A's call
// completes, then shares its record.
TEST_F(RedisStateStoreTest, ADuplicateWaitsByPollingAndSharesTheResult) {
  std::unique_ptr<RedisStateStore> a = Store();
  std::unique_ptr<RedisStateStore> b = Store();
  ASSERT_TRUE(a && b);
  absl::StatusOr<ReserveResult> first = testing::Reserve(*a, "portal/svc/slow", "fp");
  ASSERT_EQ(first->outcome, ReserveOutcome::kReserved);
  std::thread holder([&] {
    absl::SleepFor(absl::Milliseconds(200));
    EXPECT_TRUE(testing::Complete(*a, first->reservation, "the one reply").ok());
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  int polls = 0;
  absl::StatusOr<ReserveResult> seen;
  do {
    seen = testing::Reserve(*b, "portal/svc/slow", "fp");
    ASSERT_TRUE(seen.ok()) << seen.status();
    ++polls;
    if (seen->outcome == ReserveOutcome::kInFlight) absl::SleepFor(seen->retry_after);
  } while (seen->outcome == ReserveOutcome::kInFlight && absl::Now() < deadline);
  holder.join();
  EXPECT_EQ(seen->outcome, ReserveOutcome::kCompleted);
  EXPECT_EQ(seen->record, "the one reply");
  EXPECT_GE(polls, 2);
  EXPECT_LE(polls, 60);  // 200 ms at one poll per 50 ms at most, and slack
}

TEST_F(RedisStateStoreTest, FiftyConcurrentReservesOfOneKeyHaveExactlyOneWinner) {
  std::unique_ptr<RedisStateStore> a = Store();
  std::unique_ptr<RedisStateStore> b = Store();
  ASSERT_TRUE(a && b);
  std::vector<testing::Waiter<absl::StatusOr<ReserveResult>>> waiters(50);
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int t = 0; t < 10; ++t) {
    threads.emplace_back([&, t] {
      go.WaitForNotification();
      for (int i = t * 5; i < t * 5 + 5; ++i) {
        (i % 2 ? *a : *b).Reserve("portal/svc/the-one", "fp", absl::Seconds(30),
                                  waiters[i].Callback());
      }
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();
  int reserved = 0, in_flight = 0;
  for (auto& w : waiters) {
    absl::StatusOr<ReserveResult> r = w.Get();
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->outcome == ReserveOutcome::kReserved) ++reserved;
    if (r->outcome == ReserveOutcome::kInFlight) ++in_flight;
    EXPECT_EQ(w.runs(), 1);
  }
  EXPECT_EQ(reserved, 1);
  EXPECT_EQ(in_flight, 49);
}

// Two replicas hammering one bucket: what they admit together is the
// bucket's burst plus its rate over the run, within 10 % (+1): the Redis
// server's clock decides, so the test's timing only bounds the window.
TEST_F(RedisStateStoreTest, ATokenBucketHoldsItsRateAcrossTwoReplicas) {
  std::unique_ptr<RedisStateStore> a = Store();
  std::unique_ptr<RedisStateStore> b = Store();
  ASSERT_TRUE(a && b);
  constexpr double kRate = 20, kBurst = 5;
  std::atomic<int> allowed{0}, refused{0}, failed{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(3);
  auto hammer = [&](RedisStateStore& store) {
    while (absl::Now() < end) {
      absl::StatusOr<RateDecision> d = testing::Acquire(store, "caller:portal", kRate, kBurst);
      if (!d.ok()) {
        ++failed;
      } else if (d->allowed) {
        ++allowed;
      } else {
        ++refused;
        EXPECT_GT(d->retry_after, absl::ZeroDuration());
        EXPECT_LE(d->retry_after, absl::Milliseconds(50));
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  };
  std::thread ta([&] { hammer(*a); });
  std::thread tb([&] { hammer(*b); });
  ta.join();
  tb.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double expected = kBurst + kRate * seconds;
  std::printf("bucket: %d allowed, %d refused over %.2f s; expected %.1f\n", allowed.load(),
              refused.load(), seconds, expected);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(refused.load(), allowed.load());  // the bucket was the limit, not the callers
  EXPECT_LE(allowed.load(), expected * 1.1 + 1) << "over " << seconds << " s";
  EXPECT_GE(allowed.load(), (expected - kBurst) * 0.9 - 1) << "over " << seconds << " s";
}

TEST_F(RedisStateStoreTest, RedisKilledMidRunFailsFastAndRecoversAfterRestart) {
  std::vector<std::string> changes;
  absl::Mutex mu;
  RedisOptions options = Options();
  options.on_connection_change = [&](bool up, const std::string& reason) {
    absl::MutexLock lock(&mu);
    changes.push_back(absl::StrCat(up ? "up: " : "down: ", reason));
  };
  std::unique_ptr<RedisStateStore> store = Store(options);
  ASSERT_TRUE(store);
  ASSERT_TRUE(testing::Acquire(*store, "b", 100, 100).ok());

  redis_->Kill();
  // Every call while Redis is gone answers UNAVAILABLE, and at once (the
  // first may be in flight when the connection breaks: within the command
  // timeout).
  int unavailable = 0;
  for (int i = 0; i < 40; ++i) {
    const absl::Time t0 = absl::Now();
    absl::StatusOr<ReserveResult> r = testing::Reserve(*store, absl::StrCat("k", i), "fp");
    const absl::Duration took = absl::Now() - t0;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_LT(took, i == 0 ? absl::Milliseconds(400) : absl::Milliseconds(50)) << i;
    ++unavailable;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(unavailable, 40);
  EXPECT_FALSE(store->Health().connected);
  EXPECT_EQ(testing::Acquire(*store, "b", 100, 100).status().code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(store->WaitForConnection(absl::Seconds(5)));
  EXPECT_TRUE(store->Health().connected);
  // The restarted server has no scripts loaded: EVALSHA's fallback covers it.
  absl::StatusOr<ReserveResult> again = testing::Reserve(*store, "k-after", "fp");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome, ReserveOutcome::kReserved);
  absl::MutexLock lock(&mu);
  ASSERT_GE(changes.size(), 3u);
  EXPECT_THAT(changes[0], HasSubstr("up"));
  EXPECT_THAT(changes[1], HasSubstr("down"));
  EXPECT_THAT(changes.back(), HasSubstr("up"));
}

TEST_F(RedisStateStoreTest, AHungRedisTimesOutAndTheQueueIsBounded) {
  RedisOptions options = Options();
  options.max_pending = 20;
  std::unique_ptr<RedisStateStore> store = Store(options);
  ASSERT_TRUE(store);
  redis_->Pause();
  std::vector<testing::Waiter<absl::StatusOr<RateDecision>>> waiters(30);
  const absl::Time t0 = absl::Now();
  for (auto& w : waiters) store->Acquire("b", 10, 10, absl::Now(), w.Callback());
  int queue_full = 0, lost = 0;
  for (auto& w : waiters) {
    absl::StatusOr<RateDecision> d = w.Get(absl::Seconds(3));
    ASSERT_EQ(d.status().code(), absl::StatusCode::kUnavailable) << d.status();
    if (absl::StrContains(d.status().message(), "queue is full")) ++queue_full;
    if (absl::StrContains(d.status().message(), "no answer within")) ++lost;
    EXPECT_EQ(w.runs(), 1);
  }
  EXPECT_EQ(queue_full, 10);
  EXPECT_EQ(lost, 20);
  EXPECT_LT(absl::Now() - t0, absl::Milliseconds(300 + 700));  // the timeout, and slack for a busy machine
  redis_->Resume();
  ASSERT_TRUE(store->WaitForConnection(absl::Seconds(5)));
  absl::StatusOr<RateDecision> after = testing::Acquire(*store, "b", 10, 10);
  EXPECT_TRUE(after.ok()) << after.status();
}

TEST_F(RedisStateStoreTest, DestroyedWithCallsPendingAnswersEachExactlyOnce) {
  std::unique_ptr<RedisStateStore> store = Store();
  ASSERT_TRUE(store);
  redis_->Pause();
  std::vector<testing::Waiter<absl::StatusOr<ReserveResult>>> waiters(5);
  for (int i = 0; i < 5; ++i) {
    store->Reserve(absl::StrCat("k", i), "fp", absl::Seconds(5), waiters[i].Callback());
  }
  store.reset();
  for (auto& w : waiters) {
    EXPECT_EQ(w.runs(), 1);
    EXPECT_EQ(w.Get(absl::Milliseconds(1)).status().code(), absl::StatusCode::kUnavailable);
  }
  redis_->Resume();
}

TEST_F(RedisStateStoreTest, AWrongPasswordNeverConnectsAndCallsFailAtOnce) {
  const std::string wrong = dir_.path() + "/wrong-password";
  cli_test::WriteFile(wrong, "not-the-password\n");
  RedisOptions options = Options();
  options.password_file = wrong;
  absl::Mutex mu;
  std::vector<std::string> reasons;
  options.on_connection_change = [&](bool up, const std::string& reason) {
    absl::MutexLock lock(&mu);
    reasons.push_back(reason);
  };
  std::unique_ptr<RedisStateStore> store = Store(options, /*wait=*/false);
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->WaitForConnection(absl::Seconds(1)));
  EXPECT_EQ(testing::Reserve(*store, "k", "fp").status().code(), absl::StatusCode::kUnavailable);
  store.reset();
  // Said once however often the store retried, with Redis' code, not the password.
  absl::MutexLock lock(&mu);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0], "AUTH refused: WRONGPASS");
}

TEST_F(RedisStateStoreTest, ScriptsFlushedFromTheServerAreSentAgain) {
  std::unique_ptr<RedisStateStore> store = Store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(redis_->Command({"SCRIPT", "FLUSH"}).ok());
  absl::StatusOr<RateDecision> d = testing::Acquire(*store, "b", 1, 1);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->allowed);
}

TEST_F(RedisStateStoreTest, AForeignValueUnderARecordsNameIsAnErrorNotACrash) {
  std::unique_ptr<RedisStateStore> store = Store();
  ASSERT_TRUE(store);
  const std::string name = store->RecordKeyName("k");
  // A completed record whose sealed value is garbage: DATA_LOSS.
  absl::StatusOr<ReserveResult> r = testing::Reserve(*store, "k", "fp");
  ASSERT_TRUE(testing::Complete(*store, r->reservation, "x").ok());
  ASSERT_TRUE(redis_->Command({"HSET", name, "r", "garbage"}).ok());
  EXPECT_EQ(testing::Reserve(*store, "k", "fp").status().code(), absl::StatusCode::kDataLoss);
  // Another client's string under the name: Redis refuses the script.
  ASSERT_TRUE(redis_->Command({"SET", name, "a string"}).ok());
  EXPECT_FALSE(testing::Reserve(*store, "k", "fp").ok());
  // And the store still works.
  EXPECT_EQ(testing::Reserve(*store, "k2", "fp")->outcome, ReserveOutcome::kReserved);
}

TEST_F(RedisStateStoreTest, NoSecretOrCallerIdentityReachesRedisInClear) {
  absl::StatusOr<std::unique_ptr<testing::RedisMonitor>> monitor =
      testing::RedisMonitor::Start(*redis_, dir_.path());
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  std::unique_ptr<RedisStateStore> a = Store();
  std::unique_ptr<RedisStateStore> b = Store();
  ASSERT_TRUE(a && b);
  const std::string kMarker = "MARKER-secret-7f3a9c";
  const std::string kCaller = "developer-portal-caller";
  const std::string kRequestId = "0b7c1c1e-4d1f-4c55-9a51-request-id";
  const std::string key = absl::StrCat(kCaller, "/21653835348762/", kRequestId);
  const std::string record =
      absl::StrCat(R"({"client_id":"123","client_secret":")", kMarker, R"("})");
  absl::StatusOr<ReserveResult> r = testing::Reserve(*a, key, "fingerprint-" + kMarker);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(testing::Complete(*a, r->reservation, record).ok());
  absl::StatusOr<ReserveResult> seen = testing::Reserve(*b, key, "fingerprint-" + kMarker);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->record, record);  // it is there, readable with the key
  ASSERT_TRUE(testing::Acquire(*a, "bucket/" + kCaller, 1, 5).ok());

  const std::string monitored = (*monitor)->Stop();
  EXPECT_THAT(monitored, HasSubstr("EVALSHA"));  // the monitor did see the traffic
  for (const std::string& clear : {kMarker, kCaller, kRequestId}) {
    EXPECT_THAT(monitored, Not(HasSubstr(clear)));
  }
  EXPECT_THAT(monitored, Not(HasSubstr(redis_->password())));

  absl::StatusOr<std::vector<testing::RedisServer::KeyDump>> keys = redis_->DumpAll();
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);  // the record and the bucket
  for (const auto& k : *keys) {
    EXPECT_TRUE(absl::StartsWith(k.key, "test:idem:") || absl::StartsWith(k.key, "test:rate:"))
        << k.key;
    EXPECT_GT(k.pttl_ms, 0) << k.key << " has no TTL";
    for (const std::string& clear : {kMarker, kCaller, kRequestId}) {
      EXPECT_THAT(k.key, Not(HasSubstr(clear)));
      EXPECT_THAT(k.dump, Not(HasSubstr(clear)));
    }
  }
}

// A hostile or broken server: every malformed, mistyped or oversized reply
// ends the call with an error (and at worst the connection), never a crash,
// a hang or a wrong answer.
TEST(RedisStateStoreUntrustedRepliesTest, EveryBadReplyIsAnErrorNotACrash) {
  testing::FakeRedisServer fake;
  struct Case {
    std::string reply;
    absl::StatusCode code;
    std::string message = "";
  } cases[] = {
      {"+PONG\r\n", absl::StatusCode::kInternal},
      {"*0\r\n", absl::StatusCode::kInternal},
      {"*-1\r\n", absl::StatusCode::kInternal},
      {"$-1\r\n", absl::StatusCode::kInternal},
      {":1\r\n", absl::StatusCode::kInternal},
      {"*1\r\n:5\r\n", absl::StatusCode::kInternal},
      {"*1\r\n$7\r\nunheard\r\n", absl::StatusCode::kInternal},
      {"*1\r\n$9\r\nin_flight\r\n", absl::StatusCode::kInternal},
      {"*2\r\n$9\r\nin_flight\r\n$1\r\nx\r\n", absl::StatusCode::kInternal},
      {"*2\r\n$9\r\ncompleted\r\n:1\r\n", absl::StatusCode::kInternal},
      {"*2\r\n$9\r\ncompleted\r\n$3\r\nabc\r\n", absl::StatusCode::kDataLoss},
      {"*2\r\n$9\r\ncompleted\r\n*1\r\n$1\r\nx\r\n", absl::StatusCode::kInternal},
      {"-ERR something MARKER-from-server\r\n", absl::StatusCode::kUnavailable},
      {"this is not RESP\r\n", absl::StatusCode::kUnavailable},
      {absl::StrCat(Repeat("*1\r\n", 10), ":1\r\n"), absl::StatusCode::kUnavailable,
       "connection lost"},  // nested deeper than hiredis reads
      {"$200000\r\n" + std::string(200000, 'x') + "\r\n", absl::StatusCode::kUnavailable,
       "reply larger than max_reply_bytes"},
  };
  for (const Case& c : cases) {
    fake.AnswerScriptsWith(c.reply);
    absl::StatusOr<RecordCipher> cipher = RecordCipher::Parse(KeysFile());
    ASSERT_TRUE(cipher.ok());
    RedisOptions options;
    options.port = fake.port();
    options.max_record_bytes = 1024;
    options.max_reply_bytes = 64 * 1024;
    options.command_timeout = absl::Milliseconds(500);
    absl::StatusOr<std::unique_ptr<RedisStateStore>> store =
        RedisStateStore::Create(options, *std::move(cipher));
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->WaitForConnection(absl::Seconds(5)));
    const absl::Time t0 = absl::Now();
    absl::StatusOr<ReserveResult> r = testing::Reserve(**store, "k", "fp");
    EXPECT_EQ(r.status().code(), c.code) << absl::CHexEscape(c.reply.substr(0, 40)) << ": "
                                         << r.status();
    EXPECT_LT(absl::Now() - t0, absl::Milliseconds(400)) << absl::CHexEscape(c.reply.substr(0, 40));
    EXPECT_THAT(r.status().message(), HasSubstr(c.message));
    // The server's words are not relayed, only its error code.
    EXPECT_THAT(r.status().message(), Not(HasSubstr("MARKER")));
    absl::StatusOr<RateDecision> d = testing::Acquire(**store, "b", 1, 1);
    EXPECT_FALSE(d.ok());
  }
}

TEST(RedisStateStoreOptionsTest, NothingListeningFailsFastAndShutsDownCleanly) {
  absl::StatusOr<RecordCipher> cipher = RecordCipher::Parse(KeysFile());
  ASSERT_TRUE(cipher.ok());
  RedisOptions options;
  options.port = 1;  // nothing listens on port 1 of loopback
  options.initial_backoff = absl::Milliseconds(20);
  absl::StatusOr<std::unique_ptr<RedisStateStore>> store =
      RedisStateStore::Create(options, *std::move(cipher));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE((*store)->WaitForConnection(absl::Milliseconds(300)));
  EXPECT_EQ(testing::Release(**store, {"k", "fp", "t"}).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE((*store)->Health().connected);
}

}  // namespace
}  // namespace dcr::state
