#include "tests/bench/load_generator.h"

#include <atomic>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace dcr::bench {
namespace {

// State shared by every call of one run. Held by shared_ptr from every
// callback and every thread starting calls, so that the last of them may
// still unlock `mu_` after RunLoad has returned.
class Run : public std::enable_shared_from_this<Run> {
 public:
  Run(Target& target, Workload& workload, const LoadOptions& options, LatencyRecorder& recorder)
      : target_(target), workload_(workload), options_(options), recorder_(recorder),
        start_(absl::Now()) {}

  absl::Time start() const { return start_; }

  // Reserves one call if the bounds allow it.
  bool TryBegin(absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (result_.started >= options_.max_calls || now >= start_ + options_.duration) {
      return false;
    }
    ++result_.started;
    ++outstanding_;
    return true;
  }

  int64_t Outstanding() {
    absl::MutexLock lock(&mu_);
    return outstanding_;
  }

  void RecordSkipped() { recorder_.Record(absl::ZeroDuration(), "SKIPPED_OVERLOAD"); }

  // Starts one reserved call; latency counts from `due` (the open loop's
  // schedule, so a slow answer cannot hide behind a late start).
  // `then` runs when the call has ended (and may start the next one).
  void StartCall(absl::Time due, std::function<void()> then) {
    CallSpec spec = workload_.Next();
    const Operation operation = spec.operation;
    target_.Start(spec, [self = shared_from_this(), due, operation,
                         then = std::move(then)](CallOutcome outcome) {
      const absl::Time now = absl::Now();
      std::string outcome_name = outcome.outcome;
      if (outcome.registered.has_value()) {
        self->workload_.Registered(*std::move(outcome.registered));
      }
      if (now >= self->start_ + self->options_.warmup) {
        self->recorder_.Record(now - due, outcome.outcome);
      }
      // Before End: once the last call has ended, RunLoad may return and
      // the caller's target, workload and recorder are gone.
      if (then) then();
      self->End(now, operation, outcome_name);
    });
  }

  // Brackets a thread's work in Slot::Next, which RunLoad waits out too.
  void EnterStarter() {
    absl::MutexLock lock(&mu_);
    ++starters_;
  }
  void ExitStarter() {
    absl::MutexLock lock(&mu_);
    --starters_;
  }

  void AddSlots(int n);
  void StartSlots();

  // Blocks until `deadline`, or until the call budget is spent and every
  // call has ended, whichever is first.
  void WaitForBudgetOrUntil(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(this, &Run::BudgetSpentAndIdle), deadline);
  }

  // Blocks until every started call has ended. `window_end`: when the
  // measured window closed.
  LoadResult Wait(absl::Time window_end) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &Run::Idle));
    result_.elapsed = last_end_ - start_;
    result_.window = window_end - (start_ + options_.warmup);
    return result_;
  }

 private:
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return outstanding_ == 0 && starters_ == 0;
  }
  bool BudgetSpentAndIdle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return result_.started >= options_.max_calls && Idle();
  }

  void End(absl::Time now, Operation operation, const std::string& outcome) {
    const bool ok = outcome == "OK";
    absl::MutexLock lock(&mu_);
    if (!ok) ++result_.failures[outcome];
    --outstanding_;
    ++result_.completed;
    ++result_.completed_by_operation[static_cast<int>(operation)];
    if (now >= start_ + options_.warmup && now <= start_ + options_.duration) {
      ++result_.completed_in_window;
      if (ok) ++result_.succeeded_in_window;
    }
    last_end_ = std::max(last_end_, now);
  }

  Target& target_;
  Workload& workload_;
  const LoadOptions options_;
  LatencyRecorder& recorder_;
  const absl::Time start_;
  absl::Mutex mu_;
  LoadResult result_ ABSL_GUARDED_BY(mu_);
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t starters_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<class Slot>> slots_;
  absl::Time last_end_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// One closed-loop slot: starts its next call when the previous one ends.
// A target may finish a call inside Start (the blocking one always does);
// the state machine turns that recursion into a loop.
class Slot {
 public:
  explicit Slot(Run* run) : run_(run) {}

  void Next() {
    const std::shared_ptr<Run> keep = run_->shared_from_this();
    run_->EnterStarter();
    for (;;) {
      const absl::Time now = absl::Now();
      if (!run_->TryBegin(now)) break;
      state_.store(kStarting);
      run_->StartCall(now, [this] {
        // Still inside StartCall: let that loop go on. Otherwise go on here.
        if (state_.exchange(kEndedInside) == kIdle) Next();
      });
      if (state_.exchange(kIdle) != kEndedInside) break;
    }
    run_->ExitStarter();
  }

 private:
  enum State { kIdle, kStarting, kEndedInside };
  Run* const run_;
  std::atomic<int> state_{kIdle};
};

void Run::AddSlots(int n) {
  for (int i = 0; i < n; ++i) slots_.push_back(std::make_unique<Slot>(this));
}

void Run::StartSlots() {
  for (auto& slot : slots_) slot->Next();
}

void SleepUntil(absl::Time when) {
  const absl::Duration left = when - absl::Now();
  if (left > absl::ZeroDuration()) absl::SleepFor(left);
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(Target& target, Workload& workload,
                                   const LoadOptions& options, LatencyRecorder& recorder) {
  if (options.in_flight < 1 || options.max_calls < 0 || options.warmup >= options.duration) {
    return absl::InvalidArgumentError(
        "need in_flight >= 1, max_calls >= 0 and warmup shorter than duration");
  }
  if (target.blocking() && (options.rate > 0 || options.in_flight != 1)) {
    return absl::InvalidArgumentError(
        "a blocking target runs one call at a time in a closed loop");
  }
  auto owned = std::make_shared<Run>(target, workload, options, recorder);
  Run& run = *owned;
  // Calls are started off this thread, which keeps time for the window.
  std::thread driver([&] {
    if (options.rate > 0) {
      const absl::Duration interval = absl::Seconds(1) / options.rate;
      for (int64_t i = 0;; ++i) {
        const absl::Time due = run.start() + interval * i;
        SleepUntil(due);
        if (run.Outstanding() >= options.max_outstanding) {
          if (due >= run.start() + options.duration || i >= options.max_calls) break;
          if (due >= run.start() + options.warmup) run.RecordSkipped();
          continue;
        }
        if (!run.TryBegin(due)) break;
        run.StartCall(due, nullptr);
      }
      return;
    }
    run.AddSlots(options.in_flight);
    run.StartSlots();
  });
  SleepUntil(run.start() + options.warmup);
  if (options.on_window_start) options.on_window_start();
  run.WaitForBudgetOrUntil(run.start() + options.duration);
  const absl::Time window_end = std::min(absl::Now(), run.start() + options.duration);
  if (options.on_window_end) options.on_window_end();
  driver.join();
  return run.Wait(window_end);
}

}  // namespace dcr::bench
