// Drives a Target: closed loop (N calls always in flight) or open loop (calls
// started at a fixed rate whatever the answers), bounded in count and time.
#ifndef DCR_TESTS_BENCH_LOAD_GENERATOR_H_
#define DCR_TESTS_BENCH_LOAD_GENERATOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/latency_recorder.h"
#include "tests/bench/target.h"
#include "tests/bench/workload.h"

namespace dcr::bench {

struct LoadOptions {
  int in_flight = 1;           // closed loop: calls kept in flight
  double rate = 0;             // > 0: open loop, calls started per second
  int64_t max_calls = 10000;   // no call starts after this many
  absl::Duration duration = absl::Seconds(10);  // nor after this long
  // Calls ending before this are not recorded (connections warm up, the
  // closed loop reaches its steady state).
  absl::Duration warmup = absl::ZeroDuration();
  // Open loop: calls due while this many are outstanding are not started
  // and count as "SKIPPED_OVERLOAD", so an overload shows instead of piling up.
  int64_t max_outstanding = 50000;
  // Called on the driving thread at the start and the end of the measured
  // window [warmup, duration], e.g. to read a process's CPU time.
  std::function<void()> on_window_start;
  std::function<void()> on_window_end;
};

struct LoadResult {
  int64_t started = 0;
  int64_t completed = 0;
  // Calls that completed inside the measured window, and its length: their
  // ratio is the steady-state throughput.
  int64_t completed_in_window = 0;
  // Of those, the calls that succeeded: a failed call is no throughput.
  int64_t succeeded_in_window = 0;
  // Every call that failed, warm-up included, by outcome ("CODE/REASON").
  std::map<std::string, int64_t> failures;
  int64_t failed() const {
    int64_t n = 0;
    for (const auto& [outcome, count] : failures) n += count;
    return n;
  }
  absl::Duration window;
  absl::Duration elapsed;  // until the last call ended
  api::PerOperation<int64_t> completed_by_operation{};  // indexed by Operation
  // Successful calls per second in the window.
  double Throughput() const {
    return window > absl::ZeroDuration()
               ? static_cast<double>(succeeded_in_window) / absl::ToDoubleSeconds(window)
               : 0;
  }
};

// Runs the load and records every call (after the warm-up) in `recorder`.
// Returns once every started call has ended. INVALID_ARGUMENT for options a
// target cannot honour (a blocking target runs one call at a time, closed loop).
absl::StatusOr<LoadResult> RunLoad(Target& target, Workload& workload,
                                   const LoadOptions& options, LatencyRecorder& recorder);

}  // namespace dcr::bench

#endif  // DCR_TESTS_BENCH_LOAD_GENERATOR_H_
