// Prometheus metrics: counters, gauges and histograms with labels, rendered
// in the text exposition format 0.0.4. prometheus-cpp is not packaged for
// Debian 12; this is the small part of it the gateway needs.
//
// Updating a series is lock-free (atomics); finding a series by label values
// takes a short lock, so hot paths keep the Series& they use often.
#ifndef DCR_SERVICE_METRICS_METRICS_H_
#define DCR_SERVICE_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace dcr::metrics {

enum class Type { kCounter, kGauge, kHistogram };

// One time series: a value (counter, gauge) or a histogram.
class Series {
 public:
  explicit Series(const std::vector<double>* bounds);
  void Add(double delta = 1);  // counter (delta >= 0) or gauge
  void Set(double value);      // gauge
  void Observe(double value);  // histogram
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  friend class Family;
  static void AddTo(std::atomic<double>& target, double delta);
  const std::vector<double>* const bounds_;  // null unless a histogram
  std::atomic<double> value_{0};             // value, or a histogram's sum
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, +Inf last
};

// A metric and its series, one per combination of label values.
class Family {
 public:
  Family(std::string name, std::string help, Type type, std::vector<std::string> labels,
         std::vector<double> bounds);
  // The series for `values` (one per label name), created at first use;
  // the reference stays valid as long as the family.
  Series& With(const std::vector<std::string>& values) ABSL_LOCKS_EXCLUDED(mu_);
  void Render(std::string& out) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string name_, help_;
  const Type type_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  Family& Add(std::string name, std::string help, Type type, std::vector<std::string> labels = {},
              std::vector<double> bounds = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // Text appended at every scrape, for values read when asked (process
  // metrics; later the resilience layer's retries and circuit states).
  void AddCollector(std::function<void(std::string&)> collect) ABSL_LOCKS_EXCLUDED(mu_);
  std::string Render() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(std::string&)>> collectors_ ABSL_GUARDED_BY(mu_);
};

// Latency buckets in seconds, 1 ms to 30 s.
std::vector<double> LatencyBuckets();

// process_* metrics of this process, from /proc/self (Prometheus' standard
// names): CPU seconds, resident and virtual memory, open and maximum file
// descriptors, start time, threads.
void AppendProcessMetrics(std::string& out);

// Escapes a label value for the text format: backslash, quote, newline.
std::string EscapeLabelValue(const std::string& value);

}  // namespace dcr::metrics

#endif  // DCR_SERVICE_METRICS_METRICS_H_
