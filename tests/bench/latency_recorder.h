// Latency samples and outcome counts of one load run. Every sample is kept
// (runs are bounded in count), so percentiles are exact, not bucketed.
#ifndef DCR_TESTS_BENCH_LATENCY_RECORDER_H_
#define DCR_TESTS_BENCH_LATENCY_RECORDER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dcr::bench {

struct LatencySummary {
  int64_t count = 0;
  absl::Duration p50, p90, p99, p999, max, mean;
};

// Percentiles of `samples` (sorted in place), nearest-rank.
LatencySummary Summarize(std::vector<absl::Duration>& samples);

class LatencyRecorder {
 public:
  // `outcome` is "OK" or the error's name (a gRPC code, "HTTP_503", ...).
  void Record(absl::Duration latency, const std::string& outcome) ABSL_LOCKS_EXCLUDED(mu_);

  // Successful calls only: a fast error must not flatter the latency.
  LatencySummary Summary() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<absl::Duration> Samples() const ABSL_LOCKS_EXCLUDED(mu_);
  std::map<std::string, int64_t> Outcomes() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t Ok() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t Errors() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<absl::Duration> ok_latencies_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> outcomes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::bench

#endif  // DCR_TESTS_BENCH_LATENCY_RECORDER_H_
