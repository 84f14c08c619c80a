#include "tests/bench/latency_recorder.h"

#include <algorithm>
#include <cmath>

namespace dcr::bench {

LatencySummary Summarize(std::vector<absl::Duration>& samples) {
  LatencySummary s;
  s.count = static_cast<int64_t>(samples.size());
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double q) {
    const auto n = samples.size();
    auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    return samples[std::min(n - 1, i == 0 ? 0 : i - 1)];
  };
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.p999 = rank(0.999);
  s.max = samples.back();
  absl::Duration total;
  for (absl::Duration d : samples) total += d;
  s.mean = total / static_cast<int64_t>(samples.size());
  return s;
}

void LatencyRecorder::Record(absl::Duration latency, const std::string& outcome) {
  absl::MutexLock lock(&mu_);
  ++outcomes_[outcome];
  if (outcome == "OK") ok_latencies_.push_back(latency);
}

LatencySummary LatencyRecorder::Summary() const {
  std::vector<absl::Duration> samples = Samples();
  return Summarize(samples);
}

std::vector<absl::Duration> LatencyRecorder::Samples() const {
  absl::MutexLock lock(&mu_);
  return ok_latencies_;
}

std::map<std::string, int64_t> LatencyRecorder::Outcomes() const {
  absl::MutexLock lock(&mu_);
  return outcomes_;
}

int64_t LatencyRecorder::Ok() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(ok_latencies_.size());
}

int64_t LatencyRecorder::Errors() const {
  absl::MutexLock lock(&mu_);
  int64_t errors = 0;
  for (const auto& [outcome, n] : outcomes_) {
    if (outcome != "OK") errors += n;
  }
  return errors;
}

}  // namespace dcr::bench
