// InProcessStateStore (service/state/): idempotency records through their
// life (reserve, in flight, complete, mismatch, unknown, release), expiry by
// TTL, the bound on entries, and the token buckets.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "service/state/fallback_state_store.h"
#include "service/state/in_process_state_store.h"
#include "tests/testing/sync_state_store.h"

namespace dcr::state {
namespace {

using ::testing::HasSubstr;

class InProcessStateStoreTest : public ::testing::Test {
 protected:
  InProcessOptions Options() {
    InProcessOptions options;
    options.clock = [this] { return now_; };
    return options;
  }
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST_F(InProcessStateStoreTest, ReserveCompleteAndTheRecordComesBack) {
  InProcessStateStore store(Options());
  absl::StatusOr<ReserveResult> first = testing::Reserve(store, "caller/svc/req-1", "fp-a");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(first->reservation.key, "caller/svc/req-1");
  EXPECT_FALSE(first->reservation.token.empty());

  absl::StatusOr<ReserveResult> dup = testing::Reserve(store, "caller/svc/req-1", "fp-a");
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->outcome, ReserveOutcome::kInFlight);
  EXPECT_GT(dup->retry_after, absl::ZeroDuration());
  EXPECT_LE(dup->retry_after, absl::Milliseconds(50));

  ASSERT_TRUE(testing::Complete(store, first->reservation, "the reply").ok());
  absl::StatusOr<ReserveResult> later = testing::Reserve(store, "caller/svc/req-1", "fp-a");
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->outcome, ReserveOutcome::kCompleted);
  EXPECT_EQ(later->record, "the reply");
}

TEST_F(InProcessStateStoreTest, ADifferentFingerprintIsAMismatchInEveryState) {
  InProcessStateStore store(Options());
  absl::StatusOr<ReserveResult> first = testing::Reserve(store, "k", "fp-a");
  ASSERT_EQ(first->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(testing::Reserve(store, "k", "fp-b")->outcome, ReserveOutcome::kFingerprintMismatch);
  ASSERT_TRUE(testing::Complete(store, first->reservation, "r").ok());
  EXPECT_EQ(testing::Reserve(store, "k", "fp-b")->outcome, ReserveOutcome::kFingerprintMismatch);
}

TEST_F(InProcessStateStoreTest, AnUnknownOutcomeIsNeverReservedAgain) {
  InProcessStateStore store(Options());
  absl::StatusOr<ReserveResult> first = testing::Reserve(store, "k", "fp");
  ASSERT_TRUE(testing::MarkUnknown(store, first->reservation, absl::Hours(1)).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(testing::Reserve(store, "k", "fp")->outcome, ReserveOutcome::kOutcomeUnknown);
    now_ += absl::Minutes(10);
  }
  // Until its TTL: then the key is forgotten.
  now_ += absl::Minutes(31);
  EXPECT_EQ(testing::Reserve(store, "k", "fp")->outcome, ReserveOutcome::kReserved);
}

TEST_F(InProcessStateStoreTest, ReleaseFreesTheKeyOnlyForItsHolder) {
  InProcessStateStore store(Options());
  absl::StatusOr<ReserveResult> first = testing::Reserve(store, "k", "fp");
  Reservation stranger = first->reservation;
  stranger.token = "not-the-token";
  EXPECT_TRUE(testing::Release(store, stranger).ok());
  EXPECT_EQ(testing::Reserve(store, "k", "fp")->outcome, ReserveOutcome::kInFlight);
  EXPECT_TRUE(testing::Release(store, first->reservation).ok());
  EXPECT_EQ(testing::Reserve(store, "k", "fp")->outcome, ReserveOutcome::kReserved);
}

TEST_F(InProcessStateStoreTest, ALapsedReservationCannotOverwriteItsSuccessor) {
  InProcessStateStore store(Options());
  absl::StatusOr<ReserveResult> first = testing::Reserve(store, "k", "fp", absl::Seconds(5));
  now_ += absl::Seconds(6);
  absl::StatusOr<ReserveResult> second = testing::Reserve(store, "k", "fp", absl::Seconds(5));
  ASSERT_EQ(second->outcome, ReserveOutcome::kReserved);
  absl::Status late = testing::Complete(store, first->reservation, "late");
  EXPECT_EQ(late.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(testing::MarkUnknown(store, first->reservation).code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(testing::Complete(store, second->reservation, "on time").ok());
  EXPECT_EQ(testing::Reserve(store, "k", "fp")->record, "on time");
}

TEST_F(InProcessStateStoreTest, ALapsedReservationStillRecordsItsOutcomeIfNobodyTookTheKey) {
  InProcessStateStore store(Options());
  absl::StatusOr<ReserveResult> first = testing::Reserve(store, "k", "fp", absl::Seconds(5));
  now_ += absl::Seconds(6);
  ASSERT_TRUE(testing::Complete(store, first->reservation, "late but kept").ok());
  EXPECT_EQ(testing::Reserve(store, "k", "fp")->record, "late but kept");
}

TEST_F(InProcessStateStoreTest, RecordsExpireByTtl) {
  InProcessStateStore store(Options());
  absl::StatusOr<ReserveResult> first = testing::Reserve(store, "k", "fp");
  ASSERT_TRUE(testing::Complete(store, first->reservation, "r", absl::Minutes(60)).ok());
  now_ += absl::Minutes(59);
  EXPECT_EQ(testing::Reserve(store, "k", "fp")->outcome, ReserveOutcome::kCompleted);
  now_ += absl::Minutes(2);
  EXPECT_EQ(testing::Reserve(store, "k", "fp")->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(store.records(), 1u);
}

TEST_F(InProcessStateStoreTest, NeverHoldsMoreThanItsBoundAndNeverEvictsALiveRecord) {
  InProcessOptions options = Options();
  options.max_records = 3;
  InProcessStateStore store(options);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(testing::Reserve(store, "k" + std::to_string(i), "fp", absl::Seconds(10))->outcome,
              ReserveOutcome::kReserved);
  }
  absl::StatusOr<ReserveResult> full = testing::Reserve(store, "k3", "fp");
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("3 live records"));
  // The live ones are all still there.
  EXPECT_EQ(testing::Reserve(store, "k0", "fp")->outcome, ReserveOutcome::kInFlight);
  EXPECT_EQ(store.records(), 3u);
  // Expired entries make room.
  now_ += absl::Seconds(11);
  EXPECT_EQ(testing::Reserve(store, "k3", "fp")->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(store.records(), 1u);
}

TEST_F(InProcessStateStoreTest, RefusesBadArguments) {
  InProcessOptions options = Options();
  options.max_record_bytes = 10;
  InProcessStateStore store(options);
  EXPECT_EQ(testing::Reserve(store, "", "fp").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(testing::Reserve(store, "k", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(testing::Reserve(store, std::string(2000, 'k'), "fp").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(testing::Reserve(store, "k", "fp", absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ReserveResult> r = testing::Reserve(store, "k", "fp");
  EXPECT_EQ(testing::Complete(store, r->reservation, std::string(11, 'x')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(testing::Acquire(store, "b", 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(testing::Acquire(store, "b", 1, 0.5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(InProcessStateStoreTest, ACallbackMayCallTheStoreAgain) {
  InProcessStateStore store(Options());
  testing::Waiter<absl::StatusOr<ReserveResult>> inner;
  store.Reserve("k", "fp", absl::Seconds(5), [&](absl::StatusOr<ReserveResult> outer) {
    ASSERT_TRUE(outer.ok());
    store.Reserve("k", "fp", absl::Seconds(5), inner.Callback());
  });
  EXPECT_EQ(inner.Get()->outcome, ReserveOutcome::kInFlight);
  EXPECT_EQ(inner.runs(), 1);
}

TEST_F(InProcessStateStoreTest, TokenBucketAllowsItsBurstThenItsRate) {
  InProcessStateStore store(Options());
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<RateDecision> d = testing::Acquire(store, "caller", 2, 5, now_);
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(d->allowed) << i;
  }
  absl::StatusOr<RateDecision> refused = testing::Acquire(store, "caller", 2, 5, now_);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->retry_after, absl::Milliseconds(500));
  // Another caller's bucket is its own.
  EXPECT_TRUE(testing::Acquire(store, "other", 2, 5, now_)->allowed);
  now_ += absl::Milliseconds(500);
  EXPECT_TRUE(testing::Acquire(store, "caller", 2, 5, now_)->allowed);
  EXPECT_FALSE(testing::Acquire(store, "caller", 2, 5, now_)->allowed);
  // Over 10 s at 2/s: 20 more, not 21.
  int allowed = 0;
  for (int ms = 0; ms < 10000; ms += 10) {
    now_ += absl::Milliseconds(10);
    if (testing::Acquire(store, "caller", 2, 5, now_)->allowed) ++allowed;
  }
  EXPECT_NEAR(allowed, 20, 1);  // 1: the float sum of 500 steps of 0.02 tokens
}

TEST_F(InProcessStateStoreTest, FullBucketsAreForgottenAndTheirNumberIsBounded) {
  InProcessOptions options = Options();
  options.max_buckets = 2;
  InProcessStateStore store(options);
  EXPECT_TRUE(testing::Acquire(store, "a", 1, 2, now_)->allowed);
  EXPECT_TRUE(testing::Acquire(store, "b", 1, 2, now_)->allowed);
  EXPECT_EQ(testing::Acquire(store, "c", 1, 2, now_).status().code(),
            absl::StatusCode::kResourceExhausted);
  // After a second both are full again: dropping them loses nothing.
  now_ += absl::Seconds(1);
  EXPECT_TRUE(testing::Acquire(store, "c", 1, 2, now_)->allowed);
  EXPECT_EQ(store.buckets(), 1u);
}

TEST_F(InProcessStateStoreTest, SaysWhatItIs) {
  InProcessStateStore store(Options());
  EXPECT_EQ(store.Health().kind, "in_process");
  EXPECT_TRUE(store.Health().connected);
}

}  // namespace
}  // namespace dcr::state

// --- FallbackStateStore (--state_store_unavailable=local) -------------------

namespace dcr::state {
namespace {

// A shared store that can be switched off: answers UNAVAILABLE, as the Redis
// store does when not connected; otherwise an in-process store.
class SwitchableStore : public StateStore {
 public:
  bool up = true;
  InProcessStateStore inner;
  void Reserve(absl::string_view k, absl::string_view f, absl::Duration t,
               ReserveCallback done) override {
    if (!up) return std::move(done)(absl::UnavailableError("down"));
    inner.Reserve(k, f, t, std::move(done));
  }
  void Complete(const Reservation& r, absl::string_view v, absl::Duration t,
                DoneCallback done) override {
    if (!up) return std::move(done)(absl::UnavailableError("down"));
    inner.Complete(r, v, t, std::move(done));
  }
  void MarkUnknown(const Reservation& r, absl::Duration t, DoneCallback done) override {
    if (!up) return std::move(done)(absl::UnavailableError("down"));
    inner.MarkUnknown(r, t, std::move(done));
  }
  void Release(const Reservation& r, DoneCallback done) override {
    if (!up) return std::move(done)(absl::UnavailableError("down"));
    inner.Release(r, std::move(done));
  }
  void Acquire(absl::string_view b, double rate, double burst, absl::Time now,
               RateCallback done) override {
    if (!up) return std::move(done)(absl::UnavailableError("down"));
    inner.Acquire(b, rate, burst, now, std::move(done));
  }
  StoreHealth Health() const override { return {"switchable", up}; }
};

TEST(FallbackStateStoreTest, UsesTheLocalStoreWhileTheSharedOneIsDownAndFinishesWhereItReserved) {
  auto shared = std::make_shared<SwitchableStore>();
  auto local = std::make_shared<InProcessStateStore>();
  FallbackStateStore store(shared, local);

  absl::StatusOr<ReserveResult> a = testing::Reserve(store, "a", "f");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->outcome, ReserveOutcome::kReserved);
  shared->up = false;
  absl::StatusOr<ReserveResult> b = testing::Reserve(store, "b", "f");
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(local->records(), 1u);
  // b goes back to the local store although the shared one is back.
  shared->up = true;
  EXPECT_TRUE(testing::Complete(store, b->reservation, "reply-b").ok());
  EXPECT_TRUE(testing::Complete(store, a->reservation, "reply-a").ok());
  EXPECT_EQ(testing::Reserve(store, "a", "f")->record, "reply-a");
  EXPECT_EQ(shared->inner.records(), 1u);
  shared->up = false;
  EXPECT_EQ(testing::Reserve(store, "b", "f")->record, "reply-b");
  // Rate limits likewise: the local bucket meanwhile.
  EXPECT_TRUE(testing::Acquire(store, "caller", 1, 1, absl::Now())->allowed);
  EXPECT_EQ(local->buckets(), 1u);
}

}  // namespace
}  // namespace dcr::state
